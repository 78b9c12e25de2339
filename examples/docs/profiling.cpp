// Profiling a run and checking callbacks (docs/profiling.md): the simple profiler's table, the slow-callback
// warning and the order-independence check. Usage: profiling [output directory] (default: ./profiling_out).
// Exits non-zero if the profile lacks the slow callback's row or the callbacks turn out to depend on their order.
#include <volt/volt.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

class Regressor : public volt::Module {
 public:
  Regressor() {
    layer = register_module("layer", torch::nn::Linear(8, 1));
    x = torch::randn({256, 8});
    y = x.sum(1, true);
  }
  volt::StepOutput training_step(const volt::Batch& batch, int64_t) override {
    auto parts = batch.toTupleRef().elements();
    auto loss = torch::mse_loss(layer->forward(parts[0].toTensor()), parts[1].toTensor());
    log("train_loss", loss);
    return loss;
  }
  volt::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.05));
  }
  std::shared_ptr<volt::DataLoader> train_dataloader() override {
    volt::DataLoaderOptions options;
    options.batch_size = 32;
    return std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{x, y}, options);
  }
  torch::nn::Linear layer{nullptr};
  torch::Tensor x, y;
};

// Deliberately slow: sleeps in every on_train_batch_end, so the trainer warns about it.
class SlowLogger : public volt::Callback {
 public:
  void on_train_batch_end(volt::Trainer&, volt::Module&, const volt::StepOutput&, const volt::Batch&,
                          int64_t) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
};

// Counts batches: independent of any other callback.
class BatchCount : public volt::Callback {
 public:
  void on_train_batch_end(volt::Trainer&, volt::Module&, const volt::StepOutput&, const volt::Batch&,
                          int64_t) override {
    ++batches;
  }
  volt::StateDict state_dict() override { return {{"batches", batches}}; }
  int64_t batches = 0;
};

int main(int argc, char** argv) {
  const std::string out = argc > 1 ? argv[1] : "profiling_out";

  // The simple profiler: a table per run, written to <out>/fit-perf.txt (no filename: printed instead).
  // [doc:profiler]
  volt::TrainerOptions options;
  options.default_root_dir = out;
  options.max_epochs = 2;
  options.enable_progress_bar = false;
  options.enable_model_summary = false;
  options.enable_checkpointing = false;
  options.profiler = std::make_shared<volt::SimpleProfiler>(out, "perf");  // or "simple" / "advanced"
  options.callbacks = {std::make_shared<BatchCount>(), std::make_shared<SlowLogger>()};
  // The slow-callback warning is on by default (0.25 of the batch time); SlowLogger triggers it.
  volt::Trainer trainer(options);
  Regressor model;
  trainer.fit(model);
  std::cout << "profile written to " << trainer.profiler().output_path() << "\n";
  // [/doc:profiler]
  std::stringstream table;
  table << std::ifstream(trainer.profiler().output_path()).rdbuf();
  if (table.str().find("[Callback]SlowLogger.on_train_batch_end") == std::string::npos) {
    std::cerr << "the profile has no row for SlowLogger.on_train_batch_end\n";
    return 1;
  }

  // Do the callbacks depend on their order? Two seeded fits, list order and reversed.
  // [doc:order_check]
  auto report = volt::check_callback_order_independence([&](uint64_t) {
    volt::OrderCheckRun run;
    run.module = std::make_shared<Regressor>();
    run.callbacks = {std::make_shared<BatchCount>(), std::make_shared<SlowLogger>()};
    run.options = options;
    run.options.profiler = "";
    run.options.slow_callback_warning = 0;
    return run;
  });
  std::cout << report.to_string();
  // [/doc:order_check]
  return report.independent() ? 0 : 1;
}
