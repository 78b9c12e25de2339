// volt::Module, the LightningModule analogue: a torch::nn::Module that owns the research code (steps,
// optimizers) and has every model hook of Lightning. Register submodules as usual with register_module().
#pragma once
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "volt/logging.hpp"
#include "volt/optim.hpp"
#include "volt/state.hpp"
#include "volt/types.hpp"

namespace volt {

namespace detail {
class HookCaller;
}

/// One LR scheduler and when to step it (Lightning's lr_scheduler_config).
struct LRSchedulerConfig {
  std::shared_ptr<LRScheduler> scheduler;
  /// "epoch" (after the epoch's last batch) or "step" (after every optimizer step).
  std::string interval = "epoch";
  /// Step every `frequency` intervals.
  int64_t frequency = 1;
  /// The metric a ReduceLROnPlateau scheduler steps with (required for those).
  std::string monitor;
  /// Missing monitor is an error (true) or a warning and no step (false).
  bool strict = true;
  /// A name for LearningRateMonitor; empty means "lr-<Optimizer>".
  std::string name;
};

/// What configure_optimizers returns. Automatic optimization uses exactly one optimizer.
struct OptimizerConfig {
  OptimizerConfig() = default;
  /// One optimizer (any torch::optim type), as Lightning's `return optimizer`.
  template <class O, class = std::enable_if_t<std::is_base_of<torch::optim::Optimizer, O>::value>>
  OptimizerConfig(std::shared_ptr<O> optimizer) {  // NOLINT: implicit, like returning the optimizer in Python
    optimizers.push_back(std::move(optimizer));
  }
  /// One optimizer and its scheduler, as Lightning's `return [optimizer], [scheduler]`.
  template <class O, class = std::enable_if_t<std::is_base_of<torch::optim::Optimizer, O>::value>>
  OptimizerConfig(std::shared_ptr<O> optimizer, LRSchedulerConfig scheduler) {
    optimizers.push_back(std::move(optimizer));
    lr_schedulers.push_back(std::move(scheduler));
  }
  std::vector<std::shared_ptr<torch::optim::Optimizer>> optimizers;
  std::vector<LRSchedulerConfig> lr_schedulers;
};

/// The closure an optimizer step runs: training_step, zero_grad and backward; returns the loss.
using StepClosure = std::function<torch::Tensor()>;

class Module : public torch::nn::Module {
 public:
  Module();
  explicit Module(const std::string& name);
  ~Module() override;

  // ---- research: steps and optimizers ------------------------------------------------------------------------
  /// Returns the loss tensor, a dict with "loss", or None to skip the optimization of this batch.
  virtual StepOutput training_step(const Batch& batch, int64_t batch_idx);
  virtual StepOutput validation_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  virtual StepOutput test_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  virtual StepOutput predict_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  virtual OptimizerConfig configure_optimizers();
  /// Callbacks that override trainer callbacks of the same (sub)type; called at every fit/validate/test/predict.
  virtual std::vector<CallbackPtr> configure_callbacks();
  /// Builds layers lazily, after setup (called every run).
  virtual void configure_model();

  // ---- data hooks --------------------------------------------------------------------------------------------
  virtual void prepare_data();
  virtual void setup(const std::string& stage);
  virtual void teardown(const std::string& stage);
  virtual std::shared_ptr<DataLoader> train_dataloader();
  virtual std::shared_ptr<DataLoader> val_dataloader();
  virtual std::shared_ptr<DataLoader> test_dataloader();
  virtual std::shared_ptr<DataLoader> predict_dataloader();
  virtual Batch on_before_batch_transfer(Batch batch, int64_t dataloader_idx);
  /// Moves every tensor of the batch to `device` (recursing into tuples, lists and dicts).
  virtual Batch transfer_batch_to_device(Batch batch, const torch::Device& device, int64_t dataloader_idx);
  virtual Batch on_after_batch_transfer(Batch batch, int64_t dataloader_idx);

