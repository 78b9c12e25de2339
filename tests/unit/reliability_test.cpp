// Reliability (docs/reliability.md): a fit resumed from a checkpoint written at any batch gives bit-identical
// weights; writes are atomic and a failed write leaves the previous checkpoints intact; asynchronous checkpoints
// are byte-identical to synchronous ones, waited for, and report their failures; a process SIGKILLed while it
// checkpoints always leaves a loadable checkpoint to resume from.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <csignal>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "support/boring.hpp"
#include "volt/detail/atomic_file.hpp"
#include "volt/serialization/pickle_reader.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_reliability_test {

using namespace volt;
using namespace volt::testing;
namespace fs = std::filesystem;

namespace {

// ---- a model whose every run depends on the random state: dropout, a shuffled loader, momentum ----------------

class DropoutModel : public Module {
 public:
  DropoutModel() {
    fc1 = register_module("fc1", torch::nn::Linear(32, 32));
    drop = register_module("drop", torch::nn::Dropout(0.5));
    fc2 = register_module("fc2", torch::nn::Linear(32, 2));
    // the same data whatever the global seed (the seed decides the initial weights and the dropout masks)
    data_ = torch::randn({64, 32}, at::detail::createCPUGenerator(42));
    val_data_ = torch::randn({16, 32}, at::detail::createCPUGenerator(43));
  }
  torch::Tensor forward(const torch::Tensor& x) { return fc2->forward(drop->forward(torch::relu(fc1->forward(x)))); }
  StepOutput training_step(const Batch& batch, int64_t) override {
    auto out = forward(batch.toTensor());
    return torch::mse_loss(out, torch::ones_like(out));
  }
  StepOutput validation_step(const Batch& batch, int64_t, int64_t) override {
    auto out = forward(batch.toTensor());
    auto loss = torch::mse_loss(out, torch::ones_like(out));
    log("val_loss", loss);
    return loss;
  }
  OptimizerConfig configure_optimizers() override {
    auto opt = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
    LRSchedulerConfig s;
    s.scheduler = std::make_shared<StepLR>(*opt, 1, 0.5);
    return OptimizerConfig(opt, s);
  }
  std::shared_ptr<DataLoader> train_dataloader() override {
    DataLoaderOptions o;
    o.batch_size = 8;  // 8 batches an epoch
    o.shuffle = true;
    o.seed = 3;
    return std::make_shared<TensorDataLoader>(std::vector<torch::Tensor>{data_}, o);
  }
  std::shared_ptr<DataLoader> val_dataloader() override {
    DataLoaderOptions o;
    o.batch_size = 8;
    return std::make_shared<TensorDataLoader>(std::vector<torch::Tensor>{val_data_}, o);
  }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  torch::nn::Dropout drop{nullptr};

