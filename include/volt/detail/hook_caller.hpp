// The dispatcher: the only code that calls Callback, Module and DataModule hooks. One method per event, each
// stating the order (callbacks in list order, then the module, with the exceptions of spec §1.3). The loops
// call these methods and never call a hook directly.
#pragma once
#include <string>

#include "volt/module.hpp"
#include "volt/trainer.hpp"

namespace volt::detail {

enum class EvalStage { kValidation, kTest };

class HookCaller {
 public:
  explicit HookCaller(Trainer& trainer) : trainer_(trainer) {}

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
  Module& lm();

  Trainer& trainer_;
};

}  // namespace volt::detail
