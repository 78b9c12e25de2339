// Timer: tracks the time spent in training, validation and testing, and stops training when a time limit is
// reached (Lightning 2.2.5's callbacks/timer.py). Trainer(max_time=...) adds one with interval "step".
#pragma once
#include <array>
#include <optional>
#include <string>

#include "volt/callback.hpp"
#include "volt/timedelta.hpp"

namespace volt {

struct TimerOptions {
  /// The training time limit: "DD:HH:MM:SS", seconds, TimeDelta(::Parts) or a std::chrono duration. Unset: no
  /// limit (the Timer only measures).
  std::optional<TimerDuration> duration;
  /// Check the limit after every training batch ("step") or every training epoch ("epoch").
  std::string interval = "step";
  /// Log "Time limit reached. ..." when stopping.
  bool verbose = true;
};

class Timer : public Callback {
 public:
  /// The stages Timer measures, in Lightning's RunningStage order.
  static constexpr std::array<const char*, 5> kStages = {"train", "sanity_check", "validate", "test", "predict"};

  /// Throws MisconfigurationError for a malformed duration string or an unknown interval (Lightning's message:
  /// "Unsupported parameter value `Timer(interval=...)`. Possible choices are: step, epoch").
  explicit Timer(TimerOptions options = {});

  /// Monotonic-clock stamps (seconds) of the stage's last start/end, unset before it ran. `stage` is one of
  /// kStages (anything else throws MisconfigurationError "'<stage>' is not a valid RunningStage").
  std::optional<double> start_time(const std::string& stage = "train") const;
  std::optional<double> end_time(const std::string& stage = "train") const;
  /// Seconds spent in the stage's last run (or so far, while it runs); "train" includes the time restored from a
  /// checkpoint.
  double time_elapsed(const std::string& stage = "train") const;
  /// duration - time_elapsed(stage), unset without a duration.
  std::optional<double> time_remaining(const std::string& stage = "train") const;
  /// The limit in seconds (unset: none).
  const std::optional<double>& duration() const { return duration_; }
  const std::string& interval() const { return interval_; }

  /// {"time_elapsed": {"train": ..., "sanity_check": ..., "validate": ..., "test": ..., "predict": ...}}; a stage
  /// that never started is the int 0, as in Python.
  StateDict state_dict() override;
  /// Restores the "train" time as an offset; the other stages are not restored.
  void load_state_dict(const StateDict& state) override;

  void on_train_start(Trainer& trainer, Module& module) override;
  void on_train_end(Trainer& trainer, Module& module) override;
  void on_validation_start(Trainer& trainer, Module& module) override;
  void on_validation_end(Trainer& trainer, Module& module) override;
  void on_test_start(Trainer& trainer, Module& module) override;
  void on_test_end(Trainer& trainer, Module& module) override;
  /// Checks the limit once the state is restored (a depleted timer stops before the first batch).
  void on_fit_start(Trainer& trainer, Module& module) override;
  void on_train_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                          int64_t batch_idx) override;
  void on_train_epoch_end(Trainer& trainer, Module& module) override;

 private:
  static size_t stage_index(const std::string& stage);
  IValue elapsed_value(size_t stage) const;
  void check_time_remaining(Trainer& trainer);

  std::optional<double> duration_;
  std::string interval_;
  bool verbose_;
  std::array<std::optional<double>, kStages.size()> start_{}, end_{};
  IValue offset_ = int64_t{0};  // an int until a checkpoint restores a float, as in Python
};

}  // namespace volt
