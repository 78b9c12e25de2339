// IDX files (the MNIST family's format, optionally gzip'd) and a Fashion-MNIST DataModule.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "volt/data.hpp"
#include "volt/error.hpp"

namespace volt {

/// A data file that is missing, unreadable or not in the expected format. The message names the file and the fix.
class DataError : public Error {
 public:
  using Error::Error;
};

namespace datasets {

/// Reads an IDX file (gzip'd or plain; zlib reads both) of unsigned bytes: returns a uint8 tensor with the file's
/// dimensions. Checks the magic number (0x0000 0x08 <ndim>), that `ndim` is `expected_ndim` (when >= 0) and
/// that the payload holds exactly the product of the dimensions. Throws DataError naming `path`.
torch::Tensor read_idx(const std::string& path, int expected_ndim = -1);

/// Writes a uint8 tensor as a gzip'd IDX file (for tests and small fixtures).
void write_idx_gz(const std::string& path, const torch::Tensor& data);

/// Where Debian's dataset-fashion-mnist puts the files; VOLT_FASHION_MNIST_DIR overrides it.
std::string default_fashion_mnist_dir();

struct FashionMNISTOptions {
  /// Holds train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz,
  /// t10k-labels-idx1-ubyte.gz (the files without ".gz" are accepted too).
  std::string data_dir = default_fashion_mnist_dir();
  int64_t batch_size = 128;
  /// Batch size of the validation and test loaders.
  int64_t eval_batch_size = 1000;
  /// Samples held out of the training file for validation (taken after a seeded permutation).
  int64_t val_size = 5000;
  /// Seeds the train/val split (saved in the DataModule's state) and the training loader's shuffling.
  uint64_t seed = 42;
  /// After scaling to [0, 1]: (x - mean) / std. Fashion-MNIST's training-set statistics.
  double mean = 0.2860;
  double std = 0.3530;
};

/// Batches are tuples (images float [B, 1, H, W], labels int64 [B]).
class FashionMNISTDataModule : public DataModule {
 public:
  explicit FashionMNISTDataModule(FashionMNISTOptions options = {});
  std::string class_name() const override { return "FashionMNISTDataModule"; }
  void prepare_data() override;
  void setup(const std::string& stage) override;
  std::shared_ptr<DataLoader> train_dataloader() override;
  std::shared_ptr<DataLoader> val_dataloader() override;
  std::shared_ptr<DataLoader> test_dataloader() override;
  std::shared_ptr<DataLoader> predict_dataloader() override;
  StateDict state_dict() override;
  void load_state_dict(const StateDict& state) override;

  const FashionMNISTOptions& options() const { return options_; }
  /// The path of one of the four files ("train"/"t10k", "images"/"labels"), preferring the .gz one.
  std::string file(const std::string& split, const std::string& kind) const;
  /// Images scaled to [0, 1] (not yet normalised) and labels of the training file, or the test file.
  /// Loads (and checks) the pair: a missing or corrupt file throws DataError.
  static std::pair<torch::Tensor, torch::Tensor> load(const std::string& images_path,
                                                      const std::string& labels_path);
  const torch::Tensor& train_images() const { return train_x_; }
  const torch::Tensor& val_images() const { return val_x_; }
  const torch::Tensor& test_images() const { return test_x_; }

 private:
  void split();
  torch::Tensor normalise(const torch::Tensor& x) const;
  FashionMNISTOptions options_;
  torch::Tensor full_x_, full_y_;  // the whole training file, before the split
  torch::Tensor train_x_, train_y_, val_x_, val_y_, test_x_, test_y_;
};

}  // namespace datasets
}  // namespace volt
