// Lightning 2.2.5's callbacks/lr_monitor.py, method for method (the naming re-runs at every extraction, so the
// names follow optimizers and param groups that appear later).
#include "volt/callbacks/lr_monitor.hpp"

#include <torch/torch.h>

#include <typeindex>

#include "volt/error.hpp"
#include "volt/messages.hpp"
#include "volt/optim/optimizer_state.hpp"
#include "volt/serialization/python_repr.hpp"
#include "volt/trainer.hpp"

namespace volt {
namespace {

template <class V>
V* find(LearningRateMonitor::OrderedDict<V>& dict, const std::string& key) {
  for (auto& kv : dict)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

template <class V>
void set(LearningRateMonitor::OrderedDict<V>& dict, const std::string& key, V value) {
  if (V* v = find(dict, key)) *v = std::move(value);
  else dict.emplace_back(key, std::move(value));
}

std::string optimizer_name(const torch::optim::Optimizer& optimizer) {
  if (auto name = optimizer_class_name(optimizer)) return *name;
  return detail::python_style_class_name(typeid(optimizer));
}

// The group's "name" extra as Python would format it in an f-string, or nullopt.
std::optional<std::string> group_name(const torch::optim::OptimizerParamGroup& group) {
  if (!group.has_options()) return std::nullopt;
  IValue name = param_group_extras(group).get("name");
  if (name.isNone()) return std::nullopt;
  if (name.isString()) return name.toStringRef();
  return python_repr(name);
}

// "momentum"/"betas" in optimizer.defaults, as PyTorch's optimizers define them.
bool defaults_have(const torch::optim::Optimizer& optimizer, const std::string& key) {
  const auto& d = optimizer.defaults();
  if (key == "momentum")
    return dynamic_cast<const torch::optim::SGDOptions*>(&d) || dynamic_cast<const torch::optim::RMSpropOptions*>(&d);
  return dynamic_cast<const torch::optim::AdamOptions*>(&d) || dynamic_cast<const torch::optim::AdamWOptions*>(&d);
}

double weight_decay(const torch::optim::Optimizer& optimizer, const torch::optim::OptimizerParamGroup& group) {
  const auto& o = group.options();
  if (auto* p = dynamic_cast<const torch::optim::SGDOptions*>(&o)) return p->weight_decay();
  if (auto* p = dynamic_cast<const torch::optim::AdamOptions*>(&o)) return p->weight_decay();
  if (auto* p = dynamic_cast<const torch::optim::AdamWOptions*>(&o)) return p->weight_decay();
  if (auto* p = dynamic_cast<const torch::optim::RMSpropOptions*>(&o)) return p->weight_decay();
  if (auto* p = dynamic_cast<const torch::optim::AdagradOptions*>(&o)) return p->weight_decay();
  throw MisconfigurationError("LearningRateMonitor(log_weight_decay=True): cannot read the weight decay of a `" +
                              optimizer_name(optimizer) + "` param group (known: SGD, Adam, AdamW, RMSprop, Adagrad)");
}

}  // namespace

struct LearningRateMonitor::Names {
  std::vector<std::vector<std::string>> schedulers;  // per lr_scheduler_configs entry
  std::vector<std::vector<std::string>> optimizers;  // per optimizer without a scheduler
  std::vector<const torch::optim::Optimizer*> optimizers_without_scheduler;
};

LearningRateMonitor::LearningRateMonitor(LearningRateMonitorOptions options) : options_(std::move(options)) {
  const auto& i = options_.logging_interval;
  if (i && *i != "step" && *i != "epoch")
    throw MisconfigurationError("logging_interval should be `step` or `epoch` or `None`.");
}

LearningRateMonitor::Names LearningRateMonitor::find_names(const Trainer& trainer) const {
  Names out;
  std::vector<const torch::optim::Optimizer*> seen;
  std::vector<std::pair<std::type_index, int>> seen_types;  // Python's defaultdict(int) keyed by class
  auto count_of = [&](std::type_index type) -> int* {
    for (auto& kv : seen_types)
      if (kv.first == type) return &kv.second;
    return nullptr;
  };
  // Lightning's _check_duplicates_and_update_name
  auto names_for = [&](const torch::optim::Optimizer& optimizer, std::string name, bool explicit_name) {
    seen.push_back(&optimizer);
    std::type_index type(typeid(optimizer));
    if (!explicit_name) {
      if (int* c = count_of(type)) ++*c;
      else seen_types.emplace_back(type, 1);
    }
    const auto& groups = optimizer.param_groups();
    std::vector<std::string> group_names;
    for (size_t i = 0; i < groups.size(); ++i)
      group_names.push_back(group_name(groups[i]).value_or("pg" + std::to_string(i + 1)));
    std::vector<std::string> duplicates;
    for (const auto& n : group_names)
      if (std::count(group_names.begin(), group_names.end(), n) > 1 &&
          std::find(duplicates.begin(), duplicates.end(), n) == duplicates.end())
        duplicates.push_back(n);
    if (!duplicates.empty()) {
      std::string set;
      for (const auto& d : duplicates) set += (set.empty() ? "" : ", ") + python_str_repr(d);
      throw MisconfigurationError("A single `Optimizer` cannot have multiple parameter groups with identical `name` "
                                  "values. " + name + " has duplicated parameter group names {" + set + "}");
    }
    if (int* c = count_of(type); c && *c > 1) name += "-" + std::to_string(*c - 1);
    std::vector<std::string> result;
    for (size_t i = 0; i < groups.size(); ++i) {
      if (groups.size() > 1) result.push_back(name + "/" + group_names[i]);
      else if (auto n = group_name(groups[i]); n && !n->empty()) result.push_back(name + "/" + *n);
      else result.push_back(name);
    }
    return result;
  };
  for (const auto& config : trainer.lr_scheduler_configs()) {
    const auto& optimizer = config.scheduler->optimizer();
    bool explicit_name = !config.name.empty();
    out.schedulers.push_back(
        names_for(optimizer, explicit_name ? config.name : "lr-" + optimizer_name(optimizer), explicit_name));
  }
  for (const auto& optimizer : trainer.optimizers()) {
    if (std::find(seen.begin(), seen.end(), optimizer.get()) != seen.end()) continue;
    out.optimizers.push_back(names_for(*optimizer, "lr-" + optimizer_name(*optimizer), false));
    out.optimizers_without_scheduler.push_back(optimizer.get());
  }
  return out;
}

void LearningRateMonitor::remap_keys(const std::vector<std::vector<std::string>>& names) {
  const std::string token = "/pg1";
  for (const auto& group_names : names) {
    for (const auto& new_name : group_names) {
      std::string old_name = new_name;
      for (auto pos = old_name.find(token); pos != std::string::npos; pos = old_name.find(token))
        old_name.erase(pos, token.size());
      auto old_it = std::find_if(lrs_.begin(), lrs_.end(), [&](const auto& kv) { return kv.first == old_name; });
      if (new_name.find(token) != std::string::npos && old_it != lrs_.end()) {
        auto history = std::move(old_it->second);  // Python: lrs[new] = lrs.pop(old), so the key moves to the end
        lrs_.erase(old_it);
        set(lrs_, new_name, std::move(history));
      } else if (!find(lrs_, new_name)) {
        lrs_.emplace_back(new_name, std::vector<double>{});
      }
    }
  }
}

void LearningRateMonitor::on_train_start(Trainer& trainer, Module&) {
  if (trainer.loggers().empty())
    throw MisconfigurationError("Cannot use `LearningRateMonitor` callback with `Trainer` that has no logger.");
  if (options_.log_momentum) {
    auto check_no_key = [&](const std::string& key) {
      if (!trainer.lr_scheduler_configs().empty()) {
        for (const auto& config : trainer.lr_scheduler_configs())
          if (!defaults_have(config.scheduler->optimizer(), key)) return true;
        return false;
      }
      for (const auto& optimizer : trainer.optimizers())
        if (!defaults_have(*optimizer, key)) return true;
      return false;
    };
    if (check_no_key("momentum") && check_no_key("betas"))
      rank_zero_warn("You have set log_momentum=True, but some optimizers do not have momentum. This will log a value "
                     "0 for the momentum.");
  }
  Names names = find_names(trainer);
  lrs_.clear();
  last_momentum_values_.clear();
  last_weight_decay_values_.clear();
  for (const auto* list : {&names.schedulers, &names.optimizers}) {
    for (const auto& group_names : *list) {
      for (const auto& name : group_names) {
        set(lrs_, name, std::vector<double>{});
        set(last_momentum_values_, name + "-momentum", std::optional<double>());
        set(last_weight_decay_values_, name + "-weight_decay", std::optional<double>());
      }
    }
  }
}

void LearningRateMonitor::on_train_batch_start(Trainer& trainer, Module&, const Batch&, int64_t) {
  if (!trainer.should_update_logs()) return;
  if (options_.logging_interval == "epoch") return;
  log(trainer, extract_stats(trainer, options_.logging_interval ? "any" : "step"));
}

void LearningRateMonitor::on_train_epoch_start(Trainer& trainer, Module&) {
  if (options_.logging_interval == "step") return;
  log(trainer, extract_stats(trainer, options_.logging_interval ? "any" : "epoch"));
}

void LearningRateMonitor::log(Trainer& trainer, const std::vector<std::pair<std::string, double>>& stats) const {
  if (stats.empty()) return;
  std::map<std::string, double> metrics(stats.begin(), stats.end());
  for (const auto& logger : trainer.loggers()) logger->log_metrics(metrics, trainer.batches_that_stepped());
}

std::vector<std::pair<std::string, double>> LearningRateMonitor::extract_stats(Trainer& trainer,
                                                                               const std::string& interval) {
  std::vector<std::pair<std::string, double>> stats;
  Names names = find_names(trainer);
  remap_keys(names.schedulers);
  const auto& configs = trainer.lr_scheduler_configs();
  for (size_t i = 0; i < configs.size(); ++i)
    if (interval == configs[i].interval || interval == "any")
      get_optimizer_stats(configs[i].scheduler->optimizer(), names.schedulers[i], stats);
  remap_keys(names.optimizers);
  for (size_t i = 0; i < names.optimizers_without_scheduler.size(); ++i)
    get_optimizer_stats(*names.optimizers_without_scheduler[i], names.optimizers[i], stats);
  MetricMap metrics;
  for (const auto& kv : stats)
    metrics[kv.first] = torch::tensor(static_cast<float>(kv.second), torch::TensorOptions().device(trainer.device()));
  trainer.update_callback_metrics(metrics);
  return stats;
}

void LearningRateMonitor::get_optimizer_stats(const torch::optim::Optimizer& optimizer,
                                              const std::vector<std::string>& names,
                                              std::vector<std::pair<std::string, double>>& stats) {
  const auto& groups = optimizer.param_groups();
  auto put = [&](const std::string& key, double value) {
    auto it = std::find_if(stats.begin(), stats.end(), [&](const auto& kv) { return kv.first == key; });
    if (it != stats.end()) it->second = value;
    else stats.emplace_back(key, value);
  };
  for (size_t i = 0; i < groups.size() && i < names.size(); ++i) {
    const auto& group = groups[i];
    const std::string& name = names[i];
    double lr = group.options().get_lr();
    if (auto* history = find(lrs_, name)) history->push_back(lr);
    else lrs_.emplace_back(name, std::vector<double>{lr});
    put(name, lr);
    if (options_.log_momentum) {
      double momentum = group_momentum(group).value_or(0.0);
      set(last_momentum_values_, name + "-momentum", std::optional<double>(momentum));
      put(name + "-momentum", momentum);
    }
    if (options_.log_weight_decay) {
      double wd = weight_decay(optimizer, group);
      set(last_weight_decay_values_, name + "-weight_decay", std::optional<double>(wd));
      put(name + "-weight_decay", wd);
    }
  }
}

}  // namespace volt
