// ModelCheckpoint: saves the model periodically, keeping the top-k by a monitored metric (Lightning's
// callbacks/model_checkpoint.py, same parameters, defaults, state, file names and messages).
#pragma once
#include <map>
#include <optional>
#include <string>

#include "volt/callbacks/checkpoint.hpp"
#include "volt/logging.hpp"

namespace volt {

struct ModelCheckpointOptions {
  /// Directory for checkpoints. Empty: <logger save_dir>/<name>/<version>/checkpoints, or
  /// <default_root_dir>/checkpoints without loggers.
  std::string dirpath;
  /// File name template, e.g. "{epoch}-{val_loss:.2f}"; empty means "{epoch}-{step}".
  std::string filename;
  /// Metric to rank checkpoints by; empty keeps the latest.
  std::optional<std::string> monitor;
  bool verbose = false;
  /// Also save "last.ckpt": "" (no), "true", or "link" (a symbolic link to the latest checkpoint).
  std::string save_last;
  /// Keep the best k (-1: all, 0: none).
  int64_t save_top_k = 1;
  bool save_weights_only = false;
  /// "min" or "max".
  std::string mode = "min";
  /// "{epoch}" becomes "epoch=3" (false: "3").
  bool auto_insert_metric_name = true;
  std::optional<int64_t> every_n_train_steps;
  /// Save every this many seconds of training (Lightning's train_time_interval timedelta).
  std::optional<double> train_time_interval_seconds;
  std::optional<int64_t> every_n_epochs;
  /// Save at train epoch end (true) or after validation (false); unset decides from the validation setup.
  std::optional<bool> save_on_train_epoch_end;
  /// Append "-v1", "-v2"... instead of overwriting a file of the same name.
  bool enable_version_counter = true;
  /// Also save when the run is interrupted by an exception.
  bool save_on_exception = false;
};

class ModelCheckpoint : public Checkpoint {
 public:
  static constexpr const char* kJoinChar = "-";
  static constexpr const char* kEqualsChar = "=";
  static constexpr const char* kNameLast = "last";
  static constexpr const char* kFileExtension = ".ckpt";

  explicit ModelCheckpoint(ModelCheckpointOptions options = {});

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

  /// The path a checkpoint with these metrics gets (Lightning's format_checkpoint_name).
  std::string format_checkpoint_name(const MetricMap& metrics, const std::string& filename = "",
                                     std::optional<int64_t> version = std::nullopt) const;

  const ModelCheckpointOptions& options() const { return options_; }
  const std::string& dirpath() const { return dirpath_; }
  std::string best_model_path() const override { return best_model_path_; }
  std::vector<std::string> last_checkpoint_candidates() const override;
  const std::optional<torch::Tensor>& best_model_score() const { return best_model_score_; }
  const std::map<std::string, torch::Tensor>& best_k_models() const { return best_k_models_; }
  const std::string& kth_best_model_path() const { return kth_best_model_path_; }
  const std::string& last_model_path() const { return last_model_path_; }
  const std::optional<torch::Tensor>& current_score() const { return current_score_; }

 private:
  bool should_skip_saving(Trainer& trainer) const;
  bool should_save_on_train_epoch_end(Trainer& trainer) const;
  MetricMap monitor_candidates(Trainer& trainer) const;
  void save_topk_checkpoint(Trainer& trainer, const MetricMap& candidates);
  void save_last_checkpoint(Trainer& trainer, const MetricMap& candidates);
  void save_monitor_checkpoint(Trainer& trainer, const MetricMap& candidates);
  void save_none_monitor_checkpoint(Trainer& trainer, const MetricMap& candidates);
  void update_best_and_save(torch::Tensor current, Trainer& trainer, const MetricMap& candidates);
  bool check_monitor_top_k(Trainer& trainer, const std::optional<torch::Tensor>& current) const;
  std::string interpolated_filepath(const MetricMap& candidates, Trainer& trainer, const std::string& del_filepath);
  void save_checkpoint(Trainer& trainer, const std::string& filepath);
  bool should_remove_checkpoint(Trainer& trainer, const std::string& previous, const std::string& current) const;
  std::string resolve_dirpath(const Trainer& trainer) const;
  void save_epoch_checkpoints(Trainer& trainer);

  ModelCheckpointOptions options_;
  int64_t every_n_train_steps_ = 0;
  int64_t every_n_epochs_ = 1;
  std::string dirpath_;
  std::string best_model_path_;
  std::optional<torch::Tensor> best_model_score_;
  std::optional<torch::Tensor> current_score_;
  std::map<std::string, torch::Tensor> best_k_models_;  // Python keeps insertion order; see state_dict()
  std::vector<std::string> best_k_order_;
  std::string kth_best_model_path_;
  torch::Tensor kth_value_;
  std::string last_model_path_;
  std::string last_checkpoint_saved_;
  std::optional<int64_t> last_global_step_saved_;
  double last_time_checked_ = -1;
};

/// Python's repr of datetime.timedelta(seconds=s), e.g. "datetime.timedelta(seconds=3600)".
std::string timedelta_repr(double seconds);

}  // namespace volt
