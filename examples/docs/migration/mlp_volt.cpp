// The migration guide's project in volt: the same MLP classifier, data and config as mlp_lightning.py.
//   mlp_volt fit --config config.yaml [--trainer.max_epochs=6] [--ckpt_path=FILE]
#include <volt/cli.hpp>
#include <volt/config.hpp>
#include <volt/registry.hpp>
#include <volt/volt.hpp>

#include <cmath>

// n points around three centres, computed without a random generator (the Python side gets the same)
std::pair<torch::Tensor, torch::Tensor> clusters(int64_t n) {
  std::vector<float> x;
  std::vector<int64_t> y;
  for (int64_t i = 0; i < n; ++i) {
    double angle = 2 * M_PI * static_cast<double>(i % 3) / 3 + 0.6 * std::sin(7.0 * static_cast<double>(i));
    double radius = 1 + 0.3 * std::cos(5.0 * static_cast<double>(i));
    x.push_back(static_cast<float>(radius * std::cos(angle)));
    x.push_back(static_cast<float>(radius * std::sin(angle)));
    y.push_back(i % 3);
  }
  return {torch::tensor(x).reshape({n, 2}), torch::tensor(y)};
}

class MLPClassifier : public volt::Module {
 public:
  MLPClassifier(int64_t hidden, double lr) : lr_(lr) {
    save_hyperparameters({{"hidden", hidden}, {"lr", lr}});
    net = register_module("net", torch::nn::Sequential(torch::nn::Linear(2, hidden), torch::nn::ReLU(),
                                                       torch::nn::Linear(hidden, 3)));
  }
  volt::StepOutput training_step(const volt::Batch& batch, int64_t) override {
    auto xy = batch.toTupleRef().elements();
    auto loss = torch::nn::functional::cross_entropy(net->forward(xy[0].toTensor()), xy[1].toTensor());
    log("train_loss", loss);
    return loss;
  }
  volt::StepOutput validation_step(const volt::Batch& batch, int64_t, int64_t) override {
    auto xy = batch.toTupleRef().elements();
    auto logits = net->forward(xy[0].toTensor());
    log("val_loss", torch::nn::functional::cross_entropy(logits, xy[1].toTensor()));
    log("val_acc", (logits.argmax(1) == xy[1].toTensor()).to(torch::kFloat).mean());
    return {};
  }
  volt::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(lr_));
  }
  torch::nn::Sequential net{nullptr};

 private:
  double lr_;
};

class MLPData : public volt::DataModule {
 public:
  explicit MLPData(int64_t batch_size) {
    options_.batch_size = batch_size;
    std::tie(x_, y_) = clusters(96);
  }
  std::shared_ptr<volt::DataLoader> train_dataloader() override {
    return std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{x_.slice(0, 0, 64), y_.slice(0, 0, 64)},
                                                    options_);
  }
  std::shared_ptr<volt::DataLoader> val_dataloader() override {
    return std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{x_.slice(0, 64), y_.slice(0, 64)},
                                                    options_);
  }

 private:
  volt::DataLoaderOptions options_;
  torch::Tensor x_, y_;
};

int main(int argc, char** argv) {
  // The names the config's class_path entries resolve to (the part after the last dot).
  auto& registry = volt::Registry::global();
  registry.add_model("MLPClassifier", [](volt::InitArgs& args) {
    return std::make_shared<MLPClassifier>(args.get<int64_t>("hidden", 16), args.get<double>("lr", 0.05));
  });
  registry.add_datamodule("MLPData", [](volt::InitArgs& args) {
    return std::make_shared<MLPData>(args.get<int64_t>("batch_size", 16));
  });
  return volt::run_cli(argc, argv);
}
