// RichProgressBar: the progress bar drawn the way the `rich` library draws Lightning's (Lightning 2.2.5's
// callbacks/progress/rich_progress.py): one line per task with a description, a 40-cell bar, batches, elapsed and
// remaining time, speed and, on the training line, the metrics:
//
//   Epoch 0/1  ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 2/2 0:00:00 • 0:00:00 23.41it/s v_num: 0.000 loss: 0.123
//
// On a terminal the tasks are redrawn in place (a live display, with the theme's colours). On anything else whole
// lines are printed instead, see PlainProgress. volt needs no `rich`: this is a C++ rendering of its layout.
#pragma once
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "volt/callbacks/progress_bar.hpp"

namespace volt {

/// Styles of the parts of the bar (rich style strings: colour names, "#RRGGBB", "greyNN", "bold", "dim", ...).
struct RichProgressBarTheme {
  std::string description = "white";
  std::string progress_bar = "#6206E0";
  std::string progress_bar_finished = "#6206E0";
  std::string progress_bar_pulse = "#6206E0";
  std::string batch_progress = "white";
  std::string time = "grey54";
  std::string processing_speed = "grey70";
  std::string metrics = "white";
  std::string metrics_text_delimiter = " ";
  /// Python format spec for non-string metric values (".3f"; also ".Ng", ".Ne").
  std::string metrics_format = ".3f";
};

struct RichProgressBarOptions {
  /// Redraw every this many batches (0 turns the display off).
  int64_t refresh_rate = 1;
  /// Keep each epoch's training line (a new display per epoch) instead of resetting one line.
  bool leave = false;
  RichProgressBarTheme theme;
  /// Where to draw (rich's console: stdout).
  std::FILE* stream = stdout;
  /// Redraw in place (true) or print whole lines (false); unset: whether the stream is a terminal.
  std::optional<bool> terminal;
};

class RichProgressBar : public ProgressBar {
 public:
  /// One line of the display (rich's Task).
  struct Task {
    std::string description;
    int64_t total = 0;
    int64_t completed = 0;
    bool visible = true;
    std::chrono::steady_clock::time_point start;
    PlainProgress plain;
  };

  explicit RichProgressBar(RichProgressBarOptions options = {});
  int64_t refresh_rate() const { return options_.refresh_rate; }
  const RichProgressBarOptions& options() const { return options_; }
  bool is_enabled() const override { return enabled_ && options_.refresh_rate > 0; }
  void disable() override { enabled_ = false; }
  void enable() override { enabled_ = true; }

  /// The tasks of the running display (hidden ones included) and the ids of the current ones.
  const std::vector<Task>& tasks() const { return tasks_; }
  std::optional<size_t> train_progress_bar_id() const { return train_id_; }
  std::optional<size_t> val_progress_bar_id() const { return val_id_; }
  std::optional<size_t> val_sanity_progress_bar_id() const { return val_sanity_id_; }
  std::optional<size_t> test_progress_bar_id() const { return test_id_; }
  std::optional<size_t> predict_progress_bar_id() const { return predict_id_; }
  /// The metrics shown on the training line.
  const ProgressBarMetrics& metrics() const { return metrics_; }

  /// The line of `task`, its description padded to `description_width`, with or without ANSI styles.
  std::string render_task(size_t task_id, size_t description_width, bool styled) const;
  /// Redraws the display (terminal) now.
  void refresh();

  void setup(Trainer& trainer, Module& module, const std::string& stage) override;
  void on_train_start(Trainer& trainer, Module& module) override;
  void on_predict_start(Trainer& trainer, Module& module) override;
  void on_test_start(Trainer& trainer, Module& module) override;
  void on_validation_start(Trainer& trainer, Module& module) override;
  void on_sanity_check_start(Trainer& trainer, Module& module) override;
  void on_sanity_check_end(Trainer& trainer, Module& module) override;
  void on_train_epoch_start(Trainer& trainer, Module& module) override;
  void on_validation_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx,
                                 int64_t dataloader_idx) override;
  void on_validation_epoch_end(Trainer& trainer, Module& module) override;
  void on_validation_end(Trainer& trainer, Module& module) override;
  void on_test_end(Trainer& trainer, Module& module) override;
  void on_predict_end(Trainer& trainer, Module& module) override;
  void on_test_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx,
                           int64_t dataloader_idx) override;
  void on_predict_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx,
                              int64_t dataloader_idx) override;
  void on_train_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                          int64_t batch_idx) override;
  void on_train_epoch_end(Trainer& trainer, Module& module) override;
  void on_validation_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                               int64_t batch_idx, int64_t dataloader_idx) override;
  void on_test_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                         int64_t batch_idx, int64_t dataloader_idx) override;
  void on_predict_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                            int64_t batch_idx, int64_t dataloader_idx) override;
  void teardown(Trainer& trainer, Module& module, const std::string& stage) override;
  void on_exception(Trainer& trainer, Module& module, const std::exception& exception) override;

  void print(const std::string& message) override;

 protected:
  /// "Epoch 3/9" (with max_epochs), padded to the width of "Validation".
  std::string get_train_description(int64_t current_epoch) const;

 private:
  void init_progress();
  void stop_progress();
  size_t add_task(int64_t total, const std::string& description, bool visible = true);
  void hide(std::optional<size_t> task_id);
  void update(std::optional<size_t> task_id, int64_t current, bool visible = true);
  bool should_update(int64_t current, int64_t total) const;
  void update_metrics(Trainer& trainer, Module& module);
  bool shows_metrics(size_t task_id) const;
  std::vector<std::string> render_lines(bool styled) const;

  RichProgressBarOptions options_;
  bool terminal_;
  bool enabled_ = true;
  bool running_ = false;
  std::vector<Task> tasks_;
  std::optional<size_t> train_id_, val_sanity_id_, val_id_, test_id_, predict_id_;
  ProgressBarMetrics metrics_;
  size_t rendered_lines_ = 0;
};

}  // namespace volt
