// Learning-rate schedulers with PyTorch's formulas and state_dict layout, and optimizer state in PyTorch's
// Python layout ({"state": {param_index: {...}}, "param_groups": [{..., "params": [indices]}]}), so checkpoints
// move between volt and Python in both directions.
#pragma once
#include <torch/optim/optimizer.h>

#include <memory>
#include <string>
#include <vector>

#include "volt/state.hpp"

namespace volt {

/// Base of volt's LR schedulers (libtorch 1.13's own schedulers cannot save their state).
/// The constructor records the optimizer's initial lrs (`initial_lr` in each param group, as PyTorch does).
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

  /// PyTorch's `scheduler.state_dict()` layout: every attribute but the optimizer.
  virtual StateDict state_dict() const;
  virtual void load_state_dict(const StateDict& state);

  /// The lr of every param group after the last step (PyTorch's `get_last_lr()`).
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  torch::optim::Optimizer& optimizer() const { return *optimizer_; }

 protected:
  torch::optim::Optimizer* optimizer_;
  std::vector<double> base_lrs_;
  int64_t last_epoch_ = 0;
  std::vector<double> last_lr_;
};

/// The optimizer's state in PyTorch's Python layout (`torch.optim.Optimizer.state_dict()`), for SGD, Adam, AdamW,
/// RMSprop and Adagrad. Throws CheckpointError for other optimizer types.
StateDict optimizer_state_dict(const torch::optim::Optimizer& optimizer);
/// Loads a dict in PyTorch's Python layout into `optimizer` (hyper-parameters and per-parameter state).
/// Throws CheckpointError naming the key that is missing or mistyped.
void load_optimizer_state_dict(torch::optim::Optimizer& optimizer, const StateDict& state);

}  // namespace volt
