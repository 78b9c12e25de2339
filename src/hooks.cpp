// The hook table (include/volt/hooks.hpp). The log rules are Lightning 2.2.5's _FxValidator
// (trainer/connectors/logger_connector/fx_validator.py); tests/unit/hook_table_test.cpp compares them with a copy
// of that table read from Lightning itself (tests/golden/hooks/fx_validator.json).
#include "volt/hooks.hpp"

#include <map>

namespace volt {
namespace {

constexpr unsigned C = kCallbackHook, M = kModuleHook, D = kDataModuleHook;
constexpr const char* kAll = "fit, validate, test, predict";

// A Callback declaration: `void name(Trainer& trainer, Module& module<extra>)`.
#define VOLT_CB(name, extra) "void " name "(Trainer& trainer, Module& module" extra ")"
#define VOLT_BATCH ", const Batch& batch, int64_t batch_idx"
#define VOLT_EVAL_BATCH ", const Batch& batch, int64_t batch_idx, int64_t dataloader_idx"
#define VOLT_OUT ", const StepOutput& outputs"

// Start/end/epoch hooks of one evaluation kind: `noun` is "validation" or "test".
#define VOLT_EVAL_LOOP(noun, runs, start_log, end_log)                                                          \
  {"on_" noun "_start", C | M, runs, "After on_" noun "_model_eval, before the first " noun " epoch.",           \
   "once per " noun " run", VOLT_CB("on_" noun "_start", ""), "void on_" noun "_start()", nullptr, start_log},      \
  {"on_" noun "_epoch_start", C | M, runs, "After on_" noun "_start, before the first " noun " batch.",          \
   "once per " noun " run", VOLT_CB("on_" noun "_epoch_start", ""), "void on_" noun "_epoch_start()", nullptr,     \
   kLogPerEpoch},                                                                                                  \
  {"on_" noun "_batch_start", C | M, runs,                                                                          \
   "After the batch is on the device (on_after_batch_transfer), before " noun "_step.", "once per " noun " batch",  \
   VOLT_CB("on_" noun "_batch_start", VOLT_EVAL_BATCH),                                                            \
   "void on_" noun "_batch_start(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx)", nullptr,        \
   kLogPerEvalStep},                                                                                               \
  {noun "_step", M, runs, "Between on_" noun "_batch_start and on_" noun "_batch_end, without gradients.",       \
   "once per " noun " batch", nullptr,                                                                             \
   "StepOutput " noun "_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx)", nullptr,            \
   kLogPerEvalStep},                                                                                               \
  {"on_" noun "_batch_end", C | M, runs, "After " noun "_step; `outputs` is what the step returned.",            \
   "once per " noun " batch", VOLT_CB("on_" noun "_batch_end", VOLT_OUT VOLT_EVAL_BATCH),                         \
   "void on_" noun "_batch_end(const StepOutput& outputs, const Batch& batch, int64_t batch_idx, "               \
   "int64_t dataloader_idx)",                                                                                      \
   nullptr, kLogPerEvalStep},                                                                                      \
  {"on_" noun "_epoch_end", C | M, runs,                                                                            \
   "After the last " noun " batch; metrics logged so far are reduced to their epoch values after it.",           \
   "once per " noun " run", VOLT_CB("on_" noun "_epoch_end", ""), "void on_" noun "_epoch_end()", nullptr,         \
   kLogPerEpoch},                                                                                                  \
  {"on_" noun "_end", C | M, runs, "After on_" noun "_epoch_end; the epoch metrics are in callback_metrics().",  \
   "once per " noun " run", VOLT_CB("on_" noun "_end", ""), "void on_" noun "_end()", nullptr, end_log}

const std::vector<HookInfo>& table() {
  static const std::vector<HookInfo> hooks = {
      // ---- run set-up --------------------------------------------------------------------------------------
      {"configure_callbacks", M, kAll,
       "First in every run. The callbacks returned replace the trainer's callbacks of the same type or a base type.",
       "once per run", nullptr, "std::vector<CallbackPtr> configure_callbacks()", nullptr, kNoLog},
      {"prepare_data", M | D, kAll,
       "After configure_callbacks, on local rank 0 of each node only; the data module's before the module's.",
       "once per run and node", nullptr, "void prepare_data()", "void prepare_data()", kNoLog},
      {"setup", C | M | D, kAll,
       "After prepare_data, between the barriers \"pre_setup\" and \"post_setup\": the data module, then the "
       "callbacks, then the module. `stage` is \"fit\", \"validate\", \"test\" or \"predict\".",
       "once per run", VOLT_CB("setup", ", const std::string& stage"), "void setup(const std::string& stage)",
       "void setup(const std::string& stage)", kNoLog},
      {"configure_model", M, kAll, "After setup: build layers that depend on the data or the device.",
       "once per run", nullptr, "void configure_model()", nullptr, kNoLog},
      {"on_load_checkpoint", C | M, "fit, validate, test, predict (with ckpt_path)",
       "When a run restores a checkpoint, after configure_model: the module's (before its weights are loaded), "
       "then every callback's (fit only), before their load_state_dict. Changes to the dict are seen by what "
       "follows.",
       "once per restore", VOLT_CB("on_load_checkpoint", ", StateDict& checkpoint"),
       "void on_load_checkpoint(StateDict& checkpoint)", nullptr, kNoLog},
      {"load_state_dict", C | D, "fit, validate, test, predict (with ckpt_path)",
       "During the restore: the data module's when the checkpoint has its class name as a key (before the "
       "callbacks' on_load_checkpoint); a callback's after on_load_checkpoint, only in fit (as in Lightning 2.2) "
       "and only when the checkpoint has state under its state_key().",
       "once per restore", "void load_state_dict(const StateDict& state)", nullptr,
       "void load_state_dict(const StateDict& state)", kNoLog},
      {"configure_optimizers", M, "fit",
       "After setup and configure_model (and the weights of a restored checkpoint), before on_fit_start.",
       "once per fit", nullptr, "OptimizerConfig configure_optimizers()", nullptr, kNoLog},
      {"on_fit_start", C | M, "fit",
       "After configure_optimizers; a resumed run's optimizer and loop state are restored after it.", "once per fit",
       VOLT_CB("on_fit_start", ""), "void on_fit_start()", nullptr, kNoLog},
      {"on_sanity_check_start", C, "fit",
       "Before the sanity check's validation batches (num_sanity_val_steps > 0 with validation, and not when "
       "resuming inside an epoch).",
       "at most once per fit", VOLT_CB("on_sanity_check_start", ""), nullptr, nullptr, kNoLog},
      {"on_sanity_check_end", C, "fit",
       "After the sanity check's on_validation_end; its metrics are then discarded.", "at most once per fit",
       VOLT_CB("on_sanity_check_end", ""), nullptr, nullptr, kNoLog},
      {"val_dataloader", M | D, "fit, validate",
       "Before the first validation (the sanity check's in fit); the data module's instead of the module's when "
       "one is given.",
       "once per run", nullptr, "std::shared_ptr<DataLoader> val_dataloader()",
       "std::shared_ptr<DataLoader> val_dataloader()", kNoLog},
      {"train_dataloader", M | D, "fit",
       "After the sanity check, before on_train_start; the data module's instead of the module's when one is "
       "given.",
       "once per fit", nullptr, "std::shared_ptr<DataLoader> train_dataloader()",
       "std::shared_ptr<DataLoader> train_dataloader()", kNoLog},
      // ---- training ----------------------------------------------------------------------------------------
      {"on_train_start", C | M, "fit",
       "Before the first training epoch. Skipped (with on_train_end) when should_stop was set before training "
       "began and min_epochs/min_steps allow stopping.",
       "once per fit", VOLT_CB("on_train_start", ""), "void on_train_start()", nullptr, kLogPerEpoch},
      {"on_train_epoch_start", C | M, "fit",
       "At the start of every training epoch; not again for an epoch a resumed checkpoint was written inside.",
       "once per epoch", VOLT_CB("on_train_epoch_start", ""), "void on_train_epoch_start()", nullptr, kLogPerEpoch},
      {"on_before_batch_transfer", M, kAll, "For every batch the loops fetch, before transfer_batch_to_device.",
       "once per batch", nullptr, "Batch on_before_batch_transfer(Batch batch, int64_t dataloader_idx)", nullptr,
       kNoLog},
      {"transfer_batch_to_device", M, kAll,
       "After on_before_batch_transfer; the default moves every tensor of the batch to the trainer's device.",
       "once per batch", nullptr,
       "Batch transfer_batch_to_device(Batch batch, const torch::Device& device, int64_t dataloader_idx)", nullptr,
       kNoLog},
      {"on_after_batch_transfer", M, kAll, "After transfer_batch_to_device, before the batch-start hooks.",
       "once per batch", nullptr, "Batch on_after_batch_transfer(Batch batch, int64_t dataloader_idx)", nullptr,
       kNoLog},
      {"on_train_batch_start", C | M, "fit",
       "After the batch is on the device, before training_step. The module's returning -1 ends the epoch (the "
       "batch is not trained).",
       "once per training batch", VOLT_CB("on_train_batch_start", VOLT_BATCH),
       "int on_train_batch_start(const Batch& batch, int64_t batch_idx)", nullptr, kLogPerStep},
      // ---- optimization (in call order; all but lr_scheduler_step run inside optimizer_step) -----------------
      {"optimizer_step", M, "fit",
       "At the last batch of each accumulation window (automatic optimization). The default calls "
       "optimizer.step(closure); the closure runs training_step, on_before_zero_grad, optimizer_zero_grad and "
       "backward, then on_before_optimizer_step and the clipping run before the update. Batches inside a window "
       "run the closure without it.",
       "once per optimizer step", nullptr,
       "void optimizer_step(int64_t epoch, int64_t batch_idx, torch::optim::Optimizer& optimizer, const "
       "StepClosure& closure)",
       nullptr, kLogPerStep},
      {"training_step", M, "fit",
       "First in the closure. Returns the loss, a dict with \"loss\", or None to skip this batch's optimization.",
       "once per training batch", nullptr, "StepOutput training_step(const Batch& batch, int64_t batch_idx)", nullptr,
       kLogPerStep},
      {"on_before_zero_grad", C | M, "fit",
       "In the closure after training_step, at the first batch of each accumulation window (automatic "
       "optimization only).",
       "once per optimizer step", VOLT_CB("on_before_zero_grad", ", torch::optim::Optimizer& optimizer"),
       "void on_before_zero_grad(torch::optim::Optimizer& optimizer)", nullptr, kLogPerStep},
      {"optimizer_zero_grad", M, "fit", "After on_before_zero_grad; the default zeroes the gradients.",
       "once per optimizer step", nullptr,
       "void optimizer_zero_grad(int64_t epoch, int64_t batch_idx, torch::optim::Optimizer& optimizer)", nullptr,
       kLogPerStep},
      {"on_before_backward", C | M, "fit",
       "Before backward, for every batch with a loss (also from manual_backward).", "once per training batch",
       VOLT_CB("on_before_backward", ", const torch::Tensor& loss"), "void on_before_backward(const torch::Tensor& loss)",
       nullptr, kLogPerStep},
      {"backward", M, "fit", "After on_before_backward; the default is loss.backward().", "once per training batch",
       nullptr, "void backward(const torch::Tensor& loss)", nullptr, kLogPerStep},
      {"on_after_backward", C | M, "fit",
       "After backward. Under DDP the gradients are already averaged over the ranks, except inside an "
       "accumulation window.",
       "once per training batch", VOLT_CB("on_after_backward", ""), "void on_after_backward()", nullptr,
       kLogPerStep},
      {"on_before_optimizer_step", C | M, "fit",
       "After the closure, before gradient clipping and the parameter update (also from manual_optimizer_step).",
       "once per optimizer step", VOLT_CB("on_before_optimizer_step", ", torch::optim::Optimizer& optimizer"),
       "void on_before_optimizer_step(torch::optim::Optimizer& optimizer)", nullptr, kLogPerStep},
      {"configure_gradient_clipping", M, "fit",
       "After on_before_optimizer_step (automatic optimization); the default calls clip_gradients with the "
       "trainer's gradient_clip_val and gradient_clip_algorithm.",
       "once per optimizer step", nullptr,
       "void configure_gradient_clipping(torch::optim::Optimizer& optimizer, std::optional<double> "
       "gradient_clip_val, std::optional<std::string> gradient_clip_algorithm)",
       nullptr, kLogPerStep},
      {"clip_gradients", M, "fit",
       "Not a hook: the method configure_gradient_clipping calls. Listed because Lightning's logging rules name it.",
       "when called", nullptr,
       "void clip_gradients(torch::optim::Optimizer& optimizer, std::optional<double> gradient_clip_val, "
       "std::optional<std::string> gradient_clip_algorithm)",
       nullptr, kLogPerStep},
      {"lr_scheduler_step", M, "fit",
       "After optimizer_step: step-interval schedulers every `frequency` optimizer steps, epoch-interval ones at "
       "the epoch's last batch (ReduceLROnPlateau with interval \"epoch\": after on_train_epoch_end).",
       "once per scheduler step", nullptr, "void lr_scheduler_step(LRScheduler& scheduler, std::optional<double> metric)",
       nullptr, kNoLog},
      {"on_train_batch_end", C | M, "fit",
       "After the batch's optimization and scheduler steps. `outputs` is a dict whose \"loss\" is detached and "
       "divided by accumulate_grad_batches.",
       "once per training batch", VOLT_CB("on_train_batch_end", VOLT_OUT VOLT_BATCH),
       "void on_train_batch_end(const StepOutput& outputs, const Batch& batch, int64_t batch_idx)", nullptr,
       kLogPerStep},
      // ---- validation (inside fit: after on_train_batch_end of the batch that triggers it) --------------------
      {"on_validation_model_zero_grad", M, "fit",
       "Before a validation inside fit (not the sanity check, not while accumulating); the default zeroes the "
       "gradients.",
       "once per validation in fit", nullptr, "void on_validation_model_zero_grad()", nullptr, kNoLog},
      {"on_validation_model_eval", M, "fit, validate", "Before on_validation_start; the default is eval().",
       "once per validation run", nullptr, "void on_validation_model_eval()", nullptr, kNoLog},
      VOLT_EVAL_LOOP("validation", "fit, validate", kLogPerEpoch, kNoLog),
      {"on_validation_model_train", M, "fit, validate",
       "After on_validation_end; the default restores each submodule's training flag as it was before "
       "on_validation_model_eval.",
       "once per validation run", nullptr, "void on_validation_model_train()", nullptr, kNoLog},
      {"on_train_epoch_end", C | M, "fit",
       "After the epoch's batches and its validation: callbacks that do not monitor, then the module, then the "
       "monitoring callbacks (EarlyStopping, checkpoints), so those see what the module logged here. Also when "
       "max_steps or should_stop ends the epoch early.",
       "once per epoch", VOLT_CB("on_train_epoch_end", ""), "void on_train_epoch_end()", nullptr, kLogPerEpoch},
      {"on_train_end", C | M, "fit", "After the last epoch; not after an exception.", "once per fit",
       VOLT_CB("on_train_end", ""), "void on_train_end()", nullptr, kNoLog},
      {"on_fit_end", C | M, "fit", "After on_train_end; not after an exception.", "once per fit",
       VOLT_CB("on_fit_end", ""), "void on_fit_end()", nullptr, kNoLog},
      // ---- test ----------------------------------------------------------------------------------------------
      {"test_dataloader", M | D, "test",
       "After setup and the restore, before on_test_model_eval; the data module's instead of the module's when "
       "one is given.",
       "once per test", nullptr, "std::shared_ptr<DataLoader> test_dataloader()",
       "std::shared_ptr<DataLoader> test_dataloader()", kNoLog},
      {"on_test_model_eval", M, "test", "Before on_test_start; the default is eval().", "once per test", nullptr,
       "void on_test_model_eval()", nullptr, kNoLog},
      VOLT_EVAL_LOOP("test", "test", kLogPerEpoch, kNoLog),
      {"on_test_model_train", M, "test",
       "After on_test_end; the default restores each submodule's training flag.", "once per test", nullptr,
       "void on_test_model_train()", nullptr, kNoLog},
      // ---- predict -------------------------------------------------------------------------------------------
      {"predict_dataloader", M | D, "predict",
       "After setup and the restore, before on_predict_model_eval; the data module's instead of the module's "
       "when one is given.",
       "once per predict", nullptr, "std::shared_ptr<DataLoader> predict_dataloader()",
       "std::shared_ptr<DataLoader> predict_dataloader()", kNoLog},
      {"on_predict_model_eval", M, "predict", "Before on_predict_start; the default is eval().", "once per predict",
       nullptr, "void on_predict_model_eval()", nullptr, kNoLog},
      {"on_predict_start", C | M, "predict", "After on_predict_model_eval.", "once per predict",
       VOLT_CB("on_predict_start", ""), "void on_predict_start()", nullptr, kNoLog},
      {"on_predict_epoch_start", C | M, "predict", "After on_predict_start.", "once per predict",
       VOLT_CB("on_predict_epoch_start", ""), "void on_predict_epoch_start()", nullptr, kNoLog},
      {"on_predict_batch_start", C | M, "predict", "After the batch is on the device, before predict_step.",
       "once per predict batch", VOLT_CB("on_predict_batch_start", VOLT_EVAL_BATCH),
       "void on_predict_batch_start(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx)", nullptr,
       kNoLog},
      {"predict_step", M, "predict", "Between the predict batch hooks; returns the prediction.",
       "once per predict batch", nullptr,
       "StepOutput predict_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx)", nullptr, kNoLog},
      {"on_predict_batch_end", C | M, "predict", "After predict_step; `outputs` is the prediction.",
       "once per predict batch", VOLT_CB("on_predict_batch_end", VOLT_OUT VOLT_EVAL_BATCH),
       "void on_predict_batch_end(const StepOutput& outputs, const Batch& batch, int64_t batch_idx, int64_t "
       "dataloader_idx)",
       nullptr, kNoLog},
      {"on_predict_epoch_end", C | M, "predict", "After the last predict batch.", "once per predict",
       VOLT_CB("on_predict_epoch_end", ""), "void on_predict_epoch_end()", nullptr, kNoLog},
      {"on_predict_end", C | M, "predict", "After on_predict_epoch_end; then the training flags are restored.",
       "once per predict", VOLT_CB("on_predict_end", ""), "void on_predict_end()", nullptr, kNoLog},
      // ---- checkpoints ---------------------------------------------------------------------------------------
      {"state_dict", C | D, "fit (whenever a checkpoint is saved)",
       "When a checkpoint is saved (ModelCheckpoint, trainer.save_checkpoint), on every rank: every callback's, "
       "in list order, before on_save_checkpoint; an empty result saves nothing. The data module's is saved under "
       "its class name. As in Lightning, it runs under the current hook of whatever saves (for example "
       "ModelCheckpoint's on_train_epoch_end), so the log rule below is Lightning's entry but not the one applied.",
       "once per save", "StateDict state_dict()", nullptr, "StateDict state_dict()", kNoLog},
      {"on_save_checkpoint", C | M, "fit (whenever a checkpoint is saved)",
       "After the states are collected: every callback, then the module. Changes made to the dict are saved.",
       "once per save", VOLT_CB("on_save_checkpoint", ", StateDict& checkpoint"),
       "void on_save_checkpoint(StateDict& checkpoint)", nullptr, kNoLog},
      // ---- end of a run --------------------------------------------------------------------------------------
      {"teardown", C | M | D, kAll,
       "At the end of a run that ended normally: the data module, then the callbacks, then the module; then the "
       "loggers are finalized with \"success\". Not after an exception.",
       "once per run", VOLT_CB("teardown", ", const std::string& stage"), "void teardown(const std::string& stage)",
       "void teardown(const std::string& stage)", kNoLog},
      {"on_exception", C | D, kAll,
       "When a run is interrupted by an exception (SIGINT/SIGTERM at the next safe point too): every callback, "
       "then the data module, then the loggers are finalized with \"failed\". No teardown follows; the exception "
       "then leaves fit/validate/test/predict.",
       "once per failed run", VOLT_CB("on_exception", ", const std::exception& exception"), nullptr,
       "void on_exception(const std::exception& exception)", kNoLog},
  };
  return hooks;
}

}  // namespace

const std::vector<HookInfo>& hook_table() { return table(); }

const HookInfo* find_hook(const std::string& name) {
  static const std::map<std::string, const HookInfo*> index = [] {
    std::map<std::string, const HookInfo*> out;
    for (const auto& h : table()) out.emplace(h.name, &h);
    return out;
  }();
  auto it = index.find(name);
  return it == index.end() ? nullptr : it->second;
}

std::string log_values_repr(uint8_t allowed) {
  if (allowed == 3) return "(False, True)";
  return allowed == 1 ? "(False,)" : "(True,)";
}

}  // namespace volt
