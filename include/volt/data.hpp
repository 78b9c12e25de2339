// Data: a random-access DataLoader interface (so a resume can start at any batch), a fast loader over in-memory
// tensors with seeded shuffling, and DataModule, the LightningDataModule analogue.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "volt/state.hpp"
#include "volt/types.hpp"

namespace volt {

/// A sequence of batches with a known length. Batches are random access so that a resumed run can start at the
/// batch where the checkpoint was written.
class DataLoader {
 public:
  virtual ~DataLoader();
  /// Number of batches in one epoch.
  virtual int64_t size() const = 0;
  /// The batch at position `index` of the current epoch's order.
  virtual Batch batch(int64_t index) = 0;
  /// Called by the trainer before each epoch (fixes the shuffle order for that epoch).
  virtual void set_epoch(int64_t epoch);
  /// The number of samples in a batch, for weighting logged means (default: the first tensor's first dimension).
  virtual int64_t batch_size_of(const Batch& batch) const;
  /// The dataset indices of the samples in batch `index` of the current epoch's order, which prediction writers
  /// receive (Lightning records them with its batch-sampler wrapper). nullopt (the default): the loader cannot tell.
  virtual std::optional<std::vector<int64_t>> batch_indices(int64_t index) const;
  virtual StateDict state_dict() const;
  virtual void load_state_dict(const StateDict& state);
};

struct DataLoaderOptions {
  int64_t batch_size = 1;
  /// Shuffle each epoch with a permutation seeded by seed + epoch (reproducible, resumable).
  bool shuffle = false;
  uint64_t seed = 0;
  /// Drop the last incomplete batch.
  bool drop_last = false;
};

/// Batches over tensors that share their first dimension. One tensor gives tensor batches; several give tuples.
class TensorDataLoader : public DataLoader {
 public:
  TensorDataLoader(std::vector<torch::Tensor> tensors, DataLoaderOptions options = {});
  int64_t size() const override;
  Batch batch(int64_t index) override;
  void set_epoch(int64_t epoch) override;
  std::optional<std::vector<int64_t>> batch_indices(int64_t index) const override;
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;
  int64_t num_samples() const { return num_samples_; }
  const DataLoaderOptions& options() const { return options_; }
  const std::vector<torch::Tensor>& tensors() const { return tensors_; }

 private:
  std::vector<torch::Tensor> tensors_;
  DataLoaderOptions options_;
  int64_t num_samples_;
  int64_t epoch_ = 0;
  torch::Tensor order_;  // the permutation of the current epoch (undefined when not shuffling)
};

/// Lightning's LightningDataModule: data preparation and the four dataloaders, separate from the model.
class DataModule {
 public:
  virtual ~DataModule();
  /// Class name used as the checkpoint key of the state (Python's __qualname__).
  virtual std::string class_name() const;
  virtual void prepare_data();
  virtual void setup(const std::string& stage);
  virtual void teardown(const std::string& stage);
  virtual std::shared_ptr<DataLoader> train_dataloader();
  virtual std::shared_ptr<DataLoader> val_dataloader();
  virtual std::shared_ptr<DataLoader> test_dataloader();
  virtual std::shared_ptr<DataLoader> predict_dataloader();
  virtual StateDict state_dict();
  virtual void load_state_dict(const StateDict& state);
  virtual void on_exception(const std::exception& exception);
  /// Saved under "datamodule_hyper_parameters".
  void save_hyperparameters(const StateDict& hparams) { hparams_ = hparams; }
  const StateDict& hparams() const { return hparams_; }

 private:
  StateDict hparams_;
};

}  // namespace volt
