// Module::log's storage and rules: Lightning's _ResultCollection (result.py) and _FxValidator (fx_validator.py).
#include <torch/torch.h>

#include <limits>
#include <set>

#include "volt/distributed.hpp"
#include "volt/error.hpp"
#include "volt/hooks.hpp"
#include "volt/logging.hpp"

namespace volt::detail {

void check_log_allowed(const std::string& fx, LogOptions& options) {
  if (fx.empty())
    throw MisconfigurationError(
        "You are trying to `self.log()` but it is not managed by the `Trainer` control flow: call log() from a "
        "Module or Callback hook while fit/validate/test runs");
  // The rules are the hook table's (include/volt/hooks.hpp), the same table docs/hooks.md is printed from.
  const HookInfo* hook = find_hook(fx);
  if (hook == nullptr) throw Error(concat("Logging inside `", fx, "` is not implemented."));
  const LogRule& rule = hook->log;
  if (!rule.allowed) throw MisconfigurationError(concat("You can't `self.log()` inside `", fx, "`."));
  bool on_step = options.on_step.value_or(rule.default_on_step);
  bool on_epoch = options.on_epoch.value_or(rule.default_on_epoch);
  auto allows = [](uint8_t allowed, bool value) { return (allowed & (value ? 2 : 1)) != 0; };
  if (!allows(rule.on_step, on_step))
    throw MisconfigurationError(concat("You can't `self.log(on_step=", on_step ? "True" : "False", ")` inside `", fx,
                                       "`, must be one of ", log_values_repr(rule.on_step)));
  if (!allows(rule.on_epoch, on_epoch))
    throw MisconfigurationError(concat("You can't `self.log(on_epoch=", on_epoch ? "True" : "False", ")` inside `",
                                       fx, "`, must be one of ", log_values_repr(rule.on_epoch)));
  options.on_step = on_step;
  options.on_epoch = on_epoch;
}

std::string ResultMetric::forked_name(bool on_step) const {
  return forked() ? name + (on_step ? "_step" : "_epoch") : name;
}

void ResultMetric::reset() {
  const auto& fx = options.reduce_fx;
  double init = fx == "max" ? -std::numeric_limits<double>::infinity()
                : fx == "min" ? std::numeric_limits<double>::infinity()
                              : 0.0;
  value = torch::tensor(init, torch::kFloat);
  cumulated_batch_size = 0;
  forward_cache = torch::Tensor();
  computed = torch::Tensor();
  has_reset = true;
}

void ResultMetric::update(const torch::Tensor& v, int64_t batch_size) {
  has_reset = false;
  computed = torch::Tensor();
  torch::Tensor x = v.is_floating_point() && (v.scalar_type() == torch::kFloat || v.scalar_type() == torch::kDouble)
                        ? v
                        : v.to(torch::kFloat);
  if (*options.on_step) {
    forward_cache = syncs() ? distributed::detail::sync_tensor(x, options.reduce_fx) : x.clone();
    if (!*options.on_epoch) {
      value = forward_cache;
      return;
    }
  }
  const auto& fx = options.reduce_fx;
  auto m = x.mean();
  if (fx == "mean") {
    value = value.to(m.device()) + m * static_cast<double>(batch_size);
    cumulated_batch_size += static_cast<double>(batch_size);
  } else if (fx == "max") {
    value = torch::maximum(value.to(m.device()), m);
  } else if (fx == "min") {
    value = torch::minimum(value.to(m.device()), m);
  } else {
    value = value.to(m.device()) + m;
  }
}

torch::Tensor ResultMetric::compute() {
  if (!computed.defined() && syncs()) {  // log(sync_dist=true): reduce the accumulation over the ranks
    auto total = distributed::detail::sync_tensor(value, options.reduce_fx);
    if (options.reduce_fx == "mean")
      total = total / distributed::detail::sync_tensor(torch::tensor(cumulated_batch_size, torch::kDouble), "mean")
                          .item<double>();
    computed = total.to(value.scalar_type());
  }
  if (!computed.defined())
    computed = options.reduce_fx == "mean" ? value / cumulated_batch_size : value.clone();
  return computed;
}

void ResultCollection::log(const std::string& fx_in, const std::string& name, const torch::Tensor& value_in,
                           LogOptions options, int64_t batch_size) {
  static const std::set<std::string> reductions = {"mean", "sum", "max", "min"};
  if (!reductions.count(options.reduce_fx))
    throw MisconfigurationError(concat("Only `self.log(..., reduce_fx={min,max,mean,sum})` are supported. Found: ",
                                       options.reduce_fx));
  torch::Tensor value = options.enable_graph ? value_in : value_in.detach();
  std::string key = fx_in + "." + name;
  std::string fx = fx_in;
  if (dataloader_idx) {
    key += "." + std::to_string(*dataloader_idx);
    fx += "." + std::to_string(*dataloader_idx);
  }
  auto it = items_.find(key);
  if (it == items_.end()) {
    ResultMetric m;
    m.fx = fx;
    m.name = name;
    m.options = options;
    m.dataloader_idx = dataloader_idx;
    m.reset();
    it = items_.emplace(key, std::move(m)).first;
    order_.push_back(key);
  } else {
    const auto& o = it->second.options;
    bool same = o.prog_bar == options.prog_bar && o.logger == options.logger && o.on_step == options.on_step &&
                o.on_epoch == options.on_epoch && o.reduce_fx == options.reduce_fx &&
                o.enable_graph == options.enable_graph && o.sync_dist == options.sync_dist &&
                o.add_dataloader_idx == options.add_dataloader_idx;
    if (!same)
      throw MisconfigurationError(concat("You called `self.log(", name, ", ...)` twice in `", fx,
                                         "` with different arguments. This is not allowed"));
  }
  it->second.update(value, batch_size);
}

Metrics ResultCollection::metrics(bool on_step) {
  Metrics out;
  for (const auto& key : order_) {
    auto& m = items_.at(key);
    if (m.has_reset || (dataloader_idx && m.dataloader_idx != dataloader_idx)) continue;
    torch::Tensor value;
    if (on_step && *m.options.on_step) value = m.forward_cache;
    else if (!on_step && *m.options.on_epoch) value = m.compute();
    if (!value.defined()) continue;
    if (!m.options.enable_graph) value = value.detach();
    std::string name = m.name, forked = m.forked_name(on_step);
    if (m.options.add_dataloader_idx && m.dataloader_idx) {
      std::string suffix = "/dataloader_idx_" + std::to_string(*m.dataloader_idx);
      name += suffix;
      forked += suffix;
    }
    if (m.options.logger) out.log[forked] = value;
    if (training_ || (*m.options.on_epoch && !on_step)) {
      out.callback[name] = value;
      out.callback[forked] = value;
    }
    if (m.options.prog_bar) out.pbar[forked] = value;
  }
  return out;
}

void ResultCollection::reset() {
  for (auto& kv : items_) kv.second.reset();
  dataloader_idx.reset();
}

}  // namespace volt::detail
