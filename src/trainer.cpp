// Trainer: callback list assembly (spec §5), the run skeleton (spec §2.1), the exception path (spec §6) and the
// logger connector (spec §8). The loops live in src/loops/, the hooks in src/hook_caller.cpp.
#include "volt/trainer.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <cctype>
#include <csignal>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <sys/wait.h>
#include <unistd.h>
#include <set>

#include "volt/callbacks/checkpoint.hpp"
#include "volt/callbacks/model_checkpoint.hpp"
#include "volt/callbacks/model_summary.hpp"
#include "volt/callbacks/progress_bar.hpp"
#include "volt/callbacks/rich_progress.hpp"
#include "volt/callbacks/timer.hpp"
#include "volt/callbacks/tqdm_progress.hpp"
#include "volt/detail/atomic_file.hpp"
#include "volt/detail/loops.hpp"
#include "volt/detail/overrides.hpp"
#include "volt/error.hpp"
#include "volt/ksuit/metric_properties.hpp"
#include "volt/messages.hpp"
#include "volt/plugins.hpp"
#include "volt/strategies/strategy.hpp"

namespace volt {

const char* stage_name(TrainerFn fn) {
  switch (fn) {
    case TrainerFn::kFitting: return "fit";
    case TrainerFn::kValidating: return "validate";
    case TrainerFn::kTesting: return "test";
    case TrainerFn::kPredicting: return "predict";
  }
  return "fit";
}

int64_t BatchLimit::resolve(int64_t length, const char* option) const {
  if (length == 0) return 0;
  if (is_count) return std::min(length, count);
  auto n = static_cast<int64_t>(static_cast<double>(length) * fraction);
  if (n == 0 && fraction > 0.0)
    throw MisconfigurationError(detail::concat("You requested to check ", fraction, " of the dataloader but ",
                                               fraction, " * ", length, " < 1. Please increase the `", option,
                                               "` argument. Try at least `", option, "=", 1.0 / length, "`"));
  return n;
}

Logger::~Logger() = default;
std::string Logger::log_dir() const { return ""; }

std::string Trainer::log_dir() const {
  if (!loggers().empty() && !loggers().front()->log_dir().empty()) return loggers().front()->log_dir();
  return default_root_dir();
}
void Logger::log_hyperparams(const StateDict&) {}
void Logger::save() {}
void Logger::finalize(const std::string&) {}

// The dataloaders passed to fit/validate/test/predict directly (they win over the dataloader hooks).
struct Trainer::RunData {
  std::shared_ptr<DataLoader> train, val, test, predict;
};

namespace {

std::atomic<int> g_received_signal{0};  // SIGINT/SIGTERM: stop at the next safe point
std::atomic<int> g_requeue_signal{0};   // SIGUSR1 under SLURM: save hpc_ckpt_<n>.ckpt and requeue, go on
extern "C" void volt_signal_handler(int signal) { g_received_signal.store(signal); }
extern "C" void volt_requeue_handler(int signal) { g_requeue_signal.store(signal); }

// Lightning's SLURMEnvironment.detect() (_is_srun_used): SLURM_NTASKS is set and the job is not interactive.
bool slurm_detected() {
  const char* ntasks = std::getenv("SLURM_NTASKS");
  const char* name = std::getenv("SLURM_JOB_NAME");
  const std::string job_name = name ? name : "";
  return ntasks != nullptr && job_name != "bash" && job_name != "interactive";
}

// Lightning's __max_ckpt_version_in_folder: the largest number in the names of the files of `dir` that contain
// `key` (the digits after its last occurrence); nullopt if none.
std::optional<int64_t> max_ckpt_version(const std::string& dir, const std::string& key) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return std::nullopt;
  std::optional<int64_t> best;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const auto at = name.rfind(key);
    if (at == std::string::npos) continue;
    std::string digits;
    for (char c : name.substr(at + key.size()))
      if (std::isdigit(static_cast<unsigned char>(c))) digits += c;
    if (digits.empty() || digits.size() > 18) continue;  // Python's int("") would raise; volt skips the file
    const int64_t v = std::stoll(digits);
    if (!best || v > *best) best = v;
  }
  return best;
}

