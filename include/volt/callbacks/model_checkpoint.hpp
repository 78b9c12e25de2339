// ModelCheckpoint: saves the model periodically, keeping the top-k by a monitored metric (Lightning 2.2.5's
// callbacks/model_checkpoint.py: same parameters, defaults, state, file names and messages).
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "volt/callbacks/checkpoint.hpp"
#include "volt/logging.hpp"
#include "volt/timedelta.hpp"

namespace volt {

/// `ModelCheckpoint(save_last=...)`: false/None (no last checkpoint), true (a full copy saved as "last.ckpt"), or
/// "link" (a relative symbolic link to the latest checkpoint saved).
class SaveLast {
 public:
  SaveLast(bool enabled = false) : mode_(enabled ? kCopy : kNone) {}  // NOLINT: implicit, like Python's True/False
  /// Only "link" (throws MisconfigurationError for any other text).
  SaveLast(const char* mode);  // NOLINT: implicit, like Python's "link"
  explicit operator bool() const { return mode_ != kNone; }
  bool is_link() const { return mode_ == kLink; }

 private:
  enum Mode { kNone, kCopy, kLink } mode_;
};

struct ModelCheckpointOptions {
  /// Directory for checkpoints. Empty (None): resolved in setup to <logger log_dir>/checkpoints, or
  /// <default_root_dir>/checkpoints without loggers. A given path is made absolute and resolved (realpath, "~").
  std::string dirpath;
  /// File name template, e.g. "{epoch}-{val_loss:.2f}" (Python format specs); empty (None) means "{epoch}-{step}".
  std::string filename;
  /// Metric to rank checkpoints by; unset (None) keeps the latest.
  std::optional<std::string> monitor;
  bool verbose = false;
  /// Also save "last.ckpt": false, true, or "link".
  SaveLast save_last = false;
  /// Keep the best k (-1: all, 0: none).
  int64_t save_top_k = 1;
  bool save_weights_only = false;
  /// "min", "max" or "auto" (volt: setup asks trainer.metric_properties(), e.g. *loss* → min, *acc* → max).
  std::string mode = "min";
  /// "{epoch}" becomes "epoch=3" (false: "3").
  bool auto_insert_metric_name = true;
  std::optional<int64_t> every_n_train_steps;
  /// Save when this much training time has passed since the last time-triggered save (checked after each batch).
  std::optional<TimeDelta> train_time_interval;
  std::optional<int64_t> every_n_epochs;
  /// Save at train epoch end (true) or after validation (false); unset decides from the validation setup.
  std::optional<bool> save_on_train_epoch_end;
  /// Append "-v1", "-v2"... instead of overwriting a file of the same name.
  bool enable_version_counter = true;
  /// Also save when fit/validate/test/predict is interrupted by an exception (Lightning 2.5.3+; off by default,
  /// as 2.2.5 has no such option).
  bool save_on_exception = false;
  /// volt: write the files on the trainer's background thread (Trainer::save_checkpoint's async_write); an old
  /// checkpoint is removed, and "last" linked, only after the new file is durable.
  bool async_save = false;
};

class ModelCheckpoint : public Checkpoint {
 public:
  static constexpr const char* kJoinChar = "-";
  static constexpr const char* kEqualsChar = "=";
  static constexpr const char* kNameLast = "last";
  static constexpr const char* kFileExtension = ".ckpt";
  static constexpr int64_t kStartingVersion = 1;

  /// Throws MisconfigurationError with Lightning's messages for an invalid combination.
  explicit ModelCheckpoint(ModelCheckpointOptions options = {});

  // Lightning's class constants, per instance as Python allows (e.g. checkpoint_name_last = "{epoch}-last").
  std::string checkpoint_join_char = kJoinChar;
  std::string checkpoint_equals_char = kEqualsChar;
  std::string checkpoint_name_last = kNameLast;
  std::string file_extension = kFileExtension;
  int64_t starting_version = kStartingVersion;

  /// ModelCheckpoint{'monitor': ..., 'mode': ..., 'every_n_train_steps': ..., 'every_n_epochs': ...,
  /// 'train_time_interval': ...} with the normalised triggers.
  std::string state_key() const override;
  StateDict state_dict() override;
  void load_state_dict(const StateDict& state) override;

