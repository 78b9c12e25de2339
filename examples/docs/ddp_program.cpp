// A complete DDP program (docs/distributed.md): two processes on this machine, each training on half the data.
#include <volt/volt.hpp>

#include <iostream>

struct Regressor : volt::Module {
  Regressor() { fc = register_module("fc", torch::nn::Linear(4, 1)); }
  volt::StepOutput training_step(const volt::Batch& batch, int64_t) override {
    auto xy = batch.toTupleRef().elements();
    return torch::mse_loss(fc->forward(xy[0].toTensor()), xy[1].toTensor());
  }
  volt::StepOutput validation_step(const volt::Batch& batch, int64_t, int64_t) override {
    auto xy = batch.toTupleRef().elements();
    volt::LogOptions mean_over_ranks;
    mean_over_ranks.sync_dist = true;
    log("val_loss", torch::mse_loss(fc->forward(xy[0].toTensor()), xy[1].toTensor()), mean_over_ranks);
    return {};
  }
  volt::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.05));
  }
  torch::nn::Linear fc{nullptr};
};

// 64 samples in batches of 8, the same on every rank (DDP shards them: 4 batches per rank and epoch).
std::shared_ptr<volt::DataLoader> loader(int64_t seed) {
  auto x = torch::randn({64, 4}, at::detail::createCPUGenerator(seed));
  volt::DataLoaderOptions options;
  options.batch_size = 8;
  return std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{x, x.sum(1, true)}, options);
}

// [doc:program]
int main() {
  volt::TrainerOptions options;
  options.devices = 2;          // processes on this node
  options.num_nodes = 1;        // nodes
  options.strategy = "ddp";     // or std::make_shared<volt::DDPStrategy>(volt::DDPOptions{...})
  // In the process you started: run `devices` copies of this program and return their exit code.
  // In those copies (and under torchrun or srun) this returns nullopt and the program goes on as one rank.
  if (auto code = volt::launch_processes(options)) return *code;

  torch::manual_seed(0);        // the same initial weights everywhere (rank 0's are broadcast anyway)
  Regressor model;
  auto train_loader = loader(1), val_loader = loader(2);
  options.max_epochs = 3;
  options.default_root_dir = "runs/ddp";
  options.enable_progress_bar = false;
  volt::Trainer trainer(options);
  trainer.fit(model, train_loader, val_loader);

  // Each rank checks its own run: two ranks, 4 steps per epoch (half of 8 batches), the same weights.
  auto weights = model.fc->weight.detach();
  auto rank0_weights = volt::distributed::broadcast(weights.clone(), /*src=*/0);  // overwrites its argument
  bool ok = trainer.world_size() == 2 && trainer.global_step() == 12 && torch::equal(weights, rank0_weights);
  std::cout << "rank " << trainer.global_rank() << ": " << trainer.global_step() << " steps, val_loss "
            << trainer.callback_metrics().at("val_loss").item<double>() << "\n";
  return ok ? 0 : 1;
}
// [/doc:program]
