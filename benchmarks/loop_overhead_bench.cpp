// Loop overhead: a hand-written libtorch training loop vs volt on the same tiny MLP and in-memory data, measured
// in one run, printed as steps/s and as the ratio volt / raw. Threads: 1 (say so in any report).
#include <volt/volt.hpp>

#include "tiny_mlp.hpp"

#include <chrono>
#include <cstdio>

namespace {

using bench::kBatch;
using bench::kEpochs;
using bench::kSamples;
using bench::Mlp;
using bench::NoOp;
using bench::seconds_since;

double raw_loop(const torch::Tensor& x, const torch::Tensor& y) {
  torch::manual_seed(0);
  Mlp model;
  torch::optim::SGD opt(model.parameters(), torch::optim::SGDOptions(0.01));
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t e = 0; e < kEpochs; ++e)
    for (int64_t i = 0; i < kSamples / kBatch; ++i) {
      auto xb = x.slice(0, i * kBatch, (i + 1) * kBatch), yb = y.slice(0, i * kBatch, (i + 1) * kBatch);
      opt.zero_grad();
      auto loss = torch::cross_entropy_loss(model.forward(xb), yb);
      loss.backward();
      opt.step();
    }
  return kEpochs * (kSamples / kBatch) / seconds_since(t0);
}

double volt_loop(const torch::Tensor& x, const torch::Tensor& y, bool defaults, int no_ops, bool log_loss) {
  torch::manual_seed(0);
  Mlp model;
  model.log_loss = log_loss;
  volt::TrainerOptions o;
  o.max_epochs = kEpochs;
  o.num_sanity_val_steps = 0;
  o.default_root_dir = "bench_runs";
  o.enable_checkpointing = defaults;
  o.enable_model_summary = false;  // printing is not loop overhead
  o.enable_progress_bar = false;
  for (int i = 0; i < no_ops; ++i) o.callbacks.push_back(std::make_shared<NoOp>());
  volt::DataLoaderOptions batches;
  batches.batch_size = kBatch;
  auto loader = std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{x, y}, batches);
  volt::Trainer trainer(o);
  auto t0 = std::chrono::steady_clock::now();
  trainer.fit(model, loader);
  return kEpochs * (kSamples / kBatch) / seconds_since(t0);
}

}  // namespace

int main() {
  torch::set_num_threads(1);
  auto x = torch::randn({kSamples, 784});
  auto y = torch::randint(0, 10, {kSamples}, torch::kLong);
  raw_loop(x, y);  // warm-up
  double raw = raw_loop(x, y);
  double bare = volt_loop(x, y, false, 0, false);
  double with_checkpoint = volt_loop(x, y, true, 0, false);
  double busy = volt_loop(x, y, true, 10, true);
  double raw_again = raw_loop(x, y);
  double base = (raw + raw_again) / 2;
  std::printf("tiny MLP 784-128-10, batch %lld, %lld steps, 1 thread\n", static_cast<long long>(kBatch),
              static_cast<long long>(kEpochs * (kSamples / kBatch)));
  std::printf("  raw libtorch loop              %8.0f steps/s\n", base);
  std::printf("  volt, no callbacks             %8.0f steps/s  ratio %.3f\n", bare, bare / base);
  std::printf("  volt, checkpointing            %8.0f steps/s  ratio %.3f\n", with_checkpoint, with_checkpoint / base);
  std::printf("  volt, + 10 no-op callbacks, 1 logged metric/step %8.0f steps/s  ratio %.3f\n", busy, busy / base);
  return 0;
}
