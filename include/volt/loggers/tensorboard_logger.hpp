// TensorBoardLogger: Lightning 2.2.5's loggers/tensorboard.py writing TensorBoard event files itself (no
// tensorboard/protobuf dependency): <save_dir>/<name>/version_<n>/events.out.tfevents.<time>.<host>.<pid>.<uid>
// as TFRecords (length, masked CRC32C of the length, Event proto, masked CRC32C of the data). The first record
// carries file_version "brain.Event:2"; every logged metric is a Summary.Value with simple_value. Hyperparameters
// go to hparams.yaml (written once, like Lightning) and, with default_hp_metric, a hp_metric=-1 scalar at step 0.
#pragma once
#include <cstdint>
#include <fstream>
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
  void log_hyperparams(const StateDict& params) override;
  /// Flushes the event file; writes hparams.yaml if it does not exist yet.
  void save() override;
  /// Flushes and closes the event file.
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
};

namespace tensorboard {
/// CRC-32C (Castagnoli), as TFRecord uses.
uint32_t crc32c(const void* data, size_t size);
/// TFRecord's masked CRC: rotate right by 15 and add 0xa282ead8.
uint32_t masked_crc32c(const void* data, size_t size);
/// One TFRecord: uint64 length, masked CRC of the length, data, masked CRC of the data (all little-endian).
std::string tfrecord(const std::string& data);
/// Event{wall_time, step, file_version}.
std::string file_version_event(double wall_time, const std::string& version = "brain.Event:2");
/// Event{wall_time, step, summary{value{tag, simple_value}}}.
std::string scalar_event(double wall_time, int64_t step, const std::string& tag, float value);
}  // namespace tensorboard

}  // namespace volt