  // ---- model hooks (same names as the callback hooks, without trainer/module) --------------------------------
  virtual void on_fit_start();
  virtual void on_fit_end();
  virtual void on_train_start();
  virtual void on_train_end();
  virtual void on_train_epoch_start();
  virtual void on_train_epoch_end();
  /// Return -1 to skip the rest of the epoch.
  virtual int on_train_batch_start(const Batch& batch, int64_t batch_idx);
  virtual void on_train_batch_end(const StepOutput& outputs, const Batch& batch, int64_t batch_idx);
  virtual void on_validation_start();
  virtual void on_validation_end();
  virtual void on_validation_epoch_start();
  virtual void on_validation_epoch_end();
  virtual void on_validation_batch_start(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  virtual void on_validation_batch_end(const StepOutput& outputs, const Batch& batch, int64_t batch_idx,
                                       int64_t dataloader_idx);
  virtual void on_test_start();
  virtual void on_test_end();
  virtual void on_test_epoch_start();
  virtual void on_test_epoch_end();
  virtual void on_test_batch_start(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  virtual void on_test_batch_end(const StepOutput& outputs, const Batch& batch, int64_t batch_idx,
                                 int64_t dataloader_idx);
  virtual void on_predict_start();
  virtual void on_predict_end();
  virtual void on_predict_epoch_start();
  virtual void on_predict_epoch_end();
  virtual void on_predict_batch_start(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  virtual void on_predict_batch_end(const StepOutput& outputs, const Batch& batch, int64_t batch_idx,
                                    int64_t dataloader_idx);
  /// Before validation inside fit (not while accumulating). Default: zero the gradients.
  virtual void on_validation_model_zero_grad();
  /// Default: eval().
  virtual void on_validation_model_eval();
  virtual void on_test_model_eval();
  virtual void on_predict_model_eval();
  /// After validation/test. Default: restore each submodule's training flag as it was before eval (Lightning does
  /// this silently unless the hook is overridden; an override replaces the restore).
  virtual void on_validation_model_train();
  virtual void on_test_model_train();

  // ---- optimization hooks ------------------------------------------------------------------------------------
  virtual void on_before_zero_grad(torch::optim::Optimizer& optimizer);
  virtual void on_before_backward(const torch::Tensor& loss);
  virtual void on_after_backward();
  virtual void on_before_optimizer_step(torch::optim::Optimizer& optimizer);
  /// Default: optimizer.step(closure). The closure runs training_step, zero_grad and backward.
  virtual void optimizer_step(int64_t epoch, int64_t batch_idx, torch::optim::Optimizer& optimizer,
                              const StepClosure& closure);
  virtual void optimizer_zero_grad(int64_t epoch, int64_t batch_idx, torch::optim::Optimizer& optimizer);
  virtual void backward(const torch::Tensor& loss);
  /// Default: clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm).
  virtual void configure_gradient_clipping(torch::optim::Optimizer& optimizer,
                                           std::optional<double> gradient_clip_val,
                                           std::optional<std::string> gradient_clip_algorithm);
  /// Default: scheduler.step(), or scheduler.step(metric) for schedulers that need a metric.
  virtual void lr_scheduler_step(LRScheduler& scheduler, std::optional<double> metric);
  virtual void on_save_checkpoint(StateDict& checkpoint);
  virtual void on_load_checkpoint(StateDict& checkpoint);

  /// Clips the gradients of the optimizer's parameters: algorithm "norm" (default) or "value".
  void clip_gradients(torch::optim::Optimizer& optimizer, std::optional<double> gradient_clip_val,
                      std::optional<std::string> gradient_clip_algorithm);

  // ---- logging (also what callbacks call: Lightning's cb.log is pl_module.log) --------------------------------
  void log(const std::string& name, const torch::Tensor& value, const LogOptions& options = {});
  void log(const std::string& name, double value, const LogOptions& options = {});
  void log_dict(const std::vector<std::pair<std::string, torch::Tensor>>& values, const LogOptions& options = {});

  // ---- manual optimization -----------------------------------------------------------------------------------
  /// Set false in the constructor to step optimizers yourself in training_step.
  bool automatic_optimization = true;
  /// backward with the on_before_backward/on_after_backward hooks (manual optimization).
  void manual_backward(const torch::Tensor& loss);
  /// The optimizers configure_optimizers returned (valid during fit).
  const std::vector<std::shared_ptr<torch::optim::Optimizer>>& optimizers() const;
  const std::vector<LRSchedulerConfig>& lr_schedulers() const;
  /// optimizer.step(closure) wrapped with on_before_optimizer_step (manual optimization).
  void manual_optimizer_step(torch::optim::Optimizer& optimizer, const StepClosure& closure = nullptr);

  // ---- hyper-parameters and context --------------------------------------------------------------------------
  /// Saved under "hyper_parameters" in checkpoints (plain types only).
  void save_hyperparameters(const StateDict& hparams);
  const StateDict& hparams() const { return hparams_; }
  bool has_trainer() const { return trainer_ != nullptr; }
  /// The trainer running this module; throws MisconfigurationError outside fit/validate/test/predict.
  Trainer& trainer() const;
  int64_t current_epoch() const;
  int64_t global_step() const;
  torch::Device device() const;
  /// The hook running right now ("" outside hooks); drives the log() validation.
  const std::string& current_hook() const { return current_fx_; }
  /// Strict weight loading from checkpoints (Lightning's strict_loading).
  bool strict_loading = true;

 private:
  friend class Trainer;
  friend class detail::HookCaller;
  Trainer* trainer_ = nullptr;
  std::string current_fx_;
  StateDict hparams_;
};

}  // namespace volt
