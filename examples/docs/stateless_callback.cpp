// A stateless callback: it watches training and keeps nothing that a checkpoint needs.
#include <volt/volt.hpp>

#include <iostream>

// The model every sample of docs/writing-callbacks.md uses: y = sum(x), 64 samples, batches of 16.
struct Tiny : volt::Module {
  Tiny() { fc = register_module("fc", torch::nn::Linear(4, 1)); }
  volt::StepOutput training_step(const volt::Batch& batch, int64_t) override {
    auto xy = batch.toTupleRef().elements();
    auto loss = torch::mse_loss(fc->forward(xy[0].toTensor()), xy[1].toTensor());
    log("train_loss", loss);
    return loss;
  }
  volt::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.05));
  }
  torch::nn::Linear fc{nullptr};
};

std::shared_ptr<volt::DataLoader> tiny_data() {
  auto x = torch::randn({64, 4});
  volt::DataLoaderOptions options;
  options.batch_size = 16;
  return std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{x, x.sum(1, true)}, options);
}

// Counts batches and prints the epoch's last loss. No state_dict(): nothing of it goes into checkpoints.
class BatchCounter : public volt::Callback {
 public:
  int64_t batches = 0;
  void on_train_batch_end(volt::Trainer&, volt::Module&, const volt::StepOutput& outputs, const volt::Batch&,
                          int64_t) override {
    ++batches;
    last_loss_ = outputs.toGenericDict().at("loss").toTensor().item<double>();  // detached
  }
  void on_train_epoch_end(volt::Trainer& trainer, volt::Module&) override {
    std::cout << "epoch " << trainer.current_epoch() << ": " << batches << " batches, last loss " << last_loss_
              << "\n";
  }

 private:
  double last_loss_ = 0;
};

int main() {
  torch::manual_seed(0);
  Tiny model;
  auto counter = std::make_shared<BatchCounter>();
  volt::TrainerOptions options;
  options.max_epochs = 3;
  options.default_root_dir = "runs/stateless";
  options.enable_progress_bar = false;
  options.enable_model_summary = false;
  options.callbacks = {counter};
  volt::Trainer trainer(options);
  trainer.fit(model, tiny_data());

  // 3 epochs of 4 batches; and the checkpoint has no entry for the counter
  auto states = volt::as_state(trainer.dump_checkpoint().at("callbacks"), "callbacks");
  bool saved = states.contains("BatchCounter");
  std::cout << "batches: " << counter->batches << ", saved in checkpoints: " << (saved ? "yes" : "no") << "\n";
  return counter->batches == 12 && !saved ? 0 : 1;
}
