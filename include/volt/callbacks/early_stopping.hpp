// EarlyStopping: stops training when a monitored metric stops improving (Lightning 2.2.5's
// callbacks/early_stopping.py: same parameters, defaults, state, stop reasons and messages).
#pragma once
#include <optional>
#include <string>
#include <utility>

#include "volt/callback.hpp"

namespace volt {

struct EarlyStoppingOptions {
  /// The metric in trainer.callback_metrics to watch (required).
  std::string monitor;
  /// The smallest change that counts as an improvement. Stored with the sign of the mode: negated for "min", so
  /// EarlyStopping({"x", 0.1}).min_delta() == -0.1.
  double min_delta = 0.0;
  /// How many checks without improvement stop training (checks, not epochs).
  int64_t patience = 3;
  /// Log the reason of every decision (improvement, stop).
  bool verbose = false;
  /// "min", "max" or "auto" (volt: setup asks trainer.metric_properties(), e.g. *loss* → min, *acc* → max).
  std::string mode = "min";
  /// Raise when the monitored metric is missing (false: skip the check; warn when verbose).
  bool strict = true;
  /// Stop when the metric becomes NaN or infinite.
  bool check_finite = true;
  /// Stop as soon as the metric is better than this.
  std::optional<double> stopping_threshold;
  /// Stop as soon as the metric is worse than this.
  std::optional<double> divergence_threshold;
  /// Check at the end of the training epoch (true) or after validation (false); unset: at the training epoch end
  /// when val_check_interval == 1.0 and check_val_every_n_epoch == 1.
  std::optional<bool> check_on_train_epoch_end;
  /// With several processes, log the reasons on rank 0 only.
  bool log_rank_zero_only = false;
};

class EarlyStopping : public Callback {
 public:
  /// Throws MisconfigurationError("`mode` can be min, max, got <mode>") for an unknown mode.
  explicit EarlyStopping(EarlyStoppingOptions options);
  /// EarlyStopping(monitor) with every other option at its default.
  explicit EarlyStopping(std::string monitor);

  /// Runs after the module's on_train_epoch_end, so it can watch what the module logs there.
  bool is_monitoring() const override { return true; }
  /// EarlyStopping{'monitor': ..., 'mode': ...}
  std::string state_key() const override;
  /// {"wait_count", "stopped_epoch", "best_score" (tensor), "patience"}
  StateDict state_dict() override;
  void load_state_dict(const StateDict& state) override;

  void setup(Trainer& trainer, Module& module, const std::string& stage) override;
  void on_train_epoch_end(Trainer& trainer, Module& module) override;
  void on_validation_end(Trainer& trainer, Module& module) override;

  const EarlyStoppingOptions& options() const { return options_; }
  const std::string& monitor() const { return options_.monitor; }
  /// "min" or "max" ("auto" until setup resolves it).
  const std::string& mode() const { return mode_; }
  /// Signed by the mode (see EarlyStoppingOptions::min_delta).
  double min_delta() const { return min_delta_; }
  int64_t patience() const { return patience_; }
  int64_t wait_count() const { return wait_count_; }
  /// The epoch in which this callback asked the trainer to stop (0 if it did not).
  int64_t stopped_epoch() const { return stopped_epoch_; }
  const torch::Tensor& best_score() const { return best_score_; }
  /// The check's resolved setting (set in setup when the option is unset).
  const std::optional<bool>& check_on_train_epoch_end() const { return check_on_train_epoch_end_; }

 private:
  bool should_skip_check(Trainer& trainer) const;
  void run_early_stopping_check(Trainer& trainer);
  /// (should_stop, reason); updates best_score and wait_count.
  std::pair<bool, std::optional<std::string>> evaluate_stopping_criteria(const torch::Tensor& current);
  std::string improvement_message(const torch::Tensor& current) const;
  bool monitor_op(const torch::Tensor& a, const torch::Tensor& b) const;
  bool monitor_op(const torch::Tensor& a, double b) const;
  void log_info(Trainer& trainer, const std::string& message) const;
  void init_mode(const std::string& mode);

  EarlyStoppingOptions options_;
  std::string mode_ = "auto";
  double min_delta_ = 0.0;
  int64_t patience_;
  int64_t wait_count_ = 0;
  int64_t stopped_epoch_ = 0;
  torch::Tensor best_score_;
  std::optional<bool> check_on_train_epoch_end_;
};

}  // namespace volt
