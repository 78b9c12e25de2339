// volt::Trainer: owns the engineering (loops, devices, checkpoints) and runs fit/validate/test/predict with
// Lightning's hook order. Options are a plain struct with Lightning's names and defaults.
#pragma once
#include <torch/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "volt/callback.hpp"
#include "volt/data.hpp"
#include "volt/logging.hpp"
#include "volt/module.hpp"
#include "volt/profiler.hpp"
#include "volt/state.hpp"
#include "volt/strategies/strategy.hpp"
#include "volt/timedelta.hpp"

namespace volt {

namespace detail {
class FitLoop;
class TrainingEpochLoop;
class EvaluationLoop;
class PredictionLoop;
class HookCaller;
class ResultCollection;
class BackgroundWriter;
class SnapshotBuffers;
}  // namespace detail

class Checkpoint;
class ModelCheckpoint;
namespace ksuit {
class MetricPropertyProvider;
}
class ProgressBar;

/// A batch limit as Lightning takes it: an int is a count of batches, a double is a fraction of the loader.
struct BatchLimit {
  BatchLimit(int count) : is_count(true), count(count) {}            // NOLINT: implicit like Python's int/float
  BatchLimit(int64_t count) : is_count(true), count(count) {}        // NOLINT
  BatchLimit(double fraction) : is_count(false), fraction(fraction) {}  // NOLINT
  bool is_count;
  int64_t count = 0;
  double fraction = 1.0;
  bool is_zero() const { return is_count ? count == 0 : fraction == 0.0; }
  /// The number of batches out of `length`; throws MisconfigurationError naming `option` for bad values.
  int64_t resolve(int64_t length, const char* option) const;
};

/// Base of everything that receives metrics (CSV, TensorBoard, ...).
class Logger {
 public:
  virtual ~Logger();
  virtual std::string name() const = 0;
  virtual std::string version() const = 0;
  virtual std::string log_dir() const;
  virtual void log_metrics(const std::map<std::string, double>& metrics, int64_t step) = 0;
  virtual void log_hyperparams(const StateDict& params);
  virtual void save();
  /// status: "success", "failed" or "finished".
  virtual void finalize(const std::string& status);
};

struct TrainerOptions {
  /// Stop after this many epochs. Unset: 1000 when max_steps is -1 too, else unlimited.
  std::optional<int64_t> max_epochs;
  /// Train at least this many epochs even if should_stop is set. Unset: 1 if min_steps is set, else 0.
  std::optional<int64_t> min_epochs;
  /// Stop after this many optimizer steps (-1: no limit).
  int64_t max_steps = -1;
  std::optional<int64_t> min_steps;
  /// Stop after this much training time: "DD:HH:MM:SS", seconds, TimeDelta(::Parts) or a std::chrono duration.
  /// Adds Timer(duration=max_time, interval="step") unless the callbacks hold a Timer already. Unset: no limit.
  std::optional<TimerDuration> max_time;
  BatchLimit limit_train_batches = 1.0;
  BatchLimit limit_val_batches = 1.0;
  BatchLimit limit_test_batches = 1.0;
  BatchLimit limit_predict_batches = 1.0;
  /// Validate every this many training batches (int) or this fraction of an epoch (double).
  BatchLimit val_check_interval = 1.0;
  /// Validate every n epochs; unset: validate by val_check_interval over the whole run.
  std::optional<int64_t> check_val_every_n_epoch = 1;
  /// Validation batches run before training as a sanity check (-1: all).
  int64_t num_sanity_val_steps = 2;
  int64_t accumulate_grad_batches = 1;
  std::optional<double> gradient_clip_val;
  /// "norm" (default) or "value".
  std::optional<std::string> gradient_clip_algorithm;
  int64_t log_every_n_steps = 50;
  bool enable_checkpointing = true;
  bool enable_progress_bar = true;
  bool enable_model_summary = true;
  /// Where logs and checkpoints go when nothing else says.
  std::string default_root_dir = ".";
  /// Seeds torch's generator at the start of every fit/validate/test/predict.
  std::optional<uint64_t> seed;
  /// Deterministic algorithms (torch::globalContext().setDeterministicAlgorithms).
  bool deterministic = false;
  /// Run n batches of train/val/test/predict once to find bugs (0: off); no checkpoints or logs.
  int64_t fast_dev_run = 0;
  /// "cpu", "cuda" or "auto".
  std::string accelerator = "cpu";
  /// Processes per node (one per device); more than 1 needs the DDP strategy and a launch (volt::launch_processes,
  /// torchrun or SLURM; see docs/distributed.md).
  int devices = 1;
  int num_nodes = 1;
  /// "auto", "single_device", "ddp", or a configured instance such as std::make_shared<DDPStrategy>(DDPOptions{}).
  StrategyArg strategy = "auto";
  /// Under DDP, give each rank its own shard of the train/val/test loaders (Lightning's DistributedSampler).
  bool use_distributed_sampler = true;
  /// validate/test/predict under torch::InferenceMode (false: NoGradGuard).
  bool inference_mode = true;
  /// Turns off checkpointing, progress bar, model summary, logging and the sanity check.
  bool barebones = false;
  /// "" (off, the default: no per-hook cost beyond one branch), "simple", "advanced", or a Profiler instance. Records
  /// every callback, module, data module and strategy hook and the loops' own actions under Lightning's names, and
  /// prints (or writes, see Profiler) its report at the end of each run. See docs/profiling.md.
  ProfilerArg profiler;
  /// Warn (once per callback and hook) when a callback's training-batch hooks (on_train_batch_start/end,
  /// on_before/after_backward, on_before_zero_grad, on_before_optimizer_step) take more than this share of the
  /// training batch's wall time, on average. Measured on every 4th training batch from the second on, with one
  /// steady_clock read around each such hook call; judged after 2 measured batches and every 8 after. 0 turns it off.
  double slow_callback_warning = 0.25;
  /// What a NaN or infinite training loss does: "warn" (name the epoch, batch and global step where a run of
  /// non-finite losses starts), "raise" (a NonFiniteLossError, through on_exception) or "ignore" (no check). The
  /// check reads the loss on the host once per batch: free on CPU; on a GPU that is a device synchronisation, so
  /// there only "raise" checks (use EarlyStopping's check_finite for a check once per epoch).
  std::string non_finite_loss = "warn";
  std::vector<CallbackPtr> callbacks;
  std::vector<std::shared_ptr<Logger>> loggers;
  /// Asynchronous checkpoints (save_checkpoint(..., async_write=true), ModelCheckpoint's async_save): at most this
  /// many snapshots wait for the background writer; one more save blocks until a slot frees (>= 1).
  int64_t async_checkpoint_queue_size = 2;
  /// SIGTERM/SIGINT: before stopping at the next safe point, save a checkpoint here (empty: do not save).
  std::string signal_checkpoint_path;
  /// Under SLURM (SLURM_JOB_ID set), SIGUSR1 saves <default_root_dir>/hpc_ckpt_<n>.ckpt at the next safe point and
  /// requeues the job with `scontrol requeue $SLURM_JOB_ID` (Lightning's SLURMEnvironment(auto_requeue=True)).
  bool slurm_auto_requeue = true;
};

class Trainer {
 public:
  /// Builds the callback list (defaults added, checkpoint callbacks last) and validates state keys.
  explicit Trainer(TrainerOptions options = {});
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  /// Trains `module`. Data comes from `datamodule` if given, else from the module's dataloader hooks.
  /// ckpt_path: a path, "last", "best" or empty (no resume).
  void fit(Module& module, DataModule* datamodule = nullptr, const std::string& ckpt_path = "");
  void fit(Module& module, std::shared_ptr<DataLoader> train_dataloader,
           std::shared_ptr<DataLoader> val_dataloader = nullptr, const std::string& ckpt_path = "");
  /// Runs the validation loop; returns the logged epoch metrics per dataloader. verbose: print Lightning's results
  /// table at the end.
  std::vector<MetricMap> validate(Module& module, DataModule* datamodule = nullptr, const std::string& ckpt_path = "",
                                  bool verbose = true);
  std::vector<MetricMap> validate(Module& module, std::shared_ptr<DataLoader> dataloader,
                                  const std::string& ckpt_path = "", bool verbose = true);
  std::vector<MetricMap> test(Module& module, DataModule* datamodule = nullptr, const std::string& ckpt_path = "",
                              bool verbose = true);
  std::vector<MetricMap> test(Module& module, std::shared_ptr<DataLoader> dataloader, const std::string& ckpt_path = "",
                              bool verbose = true);
  /// Runs predict_step on every batch; returns the outputs in order.
  std::vector<IValue> predict(Module& module, DataModule* datamodule = nullptr, const std::string& ckpt_path = "");
  std::vector<IValue> predict(Module& module, std::shared_ptr<DataLoader> dataloader,
                              const std::string& ckpt_path = "");

