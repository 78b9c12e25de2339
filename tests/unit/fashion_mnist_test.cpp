// IDX reading (gzip'd, written by the tests with zlib), corrupt files, the Fashion-MNIST DataModule's split and
// state, the real test set when installed, and the main job's code path on a tiny synthetic dataset.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "volt/cli.hpp"
#include "volt/datasets/fashion_mnist.hpp"
#include "support/boring.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_fashion_mnist_test {

using namespace volt;
using namespace volt::datasets;
using volt::testing::fresh_dir;
namespace fs = std::filesystem;

namespace {

// A tiny Fashion-MNIST-shaped directory: n_train/n_test images of 28x28 with labels i % 10, and pixel values
// that make the label easy to learn (a bright row at the label's position).
std::string synthetic_dir(const std::string& name, int64_t n_train, int64_t n_test) {
  std::string dir = fresh_dir(name);
  auto write = [&](const std::string& split, int64_t n) {
    auto labels = torch::arange(n, torch::kLong).remainder(10).to(torch::kUInt8);
    auto images = torch::randint(0, 60, {n, 28, 28}, torch::kLong).to(torch::kUInt8);
    for (int64_t i = 0; i < n; ++i) images[i].select(0, 2 + 2 * labels[i].item<int64_t>()).fill_(250);
    write_idx_gz(dir + "/" + split + "-images-idx3-ubyte.gz", images);
    write_idx_gz(dir + "/" + split + "-labels-idx1-ubyte.gz", labels);
  };
  write("train", n_train);
  write("t10k", n_test);
  return dir;
}

void write_gz_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), unsigned(bytes.size()));
  gzclose(f);
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  return "(no DataError)";
}

}  // namespace

TEST(IdxReader, RoundTripsGzipAndPlainFiles) {
  std::string dir = fresh_dir("idx_roundtrip");
  auto data = torch::arange(2 * 3 * 4, torch::kLong).reshape({2, 3, 4}).to(torch::kUInt8);
  write_idx_gz(dir + "/a.gz", data);
  auto back = read_idx(dir + "/a.gz", 3);
  EXPECT_EQ(back.sizes(), data.sizes());
  EXPECT_TRUE(back.equal(data));
  // a plain (uncompressed) IDX file reads the same
  std::vector<uint8_t> plain = {0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9};
  std::ofstream(dir + "/b", std::ios::binary).write(reinterpret_cast<const char*>(plain.data()), plain.size());
  EXPECT_TRUE(read_idx(dir + "/b", 1).equal(torch::tensor({7, 8, 9}, torch::kUInt8)));
}

