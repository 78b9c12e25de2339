// Loop overhead: a hand-written libtorch training loop vs volt on the same model and in-memory data, measured in
// one run, printed as steps/s and as the ratio volt / raw. Two workloads: the tiny MLP on synthetic data (where
// framework overhead matters most) and a Fashion-MNIST CNN on the real images (where compute dominates).
// Threads: 1 (say so in any report).
#include <volt/volt.hpp>

#include "fashion_cnn.hpp"
#include "tiny_mlp.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using bench::NoOp;
using bench::seconds_since;

struct Workload {
  torch::Tensor x, y;
  int64_t batch, epochs;
  int64_t steps() const { return epochs * (x.size(0) / batch); }
};

template <class Model>
double raw_loop(const Workload& w) {
  torch::manual_seed(0);
  Model model;
  torch::optim::SGD opt(model.parameters(), torch::optim::SGDOptions(0.01));
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t e = 0; e < w.epochs; ++e)
    for (int64_t i = 0; i < w.x.size(0) / w.batch; ++i) {
      auto xb = w.x.slice(0, i * w.batch, (i + 1) * w.batch), yb = w.y.slice(0, i * w.batch, (i + 1) * w.batch);
      opt.zero_grad();
      auto loss = torch::cross_entropy_loss(model.forward(xb), yb);
      loss.backward();
      opt.step();
    }
  return w.steps() / seconds_since(t0);
}

// `defaults`: the default ModelCheckpoint (a checkpoint file per epoch). The progress bar and the model summary,
// the other defaults, print to the terminal and are left out: printing is not loop overhead.
template <class Model>
double volt_loop(const Workload& w, bool defaults, int no_ops, bool log_loss) {
  torch::manual_seed(0);
  Model model;
  model.log_loss = log_loss;
  volt::TrainerOptions o;
  o.max_epochs = w.epochs;
  o.num_sanity_val_steps = 0;
  o.default_root_dir = "bench_runs";
  o.enable_checkpointing = defaults;
  o.enable_model_summary = false;
  o.enable_progress_bar = false;
  for (int i = 0; i < no_ops; ++i) o.callbacks.push_back(std::make_shared<NoOp>());
  volt::DataLoaderOptions batches;
  batches.batch_size = w.batch;
  auto loader = std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{w.x, w.y}, batches);
  std::filesystem::remove_all(o.default_root_dir);  // each run starts with no checkpoints
  volt::Trainer trainer(o);
  auto t0 = std::chrono::steady_clock::now();
  trainer.fit(model, loader);
  return w.steps() / seconds_since(t0);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The four configurations measured in turn, `rounds` times (interleaved, so that a slow spell of the machine hits
// all of them), each reported as its median.
template <class Model>
void compare(const char* title, const Workload& w, int rounds) {
  raw_loop<Model>(w);  // warm-up
  std::vector<double> raw, bare, with_checkpoint, busy;
  for (int r = 0; r < rounds; ++r) {
    raw.push_back(raw_loop<Model>(w));
    bare.push_back(volt_loop<Model>(w, false, 0, false));
    with_checkpoint.push_back(volt_loop<Model>(w, true, 0, false));
    busy.push_back(volt_loop<Model>(w, true, 10, true));
  }
  const double base = median(raw);
  std::printf("%s, batch %lld, %lld steps, 1 thread, median of %d rounds\n", title, static_cast<long long>(w.batch),
              static_cast<long long>(w.steps()), rounds);
  std::printf("  raw libtorch loop                                 %8.0f steps/s\n", base);
  auto row = [&](const char* name, const std::vector<double>& v) {
    std::printf("  %-49s %8.0f steps/s  ratio %.3f\n", name, median(v), median(v) / base);
  };
  row("volt, no callbacks", bare);
  row("volt, defaults (checkpoint every epoch)", with_checkpoint);
  row("volt, defaults + 10 no-op callbacks, 1 log/step", busy);
}

}  // namespace

// `loop_overhead_bench --only=raw|bare|defaults|busy --epochs=E`: one tiny-MLP run of one configuration and
// nothing printed, for counting instructions under callgrind (benchmarks/loop_instructions.sh).
int run_one(const std::string& config, int64_t epochs) {
  Workload mlp{torch::randn({bench::kSamples, 784}), torch::randint(0, 10, {bench::kSamples}, torch::kLong),
               bench::kBatch, epochs};
  if (config == "raw") raw_loop<bench::Mlp>(mlp);
  else if (config == "bare") volt_loop<bench::Mlp>(mlp, false, 0, false);
  else if (config == "defaults") volt_loop<bench::Mlp>(mlp, true, 0, false);
  else if (config == "busy") volt_loop<bench::Mlp>(mlp, true, 10, true);
  else {
    std::fprintf(stderr, "loop_overhead_bench: --only must be raw, bare, defaults or busy, got '%s'\n", config.c_str());
    return 2;
  }
  return 0;
}

int main(int argc, char** argv) {
  torch::set_num_threads(1);
  std::string only;
  int64_t epochs = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--only=", 0) == 0) only = a.substr(7);
    else if (a.rfind("--epochs=", 0) == 0) epochs = std::atoll(a.c_str() + 9);
    else {
      std::fprintf(stderr, "loop_overhead_bench: unknown argument '%s' (--only=CONFIG --epochs=E)\n", a.c_str());
      return 2;
    }
  }
  if (!only.empty()) return run_one(only, epochs);
  Workload mlp{torch::randn({bench::kSamples, 784}), torch::randint(0, 10, {bench::kSamples}, torch::kLong),
               bench::kBatch, bench::kEpochs};
  compare<bench::Mlp>("tiny MLP 784-128-10, synthetic data", mlp, 15);

  const int64_t n = 64 * 100;  // 100 batches per epoch: under a minute for the whole comparison
  auto images = bench::fashion_mnist_train(n);
  if (!images) return 0;
  compare<bench::Cnn>("Fashion-MNIST CNN conv16-conv32-fc10, first 6400 training images",
                      Workload{images->first, images->second, 64, 2}, 3);
  return 0;
}
