// volt vs Python Lightning on the same tiny MLP (benchmarks/tiny_mlp.hpp, benchmarks/lightning_mlp.py): the same
// data shape, batch, optimizer, steps, 1 thread, checkpointing on, no logger, progress bar or summary; both timed
// from fit's start to its end in this run, and printed as steps/s and the ratio volt / Lightning.
// The Lightning interpreter: $VOLT_LIGHTNING_PYTHON (make bench sets it up with scripts/lightning-venv.sh).
#include <volt/volt.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "tiny_mlp.hpp"

namespace {

double volt_fit(bool log_loss) {
  torch::manual_seed(0);
  auto x = torch::randn({bench::kSamples, 784});
  auto y = torch::randint(0, 10, {bench::kSamples}, torch::kLong);
  bench::Mlp model;
  model.log_loss = log_loss;
  volt::TrainerOptions o;
  o.max_epochs = bench::kEpochs;
  o.num_sanity_val_steps = 0;
  o.default_root_dir = "bench_runs";
  std::filesystem::remove_all(o.default_root_dir);  // each run starts without old checkpoints
  o.enable_checkpointing = true;
  o.enable_model_summary = false;
  o.enable_progress_bar = false;
  volt::DataLoaderOptions batches;
  batches.batch_size = bench::kBatch;
  auto loader = std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{x, y}, batches);
  volt::Trainer trainer(o);
  auto t0 = std::chrono::steady_clock::now();
  trainer.fit(model, loader);
  return bench::kSteps / bench::seconds_since(t0);
}

// Runs the Lightning twin and reads its "steps_per_second X" line; a negative value when it could not run.
double lightning_fit(const std::string& python, bool log_loss) {
  const std::string command =
      python + " " + VOLT_SOURCE_DIR + "/benchmarks/lightning_mlp.py" + (log_loss ? " --log" : "") + " 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  if (!pipe) return -1;
  char line[256];
  double steps = -1;
  while (std::fgets(line, sizeof line, pipe.get()))
    if (std::sscanf(line, "steps_per_second %lf", &steps) == 1) break;
  return steps;
}

}  // namespace

int main() {
  torch::set_num_threads(1);
  const char* python = std::getenv("VOLT_LIGHTNING_PYTHON");
  if (!python || !*python) {
    std::printf("vs_lightning: skipped (set VOLT_LIGHTNING_PYTHON to a Python with lightning 2.2.5, or run make bench)\n");
    return 0;
  }
  std::printf("tiny MLP 784-128-10, batch %lld, %lld steps, 1 thread, checkpointing on\n",
              static_cast<long long>(bench::kBatch), static_cast<long long>(bench::kSteps));
  for (bool log_loss : {false, true}) {
    volt_fit(log_loss);  // warm-up, as the Lightning side does
    const double v = volt_fit(log_loss);
    const double l = lightning_fit(python, log_loss);
    const char* what = log_loss ? "1 logged metric/step" : "no logging        ";
    if (l <= 0) {
      std::printf("  %s volt %8.0f steps/s, Lightning failed to run (%s)\n", what, v, python);
      return 1;
    }
    std::printf("  %s volt %8.0f steps/s  Lightning %8.0f steps/s  ratio %.2f\n", what, v, l, v / l);
  }
  return 0;
}
