// ksuit's FixedEarlyStopper, MetricEarlyStopper, BestCheckpointCallback and BestMetricCallback on volt.
#include "volt/ksuit/early_stoppers.hpp"

#include <torch/torch.h>

#include <algorithm>

#include "volt/error.hpp"
#include "volt/messages.hpp"
#include "volt/serialization/python_format.hpp"
#include "volt/trainer.hpp"

namespace volt::ksuit {

namespace {
Interval interval_or_epoch(std::optional<int64_t> e, std::optional<int64_t> u, std::optional<int64_t> s) {
  Interval i{e, u, s};
  if (i.empty()) i.every_n_epochs = 1;
  return i;
}

IValue optional_value(const std::optional<double>& v) { return v ? IValue(*v) : IValue(); }

std::optional<double> read_optional(const StateDict& state, const char* key, const std::string& who) {
  if (!state.contains(key)) throw CheckpointError(who + " state has no '" + key + "' key");
  IValue v = state.at(key);
  if (v.isNone()) return std::nullopt;
  if (v.isDouble()) return v.toDouble();
  if (v.isInt()) return static_cast<double>(v.toInt());
  throw CheckpointError(who + " state key '" + key + "': expected a float or None, found " + v.tagKind());
}

bool improved(bool higher_is_better, double current, const std::optional<double>& best, double min_delta = 0.0) {
  if (!best) return true;
  return higher_is_better ? current > *best + min_delta : current < *best - min_delta;
}
}  // namespace

double current_metric(const CallbackBase& who, const std::string& metric_key) {
  if (auto v = who.writer().log_cache().get(metric_key); v && who.writer().has_cache()) return *v;
  MetricMap metrics = who.trainer().callback_metrics();
  auto it = metrics.find(metric_key);
  if (it != metrics.end()) return it->second.detach().to(torch::kDouble).item<double>();
  std::string keys;
  for (const auto& kv : who.writer().log_cache().scalars) keys += (keys.empty() ? "" : ", ") + kv.first;
  for (const auto& kv : metrics) keys += (keys.empty() ? "" : ", ") + kv.first;
  throw MisconfigurationError(who.str() + ": metric '" + metric_key + "' was not logged in this step (available: " +
                              (keys.empty() ? "none" : keys) + "). It must be logged by the module or by a callback "
                              "that comes earlier in the callback list and runs at the same or a higher frequency.");
}

// ---- FixedEarlyStopper ---------------------------------------------------------------------------------------------

FixedEarlyStopper::FixedEarlyStopper(FixedEarlyStopperOptions o, std::shared_ptr<Context> context)
    : PeriodicCallback(Interval{}, std::move(context)),
      stop_at_{o.stop_at_epoch, o.stop_at_update, o.stop_at_sample} {
  VOLT_CHECK(stop_at_.is_minimally_specified(), "FixedEarlyStopper: set exactly one of stop_at_epoch, stop_at_update, "
             "stop_at_sample");
  for (auto v : {o.stop_at_epoch, o.stop_at_update, o.stop_at_sample})
    if (v) VOLT_CHECK(*v >= 0, "FixedEarlyStopper: the stop point must be >= 0, got ", *v);
}

void FixedEarlyStopper::_before_training(const UpdateCounter& c) {
  if (c.cur_iteration().to_target_specification(stop_at_) >= stop_at_) trainer().should_stop = true;
}

void FixedEarlyStopper::_track_after_update_step(const UpdateCounter& c, const std::map<std::string, double>&) {
  if (trainer().should_stop || !(c.cur_iteration().to_target_specification(stop_at_) >= stop_at_)) return;
  logger().info("Stopping early at " + c.cur_iteration().str() + " (stop at " + stop_at_.str() + ")");
  trainer().should_stop = true;
}

// ---- MetricEarlyStopper --------------------------------------------------------------------------------------------

MetricEarlyStopper::MetricEarlyStopper(MetricEarlyStopperOptions o, std::shared_ptr<Context> context)
    : PeriodicCallback(interval_or_epoch(o.every_n_epochs, o.every_n_updates, o.every_n_samples), std::move(context)),
      options_(std::move(o)) {
  VOLT_CHECK(!options_.metric_key.empty(), "MetricEarlyStopper: metric_key is empty");
  VOLT_CHECK(options_.tolerance >= 1, "MetricEarlyStopper: tolerance must be >= 1, got ", options_.tolerance);
  VOLT_CHECK(options_.min_delta >= 0, "MetricEarlyStopper: min_delta must be >= 0, got ", options_.min_delta);
}

std::string MetricEarlyStopper::state_key() const {
  return generate_state_key({{"metric_key", options_.metric_key}});
}

StateDict MetricEarlyStopper::state_dict() {
  return {{"best", optional_value(best_)}, {"tolerance_counter", tolerance_counter_}};
}

void MetricEarlyStopper::load_state_dict(const StateDict& state) {
  best_ = read_optional(state, "best", state_key());
  IValue counter = state.get("tolerance_counter");
  if (!counter.isInt()) throw CheckpointError(state_key() + " state key 'tolerance_counter': expected an int");
  tolerance_counter_ = counter.toInt();
}

void MetricEarlyStopper::_periodic_callback(IntervalType, const UpdateCounter& c) {
  const double value = current_metric(*this, options_.metric_key);
  if (improved(metric_property_provider().higher_is_better(options_.metric_key), value, best_, options_.min_delta)) {
    best_ = value;
    tolerance_counter_ = 0;
    return;
  }
  ++tolerance_counter_;
  if (tolerance_counter_ < options_.tolerance) return;
  logger().info("Stopping early at " + c.cur_iteration().str() + ": " + options_.metric_key + " did not improve for " +
                std::to_string(tolerance_counter_) + " checks (best " + python_format_float(*best_, "") + ")");
  trainer().should_stop = true;
}

// ---- BestCheckpointCallback ---------------------------------------------------------------------------------------

BestCheckpointCallback::BestCheckpointCallback(BestCheckpointOptions o, std::shared_ptr<Context> context)
    : PeriodicCallback(interval_or_epoch(o.every_n_epochs, o.every_n_updates, o.every_n_samples), std::move(context)),
      options_(std::move(o)) {
  VOLT_CHECK(!options_.metric_key.empty(), "BestCheckpointCallback: metric_key is empty");
}

std::string BestCheckpointCallback::state_key() const {
  return generate_state_key({{"metric_key", options_.metric_key}});
}

StateDict BestCheckpointCallback::state_dict() { return {{"best_metric_value", optional_value(best_)}}; }

void BestCheckpointCallback::load_state_dict(const StateDict& state) {
  best_ = read_optional(state, "best_metric_value", state_key());
}

std::string BestCheckpointCallback::checkpoint_tag() const {
  std::string key = options_.metric_key;
  std::replace(key.begin(), key.end(), '/', '.');
  return "best_model." + key;
}

void BestCheckpointCallback::_periodic_callback(IntervalType, const UpdateCounter&) {
  const double value = current_metric(*this, options_.metric_key);
  if (!improved(metric_property_provider().higher_is_better(options_.metric_key), value, best_)) return;
  logger().info("New best model (" + options_.metric_key + "=" + python_format_float(value, "") + ")" +
                (best_ ? " previous best: " + python_format_float(*best_, "") : std::string()));
  best_ = value;
  const std::string name = options_.model_name.empty() ? context()->options().model_name : options_.model_name;
  checkpoint_writer().save(model(), name, checkpoint_tag());
}

// ---- BestMetricCallback -------------------------------------------------------------------------------------------

BestMetricCallback::BestMetricCallback(BestMetricOptions o, std::shared_ptr<Context> context)
    : PeriodicCallback(interval_or_epoch(o.every_n_epochs, o.every_n_updates, o.every_n_samples), std::move(context)),
      options_(std::move(o)) {
  VOLT_CHECK(!options_.source_metric_key.empty(), "BestMetricCallback: source_metric_key is empty");
}

std::string BestMetricCallback::state_key() const {
  return generate_state_key({{"source_metric_key", options_.source_metric_key}});
}

StateDict BestMetricCallback::state_dict() {
  StateDict targets;
  for (const auto& [k, v] : targets_at_best_) targets.set(k, v);
  return {{"best", optional_value(best_)}, {"targets", targets}};
}

void BestMetricCallback::load_state_dict(const StateDict& state) {
  best_ = read_optional(state, "best", state_key());
  targets_at_best_.clear();
  for (const auto& kv : as_state(state.get("targets", StateDict()), state_key() + " key 'targets'"))
    if (kv.value().isDouble()) targets_at_best_[kv.key().toStringRef()] = kv.value().toDouble();
}

void BestMetricCallback::_periodic_callback(IntervalType, const UpdateCounter&) {
  const std::string& source = options_.source_metric_key;
  const double value = current_metric(*this, source);
  if (improved(metric_property_provider().higher_is_better(source), value, best_)) {
    best_ = value;
    for (const auto& target : options_.target_metric_keys) targets_at_best_[target] = current_metric(*this, target);
  }
  writer().add_scalar(source + "/best", *best_);
  for (const auto& [target, v] : targets_at_best_) writer().add_scalar(target + "/at_best/" + source, v);
}

}  // namespace volt::ksuit