 private:
  torch::Tensor data_, val_data_;
};

// 3 epochs of 8 batches; accumulation windows of 3 batches ([0,1,2] [3,4,5] [6,7]: the epoch's last batch always
// steps); validation after batches 3 and 7 of every epoch.
TrainerOptions fit_options(const std::string& dir) {
  TrainerOptions o;
  o.default_root_dir = dir;
  o.max_epochs = 3;
  o.accumulate_grad_batches = 3;
  o.val_check_interval = 0.5;
  o.num_sanity_val_steps = 2;
  o.deterministic = true;
  o.enable_checkpointing = false;
  o.enable_progress_bar = false;
  o.enable_model_summary = false;
  return o;
}

std::vector<torch::Tensor> weights(const Module& m) {
  std::vector<torch::Tensor> out;
  for (const auto& p : m.parameters()) out.push_back(p.detach().clone());
  return out;
}

bool bit_identical(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

/// Saves one checkpoint with trainer.save_checkpoint at a chosen moment.
struct SaveAt : Callback {
  enum class When { kTrainBatchEnd, kTrainEpochEnd, kValidationBatchEnd };
  SaveAt(When when, int64_t epoch, int64_t batch, std::string path, bool async = false)
      : when(when), epoch(epoch), batch(batch), path(std::move(path)), async(async) {}
  std::string class_name() const override { return "SaveAt"; }
  std::string state_key() const override { return "SaveAt{" + path + "}"; }
  void on_train_batch_end(Trainer& t, Module&, const StepOutput&, const Batch&, int64_t batch_idx) override {
    if (when == When::kTrainBatchEnd && t.current_epoch() == epoch && batch_idx == batch) save(t);
  }
  void on_train_epoch_end(Trainer& t, Module&) override {
    if (when == When::kTrainEpochEnd && t.current_epoch() == epoch) save(t);
  }
  void on_validation_batch_end(Trainer& t, Module&, const StepOutput&, const Batch&, int64_t batch_idx,
                               int64_t) override {
    // the first validation of `epoch` (after training batch 3), at validation batch `batch`
    if (when == When::kValidationBatchEnd && !t.sanity_checking() && t.current_epoch() == epoch &&
        batch_idx == batch && !saved)
      save(t);
  }
  void save(Trainer& t) {
    t.save_checkpoint(path, false, async);
    saved = true;
  }
  When when;
  int64_t epoch, batch;
  std::string path;
  bool async;
  bool saved = false;
};

struct Interruption {
  const char* name;
  SaveAt::When when;
  int64_t epoch, batch;
};

}  // namespace

// A checkpoint written at any of these moments resumes to exactly the weights of the uninterrupted run: the
// dropout masks (torch's generator), the shuffle order and position, and inside an accumulation window the
// gradients summed so far all come from the file.
TEST(BitIdenticalResume, FromEveryKindOfInterruptionPoint) {
  const std::string dir = fresh_dir("reliability_resume");
  torch::manual_seed(1);
  DropoutModel straight;
  Trainer(fit_options(dir + "/straight")).fit(straight);
  const auto expected = weights(straight);

  const std::vector<Interruption> points = {
      {"mid_window_epoch0_batch1", SaveAt::When::kTrainBatchEnd, 0, 1},       // 2 of the 3 batches accumulated
      {"window_end_epoch1_batch2", SaveAt::When::kTrainBatchEnd, 1, 2},       // right after an optimizer step
      {"before_validation_epoch1_batch3", SaveAt::When::kTrainBatchEnd, 1, 3},  // validation is due next
      {"mid_window_epoch1_batch4", SaveAt::When::kTrainBatchEnd, 1, 4},
      {"epoch_end_epoch0", SaveAt::When::kTrainEpochEnd, 0, 0},
      {"in_validation_epoch1", SaveAt::When::kValidationBatchEnd, 1, 0},      // validation batch 0 of 2
      {"last_batch_epoch2", SaveAt::When::kTrainBatchEnd, 2, 7},
  };
  for (const auto& point : points) {
    SCOPED_TRACE(point.name);
    const std::string run = dir + "/" + point.name;
    const std::string file = run + "/interrupted.ckpt";
    {
      // the run that writes the checkpoint goes on to the end: saving must not change its course either
      torch::manual_seed(1);
      DropoutModel model;
      auto o = fit_options(run + "/first");
      auto saver = std::make_shared<SaveAt>(point.when, point.epoch, point.batch, file);
      o.callbacks = {saver};
      Trainer(o).fit(model);
      ASSERT_TRUE(saver->saved);
      EXPECT_TRUE(bit_identical(weights(model), expected)) << "saving a checkpoint changed the run";
    }
    torch::manual_seed(1000);  // other initial weights and another random state: all must come from the file
    DropoutModel resumed;
    Trainer trainer(fit_options(run + "/resumed"));
    trainer.fit(resumed, nullptr, file);
    EXPECT_EQ(trainer.global_step(), 9);  // 3 optimizer steps an epoch
    EXPECT_TRUE(bit_identical(weights(resumed), expected)) << "the resumed run's weights differ";
  }
}

// The test above would not notice a resume that ignores the random state if the model drew no random numbers;
// this one shows that it does: without volt's resume state the weights differ.
TEST(BitIdenticalResume, WithoutTheSavedRandomStateTheWeightsDiffer) {
  const std::string dir = fresh_dir("reliability_resume_control");
  torch::manual_seed(1);
  DropoutModel straight;
  Trainer(fit_options(dir + "/straight")).fit(straight);

  const std::string file = dir + "/interrupted.ckpt";
  torch::manual_seed(1);
  DropoutModel model;
  auto o = fit_options(dir + "/first");
  o.callbacks = {std::make_shared<SaveAt>(SaveAt::When::kTrainBatchEnd, 1, 2, file)};
  Trainer(o).fit(model);

  auto checkpoint = read_checkpoint_file(file).toGenericDict();
  ASSERT_TRUE(checkpoint.contains("volt_resume"));
  EXPECT_TRUE(checkpoint.at("volt_resume").toGenericDict().contains("torch_cpu_rng"));
  (void)checkpoint.erase("volt_resume");
  volt::detail::atomic_write_file(file, torch::pickle_save(checkpoint));

  torch::manual_seed(1000);
  DropoutModel resumed;
  Trainer(fit_options(dir + "/resumed")).fit(resumed, nullptr, file);
  EXPECT_FALSE(bit_identical(weights(resumed), weights(straight)));
}

// ---- atomic writes ---------------------------------------------------------------------------------------------

namespace {
std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TrainerOptions small_fit(const std::string& dir) {
  TrainerOptions o;
  o.default_root_dir = dir;
  o.max_epochs = 1;
  o.limit_val_batches = 0;
  o.enable_progress_bar = false;
  o.enable_model_summary = false;
  return o;
}

// Lowers the process's file size limit (writes beyond it fail with EFBIG, as on a full disk) for its lifetime.
struct FileSizeLimit {
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &saved);
    old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved;
    limit.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, old_handler);
  }
  rlimit saved{};
  void (*old_handler)(int);
};

