// ksuit's CallbackBase on volt: a volt::Callback underneath (it goes in the same Trainer callback list as Lightning
// callbacks, and its hooks are fired by hook_caller.cpp like any other), whose Lightning hooks drive ksuit's
// sealed template hooks:
//   on_train_start → before_training   on_train_end → after_training (then the log writer is flushed/finished)
// The public templates are non-virtual; they apply the invariants (no grad, the model in eval mode, skipping hooks
// that are not overridden) and call the protected virtual `_before_training` / `_after_training` that subclasses
// override. The Lightning hooks that drive them are final, so a subclass cannot bypass the templates.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "volt/callback.hpp"
#include "volt/ksuit/context.hpp"
#include "volt/ksuit/resume_hook.hpp"

namespace volt::ksuit {

class CallbackBase : public Callback, public ResumeFromCheckpointHook {
 public:
  /// `context`: the shared dependencies (nullptr: the ksuit callbacks of the trainer share one created at setup).
  /// `name`: the callback's name (empty: its class name); the logger is named after str().
  explicit CallbackBase(std::shared_ptr<Context> context = nullptr, std::string name = "");

  // ---- seed 004's dependencies --------------------------------------------------------------------------------
  const std::string& name() const { return name_; }
  Trainer& trainer() const;
  Module& model() const;
  DataContainer& data_container() const;
  Tracker& tracker() const;
  LogWriter& writer() const;
  CheckpointWriter& checkpoint_writer() const;
  MetricPropertyProvider& metric_property_provider() const;
  /// Named after str(); prints through volt's message handler.
  const CallbackLogger& logger() const;
  const std::shared_ptr<Context>& context() const { return context_; }

  /// ksuit's __str__: the name, or the class name (periodic callbacks add their interval).
  virtual std::string str() const;

  // ---- sealed templates (non-virtual) -------------------------------------------------------------------------
  /// Under NoGradGuard with the model in eval mode (training flags restored after); skipped when
  /// `_before_training` is not overridden.
  void before_training(const UpdateCounter& update_counter);
  void after_training(const UpdateCounter& update_counter);
  /// ksuit's resume_from_checkpoint, called by the trainer when fit resumes, after load_state_dict.
  void resume_from_checkpoint(const ResumptionPaths& resumption_paths, Module& model);

  // ---- the Lightning hooks that drive the templates (final) ---------------------------------------------------
  void setup(Trainer& trainer, Module& module, const std::string& stage) final;
  void on_train_start(Trainer& trainer, Module& module) final;
  void on_train_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx) final;
  void on_train_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                          int64_t batch_idx) final;
  void on_train_epoch_end(Trainer& trainer, Module& module) final;
  void on_train_end(Trainer& trainer, Module& module) final;
  void on_exception(Trainer& trainer, Module& module, const std::exception& exception) override;
  void on_resume_from_checkpoint(Trainer& trainer, Module& module, const std::string& ckpt_path) final;

 protected:
  // ---- what subclasses override ------------------------------------------------------------------------------
  virtual void _before_training(const UpdateCounter& update_counter);
  virtual void _after_training(const UpdateCounter& update_counter);
  /// Load large state from files of the resumed run (e.g. EMA weights). Default: nothing.
  virtual void _resume_from_checkpoint(const ResumptionPaths& resumption_paths, Module& model);

  // ---- extension points for PeriodicCallback (internal) -------------------------------------------------------
  /// After every training micro-batch / optimizer update / full epoch; the counter is already advanced.
  virtual void dispatch_batch_end(const StepOutput& outputs, const Batch& batch, int64_t batch_idx, bool updated);
  virtual void dispatch_epoch_end();

  /// Runs `body` under NoGradGuard with the model in eval mode, restoring every submodule's training flag.
  template <class F>
  void in_eval_no_grad(F&& body);

  /// Bits of hooks whose default (not overridden) implementation ran; they are skipped from then on.
  unsigned not_overridden_ = 0;
  enum HookBit : unsigned { kBeforeTraining = 1, kAfterTraining = 2, kPeriodic = 4, kTrackUpdate = 8, kTrackAccumulation = 16 };
  /// Seconds since the previous optimizer update and the data wait of the last micro-batch.
  std::map<std::string, double> times_;

 private:
  bool is_last_of_context(Trainer& trainer, bool at_epoch_end) const;
  void adopt_context(Trainer& trainer);

  std::shared_ptr<Context> context_;
  std::string name_;
  bool given_context_;
  int64_t last_seen_update_ = -1;
  mutable std::unique_ptr<CallbackLogger> logger_;
  double last_update_end_ = -1, last_batch_end_ = -1, data_wait_sum_ = 0;
};

/// Monotonic seconds (for the times of track_after_update_step).
double monotonic_seconds_now();

}  // namespace volt::ksuit