  /// Dumps a checkpoint (every hook runs) and writes it atomically on rank 0 (docs/reliability.md).
  /// async_write: the tensors are copied off the training path and the file is written on a background thread
  /// while training goes on; a failure of an earlier background write is thrown here (CheckpointError).
  void save_checkpoint(const std::string& path, bool weights_only = false, bool async_write = false);
  /// Blocks until every background checkpoint write has finished; throws CheckpointError for the first one that
  /// failed. fit/validate/test/predict call it at their end, on exceptions and before reading a checkpoint.
  void wait_for_checkpoints();
  /// Runs `task` after the pending background writes (at once when there are none): ModelCheckpoint removes an
  /// old checkpoint or links "last" only once the new file is durable.
  void after_pending_checkpoint_writes(std::function<void()> task);
  /// The checkpoint dict as it would be saved (spec §3.1 layout); runs the save hooks.
  StateDict dump_checkpoint(bool weights_only = false);

  // ---- state visible to callbacks -----------------------------------------------------------------------------
  /// Set by any callback to stop training at the next check (respecting min_epochs/min_steps).
  bool should_stop = false;
  int64_t current_epoch() const;
  int64_t global_step() const;
  bool training() const { return fn_ == TrainerFn::kFitting && !validating_ && !sanity_checking_; }
  bool validating() const { return validating_; }
  bool testing() const { return fn_ == TrainerFn::kTesting && running_; }
  bool predicting() const { return fn_ == TrainerFn::kPredicting && running_; }
  bool sanity_checking() const { return sanity_checking_; }
  /// The function being run (or last run).
  TrainerFn fn() const { return fn_; }
  /// "initializing", "running", "finished" or "interrupted".
  const std::string& status() const { return status_; }
  const TrainerOptions& options() const { return options_; }
  const std::vector<CallbackPtr>& callbacks() const { return callbacks_; }
  Module* lightning_module() const { return module_; }
  DataModule* datamodule() const { return datamodule_; }
  const std::vector<std::shared_ptr<Logger>>& loggers() const { return options_.loggers; }
  const std::string& default_root_dir() const { return options_.default_root_dir; }
  torch::Device device() const { return device_; }
  /// The profiler of TrainerOptions::profiler (a PassThroughProfiler when off).
  Profiler& profiler() const { return *profiler_; }
  /// Lightning's `trainer.log_dir`: the first logger's log_dir if it has one, else default_root_dir.
  std::string log_dir() const;

