// Profilers: where a run spends its time, per action, as Lightning's `Trainer(profiler=...)` records it
// (lightning/pytorch/profilers, 2.2.5). The trainer names its actions exactly as Lightning does:
//   [Callback]<state_key>.<hook>            every callback hook (on_save_checkpoint/on_load_checkpoint included)
//   [LightningModule]<Class>.<hook>         every module hook the trainer calls (not the *_step methods, see below)
//   [LightningDataModule]<Class>.<hook>     data module hooks (prepare_data, setup, teardown, *_dataloader)
//   [Strategy]<Class>.<hook>                training_step/validation_step/test_step/predict_step, backward (which
//                                           encloses on_before_backward ... on_after_backward), batch_to_device
//                                           (which encloses the three batch-transfer hooks), and the strategy's
//                                           on_{train,validation,test,predict}_{start,end} and on_train_batch_start;
//                                           with several processes also post_backward (inside backward: waiting
//                                           for the gradient all-reduce; volt's, Lightning does not record it)
//   run_training_epoch, run_training_batch  the fit loop's epoch and the whole optimization of one batch
//   [_TrainingEpochLoop].train_dataloader_next, [_EvaluationLoop].val_next / test_next,
//   [_PredictionLoop].predict_next          fetching one batch from the loader
// Actions nest (run_training_batch holds [LightningModule]<Class>.optimizer_step, which holds the
// [Strategy]...training_step of its closure), so the percentages of a table add up to more than 100.
//
// Off by default: TrainerOptions::profiler = "" gives a PassThroughProfiler, and then the trainer reads no clock,
// builds no string and allocates nothing per hook (one branch per dispatch). Action names are built once per
// callback, module and hook and reused.
#pragma once
#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace volt {

/// Base of every profiler (Lightning's `Profiler`). Subclass it and implement start/stop (and summary) to write
/// your own; pass an instance as TrainerOptions::profiler.
class Profiler {
 public:
  /// dirpath: where `describe()` writes the summary; empty: the trainer's log_dir (the first logger's, else
  /// default_root_dir). filename: if set, the summary goes to `<dirpath>/<stage>-<filename>[-<rank>].txt`
  /// (appended), e.g. "fit-perf.txt"; if empty it is printed through rank_zero_info.
  explicit Profiler(std::string dirpath = "", std::string filename = "");
  virtual ~Profiler();
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;

  /// Starts recording `action`.
  virtual void start(const std::string& action) = 0;
  /// Stops recording `action` and keeps its duration.
  virtual void stop(const std::string& action) = 0;
  /// The report (empty by default).
  virtual std::string summary() const { return ""; }
  /// False for PassThroughProfiler: the trainer then does not call start/stop at all.
  virtual bool enabled() const { return true; }

  /// RAII: start(action) now, stop(action) when the scope ends (also on an exception).
  class Scope {
   public:
    Scope(Profiler& profiler, std::string action) : profiler_(&profiler), action_(std::move(action)) {
      profiler_->start(action_);
    }
    ~Scope() {
      if (profiler_) profiler_->stop(action_);
    }
    Scope(Scope&& other) noexcept : profiler_(other.profiler_), action_(std::move(other.action_)) {
      other.profiler_ = nullptr;
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    Scope& operator=(Scope&&) = delete;

   private:
    Profiler* profiler_;
    std::string action_;
  };
  /// `auto scope = profiler.profile("load data");` (Lightning's `with profiler.profile(...)`).
  Scope profile(std::string action) { return Scope(*this, std::move(action)); }

  /// Writes summary() to the file (see the constructor) or through rank_zero_info, then closes the file. The
  /// trainer calls it at the end of every fit/validate/test/predict that finishes (not after an exception).
  void describe();
  /// Called by the trainer at the start of each run: stage is "fit", "validate", "test" or "predict"; local_rank
  /// is set only when there are several processes; dirpath falls back to log_dir.
  virtual void setup(const std::string& stage, std::optional<int> local_rank, const std::string& log_dir);
  /// Closes the output file.
  virtual void teardown();

  const std::string& dirpath() const { return dirpath_; }
  const std::string& filename() const { return filename_; }
  /// The stage of the last setup(), empty before.
  const std::string& stage() const { return stage_; }
  int local_rank() const { return local_rank_.value_or(0); }
  /// The file describe() writes to, empty if it prints instead.
  std::string output_path() const;