// `scontrol requeue <job>` without a shell; returns its exit code (127: not found).
int run_scontrol_requeue(const std::string& job_id) {
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::execlp("scontrol", "scontrol", "requeue", job_id.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void check_limit(const BatchLimit& limit, const char* name) {
  if (limit.is_count ? limit.count < 0 : (limit.fraction < 0.0 || limit.fraction > 1.0))
    throw MisconfigurationError(detail::concat("`", name, "` must be a float in the range [0.0, 1.0] or an int >= 0, got ",
                                               limit.is_count ? std::to_string(limit.count)
                                                              : std::to_string(limit.fraction),
                                               "."));
}

template <class T>
bool is_a(const CallbackPtr& cb) {
  return dynamic_cast<T*>(cb.get()) != nullptr;
}

// Lightning's _reorder_callbacks: tuner callbacks first, checkpoints last, otherwise the given order.
std::vector<CallbackPtr> reorder_callbacks(const std::vector<CallbackPtr>& callbacks) {
  std::vector<CallbackPtr> others, checkpoints;
  for (const auto& cb : callbacks) (is_a<Checkpoint>(cb) ? checkpoints : others).push_back(cb);
  others.insert(others.end(), checkpoints.begin(), checkpoints.end());
  return others;
}

void validate_state_keys(const std::vector<CallbackPtr>& callbacks) {
  std::set<std::string> seen;
  for (const auto& cb : callbacks) {
    if (!cb->is_stateful()) continue;
    std::string key = cb->state_key();
    if (!seen.insert(key).second)
      throw MisconfigurationError(detail::concat(
          "Found more than one stateful callback of type `", cb->class_name(),
          "`. In the current configuration, this callback does not support being saved alongside other instances of "
          "the same type. Please consult the documentation of `", cb->class_name(),
          "` regarding valid settings for the callback state to be checkpointable. HINT: The `callback.state_key` "
          "must be unique among all callbacks in the Trainer."));
  }
}

}  // namespace

// ---- construction -------------------------------------------------------------------------------------------------

Trainer::Trainer(TrainerOptions options)
    : options_(std::move(options)), metric_properties_(std::make_shared<ksuit::MetricPropertyProvider>()) {
  auto& o = options_;
  if (o.barebones && o.profiler.set())
    throw MisconfigurationError("`Trainer(barebones=True, profiler=" +
                                (o.profiler.instance ? "<" + detail::python_style_class_name(typeid(*o.profiler.instance)) + ">"
                                                     : "'" + o.profiler.name + "'") +
                                ")` was passed. Profiling can impact raw speed so it is disabled in barebones mode.");
  if (!(o.slow_callback_warning >= 0.0))
    throw MisconfigurationError("Trainer(slow_callback_warning=" + std::to_string(o.slow_callback_warning) +
                                ") must be a share of the batch time >= 0 (0 turns the warning off)");
  if (o.non_finite_loss != "warn" && o.non_finite_loss != "raise" && o.non_finite_loss != "ignore")
    throw MisconfigurationError("Trainer(non_finite_loss='" + o.non_finite_loss +
                                "') is not one of 'warn', 'raise' or 'ignore'");
  profiler_ = make_profiler(o.profiler);
  if (o.barebones) {
    o.enable_checkpointing = o.enable_progress_bar = o.enable_model_summary = false;
    o.num_sanity_val_steps = 0;
    o.loggers.clear();
  }
  if (o.fast_dev_run < 0) throw MisconfigurationError("fast_dev_run=" + std::to_string(o.fast_dev_run) + " is not a valid configuration. It should be >= 0.");
  if (o.fast_dev_run > 0) {
    o.limit_train_batches = o.limit_val_batches = o.limit_test_batches = o.limit_predict_batches = o.fast_dev_run;
    o.num_sanity_val_steps = 0;
    o.max_epochs = 1;
    o.val_check_interval = 1.0;
    o.check_val_every_n_epoch = 1;
    o.loggers.clear();
  }
  check_limit(o.limit_train_batches, "limit_train_batches");
  check_limit(o.limit_val_batches, "limit_val_batches");
  check_limit(o.limit_test_batches, "limit_test_batches");
  check_limit(o.limit_predict_batches, "limit_predict_batches");
  VOLT_CHECK(o.accumulate_grad_batches >= 1, "Trainer(accumulate_grad_batches=", o.accumulate_grad_batches,
             ") must be an int >= 1");
  accumulate_grad_batches_ = o.accumulate_grad_batches;
  VOLT_CHECK(o.log_every_n_steps >= 0, "Trainer(log_every_n_steps=", o.log_every_n_steps, ") must be >= 0");
  VOLT_CHECK(!o.check_val_every_n_epoch || *o.check_val_every_n_epoch > 0,
             "`check_val_every_n_epoch` should be an integer > 0 or None, got ", *o.check_val_every_n_epoch);
  VOLT_CHECK(o.val_check_interval.is_count ? o.val_check_interval.count > 0
                                           : (o.val_check_interval.fraction > 0 && o.val_check_interval.fraction <= 1),
             "`val_check_interval` should be a float in (0.0, 1.0] or an int > 0");
  if (o.gradient_clip_algorithm && *o.gradient_clip_algorithm != "norm" && *o.gradient_clip_algorithm != "value")
    throw MisconfigurationError("`gradient_clip_algorithm` " + *o.gradient_clip_algorithm +
                                " is invalid. Allowed algorithms: ['value', 'norm'].");
  if (o.accelerator == "cuda" || (o.accelerator == "auto" && torch::cuda::is_available())) {
    VOLT_CHECK(torch::cuda::is_available(), "Trainer(accelerator='cuda') but no CUDA device is available; use "
               "accelerator='cpu' or 'auto'");
    device_ = torch::Device(torch::kCUDA, 0);
  } else {
    VOLT_CHECK(o.accelerator == "cpu" || o.accelerator == "auto", "Trainer(accelerator='", o.accelerator,
               "') is not known; use 'cpu', 'cuda' or 'auto'");
  }

  strategy_ = make_strategy(o);

  // Callback list (spec §5): user callbacks, then the defaults the flags ask for.
  for (const auto& cb : o.callbacks)
    VOLT_CHECK(cb != nullptr, "Trainer(callbacks=...) contains a null callback pointer");
  callbacks_ = o.callbacks;
  bool has_checkpoint = false;
  for (const auto& cb : callbacks_) has_checkpoint |= is_a<Checkpoint>(cb);
  if (has_checkpoint && !o.enable_checkpointing)
    throw MisconfigurationError(
        "Trainer was configured with `enable_checkpointing=False` but found `ModelCheckpoint` in callbacks list.");
  if (!has_checkpoint && o.enable_checkpointing) callbacks_.push_back(std::make_shared<ModelCheckpoint>());
  if (o.max_time) {  // Lightning's _configure_timer_callback
    if (std::any_of(callbacks_.begin(), callbacks_.end(), is_a<Timer>)) {
      rank_zero_info("Ignoring `Trainer(max_time=...)`, callbacks list already contains a Timer.");
    } else {
      TimerOptions timer;
      timer.duration = *o.max_time;
      timer.interval = "step";
      callbacks_.push_back(std::make_shared<Timer>(timer));
    }
  }
  int progress_bars = 0;
  for (const auto& cb : callbacks_) progress_bars += is_a<ProgressBar>(cb);
  if (progress_bars > 1)
    throw MisconfigurationError(
        "You added multiple progress bar callbacks to the Trainer, but currently only one progress bar is supported.");
  if (progress_bars == 1 && !o.enable_progress_bar) {
    std::string name;
    for (const auto& cb : callbacks_)
      if (is_a<ProgressBar>(cb)) name = cb->class_name();
    throw MisconfigurationError("Trainer was configured with `enable_progress_bar=False` but found `" + name +
                                "` in callbacks list.");
  }
  if (progress_bars == 0 && o.enable_progress_bar) callbacks_.push_back(std::make_shared<TQDMProgressBar>());
  bool has_summary = false, rich_bar = false;
  for (const auto& cb : callbacks_) has_summary |= is_a<ModelSummary>(cb), rich_bar |= is_a<RichProgressBar>(cb);
  if (o.enable_model_summary && !has_summary) {
    // Lightning 2.2.5: RichModelSummary goes with a RichProgressBar
    if (rich_bar) callbacks_.push_back(std::make_shared<RichModelSummary>());
    else callbacks_.push_back(std::make_shared<ModelSummary>());
  }
  // Lightning's entry-point group lightning.pytorch.callbacks_factory: callbacks from plugins come last
  for (auto& cb : external_callbacks()) callbacks_.push_back(std::move(cb));
  validate_state_keys(callbacks_);
  callbacks_ = reorder_callbacks(callbacks_);

  hooks_ = std::make_unique<detail::HookCaller>(*this);
  fit_loop_ = std::make_unique<detail::FitLoop>(*this);
  validate_loop_ = std::make_unique<detail::EvaluationLoop>(*this, TrainerFn::kValidating,
                                                            detail::EvalStage::kValidation, o.inference_mode);
  test_loop_ = std::make_unique<detail::EvaluationLoop>(*this, TrainerFn::kTesting, detail::EvalStage::kTest,
                                                        o.inference_mode);
  predict_loop_ = std::make_unique<detail::PredictionLoop>(*this, o.inference_mode);
}

Trainer::~Trainer() = default;  // the background writer finishes its queue

void Trainer::drain_checkpoint_writes() {
  if (!checkpoint_writer_) return;
  try {
    checkpoint_writer_->wait();
  } catch (const std::exception& e) {
    rank_zero_warn(std::string("A background checkpoint write failed while the run was failing: ") + e.what());
  }
}

std::shared_ptr<DataLoader> Trainer::train_dataloader() const { return fit_loop_ ? fit_loop_->train_loader : nullptr; }

// ---- entry points ---------------------------------------------------------------------------------------------

void Trainer::fit(Module& module, DataModule* datamodule, const std::string& ckpt_path) {
  run(TrainerFn::kFitting, module, datamodule, RunData{}, ckpt_path);
}

void Trainer::fit(Module& module, std::shared_ptr<DataLoader> train, std::shared_ptr<DataLoader> val,
                  const std::string& ckpt_path) {
  RunData data;
  data.train = std::move(train);
  data.val = std::move(val);
  run(TrainerFn::kFitting, module, nullptr, std::move(data), ckpt_path);
}

namespace {
std::vector<MetricMap> as_metric_maps(const IValue& v) {
  std::vector<MetricMap> out;
  if (!v.isList()) return out;
  for (const auto& item : v.toListRef()) {
    MetricMap m;
    for (const auto& kv : item.toGenericDict()) m[kv.key().toStringRef()] = kv.value().toTensor();
    out.push_back(std::move(m));
  }
  return out;
}
}  // namespace

std::vector<MetricMap> Trainer::validate(Module& module, DataModule* datamodule, const std::string& ckpt_path,
                                         bool verbose) {
  validate_loop_->verbose = verbose;
  return as_metric_maps(run(TrainerFn::kValidating, module, datamodule, RunData{}, ckpt_path));
}

std::vector<MetricMap> Trainer::validate(Module& module, std::shared_ptr<DataLoader> loader,
                                         const std::string& ckpt_path, bool verbose) {
  RunData data;
  data.val = std::move(loader);
  validate_loop_->verbose = verbose;
  return as_metric_maps(run(TrainerFn::kValidating, module, nullptr, std::move(data), ckpt_path));
}

std::vector<MetricMap> Trainer::test(Module& module, DataModule* datamodule, const std::string& ckpt_path,
                                     bool verbose) {
  test_loop_->verbose = verbose;
  return as_metric_maps(run(TrainerFn::kTesting, module, datamodule, RunData{}, ckpt_path));
}

std::vector<MetricMap> Trainer::test(Module& module, std::shared_ptr<DataLoader> loader, const std::string& ckpt_path,
                                     bool verbose) {
  RunData data;
  data.test = std::move(loader);
  test_loop_->verbose = verbose;
  return as_metric_maps(run(TrainerFn::kTesting, module, nullptr, std::move(data), ckpt_path));
}

std::vector<IValue> Trainer::predict(Module& module, DataModule* datamodule, const std::string& ckpt_path) {
  auto v = run(TrainerFn::kPredicting, module, datamodule, RunData{}, ckpt_path);
  return v.isList() ? v.toListRef().vec() : std::vector<IValue>{};
}

std::vector<IValue> Trainer::predict(Module& module, std::shared_ptr<DataLoader> loader,
                                     const std::string& ckpt_path) {
  RunData data;
  data.predict = std::move(loader);
  auto v = run(TrainerFn::kPredicting, module, nullptr, std::move(data), ckpt_path);
  return v.isList() ? v.toListRef().vec() : std::vector<IValue>{};
}

// ---- the run skeleton (Lightning's _call_and_handle_interrupt + _run) ----------------------------------------------

IValue Trainer::run(TrainerFn fn, Module& module, DataModule* datamodule, RunData data,
                    const std::string& ckpt_path) {
  fn_ = fn;
  status_ = "running";
  running_ = true;
  validating_ = fn == TrainerFn::kValidating;
  sanity_checking_ = false;
  if (fn == TrainerFn::kFitting) should_stop = skip_backward = false;
  module_ = &module;
  module.trainer_ = this;
  datamodule_ = datamodule;
  data_ = std::make_unique<RunData>(std::move(data));
  g_received_signal.store(0);
  g_requeue_signal.store(0);
  const std::string stage = stage_name(fn);
  try {
    if (fn == TrainerFn::kFitting) {
      // Lightning's _parse_loop_limits
      const auto& o = options_;
      min_epochs_ = o.min_epochs ? *o.min_epochs : (o.min_steps ? 1 : 0);
      if (o.max_epochs) max_epochs_ = *o.max_epochs;
      else if (o.max_steps == -1 && std::none_of(callbacks_.begin(), callbacks_.end(), is_a<Timer>)) {
        rank_zero_warn("`max_epochs` was not set. Setting it to 1000 epochs. To train without an epoch limit, set "
                       "`max_epochs=-1`.");
        max_epochs_ = 1000;
      } else {
        max_epochs_ = -1;
      }
    }
    strategy_->setup_environment();
    if (options_.seed) torch::manual_seed(*options_.seed);
    if (options_.deterministic) at::globalContext().setDeterministicAlgorithms(true, false);
    profiler_->setup(stage, world_size() > 1 ? std::optional<int>(local_rank()) : std::nullopt, log_dir());
    hooks_->reset_profiling();
    attach_model_callbacks();
    hooks_->reset_profiling();  // the callback list may have changed
    hooks_->prepare_data();
    hooks_->setup(stage);
    hooks_->configure_model();
    wait_for_checkpoints();  // "last" is found by modification time: pending writes must land first
    pending_resume_.reset();
    ckpt_path_ = resolve_ckpt_path(ckpt_path, true);
    if (!ckpt_path_.empty()) restore_modules_and_callbacks(ckpt_path_);
    reset_results();
    reset_metrics();
    module.to(device_);
    if (fn == TrainerFn::kFitting) {
      setup_optimizers();
      strategy_->setup(module, optimizers_);  // DDP: every rank starts from rank 0's weights
      hooks_->fit_start();
    }
    for (const auto& logger : loggers())
      if (!module.hparams().empty()) logger->log_hyperparams(module.hparams());
    restore_training_state();
    loaded_checkpoint_.reset();
    barrier("resume_end");
    auto old_int = std::signal(SIGINT, volt_signal_handler);
    auto old_term = std::signal(SIGTERM, volt_signal_handler);
    const bool requeue = options_.slurm_auto_requeue && slurm_detected();
    if (requeue) rank_zero_info("SLURM auto-requeueing enabled. Setting signal handlers.");
    auto old_usr1 = requeue ? std::signal(SIGUSR1, volt_requeue_handler) : SIG_DFL;
    auto restore_signals = [&] {
      std::signal(SIGINT, old_int);
      std::signal(SIGTERM, old_term);
      if (requeue) std::signal(SIGUSR1, old_usr1);
    };
    IValue results;
    try {
      results = run_stage();
      wait_for_checkpoints();  // a background write that failed fails the run, through on_exception
    } catch (...) {
      restore_signals();
      throw;
    }
    restore_signals();
    teardown_internal();
    if (fn == TrainerFn::kFitting) hooks_->fit_end();
    hooks_->teardown(stage);
    pending_resume_.reset();
    wait_for_checkpoints();  // anything saved by the end hooks
    snapshot_buffers_.reset();  // the staging memory of asynchronous saves lives for one run
    profiler_->describe();
    status_ = "finished";
    running_ = validating_ = false;
    return results;
  } catch (const std::exception& error) {
    status_ = "interrupted";
    strategy_->on_exception(error);  // DDP: tell the other ranks, so they fail instead of waiting
    hooks_->exception(error);  // an exception from on_exception itself propagates, as in Lightning
    drain_checkpoint_writes();
    snapshot_buffers_.reset();
    teardown_internal();
    profiler_->teardown();
    running_ = validating_ = sanity_checking_ = false;
    throw;
  } catch (...) {
    // Not a std::exception (e.g. a thrown int): callbacks still hear of it, through a stand-in.
    status_ = "interrupted";
    strategy_->on_exception(Error("a non-standard exception (not derived from std::exception) was thrown"));
    hooks_->exception(Error("a non-standard exception (not derived from std::exception) was thrown"));
    drain_checkpoint_writes();
    teardown_internal();
    running_ = validating_ = sanity_checking_ = false;
    throw;
  }
}

IValue Trainer::run_stage() {
  barrier("run-stage");
  module_->zero_grad();
  switch (fn_) {
    case TrainerFn::kValidating:
    case TrainerFn::kTesting: {
      auto& loop = fn_ == TrainerFn::kTesting ? *test_loop_ : *validate_loop_;
      auto outputs = loop.run();
      c10::impl::GenericList list(c10::AnyType::get());
      for (const auto& m : outputs) {
        c10::impl::GenericDict d(c10::StringType::get(), c10::AnyType::get());
        for (const auto& kv : m) d.insert(kv.first, kv.second);
        list.push_back(d);
      }
      return list;
    }
    case TrainerFn::kPredicting: {
      c10::impl::GenericList list(c10::AnyType::get());
      for (auto& p : predict_loop_->run()) list.push_back(std::move(p));
      return list;
    }
    case TrainerFn::kFitting: break;
  }
  {
    // Lightning's isolate_rng: the sanity check must not change the training's random numbers
    auto generator = at::detail::getDefaultCPUGenerator();
    auto state = generator.get_state();
    run_sanity_check();
    generator.set_state(state);
  }
  fit_loop_->run();
  return IValue();
}

void Trainer::run_sanity_check() {
  auto& val_loop = fit_loop_->epoch_loop.val_loop;
  if (!enable_validation() || options_.num_sanity_val_steps == 0 || val_loop.restarting) return;
  sanity_checking_ = true;
  reset_results();
  reset_metrics();
  hooks_->sanity_check_start();
  {
    torch::NoGradGuard no_grad;
    val_loop.run();
  }
  hooks_->sanity_check_end();
  reset_results();
  reset_metrics();
  val_loop.reset_progress();
  sanity_checking_ = false;
}

void Trainer::teardown_internal() {
  module_->to(torch::kCPU);  // Lightning's strategy teardown moves the module back to the CPU
  for (auto* m : {&callback_metrics_, &logged_metrics_, &progress_bar_metrics_})
    for (auto& kv : *m) kv.second = kv.second.cpu();
}

void Trainer::attach_model_callbacks() {
  std::vector<CallbackPtr> model_callbacks = hooks_->configure_callbacks();
  if (model_callbacks.empty()) return;
  // Every trainer callback whose type is a base of a model callback's type is replaced (subclass-aware, 2.1+).
  std::set<const Callback*> overridden;
  std::vector<std::string> names;
  for (const auto& tcb : callbacks_) {
    for (const auto& mcb : model_callbacks) {
      VOLT_CHECK(mcb != nullptr, "configure_callbacks() returned a null callback pointer");
      if (typeid(*tcb) != typeid(Callback) && detail::is_instance_of(*mcb, typeid(*tcb))) {
        overridden.insert(tcb.get());
        names.push_back(tcb->class_name());
        break;
      }
    }
  }
  if (!names.empty()) {
    std::string joined;
    for (const auto& n : std::set<std::string>(names.begin(), names.end())) joined += (joined.empty() ? "" : ", ") + n;
    rank_zero_info("The following callbacks returned in `LightningModule.configure_callbacks` will override existing "
                   "callbacks passed to Trainer: " + joined);
  }
  std::vector<CallbackPtr> merged;
  for (const auto& cb : callbacks_)
    if (!overridden.count(cb.get())) merged.push_back(cb);
  merged.insert(merged.end(), model_callbacks.begin(), model_callbacks.end());
  callbacks_ = reorder_callbacks(merged);
}

double Trainer::estimated_stepping_batches() {
  const double max_steps = static_cast<double>(options_.max_steps);
  if (max_epochs_ == -1) return options_.max_steps == -1 ? std::numeric_limits<double>::infinity() : max_steps;
  if (!fit_loop_->data_ready()) {
    rank_zero_info("Loading `train_dataloader` to estimate number of stepping batches.");
    fit_loop_->setup_data();
  }
  double steps = std::ceil(double(num_training_batches_) / double(accumulate_grad_batches_)) *
                 double(std::max<int64_t>(max_epochs_, 1));
  return options_.max_steps == -1 ? steps : std::min(steps, max_steps);
}

void Trainer::setup_optimizers() {
  optimizers_.clear();
  lr_scheduler_configs_.clear();
  if (!module_->automatic_optimization && !detail::is_overridden(*module_, &Module::configure_optimizers)) return;
  OptimizerConfig config = hooks_->configure_optimizers();
  for (const auto& opt : config.optimizers)
    VOLT_CHECK(opt != nullptr, "configure_optimizers() returned a null optimizer");
  if (module_->automatic_optimization) {
    VOLT_CHECK(!config.optimizers.empty(), "`configure_optimizers` must return at least one optimizer for automatic "
               "optimization (return an OptimizerConfig with an optimizer)");
    VOLT_CHECK(config.optimizers.size() == 1,
               "Training with multiple optimizers is only supported with manual optimization. Set "
               "`automatic_optimization = false`, then step the optimizers yourself in training_step.");
  }
  for (auto& s : config.lr_schedulers) {
    VOLT_CHECK(s.scheduler != nullptr, "configure_optimizers() returned an LR scheduler config without a scheduler");
    VOLT_CHECK(s.interval == "epoch" || s.interval == "step", "The lr scheduler dict contains the key 'interval' with "
               "invalid value '", s.interval, "'. Valid values are 'epoch' and 'step'.");
    VOLT_CHECK(s.frequency > 0, "lr scheduler frequency must be > 0, got ", s.frequency);
    VOLT_CHECK(!s.scheduler->needs_metric() || !s.monitor.empty(),
               "The lr scheduler dict must include a monitor when a `ReduceLROnPlateau` scheduler is used. For "
               "example: {\"optimizer\": optimizer, \"lr_scheduler\": {\"scheduler\": scheduler, \"monitor\": "
               "\"your_loss\"}}");
  }
  optimizers_ = std::move(config.optimizers);
  lr_scheduler_configs_ = std::move(config.lr_schedulers);
}

std::shared_ptr<DataLoader> Trainer::request_dataloader(const std::string& kind) {
  const auto& d = *data_;
  auto given = kind == "train" ? d.train : kind == "val" ? d.val : kind == "test" ? d.test : d.predict;
  return strategy_->process_dataloader(given ? given : hooks_->request_dataloader(kind), kind);
}

bool Trainer::enable_validation() const {
  // Lightning: a val dataloader source is defined, validation_step is overridden and limit_val_batches > 0
  bool source = data_->val != nullptr ||
                (datamodule_ ? detail::is_overridden(*datamodule_, &DataModule::val_dataloader)
                             : detail::is_overridden(*module_, &Module::val_dataloader));
  return source && detail::is_overridden(*module_, &Module::validation_step) && !options_.limit_val_batches.is_zero();
}

// ---- state visible to callbacks -----------------------------------------------------------------------------------

int64_t Trainer::current_epoch() const { return fit_loop_->epoch_progress.current.completed; }
int64_t Trainer::global_step() const { return fit_loop_->epoch_loop.global_step(); }

const std::vector<int64_t>& Trainer::num_val_batches() const {
  return fn_ == TrainerFn::kFitting ? fit_loop_->epoch_loop.val_loop.limited_batches : validate_loop_->limited_batches;
}
const std::vector<int64_t>& Trainer::num_sanity_val_batches() const {
  return fit_loop_->epoch_loop.val_loop.sanity_batches;
}
int64_t Trainer::num_test_batches() const {
  int64_t n = 0;
  for (auto b : test_loop_->limited_batches) n += b;
  return n;
}
int64_t Trainer::num_predict_batches() const {
  int64_t n = 0;
  for (auto b : predict_loop_->max_batches()) n += b;
  return n;
}

Checkpoint* Trainer::checkpoint_callback() const {
  auto all = checkpoint_callbacks();
  return all.empty() ? nullptr : all.front();
}

std::vector<Checkpoint*> Trainer::checkpoint_callbacks() const {
  std::vector<Checkpoint*> out;
  for (const auto& cb : callbacks_)
    if (auto* c = dynamic_cast<Checkpoint*>(cb.get())) out.push_back(c);
  return out;
}

Callback* Trainer::early_stopping_callback() const {
  for (const auto& cb : callbacks_)
    if (cb->is_monitoring() && !dynamic_cast<Checkpoint*>(cb.get())) return cb.get();
  return nullptr;
}

bool Trainer::validation_has_run() const { return fit_loop_->epoch_loop.val_loop.has_run; }

void Trainer::set_accumulate_grad_batches(int64_t n) {
  VOLT_CHECK(n >= 1, "`accumulate_grad_batches` must be an int >= 1, got ", n);
  accumulate_grad_batches_ = n;
}

int64_t Trainer::batches_that_stepped() const { return fit_loop_->epoch_loop.batches_that_stepped; }

void Trainer::update_callback_metrics(const MetricMap& metrics) {
  for (const auto& kv : metrics) callback_metrics_[kv.first] = kv.second;
}

ProgressBar* Trainer::progress_bar_callback() const {
  for (const auto& cb : callbacks_)
    if (auto* bar = dynamic_cast<ProgressBar*>(cb.get())) return bar;
  return nullptr;
}

const std::vector<int64_t>& Trainer::predict_current_batch_indices() const {
  return predict_loop_->current_batch_indices;
}
const std::vector<std::vector<std::vector<int64_t>>>& Trainer::predict_epoch_batch_indices() const {
  return predict_loop_->epoch_batch_indices;
}
const std::vector<IValue>& Trainer::predict_predictions() const { return predict_loop_->predictions; }

void Trainer::barrier(const std::string& name) const { strategy_->barrier(name); }
bool Trainer::reduce_boolean_decision(bool decision, bool all) const {
  return strategy_->reduce_boolean_decision(decision, all);
}
bool Trainer::received_signal() const { return g_received_signal.load() != 0; }

// Called by the loops at their safe points (after a batch, after an epoch): Lightning's signal handlers act at any
// bytecode; volt's only set a flag, and the work happens here, where a checkpoint resumes exactly.
void Trainer::handle_preemption_signal() {
  if (int usr = g_requeue_signal.exchange(0)) {
    // Lightning's _SignalConnector._slurm_sigusr_handler_fn: loggers finalized, hpc checkpoint, requeue. Training
    // goes on until SLURM ends the job.
    rank_zero_info("Handling auto-requeue signal: " + std::to_string(usr));
    for (const auto& logger : loggers()) logger->finalize("finished");
    const auto max_suffix = max_ckpt_version(default_root_dir(), "ckpt_");
    save_checkpoint((std::filesystem::path(default_root_dir()) /
                     ("hpc_ckpt_" + std::to_string((max_suffix ? *max_suffix : 0) + 1) + ".ckpt"))
                        .string());
    if (is_global_zero()) {
      const char* array_job = std::getenv("SLURM_ARRAY_JOB_ID");
      const char* job = std::getenv("SLURM_JOB_ID");
      std::string job_id = array_job ? std::string(array_job) + "_" + (std::getenv("SLURM_ARRAY_TASK_ID") ? std::getenv("SLURM_ARRAY_TASK_ID") : "")
                                     : (job ? job : "");
      if (job_id.empty() || job_id.find_first_not_of("0123456789_-") != std::string::npos) {
        rank_zero_warn("Cannot requeue the SLURM job: SLURM_JOB_ID is '" + job_id + "', expected digits");
      } else {
        rank_zero_info("requeing job " + job_id + "...");
        int result = run_scontrol_requeue(job_id);
        if (result == 0) rank_zero_info("Requeued SLURM job: " + job_id);
        else rank_zero_warn("Requeuing SLURM job " + job_id + " failed with error code " + std::to_string(result));
      }
    }
  }
  if (int sig = g_received_signal.load()) {
    if (fn_ == TrainerFn::kFitting && !options_.signal_checkpoint_path.empty()) {
      rank_zero_info("Saving a checkpoint to " + options_.signal_checkpoint_path + " before stopping (signal " +
                     std::to_string(sig) + ")");
      save_checkpoint(options_.signal_checkpoint_path);
    }
    throw SignalError(sig, "volt: stopping at a safe point after a termination signal");
  }
}

// ---- logger connector ---------------------------------------------------------------------------------------------

detail::ResultCollection* Trainer::active_results() const {
  if (!running_) return nullptr;
  switch (fn_) {
    case TrainerFn::kFitting:
      if (sanity_checking_ || validating_) return &fit_loop_->epoch_loop.val_loop.results;
      return &fit_loop_->epoch_loop.results;
    case TrainerFn::kValidating: return &validate_loop_->results;
    case TrainerFn::kTesting: return &test_loop_->results;
    case TrainerFn::kPredicting: return nullptr;
  }
  return nullptr;
}

int64_t Trainer::current_batch_size() {
  if (!current_batch_size_) {
    int64_t size = 1;
    if (current_batch_) {
      std::function<bool(const IValue&)> find = [&](const IValue& v) -> bool {
        if (v.isTensor()) {
          size = v.toTensor().dim() > 0 ? v.toTensor().size(0) : 1;
          return true;
        }
        if (v.isTuple()) {
          for (const auto& e : v.toTupleRef().elements())
            if (find(e)) return true;
        } else if (v.isList()) {
          for (const auto& e : v.toListRef())
            if (find(e)) return true;
        } else if (v.isGenericDict()) {
          for (const auto& e : v.toGenericDict())
            if (find(e.value())) return true;
        }
        return false;
      };
      find(*current_batch_);
    }
    current_batch_size_ = size;
  }
  return *current_batch_size_;
}

detail::Metrics Trainer::live_metrics() {
  auto* results = active_results();
  if (results == nullptr) return {};
  return results->metrics(/*on_step=*/first_loop_iter_.has_value());
}

// Lightning's _LoggerConnector keeps what was logged after the live collection resets: merge it into the caches.
void Trainer::cache_metrics(const detail::Metrics& m) {
  for (const auto& kv : m.pbar) progress_bar_metrics_[kv.first] = kv.second;
  for (const auto& kv : m.callback) callback_metrics_[kv.first] = kv.second;
  for (const auto& kv : m.log) logged_metrics_[kv.first] = kv.second;
}

void Trainer::on_batch_start_logging(const Batch& batch, std::optional<int64_t> dataloader_idx) {
  if (!first_loop_iter_) first_loop_iter_ = true;
  else if (*first_loop_iter_) first_loop_iter_ = false;
  current_batch_ = &batch;
  current_batch_size_.reset();
  if (auto* results = active_results()) results->dataloader_idx = dataloader_idx;
}

void Trainer::on_batch_end_logging() {
  auto m = live_metrics();
  cache_metrics(m);
  current_batch_ = nullptr;
  current_batch_size_.reset();
}

void Trainer::on_epoch_end_logging() {
  auto m = live_metrics();
  cache_metrics(m);
}

void Trainer::log_metrics(const MetricMap& metrics, std::optional<int64_t> step) {
  if (loggers().empty() || metrics.empty()) return;
  for (const auto& kv : metrics) logged_metrics_[kv.first] = kv.second;
  std::map<std::string, double> scalars;
  for (const auto& kv : metrics) scalars[kv.first] = kv.second.item<double>();
  if (!step) {
    auto it = scalars.find("step");
    if (it != scalars.end()) {
      step = static_cast<int64_t>(it->second);
      scalars.erase(it);
    }
  }
  if (!step) {
    scalars.emplace("epoch", static_cast<double>(current_epoch()));
    step = fit_loop_->epoch_loop.batches_that_stepped;
  }
  for (const auto& logger : loggers()) {
    logger->log_metrics(scalars, *step);
    logger->save();
  }
}

bool Trainer::should_update_logs() const {
  if (options_.log_every_n_steps == 0) return false;
  int64_t step = 0;
  switch (fn_) {
    case TrainerFn::kFitting: step = fit_loop_->epoch_loop.batches_that_stepped + 1; break;
    case TrainerFn::kValidating: step = validate_loop_->batch_progress.current.ready; break;
    case TrainerFn::kTesting: step = test_loop_->batch_progress.current.ready; break;
    case TrainerFn::kPredicting: step = predict_loop_->batch_progress.current.ready; break;
  }
  return step % options_.log_every_n_steps == 0 || should_stop;
}

void Trainer::update_train_step_metrics() {
  if (fit_loop_->epoch_loop.should_accumulate() && module_->automatic_optimization) return;
  if (should_update_logs() || options_.fast_dev_run > 0) log_metrics(live_metrics().log);
}

void Trainer::update_train_epoch_metrics() {
  log_metrics(live_metrics().log);
  reset_results();
}

MetricMap Trainer::update_eval_epoch_metrics() {
  if (sanity_checking_) return {};
  auto m = live_metrics();
  cache_metrics(m);
  return m.log;
}

void Trainer::reset_results() {
  if (auto* results = active_results()) results->reset();
  first_loop_iter_.reset();
}

void Trainer::reset_metrics() {
  callback_metrics_.clear();
  logged_metrics_.clear();
  progress_bar_metrics_.clear();
}

MetricMap Trainer::callback_metrics() {
  for (const auto& kv : live_metrics().callback) callback_metrics_[kv.first] = kv.second;
  return callback_metrics_;
}

MetricMap Trainer::logged_metrics() {
  for (const auto& kv : live_metrics().log) logged_metrics_[kv.first] = kv.second;
  return logged_metrics_;
}

MetricMap Trainer::progress_bar_metrics() {
  for (const auto& kv : live_metrics().pbar) progress_bar_metrics_[kv.first] = kv.second;
  return progress_bar_metrics_;
}

}  // namespace volt
