// The README's first program, built with the examples so that it stays correct.
#include <volt/volt.hpp>

#include <iostream>

class Net : public volt::Module {
 public:
  Net() { fc = register_module("fc", torch::nn::Linear(8, 1)); }
  volt::StepOutput training_step(const volt::Batch& batch, int64_t) override {
    auto xy = batch.toTupleRef().elements();
    auto loss = torch::mse_loss(fc->forward(xy[0].toTensor()), xy[1].toTensor());
    log("train_loss", loss);
    return loss;
  }
  volt::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
  }
  torch::nn::Linear fc{nullptr};
};

struct PrintEpochs : volt::Callback {
  void on_train_epoch_end(volt::Trainer& trainer, volt::Module&) override {
    std::cout << "epoch " << trainer.current_epoch() << " loss "
              << trainer.callback_metrics().at("train_loss").item<double>() << "\n";
  }
};

int main() {
  Net net;
  auto x = torch::randn({256, 8});
  auto y = x.sum(1, true) + 0.1 * torch::randn({256, 1});
  volt::DataLoaderOptions batches;
  batches.batch_size = 32;
  auto data = std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{x, y}, batches);
  volt::TrainerOptions options;
  options.max_epochs = 3;
  options.callbacks = {std::make_shared<PrintEpochs>()};
  volt::Trainer(options).fit(net, data);
}
