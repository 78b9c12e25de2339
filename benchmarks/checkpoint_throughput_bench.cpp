// Checkpoint throughput for models of 10 MB, 100 MB and 1 GB, measured in one run against two baselines on the
// same disk: raw torch::save of the same tensors (without and with an fsync, since volt's save is durable: it
// fsyncs the file and the directory), and the disk's sequential write speed (one write of as many bytes, then
// fsync). Loads (volt's reader vs torch::load) read what was just written, so mostly from the page cache.
// VOLT_BENCH_MAX_MB (default 1024) caps the largest model; a size needs three times its size free on disk.
#include <fcntl.h>
#include <unistd.h>
#include <volt/serialization/pickle_reader.hpp>
#include <volt/volt.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

constexpr int64_t kChunkFloats = 2'500'000;  // one 10 MB parameter

// `chunks` parameters of 10 MB each; the loss touches each one, so every parameter has a gradient.
struct Big : volt::Module {
  explicit Big(int64_t chunks) {
    for (int64_t i = 0; i < chunks; ++i)
      weights.push_back(register_parameter("w" + std::to_string(i), torch::randn({kChunkFloats})));
  }
  volt::StepOutput training_step(const volt::Batch&, int64_t) override {
    torch::Tensor loss = torch::zeros({});
    for (const auto& w : weights) loss = loss + w[0];
    return loss;
  }
  volt::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.0));
  }
  std::shared_ptr<volt::DataLoader> train_dataloader() override {
    volt::DataLoaderOptions o;
    o.batch_size = 1;
    return std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{torch::zeros({1, 1})}, o);
  }
  std::vector<torch::Tensor> weights;
};

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Sequential write of `bytes` bytes in 8 MB writes, then fsync: what the disk can take.
double disk_write_seconds(const std::string& path, int64_t bytes) {
  std::vector<char> buffer(8 << 20, 1);
  auto t0 = Clock::now();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  for (int64_t left = bytes; left > 0;) {
    auto n = ::write(fd, buffer.data(), static_cast<size_t>(std::min<int64_t>(left, buffer.size())));
    if (n <= 0) break;
    left -= n;
  }
  ::fsync(fd);
  ::close(fd);
  double s = seconds_since(t0);
  fs::remove(path);
  return s;
}

void measure(int64_t megabytes, const std::string& dir) {
  const int64_t chunks = megabytes / 10;
  torch::manual_seed(0);
  Big model(chunks);
  volt::TrainerOptions o;
  o.max_steps = 1;
  o.default_root_dir = dir;
  o.enable_checkpointing = false;
  o.enable_model_summary = false;
  o.enable_progress_bar = false;
  volt::Trainer trainer(o);
  trainer.fit(model);

  const std::string volt_path = dir + "/volt.ckpt", raw_path = dir + "/raw.pt";
  auto t0 = Clock::now();
  trainer.save_checkpoint(volt_path);
  const double volt_save = seconds_since(t0);
  const double bytes = static_cast<double>(fs::file_size(volt_path));

  t0 = Clock::now();
  torch::save(model.weights, raw_path);
  const double raw_save = seconds_since(t0);
  fsync_path(raw_path);
  const double raw_save_fsync = seconds_since(t0);

  const double disk = disk_write_seconds(dir + "/disk.bin", static_cast<int64_t>(bytes));

  t0 = Clock::now();
  auto loaded = volt::read_checkpoint_file(volt_path);
  const double volt_load = seconds_since(t0);
  t0 = Clock::now();
  std::vector<torch::Tensor> raw_loaded;
  torch::load(raw_loaded, raw_path);
  const double raw_load = seconds_since(t0);
  fs::remove(volt_path);
  fs::remove(raw_path);

  auto mbps = [&](double s) { return bytes / 1e6 / s; };
  std::printf("%5lld MB model (checkpoint %.0f MB)\n", static_cast<long long>(megabytes), bytes / 1e6);
  std::printf("  save  volt %7.0f MB/s   raw torch::save %7.0f MB/s (+fsync %7.0f)   disk %7.0f MB/s\n",
              mbps(volt_save), mbps(raw_save), mbps(raw_save_fsync), mbps(disk));
  std::printf("        ratios: volt / raw+fsync %.2f   volt / raw %.2f   volt / disk %.2f\n",
              raw_save_fsync / volt_save, raw_save / volt_save, disk / volt_save);
  std::printf("  load  volt %7.0f MB/s   raw torch::load %7.0f MB/s   ratio %.2f\n", mbps(volt_load),
              mbps(raw_load), raw_load / volt_load);
}

}  // namespace

int main() {
  torch::set_num_threads(1);
  const std::string dir = "bench_runs/checkpoint_throughput";
  fs::create_directories(dir);
  const char* cap = std::getenv("VOLT_BENCH_MAX_MB");
  const int64_t max_mb = cap ? std::atoll(cap) : 1024;
  std::printf("checkpoint throughput in %s, 1 thread\n", fs::absolute(dir).c_str());
  for (int64_t mb : {10, 100, 1000}) {
    if (mb > max_mb) {
      std::printf("%5lld MB model: skipped (VOLT_BENCH_MAX_MB=%lld)\n", static_cast<long long>(mb),
                  static_cast<long long>(max_mb));
      continue;
    }
    if (fs::space(dir).available < static_cast<uintmax_t>(3 * mb) * 1'000'000) {
      std::printf("%5lld MB model: skipped, less than %lld MB free on this disk\n", static_cast<long long>(mb),
                  static_cast<long long>(3 * mb));
      continue;
    }
    measure(mb, dir);
  }
  return 0;
}
