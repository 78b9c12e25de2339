// Module::log's storage and rules: Lightning's _ResultCollection (result.py) and _FxValidator (fx_validator.py).
#include <torch/torch.h>

#include <limits>
#include <set>

#include "volt/distributed.hpp"
#include "volt/error.hpp"
#include "volt/logging.hpp"

namespace volt::detail {
namespace {

// Allowed (on_step, on_epoch) values per hook and the defaults; absent hooks are "not loggable".
struct FxRule {
  std::set<bool> on_step, on_epoch;
  bool default_on_step, default_on_epoch;
};

const FxRule* fx_rule(const std::string& fx) {
  static const FxRule step_hooks{{false, true}, {false, true}, true, false};
  static const FxRule eval_step_hooks{{false, true}, {false, true}, false, true};
  static const FxRule epoch_hooks{{false}, {true}, false, true};
  static const std::map<std::string, const FxRule*> rules = {
      {"training_step", &step_hooks}, {"on_train_batch_start", &step_hooks}, {"on_train_batch_end", &step_hooks},
      {"on_before_backward", &step_hooks}, {"backward", &step_hooks}, {"on_after_backward", &step_hooks},
      {"on_before_optimizer_step", &step_hooks}, {"optimizer_step", &step_hooks},
      {"configure_gradient_clipping", &step_hooks}, {"clip_gradients", &step_hooks},
      {"on_before_zero_grad", &step_hooks}, {"optimizer_zero_grad", &step_hooks},
      {"validation_step", &eval_step_hooks}, {"test_step", &eval_step_hooks},
      {"on_validation_batch_start", &eval_step_hooks}, {"on_validation_batch_end", &eval_step_hooks},
      {"on_test_batch_start", &eval_step_hooks}, {"on_test_batch_end", &eval_step_hooks},
      {"on_train_start", &epoch_hooks}, {"on_validation_start", &epoch_hooks}, {"on_test_start", &epoch_hooks},
      {"on_train_epoch_start", &epoch_hooks}, {"on_train_epoch_end", &epoch_hooks},
      {"on_validation_epoch_start", &epoch_hooks}, {"on_validation_epoch_end", &epoch_hooks},
      {"on_test_epoch_start", &epoch_hooks}, {"on_test_epoch_end", &epoch_hooks},
  };
  auto it = rules.find(fx);
  return it == rules.end() ? nullptr : it->second;
}

// Hooks where logging is known and forbidden (the rest are "not implemented", as Lightning distinguishes).
bool logging_forbidden(const std::string& fx) {
  static const std::set<std::string> forbidden = {
      "on_fit_start", "on_fit_end", "on_sanity_check_start", "on_sanity_check_end", "on_train_end",
      "on_validation_end", "on_test_end", "on_predict_start", "on_predict_end", "on_predict_epoch_start",
      "on_predict_epoch_end", "on_predict_batch_start", "on_predict_batch_end", "predict_step", "on_exception",
      "state_dict", "load_state_dict", "on_save_checkpoint", "on_load_checkpoint", "setup", "teardown",
      "configure_optimizers", "configure_callbacks", "configure_model", "configure_sharded_model",
      "train_dataloader", "val_dataloader", "test_dataloader", "predict_dataloader", "prepare_data",
      "on_before_batch_transfer", "transfer_batch_to_device", "on_after_batch_transfer", "lr_scheduler_step",
      "on_validation_model_eval", "on_validation_model_train", "on_validation_model_zero_grad",
      "on_test_model_eval", "on_test_model_train", "on_predict_model_eval"};
  return forbidden.count(fx) > 0;
}

std::string bool_tuple(const std::set<bool>& values) {
  std::string out = "(";
  for (bool v : values) out += std::string(v ? "True" : "False") + ", ";
  if (values.size() > 1) out.resize(out.size() - 2);
  else out.resize(out.size() - 1);  // Python's one-tuple keeps the comma: "(False,)"
  return out + ")";
}

}  // namespace

void check_log_allowed(const std::string& fx, LogOptions& options) {
  if (fx.empty())
    throw MisconfigurationError(
        "You are trying to `self.log()` but it is not managed by the `Trainer` control flow: call log() from a "
        "Module or Callback hook while fit/validate/test runs");
  if (logging_forbidden(fx))
    throw MisconfigurationError(concat("You can't `self.log()` inside `", fx, "`."));
  const FxRule* rule = fx_rule(fx);
  if (rule == nullptr) throw Error(concat("Logging inside `", fx, "` is not implemented."));
  bool on_step = options.on_step.value_or(rule->default_on_step);
  bool on_epoch = options.on_epoch.value_or(rule->default_on_epoch);
  if (!rule->on_step.count(on_step))
    throw MisconfigurationError(concat("You can't `self.log(on_step=", on_step ? "True" : "False", ")` inside `", fx,
                                       "`, must be one of ", bool_tuple(rule->on_step)));
  if (!rule->on_epoch.count(on_epoch))
    throw MisconfigurationError(concat("You can't `self.log(on_epoch=", on_epoch ? "True" : "False", ")` inside `",
                                       fx, "`, must be one of ", bool_tuple(rule->on_epoch)));
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
