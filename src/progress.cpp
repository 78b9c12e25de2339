#include "volt/detail/progress.hpp"

#include "volt/error.hpp"

namespace volt::detail {
namespace {

int64_t read_int(const StateDict& state, const std::string& key, const std::string& where) {
  if (!state.contains(key)) throw CheckpointError(concat(where, ": missing key '", key, "'"));
  auto v = state.at(key);
  if (!v.isInt()) throw CheckpointError(concat(where, ".", key, ": expected an int, found ", v.tagKind()));
  return v.toInt();
}

StateDict read_dict(const StateDict& state, const std::string& key, const std::string& where) {
  if (!state.contains(key)) throw CheckpointError(concat(where, ": missing key '", key, "'"));
  return as_state(state.at(key), where + "." + key);
}

}  // namespace

StateDict Tracker::state_dict() const {
  StateDict d{{"ready", ready}, {"completed", completed}};
  if (kind >= kStarted) d.set("started", started);
  if (kind >= kProcessed) d.set("processed", processed);
  return d;
}

void Tracker::load_state_dict(const StateDict& state, const std::string& where) {
  ready = read_int(state, "ready", where);
  completed = read_int(state, "completed", where);
  if (kind >= kStarted) started = read_int(state, "started", where);
  if (kind >= kProcessed) processed = read_int(state, "processed", where);
}

StateDict Progress::state_dict() const { return {{"total", total.state_dict()}, {"current", current.state_dict()}}; }

void Progress::load_state_dict(const StateDict& state, const std::string& where) {
  total.load_state_dict(read_dict(state, "total", where), where + ".total");
  current.load_state_dict(read_dict(state, "current", where), where + ".current");
}

StateDict BatchProgress::state_dict() const {
  auto d = Progress::state_dict();
  if (has_last_batch_flag) d.set("is_last_batch", is_last_batch);
  return d;
}

void BatchProgress::load_state_dict(const StateDict& state, const std::string& where) {
  Progress::load_state_dict(state, where);
  if (!has_last_batch_flag) return;
  if (!state.contains("is_last_batch") || !state.at("is_last_batch").isBool())
    throw CheckpointError(concat(where, ": missing or non-bool key 'is_last_batch'"));
  is_last_batch = state.at("is_last_batch").toBool();
}

StateDict OptimizerProgress::state_dict() const {
  return {{"optimizer", StateDict{{"step", step.state_dict()}, {"zero_grad", zero_grad.state_dict()}}}};
}

void OptimizerProgress::load_state_dict(const StateDict& state, const std::string& where) {
  auto opt = read_dict(state, "optimizer", where);
  step.load_state_dict(read_dict(opt, "step", where + ".optimizer"), where + ".optimizer.step");
  zero_grad.load_state_dict(read_dict(opt, "zero_grad", where + ".optimizer"), where + ".optimizer.zero_grad");
}

}  // namespace volt::detail
