// Uses the installed headers and library: a registered model built from YAML-like arguments and a short fit.
#include <volt/volt.hpp>  // alone: it must bring libtorch's C++ API with it (no precompiled header out here)
#include <volt/registry.hpp>

#include <iostream>

class Tiny : public volt::Module {
 public:
  Tiny() { layer = register_module("layer", torch::nn::Linear(4, 1)); }
  volt::StepOutput training_step(const volt::Batch& batch, int64_t) override {
    return torch::mse_loss(layer->forward(batch.toTensor()), torch::zeros({batch.toTensor().size(0), 1}));
  }
  volt::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
  }
  std::shared_ptr<volt::DataLoader> train_dataloader() override {
    volt::DataLoaderOptions options;
    options.batch_size = 4;
    return std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{torch::randn({12, 4})}, options);
  }
  torch::nn::Linear layer{nullptr};
};

int main() {
  volt::Registry::global().add_model("Tiny", [](volt::InitArgs&) { return std::make_shared<Tiny>(); });
  volt::InitArgs args(YAML::Load("{}"), "model.init_args");
  auto model = volt::Registry::global().make_model("Tiny", args, "model.class_path");
  volt::TrainerOptions options;
  options.max_epochs = 2;
  options.enable_progress_bar = false;
  options.enable_model_summary = false;
  options.enable_checkpointing = false;
  volt::Trainer trainer(options);
  trainer.fit(*model);
  std::cout << "outside_app: trained " << trainer.current_epoch() << " epochs, global_step " << trainer.global_step()
            << std::endl;
  return 0;
}