/// Raises a FileSizeLimit when epoch `epoch` starts, so that checkpoint saves from then on fail.
struct FillDiskAtEpoch : Callback {
  explicit FillDiskAtEpoch(int64_t epoch) : epoch(epoch) {}
  std::string class_name() const override { return "FillDiskAtEpoch"; }
  void on_train_epoch_start(Trainer& t, Module&) override {
    if (t.current_epoch() != epoch) return;
    t.wait_for_checkpoints();  // the limit is per process: the disk fills after the earlier writes have landed
    limit = std::make_unique<FileSizeLimit>(1024);
  }
  int64_t epoch;
  std::unique_ptr<FileSizeLimit> limit;
};
}  // namespace

TEST(AtomicWrite, ReplacesTheWholeFileAndLeavesNothingElse) {
  const std::string dir = fresh_dir("atomic_write_replace");
  volt::detail::atomic_write_file(dir + "/sub/a.txt", std::string("first version, longer"));
  volt::detail::atomic_write_file(dir + "/sub/a.txt", std::string("second"));
  auto bytes = read_bytes(dir + "/sub/a.txt");
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "second");
  EXPECT_EQ(names_in(dir + "/sub"), std::vector<std::string>{"a.txt"});

  ASSERT_TRUE(volt::detail::atomic_symlink("a.txt", dir + "/sub/last.txt"));
  ASSERT_TRUE(volt::detail::atomic_symlink("a.txt", dir + "/sub/last.txt"));  // replaces the link in one rename
  EXPECT_TRUE(fs::is_symlink(dir + "/sub/last.txt"));
  EXPECT_EQ(names_in(dir + "/sub"), (std::vector<std::string>{"a.txt", "last.txt"}));
}

// A file streamed in pieces (how checkpoints are written) arrives whole and in order; a producer that throws leaves
// neither the file nor a temporary behind, and the previous version stays.
TEST(AtomicWrite, StreamedPiecesArriveInOrderAndAThrowingProducerLeavesNothing) {
  const std::string dir = fresh_dir("atomic_write_stream");
  volt::detail::atomic_write_file(dir + "/s.bin", [](const volt::detail::ByteSink& sink) {
    for (const char* piece : {"alpha ", "", "beta ", "gamma"}) sink(piece, std::strlen(piece));
  });
  auto bytes = read_bytes(dir + "/s.bin");
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "alpha beta gamma");

  EXPECT_THROW(volt::detail::atomic_write_file(dir + "/s.bin",
                                               [](const volt::detail::ByteSink& sink) {
                                                 sink("partial", 7);
                                                 throw std::runtime_error("the producer failed");
                                               }),
               std::runtime_error);
  bytes = read_bytes(dir + "/s.bin");
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "alpha beta gamma");
  EXPECT_EQ(names_in(dir), std::vector<std::string>{"s.bin"});
}