 protected:
  /// "<stage>-<filename>[-<rank>][-<action>]<extension>", the parts that are set joined by `split`.
  std::string prepare_filename(const std::string& action = "", const std::string& extension = ".txt",
                               const std::string& split = "-") const;
  /// "[STAGE ]Profiler Report" then, per entry, "Profile stats for: <action>[ rank: r]" and its text.
  std::string stats_to_str(const std::vector<std::pair<std::string, std::string>>& stats) const;

 private:
  std::string dirpath_, filename_, stage_;
  std::optional<int> local_rank_;
};

/// Records nothing (the default). The trainer checks enabled() once per run and skips all profiling.
class PassThroughProfiler : public Profiler {
 public:
  PassThroughProfiler() = default;
  void start(const std::string&) override {}
  void stop(const std::string&) override {}
  bool enabled() const override { return false; }
};

/// Count, mean and total duration per action, and its share of the time since the profiler was made (Lightning's
/// SimpleProfiler, same table). Keeps a count and a sum per action, not every duration.
class SimpleProfiler : public Profiler {
 public:
  /// extended: the table has the columns Action | Mean duration (s) | Num calls | Total time (s) | Percentage %
  /// and a Total row, sorted by percentage; otherwise Action | Mean duration (s) | Total time (s), by mean.
  explicit SimpleProfiler(std::string dirpath = "", std::string filename = "", bool extended = true);
  /// Throws std::invalid_argument if `action` is already running (Lightning's ValueError).
  void start(const std::string& action) override;
  /// Throws std::invalid_argument if `action` was not started.
  void stop(const std::string& action) override;
  std::string summary() const override;

  struct Record {
    int64_t count = 0;
    double total_seconds = 0;
  };
  /// Every action recorded so far, in the order it first ended.
  const std::vector<std::pair<std::string, Record>>& records() const { return records_; }
  /// {action: number of calls}.
  std::map<std::string, int64_t> counts() const;
  bool extended() const { return extended_; }

 private:
  using Clock = std::chrono::steady_clock;
  bool extended_;
  Clock::time_point start_time_;
  std::unordered_map<std::string, Clock::time_point> current_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<std::pair<std::string, Record>> records_;
};

/// Per action, the distribution of its wall times: count, mean, min, p50, p90, p99, max and total. Lightning's
/// AdvancedProfiler runs Python's cProfile (a per-function call profile) inside each action; C++ has no
/// equivalent built in, so this one reports the per-call time distribution of each action instead (use perf or
/// a sampling profiler to see functions). Keeps every duration (4 bytes per call) to give exact percentiles.
class AdvancedProfiler : public Profiler {
 public:
  explicit AdvancedProfiler(std::string dirpath = "", std::string filename = "");
  void start(const std::string& action) override;
  void stop(const std::string& action) override;
  /// "[STAGE ]Profiler Report", then "Profile stats for: <action>" and its distribution, in order of total time.
  std::string summary() const override;

  struct Stats {
    int64_t count = 0;
    double mean = 0, min = 0, p50 = 0, p90 = 0, p99 = 0, max = 0, total = 0;  // seconds
  };
  /// The distribution of `action` (all zero if never recorded).
  Stats stats(const std::string& action) const;
  /// Every action recorded, in the order it first ended.
  std::vector<std::string> actions() const;

 private:
  using Clock = std::chrono::steady_clock;
  std::unordered_map<std::string, std::vector<Clock::time_point>> current_;  // a stack: actions may nest in themselves
  std::unordered_map<std::string, size_t> index_;
  std::vector<std::pair<std::string, std::vector<float>>> durations_;
};

/// TrainerOptions::profiler: "" (off), "simple", "advanced", or an instance
/// (std::make_shared<SimpleProfiler>("out", "perf")).
struct ProfilerArg {
  ProfilerArg() = default;
  ProfilerArg(const char* name) : name(name) {}             // NOLINT: implicit like Lightning's str
  ProfilerArg(std::string name) : name(std::move(name)) {}  // NOLINT
  template <class P, class = std::enable_if_t<std::is_base_of<Profiler, P>::value>>
  ProfilerArg(std::shared_ptr<P> profiler) : instance(std::move(profiler)) {}  // NOLINT
  std::string name;
  std::shared_ptr<Profiler> instance;
  /// Whether a profiler was asked for (a name or an instance).
  bool set() const { return instance != nullptr || !name.empty(); }
};

/// The profiler `arg` asks for: the instance, a new SimpleProfiler/AdvancedProfiler for "simple"/"advanced" (any
/// case), or a PassThroughProfiler. Throws MisconfigurationError naming the choices for any other name.
std::shared_ptr<Profiler> make_profiler(const ProfilerArg& arg);

}  // namespace volt
