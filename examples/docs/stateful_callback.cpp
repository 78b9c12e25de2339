// A stateful callback with a state_key: two instances of one class keep separate state in a checkpoint, and a
// resumed run gets it back. Two instances with the same key are an error when the Trainer is built.
#include <volt/volt.hpp>

#include <filesystem>
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
    auto x = torch::randn({64, 4});
    volt::DataLoaderOptions options;
    options.batch_size = 16;
    return std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{x, x.sum(1, true)}, options);
  }
  torch::nn::Linear fc{nullptr};
};

// Lightning's Counter: counts epochs or batches; `what` is part of the key, so both kinds can be used at once.
class Counter : public volt::Callback {
 public:
  explicit Counter(std::string what) : what_(std::move(what)) {}
  // "Counter{'what': 'batches'}", byte for byte the key Lightning writes
  std::string state_key() const override { return generate_state_key({{"what", what_}}); }
  void on_train_epoch_end(volt::Trainer&, volt::Module&) override { count_ += what_ == "epochs"; }
  void on_train_batch_end(volt::Trainer&, volt::Module&, const volt::StepOutput&, const volt::Batch&,
                          int64_t) override {
    count_ += what_ == "batches";
  }
  volt::StateDict state_dict() override { return {{"count", count_}}; }
  void load_state_dict(const volt::StateDict& state) override { count_ = state.at("count").toInt(); }
  int64_t count() const { return count_; }

 private:
  std::string what_;
  int64_t count_ = 0;
};

volt::TrainerOptions run(const std::string& dir, int64_t max_epochs, std::vector<volt::CallbackPtr> callbacks) {
  volt::TrainerOptions options;
  options.max_epochs = max_epochs;
  options.default_root_dir = dir;
  options.enable_progress_bar = false;
  options.enable_model_summary = false;
  options.callbacks = std::move(callbacks);
  return options;
}

int main() {
  std::filesystem::remove_all("runs/stateful");
  torch::manual_seed(0);
  Tiny model;
  auto epochs = std::make_shared<Counter>("epochs");
  auto batches = std::make_shared<Counter>("batches");
  volt::Trainer first(run("runs/stateful", 2, {epochs, batches}));
  first.fit(model);
  std::string checkpoint = first.checkpoint_callback()->best_model_path();
  std::cout << "saved " << checkpoint << ": " << epochs->state_key() << " = " << epochs->count() << ", "
            << batches->state_key() << " = " << batches->count() << "\n";

  // A new run with new instances: fit(..., ckpt_path) restores each one's state by its key, then trains on.
  auto epochs2 = std::make_shared<Counter>("epochs");
  auto batches2 = std::make_shared<Counter>("batches");
  volt::Trainer resumed(run("runs/stateful/resumed", 3, {epochs2, batches2}));
  resumed.fit(model, nullptr, checkpoint);
  std::cout << "resumed to epoch 3: epochs = " << epochs2->count() << ", batches = " << batches2->count() << "\n";
  bool restored = epochs2->count() == 3 && batches2->count() == 12;

  // The same key twice: the Trainer refuses it (Lightning's RuntimeError)
  bool refused = false;
  try {
    volt::Trainer clash(run("runs/stateful/clash", 1, {std::make_shared<Counter>("epochs"),
                                                       std::make_shared<Counter>("epochs")}));
  } catch (const std::exception& e) {
    refused = std::string(e.what()).find("Found more than one stateful callback") != std::string::npos;
    std::cout << "duplicate key: " << e.what() << "\n";
  }
  return restored && refused ? 0 : 1;
}
