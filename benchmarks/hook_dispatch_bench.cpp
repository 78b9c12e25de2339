// Hook dispatch: what one callback hook call costs the training loop. Google Benchmark runs one epoch of 256
// batches of a model whose step is almost free, with 0, 1, 10 and 100 callbacks that override every batch-level
// hook with an empty body; the summary divides the extra time over the 0-callback baseline (same run) by the
// number of hook calls the callbacks received.
#include <benchmark/benchmark.h>
#include <volt/volt.hpp>

#include <cstdio>
#include <map>

namespace {

constexpr int64_t kBatches = 256;

// The cheapest possible step: one multiply of a 1-element parameter.
struct Scalar : volt::Module {
  Scalar() { w = register_parameter("w", torch::ones({1})); }
  volt::StepOutput training_step(const volt::Batch& batch, int64_t) override { return (w * batch.toTensor()).sum(); }
  volt::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.0));
  }
  torch::Tensor w;
};

// Overrides the batch-level hooks and counts the calls (one increment: the body is as empty as it can usefully be).
struct Counting : volt::Callback {
  void on_train_batch_start(volt::Trainer&, volt::Module&, const volt::Batch&, int64_t) override { ++calls; }
  void on_train_batch_end(volt::Trainer&, volt::Module&, const volt::StepOutput&, const volt::Batch&,
                          int64_t) override {
    ++calls;
  }
  void on_before_backward(volt::Trainer&, volt::Module&, const torch::Tensor&) override { ++calls; }
  void on_after_backward(volt::Trainer&, volt::Module&) override { ++calls; }
  void on_before_optimizer_step(volt::Trainer&, volt::Module&, torch::optim::Optimizer&) override { ++calls; }
  void on_before_zero_grad(volt::Trainer&, volt::Module&, torch::optim::Optimizer&) override { ++calls; }
  int64_t calls = 0;
};

std::map<int64_t, double> g_seconds_per_epoch;  // callbacks → mean seconds per epoch
std::map<int64_t, double> g_calls_per_epoch;    // callbacks → hook calls per epoch (all callbacks together)

void BM_TrainEpoch(benchmark::State& state) {
  const int64_t n_callbacks = state.range(0);
  torch::set_num_threads(1);
  auto data = torch::ones({kBatches, 1});
  volt::DataLoaderOptions batches;
  batches.batch_size = 1;
  auto loader = std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{data}, batches);
  double total = 0;
  int64_t epochs = 0, calls = 0;
  for (auto _ : state) {
    state.PauseTiming();
    Scalar model;
    volt::TrainerOptions o;
    o.max_epochs = 1;
    o.barebones = true;  // no checkpoint, progress bar, summary or logging: dispatch only
    std::vector<std::shared_ptr<Counting>> counting;
    for (int64_t i = 0; i < n_callbacks; ++i) {
      counting.push_back(std::make_shared<Counting>());
      o.callbacks.push_back(counting.back());
    }
    volt::Trainer trainer(o);
    state.ResumeTiming();
    auto t0 = std::chrono::steady_clock::now();
    trainer.fit(model, loader);
    total += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++epochs;
    for (const auto& c : counting) calls += c->calls;
  }
  g_seconds_per_epoch[n_callbacks] = total / static_cast<double>(epochs);
  g_calls_per_epoch[n_callbacks] = static_cast<double>(calls) / static_cast<double>(epochs);
  state.SetItemsProcessed(state.iterations() * kBatches);
  state.counters["us_per_batch"] = benchmark::Counter(1e6 * total / static_cast<double>(epochs * kBatches));
}
BENCHMARK(BM_TrainEpoch)->ArgName("callbacks")->Arg(0)->Arg(1)->Arg(10)->Arg(100)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (!g_seconds_per_epoch.count(0)) return 0;
  const double base = g_seconds_per_epoch[0];
  std::printf("\nper batch with 0 callbacks: %.2f us (the baseline, same run)\n", 1e6 * base / kBatches);
  for (const auto& [n, seconds] : g_seconds_per_epoch) {
    if (n == 0 || g_calls_per_epoch[n] == 0) continue;
    std::printf("%3lld callbacks: %.2fx the baseline's time, %.1f ns per hook call per callback\n",
                static_cast<long long>(n), seconds / base, 1e9 * (seconds - base) / g_calls_per_epoch[n]);
  }
  return 0;
}
