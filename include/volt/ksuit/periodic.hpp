// ksuit's PeriodicCallback: callbacks that fire every n epochs, updates and/or samples (several at once allowed),
// with cheap "track" hooks after every micro-batch and every update (spec ksuit.md §2). All hooks run under
// NoGradGuard; the public hooks are sealed templates calling the protected virtual `_...` ones.
#pragma once
#include <map>
#include <optional>
#include <string>

#include "volt/ksuit/callback_base.hpp"

namespace volt::ksuit {

enum class IntervalType { kEpoch, kUpdate, kSample };
/// "epoch", "update", "sample"
const char* interval_name(IntervalType type);

/// ksuit's every_n_epochs / every_n_updates / every_n_samples; each set value must be > 0.
struct Interval {
  std::optional<int64_t> every_n_epochs;
  std::optional<int64_t> every_n_updates;
  std::optional<int64_t> every_n_samples;
  bool empty() const { return !every_n_epochs && !every_n_updates && !every_n_samples; }
  /// "every_n_epochs=1,every_n_updates=100"
  std::string verbose_string() const;
  /// "E1_U100", "S6400" (used as metric key suffixes)
  std::string short_string() const;
};

/// The micro-batch's losses: "total" is the loss the step returned (not divided by accumulate_grad_batches), plus
/// every other scalar tensor of a dict output under its key.
using LossMap = std::map<std::string, torch::Tensor>;

class PeriodicCallback : public CallbackBase {
 public:
  /// Throws MisconfigurationError for an interval value <= 0.
  explicit PeriodicCallback(Interval interval, std::shared_ptr<Context> context = nullptr, std::string name = "");

  const Interval& interval() const { return interval_; }
  /// "ClassName(every_n_epochs=1)"
  std::string str() const override;
  std::string get_interval_string_verbose() const { return interval_.verbose_string(); }
  std::string to_short_interval_string() const { return interval_.short_string(); }

  // ---- when it fires (evaluated on the counter after it was advanced) -----------------------------------------
  /// Only asked at the end of a full epoch: epoch % every_n_epochs == 0.
  virtual bool should_log_after_epoch(const UpdateCounter& counter) const;
  /// update % every_n_updates == 0.
  virtual bool should_log_after_update(const UpdateCounter& counter) const;
  /// Crossing detection: floor(S / n) > floor((S - effective_batch_size) / n), so n need not divide the batch size.
  virtual bool should_log_after_sample(const UpdateCounter& counter) const;
  /// Updates between two firings; requires exactly one interval type (and, for samples, n divisible by the
  /// effective batch size). MisconfigurationError otherwise.
  int64_t updates_per_log_interval(const UpdateCounter& counter) const;
  int64_t updates_till_next_log(const UpdateCounter& counter) const;

  // ---- sealed templates ---------------------------------------------------------------------------------------
  void track_after_accumulation_step(const UpdateCounter& update_counter, const Batch& batch, const LossMap& losses,
                                     const StepOutput& update_outputs, int64_t accumulation_steps,
                                     int64_t accumulation_step);
  void track_after_update_step(const UpdateCounter& update_counter, const std::map<std::string, double>& times);
  /// Fires `_periodic_callback` for the update and/or sample interval (both may fire in one step).
  void after_update(const UpdateCounter& update_counter);
  /// Fires `_periodic_callback` for the epoch interval.
  void after_epoch(const UpdateCounter& update_counter);

 protected:
  virtual void _track_after_accumulation_step(const UpdateCounter& update_counter, const Batch& batch,
                                              const LossMap& losses, const StepOutput& update_outputs,
                                              int64_t accumulation_steps, int64_t accumulation_step);
  /// `times`: "update" (seconds since the previous update) and "data_wait" (seconds spent fetching the batches of
  /// this update).
  virtual void _track_after_update_step(const UpdateCounter& update_counter,
                                        const std::map<std::string, double>& times);
  virtual void _periodic_callback(IntervalType interval_type, const UpdateCounter& update_counter);

  void dispatch_batch_end(const StepOutput& outputs, const Batch& batch, int64_t batch_idx, bool updated) override;
  void dispatch_epoch_end() override;

 private:
  Interval interval_;
  int64_t last_epoch_fired_update_ = -1;
};

}  // namespace volt::ksuit
