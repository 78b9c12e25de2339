// The tiny MLP and in-memory data the loop benchmarks share (benchmarks/lightning_mlp.py is its Lightning twin).
#pragma once
#include <volt/volt.hpp>

#include <chrono>

namespace bench {

constexpr int64_t kSamples = 64 * 200, kBatch = 64, kEpochs = 3;
constexpr int64_t kSteps = kEpochs * (kSamples / kBatch);

// A classifier trained on (x, y) batches: cross-entropy, plain SGD, and optionally one logged metric per step.
struct Classifier : volt::Module {
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  volt::StepOutput training_step(const volt::Batch& batch, int64_t) override {
    const auto& xy = batch.toTupleRef().elements();
    auto loss = torch::cross_entropy_loss(forward(xy[0].toTensor()), xy[1].toTensor());
    if (log_loss) log("train_loss", loss);
    return loss;
  }
  volt::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.01));
  }
  bool log_loss = false;
};

struct Mlp : Classifier {
  Mlp() {
    fc1 = register_module("fc1", torch::nn::Linear(784, 128));
    fc2 = register_module("fc2", torch::nn::Linear(128, 10));
  }
  torch::Tensor forward(const torch::Tensor& x) override { return fc2->forward(torch::relu(fc1->forward(x))); }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};

struct NoOp : volt::Callback {
  void on_train_batch_start(volt::Trainer&, volt::Module&, const volt::Batch&, int64_t) override {}
  void on_train_batch_end(volt::Trainer&, volt::Module&, const volt::StepOutput&, const volt::Batch&,
                          int64_t) override {}
};

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace bench
