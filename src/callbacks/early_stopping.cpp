// EarlyStopping, following Lightning 2.2.5's callbacks/early_stopping.py decision by decision.
#include "volt/callbacks/early_stopping.hpp"

#include <torch/torch.h>

#include <cmath>

#include "volt/error.hpp"
#include "volt/ksuit/metric_properties.hpp"
#include "volt/messages.hpp"
#include "volt/serialization/python_format.hpp"
#include "volt/serialization/python_repr.hpp"
#include "volt/trainer.hpp"

namespace volt {
namespace {

const char* order(const std::string& mode) { return mode == "min" ? "<" : ">"; }

}  // namespace

EarlyStopping::EarlyStopping(EarlyStoppingOptions options)
    : options_(std::move(options)), patience_(options_.patience),
      check_on_train_epoch_end_(options_.check_on_train_epoch_end) {
  // "auto" (volt): setup asks trainer.metric_properties() for min or max
  if (options_.mode != "min" && options_.mode != "max" && options_.mode != "auto")
    throw MisconfigurationError("`mode` can be min, max, got " + options_.mode);  // Lightning's text
  if (options_.mode != "auto") init_mode(options_.mode);
}

void EarlyStopping::init_mode(const std::string& mode) {
  mode_ = mode;
  // `self.min_delta *= 1 if self.monitor_op == torch.gt else -1`
  min_delta_ = mode_ == "max" ? options_.min_delta : options_.min_delta * -1;
  best_score_ = torch::tensor(mode_ == "min" ? INFINITY : -INFINITY);
}

namespace {
EarlyStoppingOptions with_monitor(std::string monitor) {
  EarlyStoppingOptions o;
  o.monitor = std::move(monitor);
  return o;
}
}  // namespace

EarlyStopping::EarlyStopping(std::string monitor) : EarlyStopping(with_monitor(std::move(monitor))) {}

std::string EarlyStopping::state_key() const {
  return generate_state_key({{"monitor", options_.monitor}, {"mode", options_.mode}});
}

StateDict EarlyStopping::state_dict() {
  return {{"wait_count", wait_count_}, {"stopped_epoch", stopped_epoch_}, {"best_score", best_score_},
          {"patience", patience_}};
}

void EarlyStopping::load_state_dict(const StateDict& state) {
  const std::string where = "EarlyStopping state '" + state_key() + "'";
  auto required = [&](const char* key) {
    if (!state.contains(key)) throw CheckpointError(where + " has no '" + key + "' key");
    return state.at(key);
  };
  auto integer = [&](const char* key) {
    IValue v = required(key);
    if (!v.isInt()) throw CheckpointError(where + " key '" + key + "': expected an int, found " + v.tagKind());
    return v.toInt();
  };
  wait_count_ = integer("wait_count");
  stopped_epoch_ = integer("stopped_epoch");
  IValue best = required("best_score");
  if (best.isTensor()) best_score_ = best.toTensor();
  else if (best.isDouble()) best_score_ = torch::tensor(best.toDouble(), torch::kDouble);
  else if (best.isInt()) best_score_ = torch::tensor(best.toInt(), torch::kLong);
  else throw CheckpointError(where + " key 'best_score': expected a tensor, found " + best.tagKind());
  patience_ = integer("patience");
}

void EarlyStopping::setup(Trainer& trainer, Module&, const std::string&) {
  if (mode_ == "auto")
    init_mode(trainer.metric_properties().mode_for(options_.monitor, "EarlyStopping(monitor='" + options_.monitor +
                                                                         "', mode='auto')"));
  if (check_on_train_epoch_end_) return;
  // `trainer.val_check_interval == 1.0 and trainer.check_val_every_n_epoch == 1` (the int 1 equals 1.0 too)
  const auto& interval = trainer.options().val_check_interval;
  const auto& every = trainer.options().check_val_every_n_epoch;
  check_on_train_epoch_end_ =
      (interval.is_count ? interval.count == 1 : interval.fraction == 1.0) && every && *every == 1;
}

bool EarlyStopping::should_skip_check(Trainer& trainer) const {
  return trainer.fn() != TrainerFn::kFitting || trainer.sanity_checking();
}

void EarlyStopping::on_train_epoch_end(Trainer& trainer, Module&) {
  if (!check_on_train_epoch_end_.value_or(false) || should_skip_check(trainer)) return;
  run_early_stopping_check(trainer);
}

void EarlyStopping::on_validation_end(Trainer& trainer, Module&) {
  if (check_on_train_epoch_end_.value_or(false) || should_skip_check(trainer)) return;
  run_early_stopping_check(trainer);
}

void EarlyStopping::run_early_stopping_check(Trainer& trainer) {
  const MetricMap logs = trainer.callback_metrics();
  if (trainer.options().fast_dev_run > 0) return;  // disabled with fast_dev_run
  // _validate_condition_metric
  auto it = logs.find(options_.monitor);
  if (it == logs.end()) {
    std::string keys;
    for (const auto& kv : logs) keys += (keys.empty() ? "" : "`, `") + kv.first;
    const std::string message = "Early stopping conditioned on metric `" + options_.monitor +
                                "` which is not available. Pass in or modify your `EarlyStopping` callback to use "
                                "any of the following: `" + keys + "`";
    if (options_.strict) throw MisconfigurationError(message);  // RuntimeError in Lightning
    if (options_.verbose) rank_zero_warn(message);
    return;
  }
  const torch::Tensor current = it->second.squeeze();
  auto [should_stop, reason] = evaluate_stopping_criteria(current);
  // stop every process if any process decides to stop
  should_stop = trainer.reduce_boolean_decision(should_stop, /*all=*/false);
  trainer.should_stop = trainer.should_stop || should_stop;
  if (should_stop) stopped_epoch_ = trainer.current_epoch();
  if (reason && options_.verbose) log_info(trainer, *reason);
}

bool EarlyStopping::monitor_op(const torch::Tensor& a, const torch::Tensor& b) const {
  return (mode_ == "min" ? torch::lt(a, b) : torch::gt(a, b)).item<bool>();
}

bool EarlyStopping::monitor_op(const torch::Tensor& a, double b) const {
  // a Python float against a tensor: a wrapped scalar, compared in the tensor's type category
  return (mode_ == "min" ? torch::lt(a, b) : torch::gt(a, b)).item<bool>();
}

std::pair<bool, std::optional<std::string>> EarlyStopping::evaluate_stopping_criteria(const torch::Tensor& current) {
  const std::string& m = options_.monitor;
  auto str = [](const torch::Tensor& t) { return python_format_tensor(t, ""); };
  if (options_.check_finite && !torch::isfinite(current).item<bool>()) {
    return {true, "Monitored metric " + m + " = " + str(current) + " is not finite. Previous best value was " +
                      python_format_tensor(best_score_, ".3f") + ". Signaling Trainer to stop."};
  }
  if (options_.stopping_threshold &&
      monitor_op(current, *options_.stopping_threshold)) {
    return {true, "Stopping threshold reached: " + m + " = " + str(current) + " " + order(mode_) + " " +
                      python_float_repr(*options_.stopping_threshold) + ". Signaling Trainer to stop."};
  }
  if (options_.divergence_threshold &&
      monitor_op(-current, -*options_.divergence_threshold)) {
    return {true, "Divergence threshold reached: " + m + " = " + str(current) + " " + order(mode_) + " " +
                      python_float_repr(*options_.divergence_threshold) + ". Signaling Trainer to stop."};
  }
  if (monitor_op(current - min_delta_, best_score_.to(current.device()))) {
    std::string reason = improvement_message(current);
    best_score_ = current;
    wait_count_ = 0;
    return {false, reason};
  }
  wait_count_ += 1;
  if (wait_count_ >= patience_) {
    return {true, "Monitored metric " + m + " did not improve in the last " + std::to_string(wait_count_) +
                      " records. Best score: " + python_format_tensor(best_score_, ".3f") +
                      ". Signaling Trainer to stop."};
  }
  return {false, std::nullopt};
}

std::string EarlyStopping::improvement_message(const torch::Tensor& current) const {
  if (torch::isfinite(best_score_).item<bool>())
    return "Metric " + options_.monitor + " improved by " +
           python_format_tensor(torch::abs(best_score_ - current), ".3f") +
           " >= min_delta = " + python_float_repr(std::fabs(min_delta_)) +
           ". New best score: " + python_format_tensor(current, ".3f");
  return "Metric " + options_.monitor + " improved. New best score: " + python_format_tensor(current, ".3f");
}

void EarlyStopping::log_info(Trainer& trainer, const std::string& message) const {
  // Lightning logs on every rank (prefixed "[rank: N] " when there are several), unless log_rank_zero_only
  const std::optional<int> rank = trainer.world_size() > 1 ? std::optional<int>(trainer.global_rank()) : std::nullopt;
  const std::string text = rank ? "[rank: " + std::to_string(*rank) + "] " + message : message;
  if (!rank || !options_.log_rank_zero_only || *rank == 0) rank_zero_info(text);
}

}  // namespace volt