  void setup(Trainer& trainer, Module& module, const std::string& stage) override;
  void on_train_start(Trainer& trainer, Module& module) override;
  void on_train_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                          int64_t batch_idx) override;
  void on_train_epoch_end(Trainer& trainer, Module& module) override;
  void on_validation_end(Trainer& trainer, Module& module) override;
  void on_exception(Trainer& trainer, Module& module, const std::exception& exception) override;

  /// The path a checkpoint with these metrics gets (Lightning's format_checkpoint_name): `filename` (empty: the
  /// option's) with every "{name[:spec]}" formatted as Python's str.format does, "-v<ver>", the extension, joined
  /// to dirpath. Metrics missing from `metrics` format as tensor(0). Throws MisconfigurationError when Python would
  /// raise (e.g. "Unknown format code 'd' for object of type 'float'").
  std::string format_checkpoint_name(const MetricMap& metrics, const std::string& filename = "",
                                     std::optional<int64_t> ver = std::nullopt) const;
  /// The metrics a save sees: callback_metrics plus "epoch" and "step" (ints).
  MetricMap monitor_candidates(Trainer& trainer) const;

  const ModelCheckpointOptions& options() const { return options_; }
  const std::optional<std::string>& monitor() const { return options_.monitor; }
  /// "min" or "max" ("auto" until setup resolves it).
  const std::string& mode() const { return mode_; }
  /// "" until setup resolves it (when no dirpath was given).
  const std::string& dirpath() const { return dirpath_; }
  int64_t every_n_epochs() const { return every_n_epochs_; }
  int64_t every_n_train_steps() const { return every_n_train_steps_; }
  std::string best_model_path() const override { return best_model_path_; }
  std::vector<std::string> last_checkpoint_candidates() const override;
  const std::optional<torch::Tensor>& best_model_score() const { return best_model_score_; }
  /// path -> score, in insertion order (a Python dict).
  const std::vector<std::pair<std::string, torch::Tensor>>& best_k_models() const { return best_k_models_; }
  const std::string& kth_best_model_path() const { return kth_best_model_path_; }
  const torch::Tensor& kth_value() const { return kth_value_; }
  const std::string& last_model_path() const { return last_model_path_; }
  const std::optional<torch::Tensor>& current_score() const { return current_score_; }

 private:
  bool should_skip_saving_checkpoint(Trainer& trainer) const;
  bool should_save_on_train_epoch_end(Trainer& trainer) const;
  void save_topk_checkpoint(Trainer& trainer, const MetricMap& candidates);
  void save_last_checkpoint(Trainer& trainer, const MetricMap& candidates);
  void save_monitor_checkpoint(Trainer& trainer, const MetricMap& candidates);
  void save_none_monitor_checkpoint(Trainer& trainer, const MetricMap& candidates);
  void update_best_and_save(torch::Tensor current, Trainer& trainer, const MetricMap& candidates);
  bool check_monitor_top_k(Trainer& trainer, const std::optional<torch::Tensor>& current) const;
  std::string metric_interpolated_filepath(const MetricMap& candidates, Trainer& trainer,
                                           const std::string& del_filepath) const;
  void save_checkpoint(Trainer& trainer, const std::string& filepath);
  void link_checkpoint(Trainer& trainer, const std::string& filepath, const std::string& linkpath) const;
  bool should_remove_checkpoint(Trainer& trainer, const std::string& previous, const std::string& current) const;
  std::string resolve_ckpt_dir(const Trainer& trainer) const;
  void save_epoch_checkpoints(Trainer& trainer);
  const torch::Tensor* best_k_find(const std::string& path) const;

  ModelCheckpointOptions options_;
  int64_t every_n_train_steps_ = 0;
  int64_t every_n_epochs_ = 1;
  std::string dirpath_;
  std::string mode_;
  std::string best_model_path_;
  std::optional<torch::Tensor> best_model_score_;
  std::optional<torch::Tensor> current_score_;
  std::vector<std::pair<std::string, torch::Tensor>> best_k_models_;
  std::string kth_best_model_path_;
  torch::Tensor kth_value_;
  std::string last_model_path_;
  std::string last_checkpoint_saved_;
  int64_t last_global_step_saved_ = 0;  // no need to save when no steps were taken
  std::optional<double> last_time_checked_;
};

}  // namespace volt