  /// Metrics callbacks can monitor (spec §8), merged with what is being logged right now.
  MetricMap callback_metrics();
  MetricMap logged_metrics();
  MetricMap progress_bar_metrics();

  int64_t num_training_batches() const { return num_training_batches_; }
  /// Lightning's `estimated_stepping_batches`: the optimizer steps fit will take, from max_epochs, max_steps, the
  /// training batches per epoch and accumulate_grad_batches (infinity when unbounded). Loads the train dataloader
  /// if fit has not yet, so configure_optimizers can size a schedule with it.
  double estimated_stepping_batches();
  const std::vector<int64_t>& num_val_batches() const;
  const std::vector<int64_t>& num_sanity_val_batches() const;
  int64_t num_test_batches() const;
  int64_t num_predict_batches() const;
  int64_t max_epochs() const { return max_epochs_; }
  int64_t max_steps() const { return options_.max_steps; }
  /// Starts as TrainerOptions::accumulate_grad_batches; GradientAccumulationScheduler changes it per epoch.
  int64_t accumulate_grad_batches() const { return accumulate_grad_batches_; }
  /// Lightning's `trainer.accumulate_grad_batches = n`; takes effect from the next batch. n must be >= 1.
  void set_accumulate_grad_batches(int64_t n);
  const std::vector<std::shared_ptr<torch::optim::Optimizer>>& optimizers() const { return optimizers_; }
  const std::vector<LRSchedulerConfig>& lr_scheduler_configs() const { return lr_scheduler_configs_; }

