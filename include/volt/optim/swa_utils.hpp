// PyTorch 1.13's torch.optim.swa_utils.SWALR: anneals each param group's lr from its current value to `swa_lr`
// over `anneal_epochs` steps ("cos" or "linear"), then holds it. Used by StochasticWeightAveraging.
#pragma once
#include <string>
#include <vector>

#include "volt/optim/lr_scheduler.hpp"

namespace volt {

class SWALR : public LRScheduler {
 public:
  /// `swa_lrs`: one value for every group or one per group (PyTorch's ValueError otherwise, here
  /// MisconfigurationError). Writes `swa_lr` into each group's extras. `last_epoch` other than -1 requires
  /// `initial_lr` in every group, as in PyTorch (StochasticWeightAveraging sets it to the swa lr).
  SWALR(torch::optim::Optimizer& optimizer, std::vector<double> swa_lrs, int64_t anneal_epochs = 10,
        std::string anneal_strategy = "cos", int64_t last_epoch = -1);
  std::string class_name() const override { return "SWALR"; }
  /// PyTorch's layout without `anneal_func` (a Python function; PyTorch keeps the one it was constructed with
  /// when the key is missing): anneal_epochs, base_lrs, last_epoch, verbose, _step_count, ...
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;
  int64_t step_count() const { return step_count_; }
  const std::string& anneal_strategy() const { return anneal_strategy_; }

 protected:
  std::vector<double> compute_lr() override;

 private:
  double anneal(double t) const;
  int64_t anneal_epochs_;
  std::string anneal_strategy_;
};

}  // namespace volt