// A full disk (simulated with the file size limit: the write fails with EFBIG) while ModelCheckpoint replaces its
// best checkpoint: a volt error names the file and the cause, and the previous checkpoint is still there and loads.
TEST(AtomicWrite, AFullDiskFailsClearlyAndKeepsThePreviousCheckpoint) {
  const std::string dir = fresh_dir("atomic_write_full_disk");
  torch::manual_seed(0);
  BoringModel model;
  auto o = small_fit(dir);
  o.max_epochs = 2;
  auto fill = std::make_shared<FillDiskAtEpoch>(1);
  o.callbacks = {fill};  // ModelCheckpoint(save_top_k=1) is added by default: it would replace epoch 0's file
  const std::string previous = dir + "/checkpoints/epoch=0-step=64.ckpt";
  std::string message;
  try {
    Trainer(o).fit(model);
  } catch (const CheckpointError& e) {
    message = e.what();
  }
  fill->limit.reset();
  ASSERT_FALSE(message.empty()) << "the failed save did not raise CheckpointError";
  EXPECT_NE(message.find("epoch=1-step=128.ckpt"), std::string::npos) << message;
  EXPECT_NE(message.find("File too large"), std::string::npos) << message;
  ASSERT_TRUE(fs::exists(previous)) << "the previous best checkpoint was deleted";
  EXPECT_NO_THROW(read_checkpoint_file(previous));
  EXPECT_EQ(names_in(dir + "/checkpoints"), std::vector<std::string>{"epoch=0-step=64.ckpt"});  // no temporary
}

