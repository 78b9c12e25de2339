// ksuit's early stoppers and best-metric callbacks (spec ksuit.md §5–§7). They read a metric of the current step
// from the LogWriter's cache (logged by a callback earlier in the list at the same or a higher frequency) or,
// failing that, from trainer.callback_metrics() (what the module logged, e.g. val_loss), and ask the metric
// properties which direction is better. Stopping sets trainer.should_stop.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "volt/ksuit/periodic.hpp"

namespace volt::ksuit {

/// The metric's value at this step: the LogWriter cache first, then trainer.callback_metrics(). Throws
/// MisconfigurationError naming `who` and the available keys when it is in neither.
double current_metric(const CallbackBase& who, const std::string& metric_key);

struct FixedEarlyStopperOptions {
  /// Stop once the counter reaches this (exactly one set).
  std::optional<int64_t> stop_at_epoch, stop_at_update, stop_at_sample;
};

class FixedEarlyStopper : public PeriodicCallback {
 public:
  using Options = FixedEarlyStopperOptions;
  explicit FixedEarlyStopper(FixedEarlyStopperOptions options, std::shared_ptr<Context> context = nullptr);

 protected:
  void _before_training(const UpdateCounter& update_counter) override;
  void _track_after_update_step(const UpdateCounter& update_counter,
                                const std::map<std::string, double>& times) override;

 private:
  TrainingIteration stop_at_;
};

struct MetricEarlyStopperOptions {
  std::string metric_key;
  /// How many checks without improvement are tolerated; the next one stops training.
  int64_t tolerance = 1;
  /// The smallest change that counts as an improvement.
  double min_delta = 0.0;
  /// When to check; none set: every epoch.
  std::optional<int64_t> every_n_epochs, every_n_updates, every_n_samples;
};

class MetricEarlyStopper : public PeriodicCallback {
 public:
  using Options = MetricEarlyStopperOptions;
  explicit MetricEarlyStopper(MetricEarlyStopperOptions options, std::shared_ptr<Context> context = nullptr);
  std::string state_key() const override;
  /// {"best": float or None, "tolerance_counter": int}
  StateDict state_dict() override;
  void load_state_dict(const StateDict& state) override;
  std::optional<double> best() const { return best_; }
  int64_t tolerance_counter() const { return tolerance_counter_; }

 protected:
  void _periodic_callback(IntervalType interval_type, const UpdateCounter& update_counter) override;

 private:
  MetricEarlyStopperOptions options_;
  std::optional<double> best_;
  int64_t tolerance_counter_ = 0;
};

struct BestCheckpointOptions {
  std::string metric_key;
  /// When to check; none set: every epoch.
  std::optional<int64_t> every_n_epochs, every_n_updates, every_n_samples;
  /// The model's name in file names; empty: ksuit::ContextOptions::model_name.
  std::string model_name;
};

/// Saves the model's weights as "{model}_cp=best_model.{metric.key}_model.th" whenever the metric improves.
class BestCheckpointCallback : public PeriodicCallback {
 public:
  using Options = BestCheckpointOptions;
  explicit BestCheckpointCallback(BestCheckpointOptions options, std::shared_ptr<Context> context = nullptr);
  std::string state_key() const override;
  /// {"best_metric_value": float or None}
  StateDict state_dict() override;
  void load_state_dict(const StateDict& state) override;
  std::optional<double> best() const { return best_; }
  /// "best_model.loss.val" for "loss/val"
  std::string checkpoint_tag() const;

 protected:
  void _periodic_callback(IntervalType interval_type, const UpdateCounter& update_counter) override;

 private:
  BestCheckpointOptions options_;
  std::optional<double> best_;
};

struct BestMetricOptions {
  std::string source_metric_key;
  /// Logged as "{target}/at_best/{source}" with their values at the source's best step.
  std::vector<std::string> target_metric_keys;
  /// When to check; none set: every epoch.
  std::optional<int64_t> every_n_epochs, every_n_updates, every_n_samples;
};

/// Tracks the best value of a source metric and logs "{source}/best" and, for each target, its value at that step.
class BestMetricCallback : public PeriodicCallback {
 public:
  using Options = BestMetricOptions;
  explicit BestMetricCallback(BestMetricOptions options, std::shared_ptr<Context> context = nullptr);
  std::string state_key() const override;
  StateDict state_dict() override;
  void load_state_dict(const StateDict& state) override;

 protected:
  void _periodic_callback(IntervalType interval_type, const UpdateCounter& update_counter) override;

 private:
  BestMetricOptions options_;
  std::optional<double> best_;
  std::map<std::string, double> targets_at_best_;
};

}  // namespace volt::ksuit
