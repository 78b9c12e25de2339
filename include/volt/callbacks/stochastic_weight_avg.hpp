// StochasticWeightAveraging (Lightning 2.2.5's callbacks/stochastic_weight_avg.py).
//
// From epoch `swa_epoch_start` on, the optimizer's scheduler is replaced by SWALR (annealing to `swa_lrs`), and at
// the start of every SWA epoch the running average of the module's parameters is updated with the weights the
// previous epoch produced. When training ends the module gets the averaged parameters. A module with BatchNorm
// trains one extra epoch in which the averaged weights are loaded, the BatchNorm statistics are reset and
// recomputed (cumulative average) by forward passes only, without backward — as Lightning does, that epoch still
// takes one optimizer step on its last batch, with the gradients left from the last training epoch (Lightning skips
// zero_grad too), so with momentum the final weights are the average moved by that one step.
//
// Where volt differs: the averaged model is a copy of the module's parameters and buffers (state_dict order),
// not a deep copy of the module; `trainer.num_training_batches()` is not raised by one in the BatchNorm epoch.
#pragma once
#include <algorithm>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "volt/callback.hpp"

namespace volt {

class SWALR;

/// `swa_epoch_start` as Lightning takes it: an int is a 1-based epoch, a double a fraction of max_epochs.
struct SwaEpochStart {
  SwaEpochStart(int epoch) : is_epoch(true), epoch(epoch) {}            // NOLINT: implicit like Python's int/float
  SwaEpochStart(int64_t epoch) : is_epoch(true), epoch(epoch) {}        // NOLINT
  SwaEpochStart(double fraction) : is_epoch(false), fraction(fraction) {}  // NOLINT
  bool is_epoch;
  int64_t epoch = 0;
  double fraction = 0.0;
};

struct StochasticWeightAveragingOptions {
  /// The SWA learning rate: one value for every param group, or one per group. Required, all positive.
  std::vector<double> swa_lrs;
  /// Int: the (1-based) epoch SWA starts; double in [0, 1]: that fraction of max_epochs.
  SwaEpochStart swa_epoch_start = 0.8;
  /// Epochs over which SWALR anneals each group's lr to its swa lr.
  int64_t annealing_epochs = 10;
  /// "cos" or "linear" (checked when SWALR is built, as in Lightning).
  std::string annealing_strategy = "cos";
  /// avg_fn(averaged, param, n_averaged) → new average; unset: equal-weight running mean.
  std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&)> avg_fn;
  /// Where the averaged copy lives; unset: the module's device.
  std::optional<torch::Device> device = torch::Device(torch::kCPU);
};

class StochasticWeightAveraging : public Callback {
 public:
  explicit StochasticWeightAveraging(StochasticWeightAveragingOptions options);
  const StochasticWeightAveragingOptions& options() const { return options_; }

  /// Lightning's default avg_fn: avg + (param - avg) / (n + 1).
  static torch::Tensor average(const torch::Tensor& averaged, const torch::Tensor& param,
                               const torch::Tensor& n_averaged);

  void setup(Trainer& trainer, Module& module, const std::string& stage) override;
  void on_fit_start(Trainer& trainer, Module& module) override;
  void on_train_epoch_start(Trainer& trainer, Module& module) override;
  void on_train_epoch_end(Trainer& trainer, Module& module) override;
  void on_train_end(Trainer& trainer, Module& module) override;
  /// {"n_averaged", "latest_update_epoch", "scheduler_state", "average_model_state"}.
  StateDict state_dict() override;
  void load_state_dict(const StateDict& state) override;

  /// 0-based first SWA epoch (valid after on_fit_start resolved a fraction).
  int64_t swa_start() const { return std::max<int64_t>(swa_epoch_start_ - 1, 0); }
  /// Last SWA epoch (the user's max_epochs - 1; unbounded when max_epochs is -1).
  int64_t swa_end() const {
    return max_epochs_ == -1 ? std::numeric_limits<int64_t>::max() : max_epochs_ - 1;
  }
  /// How many weight snapshots are in the average (unset before SWA started).
  std::optional<int64_t> n_averaged() const;
  /// The averaged parameters and buffers, named as in the module's state_dict.
  const StateDict& average_model_state() const { return average_state_; }
  const std::shared_ptr<SWALR>& swa_scheduler() const { return swa_scheduler_; }
  int64_t latest_update_epoch() const { return latest_update_epoch_; }

 private:
  void update_parameters(Module& module);
  void transfer_weights(Module& module) const;
  void reset_batch_norm_and_save_momenta(Module& module);
  void restore_momenta(Module& module);

  StochasticWeightAveragingOptions options_;
  int64_t swa_epoch_start_ = 0;  // 1-based, after on_fit_start
  int64_t max_epochs_ = -1;
  bool model_contains_batch_norm_ = false;
  bool initialized_ = false;
  torch::Tensor n_averaged_;
  int64_t init_n_averaged_ = 0;
  int64_t latest_update_epoch_ = -1;
  std::optional<StateDict> scheduler_state_;
  std::shared_ptr<SWALR> swa_scheduler_;
  StateDict average_state_;
  std::vector<std::string> parameter_names_;  // module.parameters() order
  std::vector<c10::optional<double>> momenta_;  // BatchNorm momenta in named_modules() order
  int64_t accumulate_grad_batches_ = 1;
};

}  // namespace volt