TEST(AtomicWrite, AReadOnlyDirectoryFailsClearlyAndKeepsThePreviousCheckpoint) {
  const std::string dir = fresh_dir("atomic_write_read_only");
  torch::manual_seed(0);
  BoringModel model;
  Trainer trainer(small_fit(dir));
  trainer.fit(model);
  const std::string previous = dir + "/checkpoints/epoch=0-step=64.ckpt";
  ASSERT_TRUE(fs::exists(previous));
  const auto before = read_bytes(previous);
  ::chmod((dir + "/checkpoints").c_str(), 0555);
  struct Restore {
    std::string d;
    ~Restore() { ::chmod(d.c_str(), 0755); }
  } restore{dir + "/checkpoints"};
  if (::access((dir + "/checkpoints").c_str(), W_OK) == 0)
    GTEST_SKIP() << "running as a user whom chmod does not stop from writing (root?): read-only case not testable";
  try {
    trainer.save_checkpoint(previous);
    FAIL() << "writing into a read-only directory succeeded";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(previous), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Permission denied"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_bytes(previous), before);
}

// ---- asynchronous checkpoints ------------------------------------------------------------------------------------

TEST(AsyncCheckpoint, FilesAreByteIdenticalToSynchronousOnes) {
  const std::string dir = fresh_dir("async_identical");
  torch::manual_seed(1);
  DropoutModel model;
  auto o = fit_options(dir);
  for (int64_t batch : {1, 3, 7})
    for (bool async : {false, true})
      o.callbacks.push_back(std::make_shared<SaveAt>(SaveAt::When::kTrainBatchEnd, 1, batch,
                                                     dir + "/b" + std::to_string(batch) + (async ? "_async" : "_sync") + ".ckpt",
                                                     async));
  Trainer(o).fit(model);
  for (int64_t batch : {1, 3, 7}) {
    const std::string base = dir + "/b" + std::to_string(batch);
    auto sync = read_bytes(base + "_sync.ckpt");
    ASSERT_FALSE(sync.empty());
    EXPECT_TRUE(sync == read_bytes(base + "_async.ckpt")) << base;
  }
}

// Every background write takes 150 ms here; fit must not return before they have all landed.
TEST(AsyncCheckpoint, TheTrainerWaitsForPendingWritesAtTheEnd) {
  const std::string dir = fresh_dir("async_waits");
  volt::detail::set_background_write_delay_for_tests(150);
  struct ResetDelay {
    ~ResetDelay() { volt::detail::set_background_write_delay_for_tests(0); }
  } reset;
  torch::manual_seed(0);
  BoringModel model;
  auto o = small_fit(dir);
  o.max_epochs = -1;
  o.max_steps = 3;
  ModelCheckpointOptions every_step;
  every_step.every_n_train_steps = 1;
  every_step.save_top_k = -1;
  every_step.save_last = true;
  every_step.async_save = true;
  o.callbacks = {std::make_shared<ModelCheckpoint>(every_step)};
  Trainer(o).fit(model);
  EXPECT_EQ(names_in(dir + "/checkpoints"),
            (std::vector<std::string>{"epoch=0-step=1.ckpt", "epoch=0-step=2.ckpt", "epoch=0-step=3.ckpt", "last.ckpt"}));
  for (const auto& name : names_in(dir + "/checkpoints"))
    EXPECT_NO_THROW(read_checkpoint_file(dir + "/checkpoints/" + name)) << name;
}

// An old best checkpoint is removed only after its asynchronous replacement is on disk, so with slow writes the
// removals queue behind them; the end result is the same as with synchronous saves.
TEST(AsyncCheckpoint, TopKReplacementRemovesOnlyAfterTheNewFileLanded) {
  const std::string dir = fresh_dir("async_topk");
  volt::detail::set_background_write_delay_for_tests(50);
  struct ResetDelay {
    ~ResetDelay() { volt::detail::set_background_write_delay_for_tests(0); }
  } reset;
  torch::manual_seed(0);
  BoringModel model;
  auto o = small_fit(dir);
  o.max_epochs = -1;
  o.max_steps = 4;
  ModelCheckpointOptions every_step;
  every_step.every_n_train_steps = 1;
  every_step.save_last = "link";
  every_step.async_save = true;
  o.callbacks = {std::make_shared<ModelCheckpoint>(every_step)};
  Trainer(o).fit(model);
  EXPECT_EQ(names_in(dir + "/checkpoints"), (std::vector<std::string>{"epoch=0-step=4.ckpt", "last.ckpt"}));
  EXPECT_TRUE(fs::is_symlink(dir + "/checkpoints/last.ckpt"));
  EXPECT_NO_THROW(read_checkpoint_file(dir + "/checkpoints/last.ckpt"));
}

TEST(AsyncCheckpoint, AWriterErrorSurfacesAsCheckpointError) {
  const std::string dir = fresh_dir("async_error");
  volt::detail::atomic_write_file(dir + "/not_a_directory", std::string("x"));
  const std::string bad = dir + "/not_a_directory/model.ckpt";
  torch::manual_seed(0);
  {
    // from fit: at the next save or at the end of the run
    BoringModel model;
    auto o = small_fit(dir);
    o.callbacks = {std::make_shared<SaveAt>(SaveAt::When::kTrainBatchEnd, 0, 5, bad, /*async=*/true)};
    try {
      Trainer(o).fit(model);
      FAIL() << "fit succeeded although a background write failed";
    } catch (const CheckpointError& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
  {
    // directly: save_checkpoint returns, wait_for_checkpoints reports
    BoringModel model;
    Trainer trainer(small_fit(dir + "/direct"));
    trainer.fit(model);
    trainer.save_checkpoint(bad, false, /*async_write=*/true);
    EXPECT_THROW(trainer.wait_for_checkpoints(), CheckpointError);
    EXPECT_NO_THROW(trainer.wait_for_checkpoints());  // reported once
  }
}

TEST(AsyncCheckpoint, TasksAfterAFailedWriteThatDependOnItAreSkipped) {
  volt::detail::BackgroundWriter writer(2);
  std::atomic<bool> removed{false}, later{false};
  writer.submit([] { throw CheckpointError("write failed"); });
  writer.submit([&] { removed = true; }, /*skip_if_earlier_failed=*/true);
  EXPECT_THROW(writer.wait(), CheckpointError);
  EXPECT_FALSE(removed.load()) << "an old checkpoint would have been removed after its replacement failed";
  writer.submit([&] { later = true; }, true);  // failures reported before the submit do not block later tasks
  writer.wait();
  EXPECT_TRUE(later.load());
}

// ---- the kill test -------------------------------------------------------------------------------------------------

namespace {
struct Server {
  pid_t pid = -1;
  FILE* to = nullptr;
  FILE* from = nullptr;
  Server(const std::string& dir, int64_t max_steps) {
    int in[2], out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) throw std::runtime_error("pipe failed");
    pid = ::fork();
    if (pid == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::close(in[1]);
      ::close(out[0]);
      const std::string program = std::string(VOLT_TEST_PROGRAMS_DIR) + "/kill_child";
      const std::string steps = std::to_string(max_steps);
      ::execl(program.c_str(), program.c_str(), "serve", dir.c_str(), steps.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    to = ::fdopen(in[1], "w");
    from = ::fdopen(out[0], "r");
  }
  ~Server() {
    if (to) std::fclose(to);  // end of input: the server exits
    if (from) std::fclose(from);
    int status;
    if (pid > 0) ::waitpid(pid, &status, 0);
  }
  /// Starts a worker; returns its pid.
  pid_t start() {
    std::fputs("run\n", to);
    std::fflush(to);
    int worker = -1;
    if (std::fscanf(from, " pid %d", &worker) != 1) throw std::runtime_error("kill_child serve: no pid");
    return worker;
  }
  /// Waits for the worker's end: "exit <code>" or "signal <n>".
  std::string finish() {
    char kind[16] = {0};
    int value = -1;
    if (std::fscanf(from, " %15s %d", kind, &value) != 2) throw std::runtime_error("kill_child serve: no status");
    return std::string(kind) + " " + std::to_string(value);
  }
};

std::map<std::string, torch::Tensor> load_weights(const std::string& file) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : read_checkpoint_file(file).toGenericDict())
    out[item.key().toStringRef()] = item.value().toTensor();
  return out;
}

int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoll(v) : fallback;
}
}  // namespace

// A worker trains with a checkpoint after every optimizer step (plus last.ckpt) and is SIGKILLed at random moments
// (seeded: VOLT_KILL_TEST_SEED); after every kill the newest checkpoint loads, the next worker resumes from it, and
// the run finally completes with exactly the weights of an uninterrupted run. VOLT_KILL_TEST_KILLS sets the count.
TEST(KillTest, SigkillAtRandomMomentsThenResumeGivesTheUninterruptedWeights) {
  const int64_t kills = env_int("VOLT_KILL_TEST_KILLS", 50);
  const int64_t max_steps = env_int("VOLT_KILL_TEST_STEPS", 100);
  std::mt19937 random(static_cast<uint32_t>(env_int("VOLT_KILL_TEST_SEED", 2024)));
  const std::string dir = fresh_dir("kill_test");

  Server reference(dir + "/uninterrupted", max_steps);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_GT(reference.start(), 0);
  ASSERT_EQ(reference.finish(), "exit 0") << "see " << dir << "/uninterrupted/worker.log";
  // kill moments: uniform over three optimizer steps (with their checkpoints), measured on this machine, so that a
  // worker lives through about one step and one save after its start-up, and dies anywhere in it
  const double step_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / max_steps;
  const auto expected = load_weights(dir + "/uninterrupted/final.pt");

  const std::string run = dir + "/killed";
  const std::string last = run + "/checkpoints/last.ckpt";
  Server server(run, max_steps);
  std::uniform_int_distribution<int> delay_us(0, static_cast<int>(3 * step_us));
  int64_t killed = 0, finished_early = 0, last_step = -1;
  for (int64_t i = 0; i < kills; ++i) {
    pid_t worker = server.start();
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(random)));
    ::kill(worker, SIGKILL);
    const std::string status = server.finish();
    if (status == "signal 9") ++killed;
    else if (status == "exit 0") ++finished_early;
    else FAIL() << "worker ended with " << status << " (see " << run << "/worker.log)";
    if (!fs::exists(last)) continue;  // killed before its first checkpoint
    // the newest checkpoint always loads and never goes back in time
    IValue checkpoint;
    ASSERT_NO_THROW(checkpoint = read_checkpoint_file(last)) << "after kill " << i;
    const int64_t step = checkpoint.toGenericDict().at("global_step").toInt();
    EXPECT_GE(step, last_step) << "after kill " << i;
    last_step = step;
  }
  EXPECT_GT(killed, kills / 2) << "most workers must die mid-run for the test to mean anything";
  ASSERT_GT(server.start(), 0);  // resume to the end
  ASSERT_EQ(server.finish(), "exit 0") << "see " << run << "/worker.log";
  const auto actual = load_weights(run + "/final.pt");
  ASSERT_EQ(actual.size(), expected.size());
  for (const auto& [name, tensor] : expected) EXPECT_TRUE(torch::equal(actual.at(name), tensor)) << name;
  std::printf("[ kill test ] %lld workers SIGKILLed, %lld finished before their kill, %.1f ms per step, the last "
              "worker resumed from step %lld of %lld\n",
              static_cast<long long>(killed), static_cast<long long>(finished_early), step_us / 1000,
              static_cast<long long>(last_step), static_cast<long long>(max_steps));
}

