// Reacting to the end of training: stop it with should_stop, and clean up in on_exception when it fails.
#include <volt/volt.hpp>

#include <iostream>

struct Tiny : volt::Module {
  Tiny() { fc = register_module("fc", torch::nn::Linear(4, 1)); }
  volt::StepOutput training_step(const volt::Batch& batch, int64_t) override {
    auto xy = batch.toTupleRef().elements();
    auto loss = torch::mse_loss(fc->forward(xy[0].toTensor()), xy[1].toTensor());
    volt::LogOptions step_and_epoch;
    step_and_epoch.on_step = true;
    step_and_epoch.on_epoch = true;  // "train_loss_epoch": the epoch mean
    log("train_loss", loss, step_and_epoch);
    return loss;
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

// Stops once the epoch loss is below a target. Training ends after this epoch (min_epochs permitting): the epoch
// end hooks and the checkpoint save still run, then on_train_end and on_fit_end.
class StopBelow : public volt::Callback {
 public:
  explicit StopBelow(double target) : target_(target) {}
  void on_train_epoch_end(volt::Trainer& trainer, volt::Module&) override {
    if (trainer.callback_metrics().at("train_loss_epoch").item<double>() < target_) trainer.should_stop = true;
  }

 private:
  double target_;
};

// Fails in the middle of an epoch, like a bug in user code would.
struct FailAt : volt::Callback {
  explicit FailAt(int64_t step) : step(step) {}
  void on_train_batch_end(volt::Trainer& trainer, volt::Module&, const volt::StepOutput&, const volt::Batch&,
                          int64_t) override {
    if (trainer.global_step() == step) throw std::runtime_error("data went bad");
  }
  int64_t step;
};

// Sees how the run ended: on_exception when it failed (then no teardown), teardown when it did not.
struct Watch : volt::Callback {
  std::string ended;
  void on_exception(volt::Trainer& trainer, volt::Module&, const std::exception& e) override {
    ended = "exception at step " + std::to_string(trainer.global_step()) + ": " + e.what();
  }
  void teardown(volt::Trainer&, volt::Module&, const std::string& stage) override { ended = "teardown(" + stage + ")"; }
};

volt::TrainerOptions options_with(std::vector<volt::CallbackPtr> callbacks) {
  volt::TrainerOptions options;
  options.max_epochs = 50;
  options.default_root_dir = "runs/stop";
  options.enable_progress_bar = false;
  options.enable_model_summary = false;
  options.enable_checkpointing = false;
  options.callbacks = std::move(callbacks);
  return options;
}

int main() {
  torch::manual_seed(0);
  Tiny model;
  auto watch = std::make_shared<Watch>();
  volt::Trainer trainer(options_with({std::make_shared<StopBelow>(0.05), watch}));
  trainer.fit(model);
  std::cout << "stopped after epoch " << trainer.current_epoch() - 1 << " of 50; " << watch->ended << "\n";
  bool stopped = trainer.current_epoch() < 50 && watch->ended == "teardown(fit)";

  Tiny other;
  auto watch2 = std::make_shared<Watch>();
  volt::Trainer failing(options_with({std::make_shared<FailAt>(6), watch2}));
  bool rethrown = false;
  try {
    failing.fit(other);
  } catch (const std::runtime_error& e) {
    rethrown = std::string(e.what()) == "data went bad";  // the exception leaves fit after on_exception
  }
  std::cout << watch2->ended << "; status " << failing.status() << "\n";
  bool handled = rethrown && watch2->ended == "exception at step 6: data went bad" && failing.status() == "interrupted";
  return stopped && handled ? 0 : 1;
}
