// Learning-rate schedulers with PyTorch 1.13's formulas (including its chainable, recursive forms, so the lrs match
// Python's bit for bit) and its state_dict layout (same keys, order and types), so scheduler state moves between
// volt and Python in both directions.
#pragma once
#include <c10/core/Scalar.h>
#include <c10/util/Optional.h>
#include <torch/arg.h>
#include <torch/optim/optimizer.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "volt/state.hpp"

namespace volt {

/// Base of volt's LR schedulers (libtorch 1.13's own schedulers cannot save their state): PyTorch's _LRScheduler.
/// The constructor records the optimizer's initial lrs (`initial_lr` in each param group, as PyTorch does; see
/// `param_group_extras`). Each concrete constructor then performs PyTorch's initial step: `last_epoch` becomes 0,
/// the step count 1, and the lrs take their epoch-0 values.
class LRScheduler {
 public:
  explicit LRScheduler(torch::optim::Optimizer& optimizer);
  virtual ~LRScheduler() = default;

  /// One scheduler period (an epoch or a step, as configured): PyTorch's `scheduler.step()`.
  virtual void step();
  /// Steps with the monitored value (ReduceLROnPlateau); other schedulers throw MisconfigurationError.
  virtual void step(double metric);
  /// True for schedulers that need a monitored metric (ReduceLROnPlateau).
  virtual bool needs_metric() const { return false; }
  /// The Python class name, e.g. "StepLR" (used in messages and by LearningRateMonitor).
  virtual std::string class_name() const = 0;

  /// PyTorch's `scheduler.state_dict()` layout: every attribute but the optimizer, in Python's order and types.
  virtual StateDict state_dict() const;
  /// PyTorch's `load_state_dict` (which is `__dict__.update`): keys in `state` overwrite the scheduler's attributes;
  /// unknown keys are ignored. Throws CheckpointError naming the key whose value has the wrong type or length.
  /// Like PyTorch, it does not touch the optimizer: load the optimizer's state (its lrs) first.
  virtual void load_state_dict(const StateDict& state);

  /// The lr of every param group after the last step (PyTorch's `get_last_lr()`).
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  torch::optim::Optimizer& optimizer() const { return *optimizer_; }
  /// PyTorch's `last_epoch`: the number of step() calls since construction (0 right after construction).
  int64_t last_epoch() const { return last_epoch_; }
  /// PyTorch's `base_lrs`: each group's `initial_lr`.
  const std::vector<double>& base_lrs() const { return base_lrs_; }

 protected:
  /// For ReduceLROnPlateau, which in PyTorch is not an _LRScheduler: no `initial_lr`, no initial step.
  struct PlateauTag {};
  LRScheduler(torch::optim::Optimizer& optimizer, PlateauTag);

  /// PyTorch's `get_lr()` (the chainable form): the new lr of each group, after step() advanced `last_epoch_`.
  virtual std::vector<double> compute_lr() = 0;
  /// PyTorch's `_initial_step()`. Concrete constructors call it last: a virtual call from the base constructor
  /// would not reach them.
  void initial_step();
  /// Appends the _LRScheduler attributes (base_lrs ... _last_lr) in PyTorch's order.
  void write_base_state(StateDict& out) const;
  /// Reads the attributes written by write_base_state.
  void read_base_state(const StateDict& in);
  /// "<ClassName> state_dict['key']", for error messages.
  std::string where(const std::string& key) const;
  /// The current lr of param group `i` (`group['lr']`).
  double group_lr(size_t i) const;
  size_t num_groups() const { return optimizer_->param_groups().size(); }

  torch::optim::Optimizer* optimizer_;
  std::vector<double> base_lrs_;
  int64_t last_epoch_ = -1;
  std::vector<double> last_lr_;
  int64_t step_count_ = 0;
  bool verbose_ = false;  // kept for the state dict; volt does not print lr changes
};

/// Multiplies each group's lr by `gamma` every `step_size` steps.
class StepLR : public LRScheduler {
 public:
  StepLR(torch::optim::Optimizer& optimizer, int64_t step_size, double gamma = 0.1);
  std::string class_name() const override { return "StepLR"; }
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;

 protected:
  std::vector<double> compute_lr() override;

