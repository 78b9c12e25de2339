// BasePredictionWriter: writes predictions as they come (per batch) or all at once (per epoch), for predict runs
// too large to keep or to return (Lightning's callbacks/prediction_writer.py). Subclass it and override the
// write method(s) the interval uses.
#pragma once
#include <string>
#include <vector>

#include "volt/callback.hpp"

namespace volt {

/// When a prediction writer writes (Lightning's WriteInterval): "batch", "epoch" or "batch_and_epoch".
class WriteInterval {
 public:
  /// Throws MisconfigurationError for any other value, with Lightning's message.
  explicit WriteInterval(const std::string& value);
  const std::string& value() const { return value_; }
  bool on_batch() const { return value_ == "batch" || value_ == "batch_and_epoch"; }
  bool on_epoch() const { return value_ == "epoch" || value_ == "batch_and_epoch"; }

 private:
  std::string value_;
};

class BasePredictionWriter : public Callback {
 public:
  /// write_interval: "batch" (write_on_batch_end after every batch), "epoch" (write_on_epoch_end once, with every
  /// prediction) or "batch_and_epoch" (both).
  explicit BasePredictionWriter(const std::string& write_interval = "batch");

  const WriteInterval& interval() const { return interval_; }

  /// Writes one batch. `batch_indices` are the dataset indices of the batch's samples (empty if the loader cannot
  /// tell, see DataLoader::batch_indices). The default throws volt::Error: override it to use "batch" intervals.
  virtual void write_on_batch_end(Trainer& trainer, Module& module, const StepOutput& prediction,
                                  const std::vector<int64_t>& batch_indices, const Batch& batch, int64_t batch_idx,
                                  int64_t dataloader_idx);
  /// Writes everything at the end of the predict epoch: one prediction per batch, and per dataloader the indices of
  /// each batch (`batch_indices[dataloader_idx][batch_idx]`). The default throws volt::Error: override it to use
  /// "epoch" intervals.
  virtual void write_on_epoch_end(Trainer& trainer, Module& module, const std::vector<IValue>& predictions,
                                  const std::vector<std::vector<std::vector<int64_t>>>& batch_indices);

  void on_predict_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                            int64_t batch_idx, int64_t dataloader_idx) override;
  void on_predict_epoch_end(Trainer& trainer, Module& module) override;

 private:
  WriteInterval interval_;
};

}  // namespace volt
