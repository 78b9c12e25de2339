// PyTorch 1.13's lr schedulers (torch/optim/lr_scheduler.py). The formulas are transcribed in Python's evaluation
// order: the chainable forms multiply the group's current lr, so the lrs match Python's bit for bit only if every
// operation happens in the same order on the same doubles. Python's ints convert to double exactly here.
#include "volt/optim/lr_scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ivalue_util.hpp"
#include "param_groups.hpp"
#include "volt/error.hpp"
#include "volt/optim/optimizer_state.hpp"

namespace volt {

using c10::IValue;
using detail::concat;

namespace {

constexpr double kPi = 3.141592653589793;  // Python's math.pi

/// PyTorch's schedulers write attributes of `self.optimizer.param_groups[i]`; volt keeps the ones libtorch's
/// options lack (initial_lr, max_lr, ...) in the group's extras.
double extra_number(torch::optim::OptimizerParamGroup& group, const std::string& key, const std::string& who) {
  StateDict extras = param_group_extras(group);
  VOLT_CHECK(extras.contains(key), who, ": param group has no '", key, "' (PyTorch's KeyError); was the optimizer "
             "state loaded from a checkpoint of another scheduler?");
  return detail::to_double(extras.at(key), who + ": param group '" + key + "'");
}

}  // namespace

// ---- LRScheduler ------------------------------------------------------------------------------------------------

LRScheduler::LRScheduler(torch::optim::Optimizer& optimizer) : optimizer_(&optimizer) {
  detail::remember_group_layouts(optimizer);  // before this or a derived class changes any value
  // _LRScheduler.__init__ with last_epoch=-1: group.setdefault('initial_lr', group['lr'])
  for (auto& group : optimizer.param_groups()) {
    StateDict extras = param_group_extras(group);
    if (!extras.contains("initial_lr")) extras.set("initial_lr", group.options().get_lr());
    base_lrs_.push_back(detail::to_double(extras.at("initial_lr"), "param group 'initial_lr'"));
  }
}

LRScheduler::LRScheduler(torch::optim::Optimizer& optimizer, PlateauTag) : optimizer_(&optimizer) {
  detail::remember_group_layouts(optimizer);
}

void LRScheduler::initial_step() {
  step_count_ = 0;
  step();
}

void LRScheduler::step() {
  // PyTorch also warns when this runs before optimizer.step(); libtorch's optimizers cannot report their steps.
  ++step_count_;
  ++last_epoch_;
  std::vector<double> values = compute_lr();
  auto& groups = optimizer_->param_groups();
  for (size_t i = 0; i < groups.size() && i < values.size(); ++i) groups[i].options().set_lr(values[i]);
  last_lr_.clear();
  for (size_t i = 0; i < groups.size(); ++i) last_lr_.push_back(group_lr(i));
}

void LRScheduler::step(double) {
  throw MisconfigurationError(concat(class_name(), ".step(metric): ", class_name(),
                                     " does not take a metric; call step() (only ReduceLROnPlateau monitors one)"));
}

double LRScheduler::group_lr(size_t i) const { return optimizer_->param_groups().at(i).options().get_lr(); }

std::string LRScheduler::where(const std::string& key) const {
  return concat(class_name(), " state_dict['", key, "']");
}

StateDict LRScheduler::state_dict() const {
  StateDict out;
  write_base_state(out);
  return out;
}

void LRScheduler::load_state_dict(const StateDict& state) { read_base_state(state); }

void LRScheduler::write_base_state(StateDict& out) const {
  // Python's attribute order: base_lrs and last_epoch in __init__, verbose, then _initial_step's _step_count,
  // step()'s _get_lr_called_within_step (False outside step) and _last_lr.
  out.set("base_lrs", detail::py_list(base_lrs_));
  out.set("last_epoch", last_epoch_);
  out.set("verbose", verbose_);
  out.set("_step_count", step_count_);
  out.set("_get_lr_called_within_step", false);
  out.set("_last_lr", detail::py_list(last_lr_));
}

void LRScheduler::read_base_state(const StateDict& in) {
  // last_epoch and base_lrs drive every formula, so they must be there; the rest is updated if present. Their
  // lengths are not checked against the optimizer: groups added after the scheduler was built (Lightning's
  // BaseFinetuning) make them shorter in PyTorch too, and the formulas zip them with the groups as Python does.
  auto base_lrs = detail::to_double_list(detail::required(in, "base_lrs", where("base_lrs")), where("base_lrs"),
                                         detail::kAnySize);
  int64_t last_epoch = detail::to_int(detail::required(in, "last_epoch", where("last_epoch")), where("last_epoch"));
  int64_t step_count = in.contains("_step_count") ? detail::to_int(in.at("_step_count"), where("_step_count"))
                                                  : step_count_;
  bool verbose = in.contains("verbose") ? detail::to_bool(in.at("verbose"), where("verbose")) : verbose_;
  std::vector<double> last_lr = in.contains("_last_lr")
                                    ? detail::to_double_list(in.at("_last_lr"), where("_last_lr"), detail::kAnySize)
                                    : last_lr_;
  base_lrs_ = std::move(base_lrs);
  last_epoch_ = last_epoch;
  step_count_ = step_count;
  verbose_ = verbose;
  last_lr_ = std::move(last_lr);
}

// ---- StepLR -----------------------------------------------------------------------------------------------------

namespace {
torch::optim::Optimizer& check_step_lr(torch::optim::Optimizer& o, int64_t step_size) {
  // PyTorch fails later with ZeroDivisionError; in C++ `% 0` is undefined, so refuse it here.
  VOLT_CHECK(step_size > 0, "StepLR: step_size must be a positive integer, got ", step_size);
  return o;
}
}  // namespace

StepLR::StepLR(torch::optim::Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(check_step_lr(optimizer, step_size)), step_size_(step_size), gamma_(gamma) {
  initial_step();
}

std::vector<double> StepLR::compute_lr() {
  std::vector<double> out;
  bool decay = last_epoch_ != 0 && last_epoch_ % step_size_ == 0;  // Python's % agrees on == 0
  for (size_t i = 0; i < num_groups(); ++i) out.push_back(decay ? group_lr(i) * gamma_ : group_lr(i));
  return out;
}

StateDict StepLR::state_dict() const {
  StateDict out{{"step_size", step_size_}, {"gamma", gamma_}};
  write_base_state(out);
  return out;
}

void StepLR::load_state_dict(const StateDict& state) {
  int64_t step_size =
      state.contains("step_size") ? detail::to_int(state.at("step_size"), where("step_size")) : step_size_;
  if (step_size <= 0) throw CheckpointError(concat(where("step_size"), ": must be positive, found ", step_size));
  double gamma = state.contains("gamma") ? detail::to_double(state.at("gamma"), where("gamma")) : gamma_;
  read_base_state(state);
  step_size_ = step_size;
  gamma_ = gamma;
}

// ---- MultiStepLR ------------------------------------------------------------------------------------------------

MultiStepLR::MultiStepLR(torch::optim::Optimizer& optimizer, const std::vector<int64_t>& milestones, double gamma)
    : LRScheduler(optimizer), gamma_(gamma) {
  for (int64_t m : milestones) {  // Counter(milestones)
    auto it = std::find_if(milestones_.begin(), milestones_.end(), [&](const auto& kv) { return kv.first == m; });
    if (it == milestones_.end())
      milestones_.emplace_back(m, 1);
    else
      ++it->second;
  }
  initial_step();
}

std::vector<double> MultiStepLR::compute_lr() {
  auto it = std::find_if(milestones_.begin(), milestones_.end(),
                         [&](const auto& kv) { return kv.first == last_epoch_; });
  std::vector<double> out;
  for (size_t i = 0; i < num_groups(); ++i)
    out.push_back(it == milestones_.end() ? group_lr(i)
                                          : group_lr(i) * std::pow(gamma_, static_cast<double>(it->second)));
  return out;
}

StateDict MultiStepLR::state_dict() const {
  // A Counter is a dict subclass; libtorch cannot pickle the class, so it is written as a plain dict {int: int},
  // which PyTorch's get_lr() uses the same way (only the deprecated step(epoch) needs Counter.elements()).
  c10::impl::GenericDict counter(c10::IntType::get(), c10::IntType::get());
  for (const auto& kv : milestones_) counter.insert(kv.first, kv.second);
  StateDict out{{"milestones", counter}, {"gamma", gamma_}};
  write_base_state(out);
  return out;
}

void MultiStepLR::load_state_dict(const StateDict& state) {
  auto milestones = milestones_;
  if (state.contains("milestones")) {
    IValue v = state.at("milestones");
    if (!v.isGenericDict()) detail::bad_value(where("milestones"), "a dict {milestone: count}", v);
    milestones.clear();
    for (const auto& kv : v.toGenericDict()) {
      int64_t m = detail::to_int(kv.key(), where("milestones") + " key");
      milestones.emplace_back(m, detail::to_int(kv.value(), concat(where("milestones"), "[", m, "]")));
    }
  }
  double gamma = state.contains("gamma") ? detail::to_double(state.at("gamma"), where("gamma")) : gamma_;
  read_base_state(state);
  milestones_ = std::move(milestones);
  gamma_ = gamma;
}

// ---- ExponentialLR ----------------------------------------------------------------------------------------------

ExponentialLR::ExponentialLR(torch::optim::Optimizer& optimizer, double gamma)
    : LRScheduler(optimizer), gamma_(gamma) {
  initial_step();
}

std::vector<double> ExponentialLR::compute_lr() {
  std::vector<double> out;
  for (size_t i = 0; i < num_groups(); ++i) out.push_back(last_epoch_ == 0 ? group_lr(i) : group_lr(i) * gamma_);
  return out;
}

StateDict ExponentialLR::state_dict() const {
  StateDict out{{"gamma", gamma_}};
  write_base_state(out);
  return out;
}

void ExponentialLR::load_state_dict(const StateDict& state) {
  double gamma = state.contains("gamma") ? detail::to_double(state.at("gamma"), where("gamma")) : gamma_;
  read_base_state(state);
  gamma_ = gamma;
}

// ---- CosineAnnealingLR ------------------------------------------------------------------------------------------

namespace {
torch::optim::Optimizer& check_cosine(torch::optim::Optimizer& o, int64_t T_max) {
  // PyTorch divides by T_max (ZeroDivisionError at the first step); C++ would take `% 0`.
  VOLT_CHECK(T_max > 0, "CosineAnnealingLR: T_max must be a positive integer, got ", T_max);
  return o;
}
}  // namespace

CosineAnnealingLR::CosineAnnealingLR(torch::optim::Optimizer& optimizer, int64_t T_max, c10::Scalar eta_min)
    : LRScheduler(check_cosine(optimizer, T_max)), T_max_(T_max), eta_min_(eta_min) {
  initial_step();
}

std::vector<double> CosineAnnealingLR::compute_lr() {
  const double eta_min = eta_min_.toDouble();
  const double T_max = static_cast<double>(T_max_);
  const double epoch = static_cast<double>(last_epoch_);
  // The two branches that read base_lrs zip them with the groups (Python's zip stops at the shorter).
  const size_t zipped = std::min(num_groups(), base_lrs_.size());
  std::vector<double> out;
  if (last_epoch_ == 0) {
    for (size_t i = 0; i < num_groups(); ++i) out.push_back(group_lr(i));
  } else if (step_count_ == 1 && last_epoch_ > 0) {
    for (size_t i = 0; i < zipped; ++i)
      out.push_back(eta_min + (base_lrs_[i] - eta_min) * (1 + std::cos(epoch * kPi / T_max)) / 2);
  } else if ((last_epoch_ - 1 - T_max_) % (2 * T_max_) == 0) {
    for (size_t i = 0; i < zipped; ++i)
      out.push_back(group_lr(i) + (base_lrs_[i] - eta_min) * (1 - std::cos(kPi / T_max)) / 2);
  } else {
    for (size_t i = 0; i < num_groups(); ++i)
      out.push_back((1 + std::cos(kPi * epoch / T_max)) / (1 + std::cos(kPi * (epoch - 1) / T_max)) *
                        (group_lr(i) - eta_min) +
                    eta_min);
  }
  return out;
}

StateDict CosineAnnealingLR::state_dict() const {
  StateDict out{{"T_max", T_max_}, {"eta_min", IValue(eta_min_)}};
  write_base_state(out);
  return out;
}

void CosineAnnealingLR::load_state_dict(const StateDict& state) {
  int64_t T_max = state.contains("T_max") ? detail::to_int(state.at("T_max"), where("T_max")) : T_max_;
  if (T_max <= 0) throw CheckpointError(concat(where("T_max"), ": must be positive, found ", T_max));
  c10::Scalar eta_min = state.contains("eta_min") ? detail::to_scalar(state.at("eta_min"), where("eta_min")) : eta_min_;
  read_base_state(state);
  T_max_ = T_max;
  eta_min_ = eta_min;
}

// ---- LinearLR ---------------------------------------------------------------------------------------------------

namespace {
torch::optim::Optimizer& check_linear(torch::optim::Optimizer& o, double start_factor, double end_factor) {
  // PyTorch 1.13 allows start_factor 0 and then divides by zero at the first step; torch >= 2.0 refuses it.
  VOLT_CHECK(start_factor > 0 && start_factor <= 1,
             "LinearLR: Starting multiplicative factor expected to be greater than 0 and less or equal to 1, "
             "got start_factor=", start_factor);
  VOLT_CHECK(end_factor >= 0 && end_factor <= 1,
             "LinearLR: Ending multiplicative factor expected to be between 0 and 1, got end_factor=", end_factor);
  return o;
}
}  // namespace

LinearLR::LinearLR(torch::optim::Optimizer& optimizer, double start_factor, double end_factor, int64_t total_iters)
    : LRScheduler(check_linear(optimizer, start_factor, end_factor)),
      start_factor_(start_factor),
      end_factor_(end_factor),
      total_iters_(total_iters) {
  initial_step();
}

std::vector<double> LinearLR::compute_lr() {
  std::vector<double> out;
  for (size_t i = 0; i < num_groups(); ++i) {
    const double lr = group_lr(i);
    if (last_epoch_ == 0) {
      out.push_back(lr * start_factor_);
    } else if (last_epoch_ > total_iters_) {
      out.push_back(lr);
    } else {
      out.push_back(lr * (1. + (end_factor_ - start_factor_) /
                                   (static_cast<double>(total_iters_) * start_factor_ +
                                    static_cast<double>(last_epoch_ - 1) * (end_factor_ - start_factor_))));
    }
  }
  return out;
}

StateDict LinearLR::state_dict() const {
  StateDict out{{"start_factor", start_factor_}, {"end_factor", end_factor_}, {"total_iters", total_iters_}};
  write_base_state(out);
  return out;
}

void LinearLR::load_state_dict(const StateDict& state) {
  auto number = [&](const char* key, double fallback) {
    return state.contains(key) ? detail::to_double(state.at(key), where(key)) : fallback;
  };
  double start_factor = number("start_factor", start_factor_);
  double end_factor = number("end_factor", end_factor_);
  int64_t total_iters =
      state.contains("total_iters") ? detail::to_int(state.at("total_iters"), where("total_iters")) : total_iters_;
  read_base_state(state);
  start_factor_ = start_factor;
  end_factor_ = end_factor;
  total_iters_ = total_iters;
}

// ---- ConstantLR -------------------------------------------------------------------------------------------------

namespace {
torch::optim::Optimizer& check_constant(torch::optim::Optimizer& o, double factor) {
  // PyTorch allows 0 and then divides by it at total_iters (ZeroDivisionError); refuse it up front.
  VOLT_CHECK(factor > 0 && factor <= 1,
             "ConstantLR: Constant multiplicative factor expected to be greater than 0 and less or equal to 1, "
             "got factor=", factor);
  return o;
}
}  // namespace

ConstantLR::ConstantLR(torch::optim::Optimizer& optimizer, double factor, int64_t total_iters)
    : LRScheduler(check_constant(optimizer, factor)), factor_(factor), total_iters_(total_iters) {
  initial_step();
}

std::vector<double> ConstantLR::compute_lr() {
  std::vector<double> out;
  for (size_t i = 0; i < num_groups(); ++i) {
    const double lr = group_lr(i);
    if (last_epoch_ == 0)
      out.push_back(lr * factor_);
    else if (last_epoch_ != total_iters_)
      out.push_back(lr);
    else
      out.push_back(lr * (1.0 / factor_));
  }
  return out;
}

StateDict ConstantLR::state_dict() const {
  StateDict out{{"factor", factor_}, {"total_iters", total_iters_}};
  write_base_state(out);
  return out;
}

void ConstantLR::load_state_dict(const StateDict& state) {
  double factor = state.contains("factor") ? detail::to_double(state.at("factor"), where("factor")) : factor_;
  int64_t total_iters =
      state.contains("total_iters") ? detail::to_int(state.at("total_iters"), where("total_iters")) : total_iters_;
  read_base_state(state);
  factor_ = factor;
  total_iters_ = total_iters;
}

// ---- LambdaLR ---------------------------------------------------------------------------------------------------

namespace {
torch::optim::Optimizer& check_lambdas(torch::optim::Optimizer& o, const std::vector<LambdaLR::Lambda>& lambdas) {
  VOLT_CHECK(lambdas.size() == o.param_groups().size(), "LambdaLR: Expected ", o.param_groups().size(),
             " lr_lambdas (one per param group), but got ", lambdas.size());
  for (size_t i = 0; i < lambdas.size(); ++i)
    VOLT_CHECK(static_cast<bool>(lambdas[i]), "LambdaLR: lr_lambdas[", i, "] is empty");
  return o;
}
}  // namespace

LambdaLR::LambdaLR(torch::optim::Optimizer& optimizer, Lambda lr_lambda)
    : LambdaLR(optimizer, std::vector<Lambda>(optimizer.param_groups().size(), lr_lambda)) {}

LambdaLR::LambdaLR(torch::optim::Optimizer& optimizer, std::vector<Lambda> lr_lambdas)
    : LRScheduler(check_lambdas(optimizer, lr_lambdas)), lr_lambdas_(std::move(lr_lambdas)) {
  initial_step();
}

std::vector<double> LambdaLR::compute_lr() {
  std::vector<double> out;
  // zip(lr_lambdas, base_lrs): groups added after construction keep their lr, as in PyTorch.
  for (size_t i = 0; i < std::min(lr_lambdas_.size(), base_lrs_.size()); ++i)
    out.push_back(base_lrs_[i] * lr_lambdas_[i](last_epoch_));
  return out;
}

StateDict LambdaLR::state_dict() const {
  StateDict out;
  write_base_state(out);
  // PyTorch saves a function's __dict__ only for callable objects, None for plain functions and lambdas.
  out.set("lr_lambdas", detail::py_list(std::vector<IValue>(lr_lambdas_.size())));
  return out;
}

void LambdaLR::load_state_dict(const StateDict& state) { read_base_state(state); }

// ---- OneCycleLR -------------------------------------------------------------------------------------------------

namespace {
torch::optim::Optimizer& check_one_cycle(torch::optim::Optimizer& o, const OneCycleLROptions& opt) {
  const auto& total = opt.total_steps();
  if (total) {
    VOLT_CHECK(*total > 0, "OneCycleLR: Expected positive integer total_steps, but got ", *total);
  } else {
    VOLT_CHECK(opt.epochs() && opt.steps_per_epoch(),
               "OneCycleLR: You must define either total_steps OR (epochs AND steps_per_epoch)");
    VOLT_CHECK(*opt.epochs() > 0, "OneCycleLR: Expected positive integer epochs, but got ", *opt.epochs());
    VOLT_CHECK(*opt.steps_per_epoch() > 0, "OneCycleLR: Expected positive integer steps_per_epoch, but got ",
               *opt.steps_per_epoch());
  }
  VOLT_CHECK(opt.pct_start() >= 0 && opt.pct_start() <= 1,
             "OneCycleLR: Expected float between 0 and 1 pct_start, but got ", opt.pct_start());
  VOLT_CHECK(opt.anneal_strategy() == "cos" || opt.anneal_strategy() == "linear",
             "OneCycleLR: anneal_strategy must by one of 'cos' or 'linear', instead got ", opt.anneal_strategy());
  const size_t groups = o.param_groups().size();
  VOLT_CHECK(opt.max_lrs().empty() || opt.max_lrs().size() == groups, "OneCycleLR: expected ", groups,
             " values for max_lr, got ", opt.max_lrs().size());
  if (opt.cycle_momentum())
    for (const auto& group : o.param_groups())
      VOLT_CHECK(group_momentum(group).has_value(),
                 "OneCycleLR: optimizer must support momentum with `cycle_momentum` option enabled");
  return o;
}
}  // namespace

OneCycleLR::OneCycleLR(torch::optim::Optimizer& optimizer, const OneCycleLROptions& opt)
    : LRScheduler(check_one_cycle(optimizer, opt)),
      total_steps_(opt.total_steps() ? *opt.total_steps() : *opt.epochs() * *opt.steps_per_epoch()),
      anneal_strategy_(opt.anneal_strategy()),
      cycle_momentum_(opt.cycle_momentum()) {
  const double total = static_cast<double>(total_steps_);
  const double end_up = opt.pct_start() * total - 1;  // float(pct_start * total_steps) - 1
  const double last = static_cast<double>(total_steps_ - 1);
  if (opt.three_phase()) {
    phases_ = {{end_up, false, "initial_lr", "max_lr", "max_momentum", "base_momentum"},
               {2 * opt.pct_start() * total - 2, false, "max_lr", "initial_lr", "base_momentum", "max_momentum"},
               {last, true, "initial_lr", "min_lr", "max_momentum", "max_momentum"}};
  } else {
    phases_ = {{end_up, false, "initial_lr", "max_lr", "max_momentum", "base_momentum"},
               {last, true, "max_lr", "min_lr", "base_momentum", "max_momentum"}};
  }
  // The base constructor's setdefault('initial_lr') runs first here; PyTorch sets initial_lr before it. Either
  // way the key sits first among the extras and ends up max_lr / div_factor.
  auto& groups = optimizer.param_groups();
  for (size_t i = 0; i < groups.size(); ++i) {
    const double max_lr = opt.max_lrs().empty() ? opt.max_lr() : opt.max_lrs()[i];
    StateDict extras = param_group_extras(groups[i]);
    const double initial_lr = max_lr / opt.div_factor();
    extras.set("initial_lr", initial_lr);
    extras.set("max_lr", max_lr);
    extras.set("min_lr", initial_lr / opt.final_div_factor());
    base_lrs_[i] = initial_lr;
  }
  if (cycle_momentum_) {
    use_beta1_ = group_uses_betas(groups.front());
    for (auto& group : groups) {
      set_group_momentum(group, opt.max_momentum());
      StateDict extras = param_group_extras(group);
      extras.set("max_momentum", opt.max_momentum());
      extras.set("base_momentum", opt.base_momentum());
    }
  }
  initial_step();
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (anneal_strategy_ == "cos") {
    const double cos_out = std::cos(kPi * pct) + 1;
    return end + (start - end) / 2.0 * cos_out;
  }
  return (end - start) * pct + start;
}

std::vector<double> OneCycleLR::compute_lr() {
  const int64_t step_num = last_epoch_;
  VOLT_CHECK(step_num <= total_steps_, "OneCycleLR: Tried to step ", step_num + 1,
             " times. The specified number of total steps is ", total_steps_);
  std::vector<double> lrs;
  for (auto& group : optimizer_->param_groups()) {
    double start_step = 0, lr = 0, momentum = 0;
    for (size_t i = 0; i < phases_.size(); ++i) {
      const Phase& phase = phases_[i];
      if (static_cast<double>(step_num) <= phase.end_step || i == phases_.size() - 1) {
        const double pct = (static_cast<double>(step_num) - start_step) / (phase.end_step - start_step);
        lr = anneal(extra_number(group, phase.start_lr, "OneCycleLR"), extra_number(group, phase.end_lr, "OneCycleLR"),
                    pct);
        if (cycle_momentum_)
          momentum = anneal(extra_number(group, phase.start_momentum, "OneCycleLR"),
                            extra_number(group, phase.end_momentum, "OneCycleLR"), pct);
        break;
      }
      start_step = phase.end_step;
    }
    lrs.push_back(lr);
    if (cycle_momentum_) set_group_momentum(group, momentum);
  }
  return lrs;
}

StateDict OneCycleLR::state_dict() const {
  c10::impl::GenericList phases(c10::AnyType::get());
  for (const Phase& p : phases_) {
    StateDict d;
    d.set("end_step", p.end_step_is_int ? IValue(static_cast<int64_t>(p.end_step)) : IValue(p.end_step));
    d.set("start_lr", p.start_lr);
    d.set("end_lr", p.end_lr);
    d.set("start_momentum", p.start_momentum);
    d.set("end_momentum", p.end_momentum);
    phases.push_back(d.ivalue());
  }
  StateDict out{{"total_steps", total_steps_}, {"_schedule_phases", phases}};
  out.set("_anneal_func_type", anneal_strategy_);  // in place of 1.13's unpicklable bound method `anneal_func`
  out.set("cycle_momentum", cycle_momentum_);
  if (cycle_momentum_) out.set("use_beta1", use_beta1_);
  write_base_state(out);
  return out;
}

void OneCycleLR::load_state_dict(const StateDict& state) {
  int64_t total_steps =
      state.contains("total_steps") ? detail::to_int(state.at("total_steps"), where("total_steps")) : total_steps_;
  auto phases = phases_;
  if (state.contains("_schedule_phases")) {
    auto items = detail::to_items(state.at("_schedule_phases"), where("_schedule_phases"));
    if (items.empty()) throw CheckpointError(where("_schedule_phases") + ": expected at least one phase");
    phases.clear();
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string w = concat(where("_schedule_phases"), "[", i, "]");
      StateDict d = as_state(items[i], w);
      IValue end_step = detail::required(d, "end_step", w);
      auto text = [&](const char* key) { return detail::to_str(detail::required(d, key, w), w + "." + key); };
      phases.push_back({detail::to_double(end_step, w + ".end_step"), end_step.isInt(), text("start_lr"),
                        text("end_lr"), text("start_momentum"), text("end_momentum")});
    }
  }
  // torch >= 2.1 saves the strategy by name; torch 1.13 saves a bound method, which tells nothing volt can use,
  // so (like PyTorch 1.13's own load) the constructor's strategy stays.
  std::string strategy = anneal_strategy_;
  if (state.contains("_anneal_func_type")) {
    strategy = detail::to_str(state.at("_anneal_func_type"), where("_anneal_func_type"));
    if (strategy != "cos" && strategy != "linear")
      throw CheckpointError(concat(where("_anneal_func_type"), ": expected 'cos' or 'linear', found '", strategy, "'"));
  }
  bool cycle_momentum = state.contains("cycle_momentum")
                            ? detail::to_bool(state.at("cycle_momentum"), where("cycle_momentum"))
                            : cycle_momentum_;
  bool use_beta1 =
      state.contains("use_beta1") ? detail::to_bool(state.at("use_beta1"), where("use_beta1")) : use_beta1_;
  read_base_state(state);
  total_steps_ = total_steps;
  phases_ = std::move(phases);
  anneal_strategy_ = strategy;
  cycle_momentum_ = cycle_momentum;
  use_beta1_ = use_beta1;
}

// ---- ReduceLROnPlateau ------------------------------------------------------------------------------------------

namespace {
torch::optim::Optimizer& check_plateau(torch::optim::Optimizer& o, const ReduceLROnPlateauOptions& opt) {
  VOLT_CHECK(opt.factor() < 1.0, "ReduceLROnPlateau: Factor should be < 1.0, got factor=", opt.factor());
  VOLT_CHECK(opt.min_lrs().empty() || opt.min_lrs().size() == o.param_groups().size(),
             "ReduceLROnPlateau: expected ", o.param_groups().size(), " min_lrs, got ", opt.min_lrs().size());
  VOLT_CHECK(opt.mode() == "min" || opt.mode() == "max", "ReduceLROnPlateau: mode ", opt.mode(),
             " is unknown! (expected 'min' or 'max')");
  VOLT_CHECK(opt.threshold_mode() == "rel" || opt.threshold_mode() == "abs", "ReduceLROnPlateau: threshold mode ",
             opt.threshold_mode(), " is unknown! (expected 'rel' or 'abs')");
  return o;
}
}  // namespace

ReduceLROnPlateau::ReduceLROnPlateau(torch::optim::Optimizer& optimizer, const ReduceLROnPlateauOptions& opt)
    : LRScheduler(check_plateau(optimizer, opt), PlateauTag{}),
      factor_(opt.factor()),
      min_lrs_(opt.min_lrs().empty() ? std::vector<c10::Scalar>(optimizer.param_groups().size(), opt.min_lr())
                                     : opt.min_lrs()),
      patience_(opt.patience()),
      cooldown_(opt.cooldown()),
      mode_(opt.mode()),
      threshold_(opt.threshold()),
      threshold_mode_(opt.threshold_mode()),
      eps_(opt.eps()) {
  last_epoch_ = 0;
  init_is_better(class_name());
  best_ = mode_worse_;  // _reset()
  cooldown_counter_ = 0;
  num_bad_epochs_ = 0;
  for (size_t i = 0; i < num_groups(); ++i) last_lr_.push_back(group_lr(i));  // for get_last_lr() before a step
}

void ReduceLROnPlateau::init_is_better(const std::string& what) {
  if (mode_ != "min" && mode_ != "max")
    throw CheckpointError(concat(what, ": mode ", mode_, " is unknown! (expected 'min' or 'max')"));
  if (threshold_mode_ != "rel" && threshold_mode_ != "abs")
    throw CheckpointError(concat(what, ": threshold mode ", threshold_mode_, " is unknown! (expected 'rel' or 'abs')"));
  mode_worse_ = mode_ == "min" ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
}

void ReduceLROnPlateau::step() {
  throw MisconfigurationError(
      "ReduceLROnPlateau.step() needs the monitored metric: call step(metric) (PyTorch: step(metrics))");
}

void ReduceLROnPlateau::step(double current) {
  last_epoch_ += 1;
  if (is_better(current, best_)) {
    best_ = current;
    num_bad_epochs_ = 0;
  } else {
    num_bad_epochs_ += 1;
  }
  if (in_cooldown()) {
    cooldown_counter_ -= 1;
    num_bad_epochs_ = 0;  // ignore any bad epochs in cooldown
  }
  if (num_bad_epochs_ > patience_) {
    reduce_lr();
    cooldown_counter_ = cooldown_;
    num_bad_epochs_ = 0;
  }
  last_lr_.clear();
  for (size_t i = 0; i < num_groups(); ++i) last_lr_.push_back(group_lr(i));
  stepped_ = true;
}

void ReduceLROnPlateau::reduce_lr() {
  auto& groups = optimizer_->param_groups();
  for (size_t i = 0; i < groups.size(); ++i) {
    const double old_lr = groups[i].options().get_lr();
    VOLT_CHECK(i < min_lrs_.size(), "ReduceLROnPlateau: the optimizer has ", groups.size(),
               " param groups but min_lrs has ", min_lrs_.size(), " (PyTorch: IndexError); build the scheduler after "
               "adding all param groups");
    const double new_lr = std::max(old_lr * factor_, min_lrs_[i].toDouble());
    if (old_lr - new_lr > eps_) groups[i].options().set_lr(new_lr);
  }
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
  if (mode_ == "min" && threshold_mode_ == "rel") return a < best * (1. - threshold_);
  if (mode_ == "min" && threshold_mode_ == "abs") return a < best - threshold_;
  if (mode_ == "max" && threshold_mode_ == "rel") return a > best * (threshold_ + 1.);
  return a > best + threshold_;
}

std::vector<double> ReduceLROnPlateau::compute_lr() {
  std::vector<double> out;
  for (size_t i = 0; i < num_groups(); ++i) out.push_back(group_lr(i));
  return out;
}

StateDict ReduceLROnPlateau::state_dict() const {
  c10::impl::GenericList min_lrs(c10::AnyType::get());
  for (const auto& m : min_lrs_) min_lrs.push_back(IValue(m));
  // Python's attribute order in __init__ (_last_lr appears with the first step).
  StateDict out;
  out.set("factor", factor_);
  out.set("min_lrs", min_lrs);
  out.set("patience", patience_);
  out.set("verbose", verbose_);
  out.set("cooldown", cooldown_);
  out.set("cooldown_counter", cooldown_counter_);
  out.set("mode", mode_);
  out.set("threshold", threshold_);
  out.set("threshold_mode", threshold_mode_);
  out.set("best", best_);
  out.set("num_bad_epochs", num_bad_epochs_);
  out.set("mode_worse", mode_worse_);
  out.set("eps", eps_);
  out.set("last_epoch", last_epoch_);
  if (stepped_) out.set("_last_lr", detail::py_list(last_lr_));
  return out;
}

void ReduceLROnPlateau::load_state_dict(const StateDict& state) {
  // Parse into a copy first, so a bad checkpoint leaves this scheduler unchanged.
  ReduceLROnPlateau next = *this;
  auto number = [&](const char* key, double& field) {
    if (state.contains(key)) field = detail::to_double(state.at(key), where(key));
  };
  auto integer = [&](const char* key, int64_t& field) {
    if (state.contains(key)) field = detail::to_int(state.at(key), where(key));
  };
  auto text = [&](const char* key, std::string& field) {
    if (state.contains(key)) field = detail::to_str(state.at(key), where(key));
  };
  number("factor", next.factor_);
  if (state.contains("min_lrs")) {
    auto items = detail::to_items(state.at("min_lrs"), where("min_lrs"));
    if (items.size() != num_groups())
      throw CheckpointError(concat(where("min_lrs"), ": expected ", num_groups(), " values (one per param group), "
                                   "found ", items.size()));
    next.min_lrs_.clear();
    for (size_t i = 0; i < items.size(); ++i)
      next.min_lrs_.push_back(detail::to_scalar(items[i], concat(where("min_lrs"), "[", i, "]")));
  }
  integer("patience", next.patience_);
  if (state.contains("verbose")) next.verbose_ = detail::to_bool(state.at("verbose"), where("verbose"));
  integer("cooldown", next.cooldown_);
  integer("cooldown_counter", next.cooldown_counter_);
  text("mode", next.mode_);
  number("threshold", next.threshold_);
  text("threshold_mode", next.threshold_mode_);
  number("best", next.best_);
  integer("num_bad_epochs", next.num_bad_epochs_);
  number("eps", next.eps_);
  integer("last_epoch", next.last_epoch_);
  if (state.contains("_last_lr")) {
    next.last_lr_ = detail::to_double_list(state.at("_last_lr"), where("_last_lr"), detail::kAnySize);
    next.stepped_ = true;
  }
  next.init_is_better(where("mode"));  // as PyTorch's load_state_dict: validates the modes, resets mode_worse
  *this = std::move(next);
}

}  // namespace volt
