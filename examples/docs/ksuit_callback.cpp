// A ksuit-style callback: a PeriodicCallback fires in ksuit's units (here every 3 optimizer updates) and logs
// through the shared LogWriter; it goes in the same callback list as Lightning-style callbacks.
#include <volt/ksuit/periodic.hpp>
#include <volt/volt.hpp>

#include <cmath>
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

// Override the protected `_` hooks; the public templates around them apply ksuit's rules (no gradients, the
// model in eval mode while it runs, training flags restored after).
class WeightNorm : public volt::ksuit::PeriodicCallback {
 public:
  using PeriodicCallback::PeriodicCallback;
  std::vector<int64_t> fired_at;

 protected:
  void _periodic_callback(volt::ksuit::IntervalType, const volt::ksuit::UpdateCounter& counter) override {
    fired_at.push_back(counter.update());
    double norm = 0;
    for (const auto& p : model().parameters()) norm += p.pow(2).sum().item<double>();
    writer().add_scalar("weight_norm/" + to_short_interval_string(), std::sqrt(norm), &logger(), ".4f");
  }
};

int main() {
  torch::manual_seed(0);
  Tiny model;
  volt::ksuit::Interval every_3_updates;
  every_3_updates.every_n_updates = 3;
  auto weight_norm = std::make_shared<WeightNorm>(every_3_updates);
  volt::TrainerOptions options;
  options.max_epochs = 3;  // 3 epochs of 4 updates: fires after updates 3, 6, 9 and 12
  options.default_root_dir = "runs/ksuit";
  options.enable_progress_bar = false;
  options.enable_model_summary = false;
  options.enable_checkpointing = false;
  options.callbacks = {weight_norm};
  volt::Trainer trainer(options);
  trainer.fit(model);
  std::cout << weight_norm->str() << " fired at updates:";
  for (auto u : weight_norm->fired_at) std::cout << " " << u;
  std::cout << "\n";
  return weight_norm->fired_at == std::vector<int64_t>{3, 6, 9, 12} ? 0 : 1;
}
