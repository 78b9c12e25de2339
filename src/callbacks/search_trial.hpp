// What the tuner's searches (LearningRateFinder, BatchSizeFinder) change in the user's TrainerOptions for their
// nested trial Trainer: as Lightning's __lr_finder_reset_params / __scale_batch_reset_params, `steps` optimizer
// steps with as many validation batches, no sanity check, and no checkpointing, logging, progress bar, summary,
// time limit, profiler or reseeding, so the search leaves no files and does not disturb the run's random numbers.
#pragma once
#include "volt/trainer.hpp"

namespace volt::detail {

inline TrainerOptions search_trial_options(const TrainerOptions& base, int64_t steps,
                                           std::vector<CallbackPtr> callbacks = {}) {
  TrainerOptions o = base;
  o.callbacks = std::move(callbacks);
  o.loggers.clear();
  o.max_steps = steps;
  o.limit_val_batches = BatchLimit(steps);
  o.num_sanity_val_steps = 0;
  o.enable_checkpointing = false;
  o.enable_progress_bar = false;
  o.enable_model_summary = false;
  o.max_time.reset();
  o.seed.reset();
  o.profiler = ProfilerArg();  // the trial runs inside a hook of the user's run: its profiler would print mid-run
  return o;
}

}  // namespace volt::detail
