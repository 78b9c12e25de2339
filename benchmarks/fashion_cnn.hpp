// The Fashion-MNIST CNN the loop benchmarks share (where compute dominates a step), and its data.
#pragma once
#include <volt/datasets/fashion_mnist.hpp>
#include <volt/volt.hpp>

#include "tiny_mlp.hpp"

#include <filesystem>
#include <optional>
#include <utility>

namespace bench {

// Two 3x3 conv blocks (16, 32 channels, each followed by ReLU and 2x2 max-pooling) and a linear classifier.
struct Cnn : Classifier {
  Cnn() {
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 16, 3).padding(1)));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(16, 32, 3).padding(1)));
    fc = register_module("fc", torch::nn::Linear(32 * 7 * 7, 10));
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    auto h = torch::max_pool2d(torch::relu(conv1->forward(x)), 2);
    h = torch::max_pool2d(torch::relu(conv2->forward(h)), 2);
    return fc->forward(h.flatten(1));
  }
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::Linear fc{nullptr};
};

// The first `n` Fashion-MNIST training images ([n, 1, 28, 28]) and labels, or nothing (with a line saying why)
// when the Debian package is not installed.
inline std::optional<std::pair<torch::Tensor, torch::Tensor>> fashion_mnist_train(int64_t n) {
  const std::string dir = volt::datasets::default_fashion_mnist_dir();
  if (!std::filesystem::exists(dir)) {
    std::printf("Fashion-MNIST CNN: skipped, no data in %s (apt install dataset-fashion-mnist)\n", dir.c_str());
    return std::nullopt;
  }
  volt::datasets::FashionMNISTDataModule data;
  auto [images, labels] = volt::datasets::FashionMNISTDataModule::load(data.file("train", "images"),
                                                                       data.file("train", "labels"));
  return std::make_pair(images.slice(0, 0, n).contiguous(), labels.slice(0, 0, n).contiguous());
}

}  // namespace bench
