// BaseFinetuning and BackboneFinetuning (Lightning 2.2.5's callbacks/finetuning.py).
//
// BaseFinetuning freezes modules before training (`freeze_before_training`, called in setup, before
// configure_optimizers) and unfreezes them later (`finetune_function`, called at every train epoch start), adding
// their parameters to the optimizer as new param groups. It records every param group (hyper-parameters in
// PyTorch's Python layout, parameters by name) so that a resumed fit rebuilds the same groups before the optimizer
// state is loaded.
//
// BackboneFinetuning unfreezes `module.backbone` (a child registered as "backbone") at a given epoch and then
// raises its learning rate each epoch with Lightning's formulas.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "volt/callback.hpp"

namespace volt {

/// What Lightning's helpers accept as "modules": one module, a list of modules, or nested lists of them
/// (`{bn, {linear1, linear2}}`). Holds non-owning pointers: the modules must outlive it.
class Modules {
 public:
  Modules(torch::nn::Module& module) : items_{&module} {}  // NOLINT: implicit, like Python's duck typing
  template <class M, class = std::enable_if_t<std::is_base_of<torch::nn::Module, M>::value>>
  Modules(const std::shared_ptr<M>& module) : items_{checked(module.get())} {}  // NOLINT
  template <class M>
  Modules(const torch::nn::ModuleHolder<M>& holder) : items_{checked(holder.ptr().get())} {}  // NOLINT
  template <class M, class = std::enable_if_t<std::is_base_of<torch::nn::Module, M>::value>>
  Modules(const std::vector<std::shared_ptr<M>>& modules) {  // NOLINT
    for (const auto& m : modules) items_.push_back(checked(m.get()));
  }
  Modules(std::initializer_list<Modules> nested) {
    for (const auto& n : nested) items_.insert(items_.end(), n.items_.begin(), n.items_.end());
  }
  const std::vector<torch::nn::Module*>& items() const { return items_; }

 private:
  static torch::nn::Module* checked(torch::nn::Module* m);
  std::vector<torch::nn::Module*> items_;
};

class BaseFinetuning : public Callback {
 public:
  /// One param-group record: PyTorch's `optimizer.state_dict()["param_groups"][i]` with "params" holding the
  /// parameters' names in the module instead of indices.
  using GroupRecords = std::vector<StateDict>;

  BaseFinetuning() = default;

  // ---- static helpers (usable without a trainer) ---------------------------------------------------------------
  /// Every module, walked pre-order (itself and all descendants), that has no children or owns parameters itself.
  static std::vector<torch::nn::Module*> flatten_modules(const Modules& modules);
  /// The parameters owned directly by the flattened modules whose requires_grad equals `requires_grad`; BatchNorm
  /// modules are skipped when train_bn is false.
  static std::vector<torch::Tensor> filter_params(const Modules& modules, bool train_bn = true,
                                                  bool requires_grad = true);
  /// requires_grad = true for every parameter; BatchNorm layers track running stats again.
  static void make_trainable(const Modules& modules);
  /// requires_grad = false for the module's own parameters; a BatchNorm stops tracking running stats.
  static void freeze_module(torch::nn::Module& module);
  /// Freezes every flattened module; BatchNorm layers stay trainable when train_bn. Never changes train/eval mode.
  static void freeze(const Modules& modules, bool train_bn = true);
  /// `params` minus those already in a group of `optimizer`. As Lightning, presence is `torch.equal` (same shape
  /// and values), not identity. Warns if anything was dropped.
  static std::vector<torch::Tensor> filter_on_optimizer(const torch::optim::Optimizer& optimizer,
                                                        const std::vector<torch::Tensor>& params);
  /// Makes `modules` trainable and adds their parameters not yet in the optimizer as one new group with lr
  /// `lr` (unset: group 0's lr / initial_denom_lr). Nothing is added if no parameter is left.
  static void unfreeze_and_add_param_group(const Modules& modules, torch::optim::Optimizer& optimizer,
                                           std::optional<double> lr = std::nullopt, double initial_denom_lr = 10.0,
                                           bool train_bn = true);