  // ---- fit-loop controls for callbacks that reshape training (StochasticWeightAveraging) ----------------------
  /// Lightning's `trainer.strategy.lr_scheduler_configs`, writable: a callback may swap or add schedulers.
  std::vector<LRSchedulerConfig>& mutable_lr_scheduler_configs() { return lr_scheduler_configs_; }
  /// Lightning's `trainer.fit_loop.max_epochs = n`, for the running fit (reset from the options at every fit).
  void set_max_epochs(int64_t max_epochs) { max_epochs_ = max_epochs; }
  /// Lightning's `fit_loop._skip_backward`: training steps run without backward (forward passes only, e.g. to
  /// recompute BatchNorm statistics). Reset at every fit.
  bool skip_backward = false;
  /// Points `module` back at this trainer after a nested Trainer ran it (the learning-rate finder's search).
  void reattach(Module& module) { module.trainer_ = this; }

  /// Optimizer steps taken in fit (Lightning's `fit_loop.epoch_loop._batches_that_stepped`): the step the loggers
  /// get, also from callbacks that call Logger::log_metrics themselves (LearningRateMonitor, DeviceStatsMonitor).
  int64_t batches_that_stepped() const;
  /// Whether the running loop logs on this batch (Lightning's `_logger_connector.should_update_logs`): never when
  /// log_every_n_steps is 0; in fit every log_every_n_steps-th optimizer step or when should_stop is set; in
  /// validate/test/predict every log_every_n_steps-th batch.
  bool should_update_logs() const;
  /// Lightning's `trainer.callback_metrics.update(metrics)`: makes values monitorable by other callbacks.
  void update_callback_metrics(const MetricMap& metrics);
  /// The one ProgressBar among the callbacks (Lightning's `trainer.progress_bar_callback`), or nullptr.
  ProgressBar* progress_bar_callback() const;

  // ---- what the predict loop keeps for prediction writers (Lightning's `trainer.predict_loop.*`) --------------
  /// The dataset indices of the batch being predicted; empty unless a BasePredictionWriter writes per batch and
  /// the loader can tell (DataLoader::batch_indices).
  const std::vector<int64_t>& predict_current_batch_indices() const;
  /// Per dataloader, the indices of every batch so far; filled only if a BasePredictionWriter writes per epoch.
  /// Cleared before on_predict_end.
  const std::vector<std::vector<std::vector<int64_t>>>& predict_epoch_batch_indices() const;
  /// The predictions of the running (or last) predict, one per batch (Lightning's `predict_loop.predictions`).
  const std::vector<IValue>& predict_predictions() const;

  /// The first checkpoint callback, or nullptr.
  Checkpoint* checkpoint_callback() const;
  std::vector<Checkpoint*> checkpoint_callbacks() const;
  /// The first callback that reports is_monitoring() and is not a checkpoint (EarlyStopping), or nullptr.
  Callback* early_stopping_callback() const;
  /// Whether the validation loop inside fit has run a (non-sanity) batch in this run.
  bool validation_has_run() const;
  /// The path given to the running fit/validate/test/predict as ckpt_path, resolved.
  const std::string& ckpt_path() const { return ckpt_path_; }
  /// The training dataloader of the running fit (Lightning's `trainer.train_dataloader`), or nullptr.
  std::shared_ptr<DataLoader> train_dataloader() const;
  /// Whether higher or lower is better per metric key (ksuit's MetricPropertyProvider): `mode="auto"` of
  /// ModelCheckpoint/EarlyStopping and the ksuit callbacks ask it. Register patterns before fit.
  ksuit::MetricPropertyProvider& metric_properties() const { return *metric_properties_; }
  const std::shared_ptr<ksuit::MetricPropertyProvider>& metric_properties_ptr() const { return metric_properties_; }

  // ---- distributed helpers (single process: identity) ---------------------------------------------------------
  int global_rank() const { return strategy_->global_rank(); }
  int local_rank() const { return strategy_->local_rank(); }
  int node_rank() const { return strategy_->node_rank(); }
  int world_size() const { return strategy_->world_size(); }
  bool is_global_zero() const { return global_rank() == 0; }
  /// The strategy: collectives for callbacks (broadcast, reduce, barrier), rank information.
  Strategy& strategy() const { return *strategy_; }
  void barrier(const std::string& name = "") const;
  bool reduce_boolean_decision(bool decision, bool all = true) const;