TEST(IdxReader, MissingAndCorruptFilesNameTheFileAndTheFix) {
  std::string dir = fresh_dir("idx_corrupt");
  auto missing = error_of([&] { read_idx(dir + "/nope.gz"); });
  EXPECT_NE(missing.find(dir + "/nope.gz"), std::string::npos) << missing;
  EXPECT_NE(missing.find("apt install dataset-fashion-mnist"), std::string::npos) << missing;

  write_gz_bytes(dir + "/magic.gz", {1, 2, 8, 1, 0, 0, 0, 1, 5});
  auto magic = error_of([&] { read_idx(dir + "/magic.gz"); });
  EXPECT_NE(magic.find("magic"), std::string::npos) << magic;
  EXPECT_NE(magic.find("magic.gz"), std::string::npos) << magic;

  write_gz_bytes(dir + "/type.gz", {0, 0, 0x0D, 1, 0, 0, 0, 1, 5});
  EXPECT_NE(error_of([&] { read_idx(dir + "/type.gz"); }).find("not supported"), std::string::npos);

  write_gz_bytes(dir + "/dims.gz", {0, 0, 8, 1, 0, 0, 0, 1, 5});
  EXPECT_NE(error_of([&] { read_idx(dir + "/dims.gz", 3); }).find("expected 3"), std::string::npos);

  write_gz_bytes(dir + "/short.gz", {0, 0, 8, 1, 0, 0, 0, 4, 5, 6});
  auto short_data = error_of([&] { read_idx(dir + "/short.gz"); });
  EXPECT_NE(short_data.find("need 4 bytes"), std::string::npos) << short_data;

  write_gz_bytes(dir + "/header.gz", {0, 0});
  EXPECT_NE(error_of([&] { read_idx(dir + "/header.gz"); }).find("header"), std::string::npos);

  // a gzip stream cut in the middle
  write_idx_gz(dir + "/full.gz", torch::randint(0, 255, {50, 28, 28}, torch::kLong).to(torch::kUInt8));
  std::ifstream in(dir + "/full.gz", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(dir + "/cut.gz", std::ios::binary).write(bytes.data(), std::streamsize(bytes.size() / 2));
  auto cut = error_of([&] { read_idx(dir + "/cut.gz"); });
  EXPECT_NE(cut.find("cut.gz"), std::string::npos) << cut;
  EXPECT_NE(cut.find("corrupt"), std::string::npos) << cut;
}

TEST(FashionMNISTDataModule, SplitsNormalisesAndBatches) {
  torch::manual_seed(1);
  FashionMNISTOptions o;
  o.data_dir = synthetic_dir("fmnist_split", 100, 30);
  o.val_size = 20, o.batch_size = 16, o.eval_batch_size = 25, o.seed = 3;
  FashionMNISTDataModule dm(o);
  dm.prepare_data();
  dm.setup("fit");
  EXPECT_EQ(dm.train_images().sizes(), (std::vector<int64_t>{80, 1, 28, 28}));
  EXPECT_EQ(dm.val_images().size(0), 20);
  EXPECT_NEAR(dm.train_images().min().item<double>(), (0 - o.mean) / o.std, 1e-4);
  EXPECT_NEAR(dm.train_images().max().item<double>(), (250 / 255.0 - o.mean) / o.std, 1e-4);
  EXPECT_EQ(dm.train_dataloader()->size(), 5);
  EXPECT_EQ(dm.val_dataloader()->size(), 1);
  EXPECT_EQ(dm.test_dataloader()->size(), 2);
  auto xy = dm.train_dataloader()->batch(0).toTupleRef().elements();
  EXPECT_EQ(xy[0].toTensor().sizes(), (std::vector<int64_t>{16, 1, 28, 28}));
  EXPECT_EQ(xy[1].toTensor().scalar_type(), torch::kInt64);

  // The split is fixed by the seed, which the state carries: a fresh module with another seed restores it.
  auto state = dm.state_dict();
  EXPECT_EQ(state.at("seed").toInt(), 3);
  FashionMNISTOptions other = o;
  other.seed = 99;
  FashionMNISTDataModule dm2(other);
  dm2.setup("fit");
  EXPECT_FALSE(dm2.val_images().equal(dm.val_images()));
  dm2.load_state_dict(state);
  EXPECT_TRUE(dm2.val_images().equal(dm.val_images()));
}

TEST(FashionMNISTDataModule, MissingDirectorySaysHowToFix) {
  FashionMNISTOptions o;
  o.data_dir = fresh_dir("fmnist_empty");
  FashionMNISTDataModule dm(o);
  auto message = error_of([&] { dm.prepare_data(); });
  EXPECT_NE(message.find("train-images-idx3-ubyte.gz"), std::string::npos) << message;
  EXPECT_NE(message.find("apt install dataset-fashion-mnist"), std::string::npos) << message;
}

TEST(FashionMNISTDataModule, RealTestSetIfInstalled) {
  std::string dir = default_fashion_mnist_dir();
  if (!fs::exists(dir + "/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  auto [images, labels] =
      FashionMNISTDataModule::load(dir + "/t10k-images-idx3-ubyte.gz", dir + "/t10k-labels-idx1-ubyte.gz");
  EXPECT_EQ(images.sizes(), (std::vector<int64_t>{10000, 1, 28, 28}));
  EXPECT_GE(images.min().item<double>(), 0.0);
  EXPECT_LE(images.max().item<double>(), 1.0);
  auto histogram = torch::bincount(labels, {}, 10);
  EXPECT_TRUE(histogram.equal(torch::full({10}, 1000, torch::kLong))) << histogram;
}

// The main job's config (examples/fashion_mnist/config.yaml, what `make run` gives the volt command), run as
// shipped on a tiny synthetic dataset: fit, then test on the last checkpoint.
TEST(MainJob, TheShippedConfigFitsAndTestsOnSyntheticData) {
  torch::manual_seed(2);
  std::string data = fs::absolute(synthetic_dir("main_job_data", 200, 50)).string();
  std::string config = std::string(VOLT_SOURCE_DIR) + "/examples/fashion_mnist/config.yaml";
  std::string run_dir = fs::absolute(fresh_dir("main_job_run")).string();
  fs::path cwd = fs::current_path();
  fs::current_path(run_dir);  // the config's paths (runs/fashion_mnist/...) are relative
  std::ostringstream out, err;
  int fit = run_cli({"fit", "--config", config, "--data.data_dir=" + data, "--data.val_size=40",
                     "--data.batch_size=16", "--trainer.max_epochs=1", "--trainer.limit_train_batches=4",
                     "--trainer.enable_progress_bar=false"}, out, err);
  ::testing::internal::CaptureStdout();
  int test = run_cli({"test", "--config", config, "--data.data_dir=" + data, "--trainer.enable_progress_bar=false",
                      "--ckpt_path=last"}, out, err);
  std::string printed = ::testing::internal::GetCapturedStdout();
  fs::current_path(cwd);
  ASSERT_EQ(fit, 0) << err.str();
  ASSERT_EQ(test, 0) << err.str();
  EXPECT_NE(printed.find("test_acc"), std::string::npos) << printed;
  const std::string runs = run_dir + "/runs/fashion_mnist";
  EXPECT_TRUE(fs::exists(runs + "/checkpoints/last.ckpt"));
  EXPECT_TRUE(fs::exists(runs + "/csv/version_0/metrics.csv"));
  EXPECT_TRUE(fs::exists(runs + "/tensorboard/version_0/config.yaml"));
  EXPECT_TRUE(fs::exists(runs + "/tensorboard/version_1/config.yaml"));  // the test run's own version
  bool events = false;
  for (const auto& e : fs::directory_iterator(runs + "/tensorboard/version_0"))
    events |= e.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
  EXPECT_TRUE(events);
  // the checkpoint callback monitored val_acc and kept its best file next to last.ckpt
  int best = 0;
  for (const auto& e : fs::directory_iterator(runs + "/checkpoints"))
    best += e.path().filename().string().rfind("epoch=0-val_acc=", 0) == 0;
  EXPECT_EQ(best, 1);
}

}  // namespace volt_test_fashion_mnist_test
}  // namespace
