// TensorBoardLogger: Lightning 2.2.5's loggers/tensorboard.py writing TensorBoard event files itself (no
// tensorboard/protobuf dependency): <save_dir>/<name>/version_<n>/events.out.tfevents.<time>.<host>.<pid>.<uid>
// as TFRecords (length, masked CRC32C of the length, Event proto, masked CRC32C of the data). The first record
// carries file_version "brain.Event:2"; every logged metric is a Summary.Value with simple_value. Hyperparameters
// go to hparams.yaml (written once, like Lightning) and, when there are metrics for them (default_hp_metric gives
// hp_metric=-1), to the event file: the metrics as scalars at step 0, then the hparams plugin's three summaries
// (experiment, session_start_info, session_end_info) that torch.utils.tensorboard.summary.hparams builds.
#pragma once
#include <cstdint>
#include <fstream>
#include <array>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "volt/state.hpp"
#include "volt/trainer.hpp"

namespace volt {

struct TensorBoardLoggerOptions {
  std::string name = "lightning_logs";
  /// An int gives "version_<n>"; a string is used as the directory name; unset: the next free version_<n>.
  std::optional<std::variant<int64_t, std::string>> version;
  /// Log hp_metric = -1 at step 0 when hyperparameters are logged.
  bool default_hp_metric = true;
  /// Prepended to every metric key with "-".
  std::string prefix;
  /// An extra directory under the version directory.
  std::string sub_dir;
};

class TensorBoardLogger : public Logger {
 public:
  explicit TensorBoardLogger(std::string save_dir, TensorBoardLoggerOptions options = {});
  ~TensorBoardLogger() override;
  std::string name() const override { return options_.name; }
  std::string version() const override;
  /// <save_dir>/<name>/version_<n>[/<sub_dir>].
  std::string log_dir() const override;
  const std::string& save_dir() const { return save_dir_; }
  std::string root_dir() const;
  void log_metrics(const std::map<std::string, double>& metrics, int64_t step) override;
  /// Lightning's log_hyperparams(params): with default_hp_metric, log_hyperparams(params, {{"hp_metric", -1}}).
  void log_hyperparams(const StateDict& params) override;
  /// Lightning's log_hyperparams(params, metrics): the metrics (in this order, prefixed like log_metrics) at step
  /// 0, then the hparams summaries naming them (unprefixed, as Lightning does). `std::nullopt` means Lightning's
  /// `metrics=None` (default_hp_metric decides); with no metrics nothing but hparams.yaml is written. Throws
  /// volt::Error for a value TensorBoard cannot take (see tensorboard::sanitize_hparams) before writing anything.
  void log_hyperparams(const StateDict& params, std::optional<std::vector<std::pair<std::string, double>>> metrics);
  /// Creates the event file if it was never opened (not after finalize closed it), flushes it, and writes
  /// hparams.yaml if it does not exist yet.
  void save() override;
  /// Flushes and closes the event file; on "success" then save()s (hparams.yaml).
  void finalize(const std::string& status) override;
  /// The event file being written ("" before the first record).
  const std::string& event_file() const { return event_file_; }

  static constexpr const char* kHparamsFile = "hparams.yaml";

 private:
  void ensure_writer();
  void write_event(const std::string& event);

  std::string save_dir_;
  TensorBoardLoggerOptions options_;
  mutable std::optional<std::variant<int64_t, std::string>> version_;
  StateDict hparams_;
  std::string event_file_;
  std::ofstream out_;
  bool closed_ = false;  // finalize closed the event file
};

namespace tensorboard {
/// CRC-32C (Castagnoli), as TFRecord uses.
uint32_t crc32c(const void* data, size_t size);
/// TFRecord's masked CRC: rotate right by 15 and add 0xa282ead8.
uint32_t masked_crc32c(const void* data, size_t size);
/// One TFRecord: uint64 length, masked CRC of the length, data, masked CRC of the data (all little-endian).
std::string tfrecord(const std::string& data);
/// Event{wall_time, file_version, source_metadata{writer}}: the first record, as tensorboard's EventFileWriter
/// (which torch.utils.tensorboard uses) writes it.
std::string file_version_event(double wall_time, const std::string& version = "brain.Event:2");
/// Event{wall_time, step, summary{value{tag, simple_value}}}.
std::string scalar_event(double wall_time, int64_t step, const std::string& tag, float value);
/// Event{wall_time, summary}: SummaryWriter's add_summary without a global step (no step field).
std::string summary_event(double wall_time, const std::string& summary);

/// A hyper-parameter as the hparams plugin stores it: a number (DATA_TYPE_FLOAT64) or a string (DATA_TYPE_STRING).
using HParam = std::pair<std::string, std::variant<double, std::string>>;

/// Lightning's _flatten_dict + TensorBoardLogger._sanitize_params: nested dicts become "a/b" keys (an empty one
/// disappears), bool/int/float become numbers (Python's bool is an int, so True is 1.0), str stays a string,
/// a 1-d tensor gives its first element (torch's make_np(v)[0]), anything else becomes str(v) (None -> "None",
/// [1, 2] -> "[1, 2]"). Throws volt::Error for other tensors and values python_repr cannot print.
std::vector<HParam> sanitize_hparams(const StateDict& params);

/// torch.utils.tensorboard.summary.hparams(hparam_dict, metric_dict) in torch 1.13: the serialized Summary protos
/// {experiment, session_start_info, session_end_info}, each one Summary.Value tagged "_hparams_/<name>" whose
/// metadata's plugin_data is {plugin_name "hparams", content: HParamsPluginData}.
std::array<std::string, 3> hparams_summaries(const std::vector<HParam>& hparams,
                                             const std::vector<std::string>& metric_tags);
}  // namespace tensorboard

}  // namespace volt
