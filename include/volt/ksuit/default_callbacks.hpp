// ksuit's default callbacks (spec ksuit.md §5), switchable as a set through default_callbacks(): dataset stats,
// parameter count, an ETA line on an interactive terminal, progress, train time, peak memory, online loss (at the
// log and at the track interval, with NaN detection) and the learning rate.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "volt/ksuit/periodic.hpp"

namespace volt::ksuit {

/// Writes "ds_stats/{key}/len" to the tracker summary for every dataset in the DataContainer and logs
/// "Dataset lengths: train=..., val=...".
class DatasetStatsCallback : public CallbackBase {
 public:
  explicit DatasetStatsCallback(std::shared_ptr<Context> context = nullptr) : CallbackBase(std::move(context)) {}

 protected:
  void _before_training(const UpdateCounter& update_counter) override;
};

/// Logs "Parameter count of {name}: trainable=... frozen=..." for the model ("total") and each direct child, and
/// writes param_count/{name}/trainable, param_count/{name}/frozen and param_count/{name} to the summary.
class ParamCountCallback : public CallbackBase {
 public:
  explicit ParamCountCallback(std::shared_ptr<Context> context = nullptr) : CallbackBase(std::move(context)) {}

 protected:
  void _before_training(const UpdateCounter& update_counter) override;
};

/// "Epoch 2/10 (E2_U40_S1280)" / "Update ..." / "Sample ..." at its interval, then "ETA: ... estimated_duration: ...
/// time_since_last_log: ... time_per_update: ...". The clock restarts after the first interval (warm-up).
class ProgressCallback : public PeriodicCallback {
 public:
  explicit ProgressCallback(Interval interval, std::shared_ptr<Context> context = nullptr)
      : PeriodicCallback(interval, std::move(context)) {}

 protected:
  void _before_training(const UpdateCounter& update_counter) override;
  void _periodic_callback(IntervalType interval_type, const UpdateCounter& update_counter) override;

 private:
  double start_ = 0, last_log_ = 0;
  int64_t start_update_ = 0, last_log_update_ = 0;
  bool warmed_up_ = false;
};

/// Sums the data-wait time of every update; logs the mean per update at its interval and the total at the end.
class TrainTimeCallback : public PeriodicCallback {
 public:
  explicit TrainTimeCallback(Interval interval, std::shared_ptr<Context> context = nullptr)
      : PeriodicCallback(interval, std::move(context)) {}
  double total_data_wait() const { return total_; }

 protected:
  void _track_after_update_step(const UpdateCounter& update_counter,
                                const std::map<std::string, double>& times) override;
  void _periodic_callback(IntervalType interval_type, const UpdateCounter& update_counter) override;
  void _after_training(const UpdateCounter& update_counter) override;

 private:
  double since_log_ = 0, total_ = 0;
  int64_t updates_since_log_ = 0;
};

/// The process's peak resident memory (VmHWM of /proc/self/status on CPU) at its interval.
class PeakMemoryCallback : public PeriodicCallback {
 public:
  explicit PeakMemoryCallback(Interval interval, std::shared_ptr<Context> context = nullptr)
      : PeriodicCallback(interval, std::move(context)) {}
  /// Peak resident set size in bytes (nullopt where /proc is not available).
  static std::optional<int64_t> peak_resident_bytes();

 protected:
  void _periodic_callback(IntervalType interval_type, const UpdateCounter& update_counter) override;
};

/// A status line on stderr after every update, overwritten with '\r':
/// "E 1/10 | U 12/120 | S 384/3840 | next_log 3/5 | avg_update 0.012s". Needs exactly one interval type.
class EtaCallback : public PeriodicCallback {
 public:
  explicit EtaCallback(Interval interval, std::shared_ptr<Context> context = nullptr)
      : PeriodicCallback(interval, std::move(context)) {}
  /// The line printed after the last update (for tests).
  const std::string& last_line() const { return line_; }

 protected:
  void _track_after_update_step(const UpdateCounter& update_counter,
                                const std::map<std::string, double>& times) override;
  void _periodic_callback(IntervalType interval_type, const UpdateCounter& update_counter) override;
  void _after_training(const UpdateCounter& update_counter) override;

 private:
  std::string line_;
  double update_time_sum_ = 0;
  int64_t updates_ = 0;
};

struct OnlineLossOptions {
  std::optional<int64_t> every_n_epochs, every_n_updates, every_n_samples;
  /// Echo to stdout (the log-interval instance) or tracker only (the track-interval instance).
  bool verbose = true;
  /// Skip a NaN mean instead of raising volt::Error.
  bool skip_nan_loss = false;
};

/// The mean of every micro-batch loss since the last firing, logged as "loss/online/{name}/{E1|U50|S6400}".
class OnlineLossCallback : public PeriodicCallback {
 public:
  using Options = OnlineLossOptions;
  explicit OnlineLossCallback(OnlineLossOptions options, std::shared_ptr<Context> context = nullptr);

 protected:
  void _track_after_accumulation_step(const UpdateCounter& update_counter, const Batch& batch, const LossMap& losses,
                                      const StepOutput& update_outputs, int64_t accumulation_steps,
                                      int64_t accumulation_step) override;
  void _periodic_callback(IntervalType interval_type, const UpdateCounter& update_counter) override;

 private:
  OnlineLossOptions options_;
  std::map<std::string, std::vector<torch::Tensor>> tracked_;
};

/// "optim/lr/{i}" (one optimizer: "optim/lr"; several parameter groups: ".../{group}") to the tracker only; also
/// fires at update 1.
class LrCallback : public PeriodicCallback {
 public:
  explicit LrCallback(Interval interval, std::shared_ptr<Context> context = nullptr)
      : PeriodicCallback(interval, std::move(context)) {}
  bool should_log_after_update(const UpdateCounter& counter) const override;

 protected:
  void _periodic_callback(IntervalType interval_type, const UpdateCounter& update_counter) override;
};

struct DefaultCallbacksOptions {
  /// The "log" interval (stdout + tracker): progress, train time, peak memory, online loss. None set: those are
  /// left out with a warning.
  std::optional<int64_t> log_every_n_epochs, log_every_n_updates, log_every_n_samples;
  /// The "track" interval (tracker only): learning rate and online loss.
  std::optional<int64_t> track_every_n_epochs, track_every_n_updates = 50, track_every_n_samples;
  /// The ETA line, added only when stdout is a terminal (and a log interval is set).
  bool add_eta = true;
  bool skip_nan_loss = false;
  /// Shared by all of them (nullptr: the trainer's shared one).
  std::shared_ptr<Context> context;
};

/// ksuit's default set in ksuit's order: [Eta,] DatasetStats, ParamCount, then with a log interval Progress,
/// TrainTime, PeakMemory, OnlineLoss(verbose), then with a track interval Lr, OnlineLoss(tracker only).
std::vector<CallbackPtr> default_callbacks(const DefaultCallbacksOptions& options = {});

/// ksuit's short number strings: 999 → "999", 12345 → "12.3K", 1500000 → "1.5M".
std::string short_number_str(double value);

}  // namespace volt::ksuit