// ---- preemption ------------------------------------------------------------------------------------------------

namespace {
/// Sends `signal` to this process after training batch `batch` of epoch `epoch`.
struct RaiseAt : Callback {
  RaiseAt(int signal, int64_t epoch, int64_t batch) : signal(signal), epoch(epoch), batch(batch) {}
  std::string class_name() const override { return "RaiseAt"; }
  void on_train_batch_end(Trainer& t, Module&, const StepOutput&, const Batch&, int64_t batch_idx) override {
    if (t.current_epoch() == epoch && batch_idx == batch) std::raise(signal);
  }
  int signal;
  int64_t epoch, batch;
};

struct ScopedEnv {
  ScopedEnv(std::string name, const std::string& value) : name(std::move(name)) {
    const char* old = std::getenv(this->name.c_str());
    if (old) saved = old;
    had = old != nullptr;
    ::setenv(this->name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had) ::setenv(name.c_str(), saved.c_str(), 1);
    else ::unsetenv(name.c_str());
  }
  std::string name, saved;
  bool had = false;
};
}  // namespace

// SIGTERM stops the fit at the next safe point (through on_exception, as SignalError); with signal_checkpoint_path
// it first saves a checkpoint there, from which the run resumes to the uninterrupted weights.
TEST(Preemption, SigtermSavesACheckpointAtTheNextSafePointThenStops) {
  const std::string dir = fresh_dir("preemption_sigterm");
  torch::manual_seed(1);
  DropoutModel straight;
  Trainer(fit_options(dir + "/straight")).fit(straight);

  torch::manual_seed(1);
  DropoutModel model;
  auto o = fit_options(dir + "/stopped");
  o.signal_checkpoint_path = dir + "/preempted.ckpt";
  o.callbacks = {std::make_shared<RaiseAt>(SIGTERM, 1, 4)};  // inside an accumulation window
  Trainer stopped(o);
  EXPECT_THROW(stopped.fit(model), SignalError);
  EXPECT_EQ(stopped.status(), "interrupted");
  ASSERT_TRUE(fs::exists(dir + "/preempted.ckpt"));

  torch::manual_seed(1000);
  DropoutModel resumed;
  Trainer(fit_options(dir + "/resumed")).fit(resumed, nullptr, dir + "/preempted.ckpt");
  EXPECT_TRUE(bit_identical(weights(resumed), weights(straight)));
}

