// The callback base: every Lightning hook as a virtual no-op. Override what you need (always with `override`).
// Hooks fire in list order, callbacks before the module (see docs/hooks.md and spec §2).
#pragma once
#include <torch/optim/optimizer.h>

#include <exception>
#include <typeinfo>
#include <string>
#include <utility>
#include <vector>

#include "volt/state.hpp"
#include "volt/types.hpp"

namespace volt {

class Callback {
 public:
  Callback() = default;
  virtual ~Callback();
  Callback(const Callback&) = default;
  Callback& operator=(const Callback&) = default;

  // ---- identity and state ------------------------------------------------------------------------------------
  /// The class name used in state keys and messages (Python's `__qualname__`). Defaults to the demangled C++
  /// type name without namespaces; nested classes become "Outer.Inner". Override to choose a name.
  virtual std::string class_name() const;
  /// Where this callback's state lives in `checkpoint["callbacks"]`. Defaults to `class_name()`. Callbacks that
  /// support several instances build it with `generate_state_key({{"what", what}})`.
  virtual std::string state_key() const;
  /// `ClassName{'k': v, ...}` with Python's repr of the arguments, byte for byte as Lightning builds it.
  std::string generate_state_key(const std::vector<std::pair<std::string, IValue>>& kwargs) const;
  /// The state saved in checkpoints; empty means nothing is saved.
  virtual StateDict state_dict();
  /// Restores the state saved by `state_dict()`; called only when the checkpoint holds state for `state_key()`.
  virtual void load_state_dict(const StateDict& state);
  /// True if the class overrides `state_dict` (Lightning's test for the duplicate-state-key check).
  bool is_stateful() const;
  /// True for callbacks whose on_train_epoch_end runs after the module's (EarlyStopping and checkpoint types), so
  /// they can monitor metrics logged in `Module::on_train_epoch_end`.
  virtual bool is_monitoring() const { return false; }

  // ---- lifecycle ---------------------------------------------------------------------------------------------
  /// When fit/validate/test/predict begins, after the data module's setup; stage is "fit", "validate", ...
  virtual void setup(Trainer& trainer, Module& module, const std::string& stage);
  /// When fit/validate/test/predict ends normally (not after an exception).
  virtual void teardown(Trainer& trainer, Module& module, const std::string& stage);
  virtual void on_fit_start(Trainer& trainer, Module& module);
  virtual void on_fit_end(Trainer& trainer, Module& module);
  virtual void on_sanity_check_start(Trainer& trainer, Module& module);
  virtual void on_sanity_check_end(Trainer& trainer, Module& module);

  // ---- training ----------------------------------------------------------------------------------------------
  virtual void on_train_start(Trainer& trainer, Module& module);
  virtual void on_train_end(Trainer& trainer, Module& module);
  virtual void on_train_epoch_start(Trainer& trainer, Module& module);
  /// After the epoch's batches (and validation). Monitoring callbacks run this after the module's hook.
  virtual void on_train_epoch_end(Trainer& trainer, Module& module);
  /// Before each training batch; the batch is already on the device.
  virtual void on_train_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx);
  /// After each training batch. `outputs` is a dict whose "loss" is detached and divided by
  /// accumulate_grad_batches.
  virtual void on_train_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                                  int64_t batch_idx);

  // ---- validation / test / predict ---------------------------------------------------------------------------
  virtual void on_validation_start(Trainer& trainer, Module& module);
  virtual void on_validation_end(Trainer& trainer, Module& module);
  virtual void on_validation_epoch_start(Trainer& trainer, Module& module);
  virtual void on_validation_epoch_end(Trainer& trainer, Module& module);
  virtual void on_validation_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx,
                                         int64_t dataloader_idx);
  virtual void on_validation_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs,
                                       const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  virtual void on_test_start(Trainer& trainer, Module& module);
  virtual void on_test_end(Trainer& trainer, Module& module);
  virtual void on_test_epoch_start(Trainer& trainer, Module& module);
  virtual void on_test_epoch_end(Trainer& trainer, Module& module);
  virtual void on_test_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx,
                                   int64_t dataloader_idx);
  virtual void on_test_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                                 int64_t batch_idx, int64_t dataloader_idx);
  virtual void on_predict_start(Trainer& trainer, Module& module);
  virtual void on_predict_end(Trainer& trainer, Module& module);
  virtual void on_predict_epoch_start(Trainer& trainer, Module& module);
  virtual void on_predict_epoch_end(Trainer& trainer, Module& module);
  virtual void on_predict_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx,
                                      int64_t dataloader_idx);
  virtual void on_predict_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                                    int64_t batch_idx, int64_t dataloader_idx);

  // ---- exceptions and checkpoints ----------------------------------------------------------------------------
  /// When fit/validate/test/predict is interrupted by an exception (also SIGINT/SIGTERM at a safe point).
  /// No teardown follows; the exception then reaches the caller.
  virtual void on_exception(Trainer& trainer, Module& module, const std::exception& exception);
  /// When a checkpoint is saved: the full dict, which may be changed in place.
  virtual void on_save_checkpoint(Trainer& trainer, Module& module, StateDict& checkpoint);
  /// When a checkpoint is loaded: the full dict, before `load_state_dict`.
  virtual void on_load_checkpoint(Trainer& trainer, Module& module, StateDict& checkpoint);

  // ---- optimization (automatic optimization) -----------------------------------------------------------------
  virtual void on_before_backward(Trainer& trainer, Module& module, const torch::Tensor& loss);
  virtual void on_after_backward(Trainer& trainer, Module& module);
  virtual void on_before_optimizer_step(Trainer& trainer, Module& module, torch::optim::Optimizer& optimizer);
  virtual void on_before_zero_grad(Trainer& trainer, Module& module, torch::optim::Optimizer& optimizer);
};

namespace detail {
/// The demangled dynamic type name of `obj`, namespaces removed, nested classes joined with '.'.
std::string python_style_class_name(const std::type_info& type);
/// Python's isinstance(obj, T) for a T known only by its type_info (used by configure_callbacks overrides).
bool is_instance_of(const Callback& obj, const std::type_info& type);
}  // namespace detail

}  // namespace volt
