// Distributed rules for callbacks, run on two processes: every hook runs on every rank, printing is for rank 0,
// and a decision one rank makes alone is reduced so that all ranks act on it together.
#include <volt/volt.hpp>

#include <iostream>

struct Tiny : volt::Module {
  Tiny() { fc = register_module("fc", torch::nn::Linear(4, 1)); }
  volt::StepOutput training_step(const volt::Batch& batch, int64_t) override {
    auto xy = batch.toTupleRef().elements();
    return torch::mse_loss(fc->forward(xy[0].toTensor()), xy[1].toTensor());
  }
  volt::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.05));
  }
  std::shared_ptr<volt::DataLoader> train_dataloader() override {
    auto x = torch::randn({64, 4}, at::detail::createCPUGenerator(7));  // the same data on every rank
    volt::DataLoaderOptions options;
    options.batch_size = 8;
    return std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{x, x.sum(1, true)}, options);
  }
  torch::nn::Linear fc{nullptr};
};

class StopWhenAnyRankAsks : public volt::Callback {
 public:
  void on_train_epoch_end(volt::Trainer& trainer, volt::Module&) override {
    // Rank-local information: here only rank 1 wants to stop, after epoch 1.
    bool wants = trainer.global_rank() == 1 && trainer.current_epoch() == 1;
    // A collective: call it on every rank, never under `if (trainer.is_global_zero())`.
    bool stop = trainer.reduce_boolean_decision(wants, /*all=*/false);  // any rank → all ranks
    trainer.should_stop = trainer.should_stop || stop;
    volt::distributed::rank_zero_only([&] {
      std::cout << "epoch " << trainer.current_epoch() << ": stop " << (stop ? "yes" : "no") << "\n";
    });
  }
};

int main() {
  volt::TrainerOptions options;
  options.devices = 2;
  options.strategy = "ddp";
  // Starts the two ranks (this process waits for them and returns their exit code); in a rank it returns nullopt.
  if (auto code = volt::launch_processes(options)) return *code;

  torch::manual_seed(0);
  Tiny model;
  options.max_epochs = 10;
  options.default_root_dir = "runs/distributed";
  options.enable_progress_bar = false;
  options.enable_model_summary = false;
  options.enable_checkpointing = false;
  options.callbacks = {std::make_shared<StopWhenAnyRankAsks>()};
  volt::Trainer trainer(options);
  trainer.fit(model);
  // Both ranks stopped after epoch 1, in step: each rank checks its own run.
  bool ok = trainer.world_size() == 2 && trainer.current_epoch() == 2;
  std::cout << "rank " << trainer.global_rank() << " stopped at epoch " << trainer.current_epoch() << "\n";
  return ok ? 0 : 1;
}
