// Callback order-independence check. Callbacks should not depend on each other's order in the callback list (a
// callback that reads what another one wrote in the same hook behaves differently when the list is reordered,
// e.g. by configure_callbacks or by checkpoint callbacks being moved last). This runs the same seeded fit twice,
// once with the user's callbacks in list order and once reversed, and reports what differs.
//
// Limits (what it cannot see):
// * Only differences that reach a callback's state_dict() or the trainer's callback_metrics / logged_metrics after
//   fit are found. A callback whose order changes only what it prints, the files it writes or its state outside
//   state_dict() passes. Give your callbacks a state_dict (even a debugging one) to make them checkable.
// * A metric difference is not attributed to a callback (Lightning keeps no record of who logged a value); the
//   report lists the metric and, separately, the callbacks whose state differs.
// * Both runs must be deterministic apart from the order: the factory must build everything from the seed
//   (the checker also seeds torch before calling it and sets TrainerOptions::seed). Non-deterministic operations
//   (threads, wall-clock time such as Timer's state, uninitialised memory, deterministic=false kernels on a GPU)
//   show up as differences that are not order-related; compare with a tolerance or remove such callbacks.
// * Only the callbacks the factory returns are reordered and compared; the trainer's defaults (checkpoint, progress
//   bar, summary) and callbacks from configure_callbacks or plugins keep their places.
// * Files: each run gets its own default_root_dir (`<default_root_dir>/order_check/{forward,reversed}`), and that
//   directory is replaced by "<root>" in strings before comparing, so checkpoint paths compare equal. A callback
//   that writes outside it sees the other run's files.
// * Two orders only. Reversing the list swaps the relative order of every pair, so a dependency between two
//   callbacks shows; an effect that needs three callbacks in one particular order may not.
// * Only fit is run (not validate/test/predict), and it runs twice: keep the factory's run small.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "volt/callback.hpp"
#include "volt/data.hpp"
#include "volt/module.hpp"
#include "volt/trainer.hpp"

namespace volt {

/// Everything one fit needs, built fresh by the factory for each run.
struct OrderCheckRun {
  std::shared_ptr<Module> module;
  std::shared_ptr<DataModule> datamodule;  // optional: the module's own dataloader hooks are used if null
  /// The callbacks whose order is checked (TrainerOptions::callbacks is ignored).
  std::vector<CallbackPtr> callbacks;
  TrainerOptions options;
};

struct CallbackOrderReport {
  struct StateDifference {
    std::string state_key;
    /// The differing entries, e.g. "count: 3 != 4" (forward value first).
    std::vector<std::string> details;
  };
  struct MetricDifference {
    std::string name;
    std::optional<double> forward, reversed;  // nullopt: not logged in that run
  };
  /// The callback order of each run (state keys).
  std::vector<std::string> forward_order, reversed_order;
  std::vector<StateDifference> callbacks;
  std::vector<MetricDifference> metrics;
  /// If a run threw, what it threw ("" if it finished).
  std::string forward_error, reversed_error;

  bool independent() const {
    return callbacks.empty() && metrics.empty() && forward_error == reversed_error;
  }
  /// A readable report naming every differing callback and metric.
  std::string to_string() const;
};

/// Runs fit twice (callbacks as the factory lists them, then reversed) from the same seed and compares each
/// callback's state_dict (matched by state_key) and the trainer's callback_metrics and logged_metrics. Values are
/// equal if they are within `tolerance` (absolute, for floats and tensors). See the limits above.
CallbackOrderReport check_callback_order_independence(const std::function<OrderCheckRun(uint64_t seed)>& factory,
                                                      uint64_t seed = 0, double tolerance = 0.0);

}  // namespace volt
