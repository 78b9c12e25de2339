// The dispatcher: the only code that calls Callback, Module and DataModule hooks. One method per event, each
// stating the order (callbacks in list order, then the module, with the exceptions of spec §1.3). The loops
// call these methods and never call a hook directly.
//
// Profiling (TrainerOptions::profiler) and the slow-callback warning are done here too, at the one place every
// hook passes: each call is wrapped in its Lightning action name ("[Callback]<state_key>.<hook>", ...), built once
// per callback/module and hook and cached. With the profiler off and no batch being measured, a dispatch costs one
// extra branch.
#pragma once
#include <chrono>
#include <exception>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "volt/module.hpp"
#include "volt/trainer.hpp"

namespace volt::detail {

enum class EvalStage { kValidation, kTest };

/// The loops' own profiler actions, named as Lightning's loops name them.
namespace actions {
inline const std::string kRunTrainingEpoch = "run_training_epoch";
inline const std::string kRunTrainingBatch = "run_training_batch";
inline const std::string kTrainNext = "[_TrainingEpochLoop].train_dataloader_next";
inline const std::string kValNext = "[_EvaluationLoop].val_next";
inline const std::string kTestNext = "[_EvaluationLoop].test_next";
inline const std::string kPredictNext = "[_PredictionLoop].predict_next";
}  // namespace actions

/// start(action) / stop(action) around a scope when a profiler is given; nothing (no clock, no string) when null.
class ActionScope {
 public:
  ActionScope(Profiler* profiler, const std::string& action)
      : profiler_(profiler), action_(&action), exceptions_(std::uncaught_exceptions()) {
    if (profiler_) profiler_->start(action);
  }
  /// A stop() that throws while an exception unwinds is ignored (the first error wins).
  ~ActionScope() noexcept(false) {
    if (!profiler_) return;
    if (std::uncaught_exceptions() == exceptions_) {
      profiler_->stop(*action_);
    } else {
      try {
        profiler_->stop(*action_);
      } catch (...) {
      }
    }
  }
  ActionScope(const ActionScope&) = delete;
  ActionScope& operator=(const ActionScope&) = delete;

 private:
  Profiler* profiler_;
  const std::string* action_;
  int exceptions_;
};

class HookCaller {
 public:
  explicit HookCaller(Trainer& trainer) : trainer_(trainer) {}

  // ---- profiling and the slow-callback warning ----------------------------------------------------------------
  /// At the start of a run and whenever the callback list changes: reads the trainer's profiler (null unless
  /// enabled) and forgets the cached action names.
  void reset_profiling();
  /// The profiler if one is recording, else null (for ActionScope in the loops).
  Profiler* profiler() const { return profiler_; }
  /// Bracket one training batch (fetch to on_train_batch_end). Every 4th batch from the second on is measured:
  /// its duration and the time of each callback's training-batch hooks; the slow-callback warning is judged after
  /// 2 measured batches and every 8 after.
  void train_batch_timing_begin();
  void train_batch_timing_end();

  // ---- run set-up and tear-down -------------------------------------------------------------------------------
  std::vector<CallbackPtr> configure_callbacks();
  void prepare_data();                      // data module, then module
  void setup(const std::string& stage);     // data module → callbacks → module
  void configure_model();
  OptimizerConfig configure_optimizers();
  void fit_start();
  void fit_end();
  void teardown(const std::string& stage);  // data module → callbacks → module → loggers finalize("success")
  /// Callbacks' on_exception → data module's on_exception → loggers finalize("failed").
  void exception(const std::exception& error);

  // ---- data ---------------------------------------------------------------------------------------------------
  /// `kind` is "train", "val", "test" or "predict"; the data module answers if it has one, else the module.
  std::shared_ptr<DataLoader> request_dataloader(const std::string& kind);
  /// on_before_batch_transfer → transfer_batch_to_device → on_after_batch_transfer.
  Batch transfer_batch(Batch batch, int64_t dataloader_idx);

