// A small convolutional image classifier that configs can name ("ImageClassifier"), like Lightning's demo
// models: conv blocks (3x3 conv, batch norm, ReLU, 2x2 max-pool), a hidden layer with dropout, cross-entropy with
// optional label smoothing, AdamW/Adam/SGD with an optional one-cycle schedule over the whole fit. It logs
// train_loss, val_loss/val_acc and test_loss/test_acc. The main job trains it on Fashion-MNIST.
#pragma once
#include <torch/nn.h>

#include <string>
#include <vector>

#include "volt/module.hpp"

namespace volt::models {

struct ImageClassifierOptions {
  int64_t in_channels = 1;
  int64_t image_size = 28;
  int64_t num_classes = 10;
  /// Output channels of each conv block; each block halves the image size.
  std::vector<int64_t> channels = {16, 32};
  int64_t hidden = 64;
  double dropout = 0.2;
  double label_smoothing = 0.0;
  /// Flip each training image left-right with probability 1/2 (after the batch reaches the device).
  bool random_hflip = false;
  /// "adamw", "adam" or "sgd" (momentum 0.9, Nesterov).
  std::string optimizer = "adamw";
  /// The learning rate; with scheduler "onecycle" the peak learning rate.
  double lr = 0.01;
  double weight_decay = 1e-4;
  /// "onecycle" (stepped every batch over trainer.estimated_stepping_batches()) or "none".
  std::string scheduler = "onecycle";
  /// The share of the one-cycle schedule spent increasing the learning rate.
  double pct_start = 0.25;
};

class ImageClassifier : public Module {
 public:
  explicit ImageClassifier(ImageClassifierOptions options = {});

  torch::Tensor forward(const torch::Tensor& images);
  StepOutput training_step(const Batch& batch, int64_t batch_idx) override;
  StepOutput validation_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  StepOutput test_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  StepOutput predict_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  Batch on_after_batch_transfer(Batch batch, int64_t dataloader_idx) override;
  OptimizerConfig configure_optimizers() override;

  const ImageClassifierOptions& options() const { return options_; }
  torch::nn::Sequential features{nullptr}, head{nullptr};

 private:
  torch::Tensor loss(const torch::Tensor& logits, const torch::Tensor& targets) const;
  void evaluate(const Batch& batch, const std::string& stage);
  ImageClassifierOptions options_;
};

}  // namespace volt::models
