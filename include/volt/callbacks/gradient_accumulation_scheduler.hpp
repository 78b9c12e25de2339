// GradientAccumulationScheduler: changes how many batches the trainer accumulates gradients over, by epoch
// (Lightning's callbacks/gradient_accumulation_scheduler.py). Epochs are 0-indexed: {{4, 2}} accumulates 2 batches
// from the fifth epoch on.
#pragma once
#include <utility>
#include <vector>

#include "volt/callback.hpp"

namespace volt {

class GradientAccumulationScheduler : public Callback {
 public:
  /// scheduling: {epoch: accumulation factor} pairs, in Python's dict order (a repeated epoch keeps its first place
  /// and its last factor). Throws MisconfigurationError (Lightning's messages) if it is empty, an epoch is < 0 or a
  /// factor is < 1. Without an entry for epoch 0, {0, 1} is added at the end, as Lightning adds it.
  explicit GradientAccumulationScheduler(std::vector<std::pair<int64_t, int64_t>> scheduling);

  /// True if some factor is > 1.
  bool going_to_accumulate_grad_batches() const;
  /// The factor of the largest scheduled epoch <= epoch.
  int64_t get_accumulate_grad_batches(int64_t epoch) const;
  /// The schedule as kept (with the added {0, 1}), in insertion order.
  const std::vector<std::pair<int64_t, int64_t>>& scheduling() const { return scheduling_; }
  /// The scheduled epochs, sorted.
  const std::vector<int64_t>& epochs() const { return epochs_; }

  /// Checks the set-up: manual optimization, or Trainer(accumulate_grad_batches != 1), throw MisconfigurationError;
  /// an overridden optimizer_step/optimizer_zero_grad with a factor > 1 warns.
  void on_train_start(Trainer& trainer, Module& module) override;
  /// Sets the trainer's accumulate_grad_batches for the epoch.
  void on_train_epoch_start(Trainer& trainer, Module& module) override;

 private:
  std::vector<std::pair<int64_t, int64_t>> scheduling_;
  std::vector<int64_t> epochs_;
};

}  // namespace volt
