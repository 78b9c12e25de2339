// ProgressBar: the base of progress bars (Lightning 2.2.5's callbacks/progress/progress_bar.py). It knows the
// totals of each stage, which evaluation dataloader is running, and what to show next to the bar (get_metrics:
// "v_num" and the values logged with prog_bar=true). The Trainer accepts at most one; its default is
// TQDMProgressBar (volt/callbacks/tqdm_progress.hpp). RichProgressBar is in volt/callbacks/rich_progress.hpp.
//
// Shared by both bars: when the stream is not a terminal (a CI log, a file) they print whole lines instead of
// redrawing one line in place: a line at each tenth of a bar's progress and when it completes (see PlainProgress).
#pragma once
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "volt/callback.hpp"

namespace volt {

/// A value shown next to the bar, with Python's type: an int (e.g. v_num), a float (logged metrics) or a string.
using ProgressBarValue = std::variant<int64_t, double, std::string>;
/// Name → value in display order.
using ProgressBarMetrics = std::vector<std::pair<std::string, ProgressBarValue>>;

/// Lightning's get_standard_metrics: {"v_num": version} when the trainer has loggers and a non-empty version.
/// With several loggers the distinct versions are joined by "_". A version of digits only is an int (Lightning's
/// loggers number versions); other strings keep their last 4 characters.
ProgressBarMetrics get_standard_metrics(const Trainer& trainer);

class ProgressBar : public Callback {
 public:
  /// The trainer given to setup(); throws volt::Error (Lightning's TypeError) before.
  Trainer& trainer() const;

  virtual std::string sanity_check_description() const { return "Sanity Checking"; }
  virtual std::string train_description() const { return "Training"; }
  virtual std::string validation_description() const { return "Validation"; }
  virtual std::string test_description() const { return "Testing"; }
  virtual std::string predict_description() const { return "Predicting"; }

  /// Batches in this training epoch.
  int64_t total_train_batches() const;
  /// Batches of the running validation dataloader (the sanity-check limit while sanity checking).
  int64_t total_val_batches_current_dataloader() const;
  /// Batches of the running test run.
  int64_t total_test_batches_current_dataloader() const;
  /// Batches of the running predict run.
  int64_t total_predict_batches_current_dataloader() const;

  /// Records `dataloader_idx` as the running one; true if it differs from the previous (true after a reset).
  bool has_dataloader_changed(int64_t dataloader_idx);
  void reset_dataloader_idx_tracker() { current_eval_dataloader_idx_.reset(); }
  std::optional<int64_t> current_eval_dataloader_idx() const { return current_eval_dataloader_idx_; }

  /// Turn the display off/on (the Trainer disables it on non-zero ranks).
  virtual void disable() = 0;
  virtual void enable() = 0;
  virtual bool is_enabled() const = 0;
  bool is_disabled() const { return !is_enabled(); }
  /// Prints a line without breaking the bar. Default: to stdout.
  virtual void print(const std::string& message);

  /// Stores the trainer; disables the bar unless this is global rank zero.
  void setup(Trainer& trainer, Module& module, const std::string& stage) override;

  /// What is shown next to the bar: get_standard_metrics, then trainer.progress_bar_metrics() (which win on a
  /// clash, with Lightning's warning). Float tensors become floats, integer tensors ints. Override to change it.
  virtual ProgressBarMetrics get_metrics(Trainer& trainer, Module& module);

 protected:
  Trainer* trainer_ = nullptr;
  std::optional<int64_t> current_eval_dataloader_idx_;
};

/// How a bar prints when its stream is not a terminal: whole lines, at most one per tenth of the total and one
/// when the bar completes; `flush` prints the state once more if it changed since the last line (used when an
/// epoch ends with new metrics).
class PlainProgress {
 public:
  /// True if a line for (n, total) is due; remembers it.
  bool due(int64_t n, std::optional<int64_t> total);
  /// True if `line_key` (the state without timings) differs from the last printed one; remembers it.
  bool changed(const std::string& line_key);
  void reset() { last_n_ = 0; }

 private:
  int64_t last_n_ = 0;
  std::string last_key_;
};

/// isatty() of the stream's file descriptor.
bool is_terminal(std::FILE* stream);
/// The stream's terminal width in columns, or nullopt if it is not a terminal.
std::optional<int> terminal_columns(std::FILE* stream);

}  // namespace volt
