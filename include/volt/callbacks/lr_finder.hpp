// The learning-rate range test (Lightning 2.2.5's tuner/lr_finder.py and callbacks/lr_finder.py): train
// `num_training` optimizer steps while the lr rises from `min_lr` to `max_lr`, record the smoothed loss per step,
// put everything back, and suggest the lr where the loss falls fastest.
//
// Use it through `Tuner(trainer).lr_find(model, ...)` (include/volt/tuner.hpp) or as the LearningRateFinder
// callback, which searches in on_fit_start.
//
// Where volt differs from Lightning 2.2.5:
//  - the search runs in a nested Trainer built from the trainer's options (only the recording callback, no
//    loggers, checkpoints, progress bar or sanity check; max_steps = num_training, limit_val_batches =
//    num_training), so the module's setup/configure_optimizers/on_fit_start/teardown hooks fire again for the
//    search. The weights and buffers are restored from an in-memory snapshot (Lightning: a temporary checkpoint
//    file), and the random number generator state is put back (Lightning's isolate_rng).
//  - the learning-rate "attribute" is a key of `module.hparams()` ("lr" or "learning_rate", or `attr_name`).
//    As in 2.2.5, only that attribute changes; the optimizer the running fit already built keeps its lr.
//  - the curve is also written as `lr_find.csv` and `lr_find.svg` (log-x when exponential) in the first logger's
//    log_dir, else the default_root_dir.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "volt/callback.hpp"
#include "volt/optim/lr_scheduler.hpp"

namespace volt {

class DataLoader;
class DataModule;

/// Lightning's `_LRFinder`: the recorded curve and the suggestion.
class LRFinder {
 public:
  LRFinder(std::string mode, double lr_min, double lr_max, int64_t num_training);

  /// Lightning 2.2.5's suggestion: drop `skip_begin` points at the start and `skip_end` at the end (Python slice
  /// [skip_begin:-skip_end], so skip_end 0 leaves nothing), keep the finite losses (as float32), take
  /// torch.gradient w.r.t. the index and return the lr at the steepest descent. The index is taken as
  /// argmin + skip_begin, not corrected for dropped non-finite points (2.2.5's quirk). nullopt (and an error
  /// message) with fewer than 2 points.
  std::optional<double> suggestion(int64_t skip_begin = 10, int64_t skip_end = 1);
  std::optional<int64_t> optimal_idx() const { return optimal_idx_; }

  /// "lr,loss" rows, losses with 17 significant digits (nan for steps whose training_step returned None).
  void write_csv(const std::string& path) const;
  /// The curve as an SVG: polyline, axes with ticks, log-x for "exponential", a red dot at the suggestion if
  /// `suggest` and there is one.
  void write_svg(const std::string& path, bool suggest = true);

  std::string mode;
  double lr_min, lr_max;
  int64_t num_training;
  std::vector<double> lrs, losses;  // Lightning's results["lr"], results["loss"]
  /// Batches the search consumed (Lightning's `_total_batch_idx`, for debugging).
  int64_t total_batch_idx = 0;

 private:
  std::optional<int64_t> optimal_idx_;
};

/// The sweep schedulers the finder installs (interval "step"): step k uses min_lr at k = 0, then
/// base * (end / base) ** ((k + 1) / N) (exponential) or base + (k + 1) / N * (end - base) (linear).
class LRFinderExponentialLR : public LRScheduler {
 public:
  LRFinderExponentialLR(torch::optim::Optimizer& optimizer, double end_lr, int64_t num_iter);
  std::string class_name() const override { return "_ExponentialLR"; }

 protected:
  std::vector<double> compute_lr() override;

 private:
  double end_lr_;
  int64_t num_iter_;
};

class LRFinderLinearLR : public LRScheduler {
 public:
  LRFinderLinearLR(torch::optim::Optimizer& optimizer, double end_lr, int64_t num_iter);
  std::string class_name() const override { return "_LinearLR"; }

 protected:
  std::vector<double> compute_lr() override;

 private:
  double end_lr_;
  int64_t num_iter_;
};

struct LearningRateFinderOptions {
  double min_lr = 1e-8;
  double max_lr = 1;
  int64_t num_training_steps = 100;
  /// "exponential" or "linear" (case-insensitive).
  std::string mode = "exponential";
  /// Stop when the smoothed loss exceeds this times the best one; unset: never stop early.
  std::optional<double> early_stop_threshold = 4.0;
  /// Write the suggestion into module.hparams()[attr_name] (see attr_name).
  bool update_attr = true;
  /// The hparams key holding the lr; empty: the first of "lr", "learning_rate" that exists.
  std::string attr_name;
  /// Write lr_find.csv and lr_find.svg next to the logs.
  bool write_curve = true;
};

/// Runs one search on `module` with a nested Trainer derived from `trainer`'s options (see the file comment) and
/// the given data (train/val loaders, or a data module, or the module's own dataloader hooks). Returns nullopt
/// under fast_dev_run (with Lightning's warning).
std::optional<LRFinder> lr_find(Trainer& trainer, Module& module, const LearningRateFinderOptions& options,
                                std::shared_ptr<DataLoader> train_dataloader = nullptr,
                                std::shared_ptr<DataLoader> val_dataloader = nullptr,
                                DataModule* datamodule = nullptr);

/// The callback form: searches in on_fit_start with the trainer's data module or the module's dataloader hooks.
class LearningRateFinder : public Callback {
 public:
  explicit LearningRateFinder(LearningRateFinderOptions options = {});
  const LearningRateFinderOptions& options() const { return options_; }
  void on_fit_start(Trainer& trainer, Module& module) override;
  /// Runs a search now (users may call it from other hooks, e.g. at milestone epochs).
  void lr_find(Trainer& trainer, Module& module);
  /// The last search's result (Lightning's `optimal_lr`, which also holds the whole finder).
  const std::optional<LRFinder>& optimal_lr() const { return optimal_lr_; }

 private:
  LearningRateFinderOptions options_;
  std::optional<LRFinder> optimal_lr_;
};

}  // namespace volt
