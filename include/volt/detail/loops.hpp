// The loops, shaped like Lightning's (loops/*.py) so each can be read next to its Python twin. They own the
// progress counters that checkpoints save (spec §3.2) and call hooks only through HookCaller.
#pragma once
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "volt/detail/hook_caller.hpp"
#include "volt/detail/progress.hpp"
#include "volt/logging.hpp"
#include "volt/trainer.hpp"

namespace volt::detail {

/// Lightning's _ModuleMode: each submodule's training flag, captured before eval and put back after it without
/// any hook firing. Works for modules that are not held by a shared_ptr.
class ModuleMode {
 public:
  void capture(const torch::nn::Module& root);
  void restore(torch::nn::Module& root) const;

 private:
  std::vector<bool> flags_;  // root first, then named_modules() order
};

/// Lightning's results table after trainer.validate/test (its layout without `rich`): one row per metric, one
/// column per dataloader, sized to the terminal (COLUMNS, else the terminal, else 120 columns).
void print_results(const std::vector<MetricMap>& results, const std::string& stage, std::ostream& out);
int terminal_columns();

/// Validation (inside fit or alone) and test.
class EvaluationLoop {
 public:
  EvaluationLoop(Trainer& trainer, TrainerFn fn, EvalStage stage, bool inference_mode);
  /// Runs every batch of every dataloader; returns the logged epoch metrics per dataloader.
  std::vector<MetricMap> run();
  /// Requests the dataloaders (once per fit) and applies the batch limits.
  void setup_data();
  bool enabled() const;
  const std::vector<int64_t>& max_batches() const;
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state, const std::string& where);
  void reset_progress() { batch_progress.reset(); }

  BatchProgress batch_progress;
  ResultCollection results{false};
  bool restarting = false;
  bool has_run = false;
  /// Print the results table at the end (trainer.validate/test's verbose=True).
  bool verbose = false;
  std::vector<int64_t> limited_batches;   // per dataloader, limit applied (not the sanity limit)
  std::vector<int64_t> sanity_batches;    // per dataloader while sanity checking

 private:
  void reset();
  void evaluation_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx);
  MetricMap store_dataloader_outputs();

  Trainer& trainer_;
  TrainerFn fn_;
  EvalStage stage_;
  bool inference_mode_;
  std::vector<std::shared_ptr<DataLoader>> loaders_;
  bool data_ready_ = false;
  ModuleMode module_mode_;
  std::vector<int64_t> seen_batches_;
};

class TrainingEpochLoop {
 public:
  explicit TrainingEpochLoop(Trainer& trainer);
  void run();
  bool done() const;
  int64_t global_step() const;
  int64_t batch_idx() const { return batch_progress.current.ready - 1; }
  bool num_ready_batches_reached() const;
  bool should_accumulate() const;
  bool should_check_val_epoch() const;
  void update_lr_schedulers(const std::string& interval, bool update_plateau_schedulers);
  /// Whether the batch that made `ready` batches only accumulated gradients (no optimizer step).
  bool batch_only_accumulated(int64_t ready) const;

  BatchProgress batch_progress;
  Progress scheduler_progress{Tracker::kReadyCompleted};
  OptimizerProgress optim_progress;         // automatic optimization
  Progress manual_step_progress{Tracker::kReadyCompleted};  // manual optimization
  EvaluationLoop val_loop;
  ResultCollection results{true};
  int64_t batches_that_stepped = 0;
  bool restarting = false;

 private:
  void reset();
  bool advance();  // false ends the epoch (Lightning raises StopIteration)
  void on_advance_end();
  bool should_check_val_fx() const;
  bool accumulated_batches_reached() const;
  bool is_training_done() const;
  StepOutput run_automatic_optimization(const Batch& batch, int64_t batch_idx);
  StepOutput run_manual_optimization(const Batch& batch, int64_t batch_idx);
  /// TrainerOptions::non_finite_loss: reports where a run of NaN/infinite losses starts.
  void check_loss(const torch::Tensor& loss, int64_t batch_idx);

  Trainer& trainer_;
  mutable std::set<std::string> info_cache_;  // Lightning's per-loop WarningCache: each message once
  bool last_loss_finite_ = true;
};

class FitLoop {
 public:
  explicit FitLoop(Trainer& trainer);
  void run();
  bool done() const;
  bool can_stop_early() const;
  void setup_data();
  bool data_ready() const { return data_ready_; }
  StateDict state_dict() const;
  /// Loads progress and sets `restarting` as Lightning's fit-loop setter does.
  void load_state_dict(const StateDict& state, const std::string& where);
  void set_restarting(bool restarting);

  Progress epoch_progress;
  TrainingEpochLoop epoch_loop;
  bool restarting = false;
  std::shared_ptr<DataLoader> train_loader;

 private:
  void reset();
  void on_run_start();
  void on_advance_start();
  void on_advance_end();

  Trainer& trainer_;
  bool data_ready_ = false;
};

class PredictionLoop {
 public:
  PredictionLoop(Trainer& trainer, bool inference_mode);
  std::vector<IValue> run();
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state, const std::string& where);
  const std::vector<int64_t>& max_batches() const { return max_batches_; }

  BatchProgress batch_progress;
  /// For prediction writers (Lightning's attributes of the same names); see Trainer::predict_*.
  std::vector<int64_t> current_batch_indices;
  std::vector<std::vector<std::vector<int64_t>>> epoch_batch_indices;
  std::vector<IValue> predictions;

 private:
  /// Lightning's _store_data_for_prediction_writer: records the batch's indices if a writer wants them.
  void store_data_for_prediction_writer(DataLoader& loader, int64_t batch_idx, int64_t dataloader_idx);

  Trainer& trainer_;
  bool inference_mode_;
  std::vector<int64_t> max_batches_;
  bool warned_batch_indices_ = false;
};

/// Lightning's _parse_num_batches with the trainer's limit.
int64_t limited_num_batches(int64_t length, const BatchLimit& limit, const char* option);

}  // namespace volt::detail
