// The batch size finder (Lightning 2.2.5's tuner/batch_size_scaling.py and callbacks/batch_size_finder.py): run a
// few training steps with growing batch sizes until one runs out of memory ("power": double until a failure;
// "binsearch": then bisect between the last success and the failure) and keep the largest that worked.
//
// Use it through `Tuner(trainer).scale_batch_size(model, ...)` (include/volt/tuner.hpp) or as the BatchSizeFinder
// callback, which searches in on_fit_start.
//
// The batch size lives in `module.hparams()[batch_arg_name]` (else the data module's hparams); the dataloader
// hooks must read it, since every trial asks them for new loaders. A trial fails on out-of-memory errors only
// (messages with "CUDA" and "out of memory", "cuDNN error: CUDNN_STATUS_NOT_SUPPORTED." or
// "DefaultCPUAllocator: can't allocate memory", as Lightning's is_oom_error); any other error propagates.
//
// Where volt differs from Lightning 2.2.5: each trial is a nested Trainer built from the trainer's options (no
// callbacks, loggers, checkpoints or sanity check; max_steps = steps_per_trial, limit_train_batches = 1.0,
// limit_val_batches = steps_per_trial), so the module's setup/configure_optimizers/teardown hooks fire per trial;
// weights and buffers come back from an in-memory snapshot instead of a temporary checkpoint file. Only "fit" is
// supported (Lightning also scales for validate/test/predict). In binsearch, when a failed size cannot be lowered
// because it is not smaller than the dataset, Lightning 2.2.5 retries it forever; volt stops with the last size
// that worked (and a warning).
//
// Kept from Lightning 2.2.5: the first trial runs with the batch size the attribute had before the search (the
// loader is built before init_val is set and not rebuilt), and power mode returns the doubled size after the last
// successful trial without testing it.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "volt/callback.hpp"

namespace volt {

class DataLoader;
class DataModule;

struct BatchSizeFinderOptions {
  /// "power" or "binsearch".
  std::string mode = "power";
  /// Training steps per trial.
  int64_t steps_per_trial = 3;
  /// The batch size of the first trial.
  int64_t init_val = 2;
  /// How many batch-size increases to try at most.
  int64_t max_trials = 25;
  /// The hparams key of the batch size.
  std::string batch_arg_name = "batch_size";
};

/// True for the out-of-memory errors Lightning's is_oom_error recognises (by message).
bool is_oom_error(const std::exception& error);

/// Runs the search on `module` (data from `datamodule`, else the trainer's data module, else the module's hooks)
/// and leaves the batch size it found in the hparams. nullopt under fast_dev_run (with Lightning's warning).
std::optional<int64_t> scale_batch_size(Trainer& trainer, Module& module, const BatchSizeFinderOptions& options,
                                        DataModule* datamodule = nullptr);

class BatchSizeFinder : public Callback {
 public:
  /// MisconfigurationError for a mode other than "power"/"binsearch".
  explicit BatchSizeFinder(BatchSizeFinderOptions options = {});
  const BatchSizeFinderOptions& options() const { return options_; }
  /// Checks that the batch size attribute exists (Lightning does it in setup).
  void setup(Trainer& trainer, Module& module, const std::string& stage) override;
  void on_fit_start(Trainer& trainer, Module& module) override;
  void scale_batch_size(Trainer& trainer, Module& module);
  std::optional<int64_t> optimal_batch_size() const { return optimal_batch_size_; }

 private:
  BatchSizeFinderOptions options_;
  std::optional<int64_t> optimal_batch_size_;
};

}  // namespace volt