 private:
  int64_t step_size_;
  double gamma_;
};

/// Multiplies each group's lr by `gamma` at each milestone (a milestone listed k times multiplies by gamma^k).
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(torch::optim::Optimizer& optimizer, const std::vector<int64_t>& milestones, double gamma = 0.1);
  std::string class_name() const override { return "MultiStepLR"; }
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;

 protected:
  std::vector<double> compute_lr() override;

 private:
  /// Python's Counter: milestone -> count, in first-seen order (saved as a dict {int: int}).
  std::vector<std::pair<int64_t, int64_t>> milestones_;
  double gamma_;
};

/// Multiplies each group's lr by `gamma` every step.
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(torch::optim::Optimizer& optimizer, double gamma);
  std::string class_name() const override { return "ExponentialLR"; }
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;

 protected:
  std::vector<double> compute_lr() override;

 private:
  double gamma_;
};

/// Cosine annealing from each group's initial lr to `eta_min` over `T_max` steps (PyTorch's recursive form).
/// `eta_min` is a Scalar so that an integer keeps Python's int type in the state dict (PyTorch's default is int 0).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(torch::optim::Optimizer& optimizer, int64_t T_max, c10::Scalar eta_min = 0);
  std::string class_name() const override { return "CosineAnnealingLR"; }
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;

 protected:
  std::vector<double> compute_lr() override;

 private:
  int64_t T_max_;
  c10::Scalar eta_min_;
};

/// Scales each group's lr linearly from `start_factor` to `end_factor` over `total_iters` steps.
class LinearLR : public LRScheduler {
 public:
  explicit LinearLR(torch::optim::Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0,
                    int64_t total_iters = 5);
  std::string class_name() const override { return "LinearLR"; }
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;

 protected:
  std::vector<double> compute_lr() override;

 private:
  double start_factor_;
  double end_factor_;
  int64_t total_iters_;
};

/// Scales each group's lr by `factor` for the first `total_iters` steps.
class ConstantLR : public LRScheduler {
 public:
  explicit ConstantLR(torch::optim::Optimizer& optimizer, double factor = 1.0 / 3, int64_t total_iters = 5);
  std::string class_name() const override { return "ConstantLR"; }
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;

 protected:
  std::vector<double> compute_lr() override;

 private:
  double factor_;
  int64_t total_iters_;
};

/// Sets each group's lr to its initial lr times `lr_lambda(last_epoch)`. Like PyTorch, the state dict has
/// `lr_lambdas: [None, ...]`: functions are not state and must be passed to the constructor again.
class LambdaLR : public LRScheduler {
 public:
  using Lambda = std::function<double(int64_t)>;
  /// One function for every param group.
  LambdaLR(torch::optim::Optimizer& optimizer, Lambda lr_lambda);
  /// One function per param group.
  LambdaLR(torch::optim::Optimizer& optimizer, std::vector<Lambda> lr_lambdas);
  std::string class_name() const override { return "LambdaLR"; }
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;

 protected:
  std::vector<double> compute_lr() override;

 private:
  std::vector<Lambda> lr_lambdas_;
};

/// OneCycleLR's parameters (PyTorch's keyword arguments and defaults). Give `total_steps`, or `epochs` and
/// `steps_per_epoch`.
struct OneCycleLROptions {
  explicit OneCycleLROptions(double max_lr) : max_lr_(max_lr) {}
  /// Peak lr of every group (or see `max_lrs`).
  TORCH_ARG(double, max_lr);
  /// Peak lr per group; overrides `max_lr` when not empty.
  TORCH_ARG(std::vector<double>, max_lrs) = {};
  TORCH_ARG(c10::optional<int64_t>, total_steps) = c10::nullopt;
  TORCH_ARG(c10::optional<int64_t>, epochs) = c10::nullopt;
  TORCH_ARG(c10::optional<int64_t>, steps_per_epoch) = c10::nullopt;
  /// Fraction of the cycle spent increasing the lr.
  TORCH_ARG(double, pct_start) = 0.3;
  /// "cos" or "linear".
  TORCH_ARG(std::string, anneal_strategy) = "cos";
  /// Cycle SGD/RMSprop `momentum`, or the first of Adam/AdamW `betas`, inversely to the lr.
  TORCH_ARG(bool, cycle_momentum) = true;
  TORCH_ARG(double, base_momentum) = 0.85;
  TORCH_ARG(double, max_momentum) = 0.95;
  /// initial_lr = max_lr / div_factor.
  TORCH_ARG(double, div_factor) = 25.;
  /// min_lr = initial_lr / final_div_factor.
  TORCH_ARG(double, final_div_factor) = 1e4;
  /// Three phases (up, back down to initial_lr, then to min_lr) instead of two.
  TORCH_ARG(bool, three_phase) = false;
};

