// A small regression model trained with a user-written callback: the shape of every volt program.
//   Module  = the research (layers, steps, optimizer)
//   Trainer = the engineering (loops, checkpoints)
//   Callback = everything else (here: a log of the loss curve and a stop rule)
#include <volt/volt.hpp>

#include <iostream>

class Regressor : public volt::Module {
 public:
  Regressor() {
    net = register_module("net", torch::nn::Sequential(torch::nn::Linear(8, 32), torch::nn::ReLU(),
                                                       torch::nn::Linear(32, 1)));
    // y = sum of the inputs' first half minus their second half, plus noise
    auto x = torch::randn({2048, 8});
    auto y = x.slice(1, 0, 4).sum(1, true) - x.slice(1, 4, 8).sum(1, true) + 0.05 * torch::randn({2048, 1});
    train_x = x.slice(0, 0, 1792), train_y = y.slice(0, 0, 1792);
    val_x = x.slice(0, 1792), val_y = y.slice(0, 1792);
    save_hyperparameters({{"hidden", 32}, {"lr", 0.01}});
  }

  volt::StepOutput training_step(const volt::Batch& batch, int64_t) override {
    auto loss = loss_of(batch);
    log("train_loss", loss, show_in_progress_bar());
    return loss;
  }

  volt::StepOutput validation_step(const volt::Batch& batch, int64_t, int64_t) override {
    auto loss = loss_of(batch);
    log("val_loss", loss, show_in_progress_bar());
    return loss;
  }

  volt::OptimizerConfig configure_optimizers() override {
    auto opt = std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(0.01));
    volt::LRSchedulerConfig schedule;
    schedule.scheduler = std::make_shared<volt::StepLR>(*opt, 4, 0.5);
    return {opt, schedule};
  }

  std::shared_ptr<volt::DataLoader> train_dataloader() override {
    volt::DataLoaderOptions options;
    options.batch_size = 64;
    options.shuffle = true;  // a new order every epoch, fixed by seed + epoch
    options.seed = 7;
    return std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{train_x, train_y}, options);
  }
  std::shared_ptr<volt::DataLoader> val_dataloader() override {
    volt::DataLoaderOptions options;
    options.batch_size = 256;
    return std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{val_x, val_y}, options);
  }

 private:
  static volt::LogOptions show_in_progress_bar() {
    volt::LogOptions options;
    options.prog_bar = true;
    return options;
  }
  torch::Tensor loss_of(const volt::Batch& batch) {
    auto parts = batch.toTupleRef().elements();
    return torch::mse_loss(net->forward(parts[0].toTensor()), parts[1].toTensor());
  }
  torch::nn::Sequential net{nullptr};
  torch::Tensor train_x, train_y, val_x, val_y;
};

// A user callback: prints the validation curve and stops once the loss is good enough.
class LossCurve : public volt::Callback {
 public:
  explicit LossCurve(double target) : target_(target) {}
  void on_validation_end(volt::Trainer& trainer, volt::Module&) override {
    if (trainer.sanity_checking() || trainer.fn() != volt::TrainerFn::kFitting) return;
    double val = trainer.callback_metrics().at("val_loss").item<double>();
    curve_.push_back(val);
    std::cout << "epoch " << trainer.current_epoch() << ": val_loss " << val << std::endl;
    if (val < target_) {
      std::cout << "val_loss below " << target_ << ": stopping" << std::endl;
      trainer.should_stop = true;
    }
  }
  // Stateful: the curve goes into checkpoints under the key "LossCurve".
  volt::StateDict state_dict() override {
    c10::List<double> values(curve_);
    return {{"curve", values}};
  }

 private:
  double target_;
  std::vector<double> curve_;
};

int main() {
  torch::manual_seed(0);
  Regressor model;
  volt::TrainerOptions options;
  options.max_epochs = 20;
  options.default_root_dir = "runs/custom_callback";
  options.callbacks = {std::make_shared<LossCurve>(0.01)};
  volt::Trainer trainer(options);
  trainer.fit(model);
  std::cout << "best checkpoint: " << trainer.checkpoint_callback()->best_model_path() << std::endl;
  auto results = trainer.validate(model);
  std::cout << "final val_loss: " << results.at(0).at("val_loss").item<double>() << std::endl;
  return 0;
}
