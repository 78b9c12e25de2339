// Checkpoint stall: how long the training loop stops for each save, synchronous (dump, pickle, write, fsync,
// rename on the training thread) vs asynchronous (dump and copy the tensors; pickling and writing on the
// background thread). Measured in one run on the same model and data; printed per save and as a ratio, plus the
// whole fit's overhead over a run without saves. Threads: 1.
#include <volt/volt.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>

namespace {

constexpr int64_t kSamples = 64 * 120, kBatch = 64, kEpochs = 2, kSaveEvery = 20;

struct Mlp : volt::Module {
  Mlp() {
    fc1 = register_module("fc1", torch::nn::Linear(784, 512));
    fc2 = register_module("fc2", torch::nn::Linear(512, 512));
    fc3 = register_module("fc3", torch::nn::Linear(512, 10));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return fc3->forward(torch::relu(fc2->forward(torch::relu(fc1->forward(x)))));
  }
  volt::StepOutput training_step(const volt::Batch& batch, int64_t) override {
    const auto& xy = batch.toTupleRef().elements();
    return torch::cross_entropy_loss(forward(xy[0].toTensor()), xy[1].toTensor());
  }
  volt::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, fc3{nullptr};
};

using Clock = std::chrono::steady_clock;
double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Saves every kSaveEvery batches (two files alternating, as top-k replacement would) and times each call.
struct TimedSaver : volt::Callback {
  TimedSaver(std::string dir, bool async) : dir(std::move(dir)), async(async) {}
  void on_train_batch_end(volt::Trainer& t, volt::Module&, const volt::StepOutput&, const volt::Batch&,
                          int64_t batch_idx) override {
    if ((batch_idx + 1) % kSaveEvery != 0) return;
    auto t0 = Clock::now();
    t.save_checkpoint(dir + "/ckpt" + std::to_string(saves % 2) + ".ckpt", false, async);
    in_save += seconds(Clock::now() - t0);
    ++saves;
  }
  std::string dir;
  bool async;
  int64_t saves = 0;
  double in_save = 0;
};

struct Result {
  double fit_seconds;
  double per_save;
  int64_t saves;
};

Result run(const torch::Tensor& x, const torch::Tensor& y, int mode /*0: no saves, 1: sync, 2: async*/) {
  torch::manual_seed(0);
  Mlp model;
  volt::TrainerOptions o;
  o.max_epochs = kEpochs;
  o.default_root_dir = "bench_runs/checkpoint";
  o.enable_checkpointing = false;
  o.enable_model_summary = false;
  o.enable_progress_bar = false;
  auto saver = std::make_shared<TimedSaver>("bench_runs/checkpoint/files", mode == 2);
  if (mode != 0) o.callbacks = {saver};
  volt::DataLoaderOptions batches;
  batches.batch_size = kBatch;
  auto loader = std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{x, y}, batches);
  volt::Trainer trainer(o);
  auto t0 = Clock::now();
  trainer.fit(model, loader);  // includes waiting for the last background writes
  return {seconds(Clock::now() - t0), saver->saves ? saver->in_save / static_cast<double>(saver->saves) : 0.0,
          saver->saves};
}

}  // namespace

int main() {
  torch::set_num_threads(1);
  std::filesystem::create_directories("bench_runs/checkpoint/files");
  auto x = torch::randn({kSamples, 784});
  auto y = torch::randint(0, 10, {kSamples}, torch::kLong);
  run(x, y, 0);  // warm-up
  Result none = run(x, y, 0);
  Result sync = run(x, y, 1);
  Result async = run(x, y, 2);
  Result none_again = run(x, y, 0);
  const double base = (none.fit_seconds + none_again.fit_seconds) / 2;
  const auto size = std::filesystem::file_size("bench_runs/checkpoint/files/ckpt0.ckpt");
  std::printf("MLP 784-512-512-10 + SGD momentum, checkpoint %.1f MB, %lld saves per fit, 1 thread\n",
              static_cast<double>(size) / 1e6, static_cast<long long>(sync.saves));
  std::printf("  stall per save   sync %8.2f ms   async %8.2f ms   ratio sync/async %.1f\n", sync.per_save * 1e3,
              async.per_save * 1e3, async.per_save > 0 ? sync.per_save / async.per_save : 0.0);
  std::printf("  fit overhead     sync %8.2f ms   async %8.2f ms   (over %.0f ms without saves; async includes "
              "waiting for the last writes)\n",
              (sync.fit_seconds - base) * 1e3, (async.fit_seconds - base) * 1e3, base * 1e3);
  return 0;
}
