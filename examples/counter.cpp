// The Counter callback from Lightning's "Save Callback state" docs, in C++: two instances of one stateful
// callback, told apart by state_key. Usage: counter [checkpoint_dir] [resume_from.ckpt]
#include <volt/volt.hpp>

#include <iostream>

class Counter : public volt::Callback {
 public:
  explicit Counter(std::string what = "epochs", bool verbose = true) : what_(std::move(what)), verbose_(verbose) {}

  // `verbose` is left out of the key on purpose: it does not change what the state means.
  std::string state_key() const override { return generate_state_key({{"what", what_}}); }

  void on_train_epoch_end(volt::Trainer&, volt::Module&) override {
    if (what_ == "epochs") ++epochs_;
  }
  void on_train_batch_end(volt::Trainer&, volt::Module&, const volt::StepOutput&, const volt::Batch&,
                          int64_t) override {
    if (what_ == "batches") ++batches_;
  }
  void load_state_dict(const volt::StateDict& state) override {
    epochs_ = state.get("epochs", epochs_).toInt();
    batches_ = state.get("batches", batches_).toInt();
    if (verbose_) std::cout << state_key() << " restored: epochs=" << epochs_ << " batches=" << batches_ << "\n";
  }
  volt::StateDict state_dict() override { return {{"epochs", epochs_}, {"batches", batches_}}; }

 private:
  std::string what_;
  bool verbose_;
  int64_t epochs_ = 0, batches_ = 0;
};

class TinyModel : public volt::Module {
 public:
  TinyModel() {
    layer = register_module("layer", torch::nn::Linear(32, 2));
    data = torch::randn({64, 32});
  }
  volt::StepOutput training_step(const volt::Batch& batch, int64_t) override {
    auto out = layer->forward(batch.toTensor());
    return torch::mse_loss(out, torch::ones_like(out));
  }
  volt::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
  }
  std::shared_ptr<volt::DataLoader> train_dataloader() override {
    volt::DataLoaderOptions options;
    options.batch_size = 4;
    return std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{data}, options);
  }
  torch::nn::Linear layer{nullptr};
  torch::Tensor data;
};

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "runs/counter";
  std::string resume = argc > 2 ? argv[2] : "";
  torch::manual_seed(0);
  TinyModel model;
  volt::TrainerOptions options;
  options.max_epochs = resume.empty() ? 2 : 3;
  options.default_root_dir = dir;
  options.enable_progress_bar = false;
  options.enable_model_summary = false;
  options.callbacks = {std::make_shared<Counter>("epochs"), std::make_shared<Counter>("batches")};
  volt::ModelCheckpointOptions checkpoint;
  checkpoint.filename = "counter";
  checkpoint.dirpath = dir;
  options.callbacks.push_back(std::make_shared<volt::ModelCheckpoint>(checkpoint));
  volt::Trainer trainer(options);
  trainer.fit(model, nullptr, resume);
  std::cout << "checkpoint: " << trainer.checkpoint_callback()->best_model_path() << "\n";
  for (const auto& cb : trainer.callbacks()) {
    auto state = cb->state_dict();
    if (cb->state_key().rfind("Counter", 0) == 0)
      std::cout << cb->state_key() << ": epochs=" << state.at("epochs").toInt()
                << " batches=" << state.at("batches").toInt() << "\n";
  }
  return 0;
}
