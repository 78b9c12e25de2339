// torch/optim/swa_utils.py (1.13) SWALR, in Python's evaluation order so the lrs match bit for bit.
#include "volt/optim/swa_utils.hpp"

#include <algorithm>
#include <cmath>

#include "ivalue_util.hpp"
#include "volt/error.hpp"
#include "volt/optim/optimizer_state.hpp"

namespace volt {

using detail::concat;

namespace {
constexpr double kPi = 3.141592653589793;  // Python's math.pi

std::vector<double> format_param(const torch::optim::Optimizer& optimizer, std::vector<double> lrs) {
  const size_t groups = optimizer.param_groups().size();
  VOLT_CHECK(!lrs.empty(), "SWALR: swa_lr is empty; give one lr or one per param group");
  if (lrs.size() == 1) return std::vector<double>(groups, lrs[0]);
  VOLT_CHECK(lrs.size() == groups, "swa_lr must have the same length as optimizer.param_groups: swa_lr has ",
             lrs.size(), ", optimizer.param_groups has ", groups);
  return lrs;
}

// _LRScheduler.__init__ with last_epoch != -1 reads group['initial_lr'] (KeyError if missing).
torch::optim::Optimizer& require_initial_lr(torch::optim::Optimizer& optimizer, int64_t last_epoch) {
  if (last_epoch != -1)
    for (size_t i = 0; i < optimizer.param_groups().size(); ++i)
      VOLT_CHECK(param_group_extras(static_cast<const torch::optim::OptimizerParamGroup&>(
                     optimizer.param_groups()[i])).contains("initial_lr"),
                 "param 'initial_lr' is not specified in param_groups[", i, "] when resuming an optimizer");
  return optimizer;
}
}  // namespace

SWALR::SWALR(torch::optim::Optimizer& optimizer, std::vector<double> swa_lrs, int64_t anneal_epochs,
             std::string anneal_strategy, int64_t last_epoch)
    : LRScheduler(require_initial_lr(optimizer, last_epoch)), anneal_epochs_(anneal_epochs),
      anneal_strategy_(std::move(anneal_strategy)) {
  // PyTorch sets swa_lr before its checks; the order only matters for the message, not the outcome.
  swa_lrs = format_param(optimizer, std::move(swa_lrs));
  for (size_t i = 0; i < swa_lrs.size(); ++i) param_group_extras(optimizer.param_groups()[i]).set("swa_lr", swa_lrs[i]);
  VOLT_CHECK(anneal_strategy_ == "cos" || anneal_strategy_ == "linear",
             "anneal_strategy must by one of 'cos' or 'linear', instead got ", anneal_strategy_);
  VOLT_CHECK(anneal_epochs_ >= 0, "anneal_epochs must be equal or greater than 0, got ", anneal_epochs_);
  last_epoch_ = last_epoch;
  initial_step();
}

double SWALR::anneal(double t) const {
  return anneal_strategy_ == "cos" ? (1 - std::cos(kPi * t)) / 2 : t;
}

std::vector<double> SWALR::compute_lr() {
  int64_t step = step_count_ - 1;
  if (anneal_epochs_ == 0) step = std::max<int64_t>(1, step);
  const double denom = static_cast<double>(std::max<int64_t>(1, anneal_epochs_));
  const double prev_t = std::max(0.0, std::min(1.0, static_cast<double>(step - 1) / denom));
  const double prev_alpha = anneal(prev_t);
  const double t = std::max(0.0, std::min(1.0, static_cast<double>(step) / denom));
  const double alpha = anneal(t);
  std::vector<double> out;
  auto& groups = optimizer_->param_groups();
  for (size_t i = 0; i < groups.size(); ++i) {
    const double lr = group_lr(i);
    const double swa_lr = detail::to_double(param_group_extras(groups[i]).at("swa_lr"), "param group 'swa_lr'");
    // _get_initial_lr
    const double prev_lr = prev_alpha == 1 ? swa_lr : (lr - prev_alpha * swa_lr) / (1 - prev_alpha);
    out.push_back(swa_lr * alpha + prev_lr * (1 - alpha));
  }
  return out;
}

StateDict SWALR::state_dict() const {
  StateDict out{{"anneal_epochs", anneal_epochs_}};
  write_base_state(out);
  return out;
}

void SWALR::load_state_dict(const StateDict& state) {
  int64_t anneal_epochs = state.contains("anneal_epochs")
                              ? detail::to_int(state.at("anneal_epochs"), where("anneal_epochs"))
                              : anneal_epochs_;
  read_base_state(state);
  anneal_epochs_ = anneal_epochs;
}

}  // namespace volt
