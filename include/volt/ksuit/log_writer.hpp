// ksuit's LogWriter and tracker: callbacks add scalars during an update; the writer merges everything of one update
// into one entry {epoch, update, sample, key: value...}, rejects a key logged twice in an update, echoes to
// stdout only when a logger is given, and flushes the entry to the tracker, which sends it to volt's loggers
// (spec ksuit.md §4).
#pragma once
#include <torch/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "volt/ksuit/metric_properties.hpp"
#include "volt/ksuit/progress.hpp"
#include "volt/state.hpp"
#include "volt/types.hpp"

namespace volt::ksuit {

/// Python's logging.getLogger(str(callback)) for a callback: info lines go through volt's message handler
/// (rank 0 only), prefixed with the callback's name.
class CallbackLogger {
 public:
  explicit CallbackLogger(std::string name = "") : name_(std::move(name)) {}
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  /// "[name] message" through rank_zero_info.
  void info(const std::string& message) const;
  void warning(const std::string& message) const;

 private:
  std::string name_;
};

/// One merged log entry: everything logged during one update.
struct LogEntry {
  int64_t epoch = 0, update = 0, sample = 0;
  /// In the order they were logged.
  std::vector<std::pair<std::string, double>> scalars;
  std::optional<double> get(const std::string& key) const;
};

/// ksuit's BaseTracker: receives one entry per update and keeps the run summary. The default sends the entry to
/// every volt Logger of the trainer (step = update; "epoch" and "sample" go along as metrics, like Lightning's
/// "epoch").
class Tracker {
 public:
  virtual ~Tracker();
  void bind(Trainer* trainer) { trainer_ = trainer; }
  virtual void log(const LogEntry& entry, const std::map<std::string, IValue>& nonscalars);
  virtual void set_summary(const std::string& key, double value) { summary_[key] = value; }
  const std::map<std::string, double>& summary() const { return summary_; }

 protected:
  Trainer* trainer_ = nullptr;
  std::map<std::string, double> summary_;
};

class LogWriter {
 public:
  LogWriter(std::shared_ptr<Tracker> tracker, std::shared_ptr<MetricPropertyProvider> metric_properties);
  /// The counter whose epoch/update/sample stamp each entry (set by the trainer side at training start).
  void bind(const UpdateCounter* counter) { counter_ = counter; }
  void set_metric_properties(std::shared_ptr<MetricPropertyProvider> provider) {
    metric_properties_ = std::move(provider);
  }

  /// Logs a scalar for the current update. With `logger`, also prints "key: value" formatted with Python's
  /// format spec `format_str` (e.g. ".4f"; empty: Python's repr). Throws MisconfigurationError when `key` was
  /// already logged in this update, or when no training is running.
  void add_scalar(const std::string& key, double value, const CallbackLogger* logger = nullptr,
                  const std::string& format_str = "");
  /// A one-element tensor is logged as its item().
  void add_scalar(const std::string& key, const torch::Tensor& value, const CallbackLogger* logger = nullptr,
                  const std::string& format_str = "");
  /// Tracker-only objects (images, histograms): kept out of the in-memory history and the summary.
  void add_nonscalar(const std::string& key, IValue value);

  /// The scalars logged so far in the current update (callbacks read other callbacks' values here, so their
  /// order in the callback list matters).
  const LogEntry& log_cache() const { return cache_; }
  bool has_cache() const { return has_cache_; }
  /// Sends the current entry to the tracker and appends it to the history; no-op when nothing was logged.
  /// An entry for the update of the previous entry is merged into it (duplicate keys are an error).
  void flush();
  /// Flushes, then writes the summary to the tracker: key/min or key/max (by metric properties) and key/last for
  /// every key that is not neutral.
  void finish();
  std::map<std::string, double> summarize() const;

  const std::vector<LogEntry>& log_entries() const { return entries_; }
  /// (update, value) pairs of `key` over the run.
  std::vector<std::pair<int64_t, double>> get_all_metric_values(const std::string& key) const;
  /// Forgets the history (a new fit).
  void reset();

 private:
  void open_cache(const std::string& key);
  std::shared_ptr<Tracker> tracker_;
  std::shared_ptr<MetricPropertyProvider> metric_properties_;
  const UpdateCounter* counter_ = nullptr;
  LogEntry cache_;
  std::map<std::string, IValue> nonscalar_cache_;
  bool has_cache_ = false;
  std::vector<LogEntry> entries_;
};

}  // namespace volt::ksuit
