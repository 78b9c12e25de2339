// Loop progress counters with Lightning's semantics and state_dict layout (loops/progress.py). A tracker holds
// 2, 3 or 4 of the counters; its dict lists them in dataclass order: ready, completed, started, processed.
#pragma once
#include <cstdint>
#include <string>

#include "volt/state.hpp"

namespace volt::detail {

struct Tracker {
  enum Kind { kReadyCompleted = 2, kStarted = 3, kProcessed = 4 };
  explicit Tracker(Kind k = kProcessed) : kind(k) {}
  Kind kind;
  int64_t ready = 0, completed = 0, started = 0, processed = 0;

  void reset() { ready = completed = started = processed = 0; }
  /// Forget what was started but not completed (what a resumed run has to redo).
  void reset_on_restart() { ready = started = processed = completed; }
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state, const std::string& where);
};

struct Progress {
  explicit Progress(Tracker::Kind k = Tracker::kProcessed) : total(k), current(k) {}
  Tracker total, current;
  void increment_ready() { ++total.ready, ++current.ready; }
  void increment_started() { ++total.started, ++current.started; }
  void increment_processed() { ++total.processed, ++current.processed; }
  void increment_completed() { ++total.completed, ++current.completed; }
  void reset() { total.reset(), current.reset(); }
  void reset_on_run() { current.reset(); }
  void reset_on_restart() { current.reset_on_restart(); }
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state, const std::string& where);
};

struct BatchProgress : Progress {
  bool is_last_batch = false;
  /// Predict loops use a plain progress without is_last_batch in their state.
  bool has_last_batch_flag = true;
  void reset() { Progress::reset(), is_last_batch = false; }
  void reset_on_run() { Progress::reset_on_run(), is_last_batch = false; }
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state, const std::string& where);
};

struct OptimizerProgress {
  Progress step{Tracker::kReadyCompleted};
  Progress zero_grad{Tracker::kStarted};
  void reset_on_run() { step.reset_on_run(), zero_grad.reset_on_run(); }
  void reset_on_restart() { step.reset_on_restart(), zero_grad.reset_on_restart(); }
  int64_t optimizer_steps() const { return step.total.completed; }
  /// {"optimizer": {"step": ..., "zero_grad": ...}} as Lightning's _OptimizationProgress writes it.
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state, const std::string& where);
};

}  // namespace volt::detail
