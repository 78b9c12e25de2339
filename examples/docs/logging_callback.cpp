// Logging from a callback: log() is the module's, checked against the hook the callback is in (docs/hooks.md).
#include <volt/volt.hpp>

#include <cmath>
#include <iostream>

struct Tiny : volt::Module {
  Tiny() { fc = register_module("fc", torch::nn::Linear(4, 1)); }
  torch::Tensor loss_of(const volt::Batch& batch) {
    auto xy = batch.toTupleRef().elements();
    return torch::mse_loss(fc->forward(xy[0].toTensor()), xy[1].toTensor());
  }
  volt::StepOutput training_step(const volt::Batch& batch, int64_t) override { return loss_of(batch); }
  volt::StepOutput validation_step(const volt::Batch& batch, int64_t, int64_t) override {
    auto loss = loss_of(batch);
    log("val_loss", loss);
    return loss;
  }
  volt::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.05));
  }
  std::shared_ptr<volt::DataLoader> loader() {
    torch::manual_seed(1);
    auto x = torch::randn({64, 4});
    volt::DataLoaderOptions options;
    options.batch_size = 16;
    return std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{x, x.sum(1, true)}, options);
  }
  std::shared_ptr<volt::DataLoader> train_dataloader() override { return loader(); }
  std::shared_ptr<volt::DataLoader> val_dataloader() override { return loader(); }
  torch::nn::Linear fc{nullptr};
};

class GradNorm : public volt::Callback {
 public:
  // A training-step hook: logs per step by default; on_epoch=true also gives the epoch mean as
  // "grad_norm_epoch" (and the step values as "grad_norm_step").
  void on_after_backward(volt::Trainer&, volt::Module& module) override {
    double sum = 0;
    for (const auto& p : module.parameters()) sum += p.grad().pow(2).sum().item<double>();
    volt::LogOptions options;
    options.on_epoch = true;
    module.log("grad_norm", std::sqrt(sum), options);
  }
  // An epoch hook: per epoch only; the value is in callback_metrics() for the monitoring callbacks after it.
  void on_validation_epoch_end(volt::Trainer& trainer, volt::Module& module) override {
    if (trainer.sanity_checking()) return;
    module.log("val_rmse", std::sqrt(trainer.callback_metrics().at("val_loss").item<double>()));
  }
  // on_fit_start may not log: Lightning's MisconfigurationError
  void on_fit_start(volt::Trainer&, volt::Module& module) override {
    try {
      module.log("too_early", 1.0);
    } catch (const volt::MisconfigurationError& e) {
      refused = e.what();
    }
  }
  std::string refused;
};

int main() {
  torch::manual_seed(0);
  Tiny model;
  auto grad_norm = std::make_shared<GradNorm>();
  volt::TrainerOptions options;
  options.max_epochs = 2;
  options.default_root_dir = "runs/logging";
  options.enable_progress_bar = false;
  options.enable_model_summary = false;
  options.callbacks = {grad_norm};
  volt::Trainer trainer(options);
  trainer.fit(model);

  auto metrics = trainer.callback_metrics();
  for (const auto& [name, value] : metrics) std::cout << name << " = " << value.item<double>() << "\n";
  std::cout << "on_fit_start: " << grad_norm->refused << "\n";
  bool logged = metrics.count("grad_norm_step") && metrics.count("grad_norm_epoch") && metrics.count("val_rmse");
  bool refused = grad_norm->refused == "You can't `self.log()` inside `on_fit_start`.";
  return logged && refused ? 0 : 1;
}
