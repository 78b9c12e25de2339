// CSVLogger: Lightning 2.2.5's loggers/csv_logs.py. Metrics go to <save_dir>/<name>/version_<n>/metrics.csv (one
// row per log_metrics call, columns the sorted union of the keys seen so far, "step" added; when a new key appears
// the file is rewritten with the new header, as Lightning does) and hyperparameters to hparams.yaml next to it.
#pragma once
#include <map>
#include <optional>
#include <variant>
#include <string>
#include <vector>

#include "volt/state.hpp"
#include "volt/trainer.hpp"

namespace volt {

struct CSVLoggerOptions {
  /// Experiment name: the directory under save_dir ("" puts versions directly in save_dir).
  std::string name = "lightning_logs";
  /// An int gives "version_<n>"; a string is used as the directory name; unset: the next free version_<n>.
  std::optional<std::variant<int64_t, std::string>> version;
  /// Prepended to every metric key with "-".
  std::string prefix;
  /// log_metrics flushes when (step + 1) % this == 0; the Trainer also calls save() after every log.
  int64_t flush_logs_every_n_steps = 100;
};

class CSVLogger : public Logger {
 public:
  explicit CSVLogger(std::string save_dir, CSVLoggerOptions options = {});
  std::string name() const override { return options_.name; }
  /// The version as Lightning's str(version): "0", "1", ... or the given string.
  std::string version() const override;
  /// <save_dir>/<name>/version_<n> (or the string version).
  std::string log_dir() const override;
  const std::string& save_dir() const { return save_dir_; }
  /// <save_dir>/<name>.
  std::string root_dir() const;
  void log_metrics(const std::map<std::string, double>& metrics, int64_t step) override;
  /// Merges into the hyperparameters written to hparams.yaml on every save().
  void log_hyperparams(const StateDict& params) override;
  /// Writes hparams.yaml and appends the pending rows to metrics.csv (both written atomically when rewritten).
  void save() override;
  void finalize(const std::string& status) override;

  static constexpr const char* kMetricsFile = "metrics.csv";
  static constexpr const char* kHparamsFile = "hparams.yaml";

 private:
  using Row = std::map<std::string, std::string>;
  void ensure_experiment();
  int64_t next_version() const;

  std::string save_dir_;
  CSVLoggerOptions options_;
  mutable std::optional<std::variant<int64_t, std::string>> version_;
  bool experiment_ = false;
  StateDict hparams_;
  std::string written_hparams_;  // what hparams.yaml holds (the YAML last written)
  std::vector<Row> pending_;
  std::vector<Row> written_;  // what metrics.csv holds, for rewriting it with a new header
  std::vector<std::string> keys_;
};

/// Lightning's save_hparams_to_yaml as PyYAML's yaml.dump writes it (sorted keys, block style).
std::string hparams_to_yaml(const StateDict& hparams);
/// <root>/version_<n> dirs: the next free n (0 if none); Lightning's _get_next_version.
int64_t next_logger_version(const std::string& root_dir);
/// Writes `text` to `path` through a temporary file and a rename.
void write_file_atomically(const std::string& path, const std::string& text);

}  // namespace volt