  /// For the module's log(): the collection of the running loop; nullptr outside loops.
  detail::ResultCollection* active_results() const;
  /// The batch size of the batch being run, for weighted epoch means.
  int64_t current_batch_size();
  /// Set by a SIGTERM/SIGINT handler; the loops stop at the next safe point.
  bool received_signal() const;

 private:
  friend class detail::FitLoop;
  friend class detail::TrainingEpochLoop;
  friend class detail::EvaluationLoop;
  friend class detail::PredictionLoop;
  friend class detail::HookCaller;
  friend class Module;

  struct RunData;  // dataloaders given to this run
  IValue run(TrainerFn fn, Module& module, DataModule* datamodule, RunData data, const std::string& ckpt_path);
  IValue run_stage();
  void run_sanity_check();
  void attach_model_callbacks();
  void setup_optimizers();
  void restore_modules_and_callbacks(const std::string& path);
  void restore_training_state();
  std::string resolve_ckpt_path(const std::string& ckpt_path, bool model_connected);
  void teardown_internal();
  std::shared_ptr<DataLoader> request_dataloader(const std::string& kind);
  bool enable_validation() const;

  // logger connector (Lightning's _LoggerConnector)
  void on_batch_start_logging(const Batch& batch, std::optional<int64_t> dataloader_idx);
  void on_batch_end_logging();
  void epoch_end_reached() { first_loop_iter_.reset(); }
  void on_epoch_end_logging();
  void cache_metrics(const detail::Metrics& metrics);
  void log_metrics(const MetricMap& metrics, std::optional<int64_t> step = std::nullopt);
  void update_train_step_metrics();
  void update_train_epoch_metrics();
  MetricMap update_eval_epoch_metrics();
  void reset_results();
  void reset_metrics();
  detail::Metrics live_metrics();

  TrainerOptions options_;
  std::shared_ptr<Strategy> strategy_;
  std::shared_ptr<Profiler> profiler_;
  std::vector<CallbackPtr> callbacks_;
  std::unique_ptr<detail::HookCaller> hooks_;
  std::unique_ptr<detail::FitLoop> fit_loop_;
  std::unique_ptr<detail::EvaluationLoop> validate_loop_, test_loop_;
  std::unique_ptr<detail::PredictionLoop> predict_loop_;

  Module* module_ = nullptr;
  DataModule* datamodule_ = nullptr;
  std::unique_ptr<RunData> data_;
  TrainerFn fn_ = TrainerFn::kFitting;
  bool running_ = false;
  bool validating_ = false;
  bool sanity_checking_ = false;
  std::string status_ = "initializing";
  std::string ckpt_path_;
  std::optional<StateDict> loaded_checkpoint_;
  /// The checkpoint's "volt_resume" entry while a resumed fit has not reached its first batch yet.
  std::optional<StateDict> pending_resume_;
  /// Restores the random state (and, inside an accumulation window, the gradients) of the checkpoint fit resumed
  /// from, once, right before training continues.
  void apply_pending_resume();
  StateDict resume_state() const;
  std::unique_ptr<detail::BackgroundWriter> checkpoint_writer_;
  /// Asynchronous saves copy into the memory of earlier snapshots (kept from the first save to the end of the run).
  std::shared_ptr<detail::SnapshotBuffers> snapshot_buffers_;
  /// On an exception: waits for the background writes; their failures become warnings (the run fails anyway).
  void drain_checkpoint_writes();
  void handle_preemption_signal();
  torch::Device device_{torch::kCPU};
  int64_t max_epochs_ = -1;
  int64_t min_epochs_ = 0;
  int64_t num_training_batches_ = 0;
  int64_t val_check_batch_ = 1;
  int64_t accumulate_grad_batches_ = 1;
  std::vector<std::shared_ptr<torch::optim::Optimizer>> optimizers_;
  std::vector<LRSchedulerConfig> lr_scheduler_configs_;

  std::optional<bool> first_loop_iter_;
  MetricMap callback_metrics_, logged_metrics_, progress_bar_metrics_;
  const Batch* current_batch_ = nullptr;
  std::optional<int64_t> current_batch_size_;
  std::shared_ptr<ksuit::MetricPropertyProvider> metric_properties_;
};

}  // namespace volt