  // ---- fit ----------------------------------------------------------------------------------------------------
  void sanity_check_start();
  void sanity_check_end();
  void train_start();
  void train_end();
  void train_epoch_start();
  /// Non-monitoring callbacks → module → monitoring callbacks (EarlyStopping, checkpoints).
  void train_epoch_end();
  /// Returns the module's answer (-1 ends the epoch).
  int train_batch_start(const Batch& batch, int64_t batch_idx);
  void train_batch_end(const StepOutput& outputs, const Batch& batch, int64_t batch_idx);
  StepOutput training_step(const Batch& batch, int64_t batch_idx);
  void before_zero_grad(torch::optim::Optimizer& optimizer);
  void optimizer_zero_grad(int64_t epoch, int64_t batch_idx, torch::optim::Optimizer& optimizer);
  /// on_before_backward (callbacks, module) → module.backward → on_after_backward (callbacks, module).
  void backward(const torch::Tensor& loss);
  /// After the closure, before the parameter update: on_before_optimizer_step (callbacks, module), then
  /// configure_gradient_clipping (automatic optimization only).
  void after_closure(torch::optim::Optimizer& optimizer, bool clip);
  void optimizer_step(int64_t epoch, int64_t batch_idx, torch::optim::Optimizer& optimizer, const StepClosure& closure);
  void lr_scheduler_step(LRScheduler& scheduler, std::optional<double> metric);
  void validation_model_zero_grad();

  // ---- validation and test ------------------------------------------------------------------------------------
  void eval_model_eval(EvalStage stage);
  void eval_model_train(EvalStage stage);
  void eval_start(EvalStage stage);
  void eval_epoch_start(EvalStage stage);
  void eval_batch_start(EvalStage stage, const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  StepOutput eval_step(EvalStage stage, const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  void eval_batch_end(EvalStage stage, const StepOutput& outputs, const Batch& batch, int64_t batch_idx,
                      int64_t dataloader_idx);
  void eval_epoch_end(EvalStage stage);
  void eval_end(EvalStage stage);

  // ---- predict ------------------------------------------------------------------------------------------------
  void predict_model_eval();
  void predict_start();
  void predict_epoch_start();
  void predict_batch_start(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  StepOutput predict_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  void predict_batch_end(const StepOutput& outputs, const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  void predict_epoch_end();
  void predict_end();

  // ---- checkpoints --------------------------------------------------------------------------------------------
  /// {state_key: state} of every callback with a non-empty state, in list order.
  StateDict callback_states();
  void callbacks_save_checkpoint(StateDict& checkpoint);
  void module_save_checkpoint(StateDict& checkpoint);
  void module_load_checkpoint(StateDict& checkpoint);
  /// Every callback's on_load_checkpoint, then load_state_dict for callbacks whose key is in `states`.
  void callbacks_load_checkpoint(StateDict& checkpoint, const StateDict& states);
  /// ksuit's resume_from_checkpoint: callbacks implementing ksuit::ResumeFromCheckpointHook, in list order.
  void callbacks_resume_from_checkpoint(const std::string& ckpt_path);

 private:
  enum class Which { kAll, kMonitoring, kNonMonitoring };
  template <class F>
  void callbacks(const char* hook, F&& call, Which which = Which::kAll);
  template <class F>
  auto module(const char* hook, F&& call);
  /// A module hook Lightning calls directly, not through the trainer (the *_step methods inside the strategy's
  /// step, backward): sets the current hook, records no action of its own.
  template <class F>
  auto module_unprofiled(const char* hook, F&& call);
  /// Runs `call` inside the action "[Strategy]<Class>.<hook>" (or just runs it when not profiling).
  template <class F>
  auto strategy(const char* hook, F&& call);
  template <class F>
  auto datamodule(const char* hook, F&& call);
  Module& lm();

  using Clock = std::chrono::steady_clock;
  struct CallbackHook {
    std::string hook;
    bool batch_level = false;          // a training-batch hook: timed for the slow-callback warning
    std::vector<std::string> actions;  // per callback, in list order: "[Callback]<state_key>.<hook>"
    std::vector<double> seconds;       // per callback: time in this hook during measured batches
  };
  CallbackHook& callback_hook(const char* hook);
  const std::string& cached_action(std::unordered_map<const char*, std::string>& cache, const std::string& prefix,
                                   const char* hook);
  void check_slow_callbacks();

  Trainer& trainer_;
  Profiler* profiler_ = nullptr;
  bool instrumented_ = false;  // profiler_ != nullptr || sampling_: the slow path of callbacks()
  bool sampling_ = false;      // this training batch is measured
  int64_t batch_counter_ = 0, sampled_ = 0;
  double sampled_seconds_ = 0;
  Clock::time_point batch_start_;
  std::unordered_map<const char*, CallbackHook> callback_hooks_;  // keyed by the hook name literal
  std::unordered_map<const char*, std::string> module_actions_, strategy_actions_, datamodule_actions_;
  std::string module_prefix_, strategy_prefix_, datamodule_prefix_;
  std::set<std::pair<std::string, std::string>> slow_warned_;  // (state_key, hook) warned about
};

}  // namespace volt::detail