/// The 1cycle policy. Keeps `initial_lr`, `max_lr`, `min_lr` (and `max_momentum`, `base_momentum`) in the param
/// groups, as PyTorch does, and reads them from there at every step.
/// The one state-dict difference from torch 1.13: its `anneal_func` (a bound method, which libtorch cannot pickle)
/// is written as `_anneal_func_type: "cos"|"linear"`, the key torch >= 2.1 uses. PyTorch 1.13 ignores it on load
/// and keeps the function it was constructed with.
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(torch::optim::Optimizer& optimizer, const OneCycleLROptions& options);
  std::string class_name() const override { return "OneCycleLR"; }
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;

 protected:
  std::vector<double> compute_lr() override;

 private:
  struct Phase {
    double end_step;
    bool end_step_is_int;  // the last phase's end_step is an int in Python, the others are floats
    std::string start_lr, end_lr, start_momentum, end_momentum;  // param-group keys
  };
  double anneal(double start, double end, double pct) const;

  int64_t total_steps_;
  std::vector<Phase> phases_;
  std::string anneal_strategy_;
  bool cycle_momentum_;
  bool use_beta1_ = false;
};

/// ReduceLROnPlateau's parameters (PyTorch's keyword arguments and defaults).
struct ReduceLROnPlateauOptions {
  /// "min" or "max".
  TORCH_ARG(std::string, mode) = "min";
  /// new_lr = lr * factor; must be < 1.
  TORCH_ARG(double, factor) = 0.1;
  TORCH_ARG(int64_t, patience) = 10;
  TORCH_ARG(double, threshold) = 1e-4;
  /// "rel" or "abs".
  TORCH_ARG(std::string, threshold_mode) = "rel";
  TORCH_ARG(int64_t, cooldown) = 0;
  /// Lower bound of every group's lr (a Scalar so that PyTorch's default int 0 stays an int in the state dict).
  TORCH_ARG(c10::Scalar, min_lr) = 0;
  /// Lower bound per group; overrides `min_lr` when not empty.
  TORCH_ARG(std::vector<c10::Scalar>, min_lrs) = {};
  /// Reductions smaller than eps are skipped.
  TORCH_ARG(double, eps) = 1e-8;
};

/// Reduces the lr by `factor` after `patience` steps without improvement of the monitored metric.
/// Call step(metric); step() without a metric throws.
class ReduceLROnPlateau : public LRScheduler {
 public:
  explicit ReduceLROnPlateau(torch::optim::Optimizer& optimizer,
                             const ReduceLROnPlateauOptions& options = ReduceLROnPlateauOptions());
  using LRScheduler::step;
  void step() override;
  void step(double metric) override;
  bool needs_metric() const override { return true; }
  std::string class_name() const override { return "ReduceLROnPlateau"; }
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;

  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  bool in_cooldown() const { return cooldown_counter_ > 0; }

 protected:
  std::vector<double> compute_lr() override;  // unused: the lr changes only in step(metric)

 private:
  bool is_better(double a, double best) const;
  void reduce_lr();
  void init_is_better(const std::string& what);

  double factor_;
  std::vector<c10::Scalar> min_lrs_;
  int64_t patience_;
  int64_t cooldown_;
  int64_t cooldown_counter_ = 0;
  std::string mode_;
  double threshold_;
  std::string threshold_mode_;
  double best_;
  int64_t num_bad_epochs_ = 0;
  double mode_worse_;
  double eps_;
  bool stepped_ = false;  // PyTorch has no `_last_lr` attribute (nor state key) before the first step
};

}  // namespace volt