// Under SLURM, SIGUSR1 saves <default_root_dir>/hpc_ckpt_<n>.ckpt and runs `scontrol requeue $SLURM_JOB_ID` (a fake
// scontrol on PATH records its arguments); the requeued job's fit resumes from the newest hpc checkpoint by itself.
TEST(Preemption, SlurmRequeueSignalSavesAnHpcCheckpointAndRequeues) {
  const std::string dir = fresh_dir("preemption_slurm");
  const std::string bin = dir + "/bin";
  fs::create_directories(bin);
  volt::detail::atomic_write_file(bin + "/scontrol", "#!/bin/sh\necho \"$@\" >> '" + dir + "/scontrol.log'\n");
  fs::permissions(bin + "/scontrol", fs::perms::owner_all);
  ScopedEnv path("PATH", bin + ":" + (std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin"));
  ScopedEnv ntasks("SLURM_NTASKS", "1");
  ScopedEnv job("SLURM_JOB_ID", "4242");
  ScopedEnv name("SLURM_JOB_NAME", "train");

  torch::manual_seed(1);
  DropoutModel straight;
  Trainer(fit_options(dir + "/straight")).fit(straight);

  const std::string root = dir + "/job";
  torch::manual_seed(1);
  DropoutModel model;
  auto o = fit_options(root);
  o.callbacks = {std::make_shared<RaiseAt>(SIGUSR1, 1, 2)};
  Trainer(o).fit(model);  // no hpc checkpoint yet: a fresh start
  ASSERT_TRUE(fs::exists(root + "/hpc_ckpt_1.ckpt"));
  std::ifstream log(dir + "/scontrol.log");
  std::string line;
  std::getline(log, line);
  EXPECT_EQ(line, "requeue 4242");
  EXPECT_TRUE(bit_identical(weights(model), weights(straight))) << "the requeue signal must not change the run";

  torch::manual_seed(1000);
  DropoutModel resumed;
  Trainer requeued(fit_options(root));
  requeued.fit(resumed);  // SLURM detected and an hpc checkpoint exists: ckpt_path="hpc"
  EXPECT_EQ(requeued.ckpt_path(), root + "/hpc_ckpt_1.ckpt");
  EXPECT_TRUE(bit_identical(weights(resumed), weights(straight)));
}

}  // namespace volt_test_reliability_test
}  // namespace