  // ---- what subclasses implement -------------------------------------------------------------------------------
  /// Called in setup (every stage), before configure_optimizers. The base throws: override it.
  virtual void freeze_before_training(Module& module);
  /// Called at every train epoch start for every optimizer. The base throws: override it.
  virtual void finetune_function(Module& module, int64_t epoch, torch::optim::Optimizer& optimizer);

  // ---- hooks and state -----------------------------------------------------------------------------------------
  void setup(Trainer& trainer, Module& module, const std::string& stage) override;
  /// On resume: replaces the optimizers' param groups with the recorded ones (before their state is loaded).
  void on_fit_start(Trainer& trainer, Module& module) override;
  void on_train_epoch_start(Trainer& trainer, Module& module) override;
  /// {"internal_optimizer_metadata": {optimizer index: [group records]}}.
  StateDict state_dict() override;
  /// Also accepts the pre-1.6 layout (the metadata dict itself).
  void load_state_dict(const StateDict& state) override;

  /// The recorded param groups per optimizer index (Lightning's `_internal_optimizer_metadata`).
  const std::map<int64_t, GroupRecords>& internal_optimizer_metadata() const { return metadata_; }
  bool restarting() const { return restarting_; }

 private:
  void store(Module& module, int64_t opt_idx, size_t num_param_groups, const torch::optim::Optimizer& optimizer);

  std::map<int64_t, GroupRecords> metadata_;
  bool restarting_ = false;
};

/// Lightning's default `lambda_func`: the backbone lr doubles every epoch.
double multiplicative(int64_t epoch);

struct BackboneFinetuningOptions {
  /// The epoch at which the backbone is unfrozen and added to the optimizer as a new (last) param group.
  int64_t unfreeze_backbone_at_epoch = 10;
  /// Per-epoch multiplier of the backbone lr; called with epoch + 1, as Lightning does.
  std::function<double(int64_t)> lambda_func = multiplicative;
  /// Initial backbone lr = group 0's lr times this, unless backbone_initial_lr is set.
  double backbone_initial_ratio_lr = 10e-2;
  std::optional<double> backbone_initial_lr;
  /// Cap the backbone lr at group 0's lr.
  bool should_align = true;
  /// Forwarded to unfreeze_and_add_param_group; no effect there since an explicit lr is always passed (as in
  /// Lightning).
  double initial_denom_lr = 10.0;
  /// Whether the backbone's BatchNorm parameters join the new group.
  bool train_bn = true;
  /// Log "Current lr: ..., Backbone lr: ..." (info) each epoch from the unfreeze epoch on.
  bool verbose = false;
  /// Digits of the lrs in the verbose message (Python's round()).
  int rounding = 12;
};

class BackboneFinetuning : public BaseFinetuning {
 public:
  explicit BackboneFinetuning(BackboneFinetuningOptions options = {});
  const BackboneFinetuningOptions& options() const { return options_; }

  /// Freezes the module's "backbone" child (BatchNorm layers stay trainable).
  void freeze_before_training(Module& module) override;
  void finetune_function(Module& module, int64_t epoch, torch::optim::Optimizer& optimizer) override;
  /// MisconfigurationError unless the module has a "backbone" child; then restores groups on resume.
  void on_fit_start(Trainer& trainer, Module& module) override;
  /// Adds "previous_backbone_lr" (None before the backbone is unfrozen).
  StateDict state_dict() override;
  void load_state_dict(const StateDict& state) override;

  std::optional<double> previous_backbone_lr() const { return previous_backbone_lr_; }

 private:
  BackboneFinetuningOptions options_;
  std::optional<double> previous_backbone_lr_;
};

}  // namespace volt
