// TQDMProgressBar: the default progress bar (Lightning 2.2.5's callbacks/progress/tqdm_progress.py), drawn the
// way tqdm draws it:
//
//   Epoch 1: 100%|██████████| 32/32 [00:00<00:00, 75.02it/s, v_num=0, loss=0.123]
//
// On a terminal each bar is one line redrawn in place (the validation bar of fit one line below the training
// bar). On anything else (a pipe, a CI log) whole lines are printed instead, see PlainProgress.
#pragma once
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "volt/callbacks/progress_bar.hpp"

namespace volt {

/// One tqdm bar: what tqdm shows for the bar format Lightning uses, "{l_bar}{bar}| {n_fmt}/{total_fmt}
/// [{elapsed}<{remaining}, {rate_noinv_fmt}{postfix}]".
class Tqdm {
 public:
  struct Options {
    std::string desc;
    int64_t position = 0;
    bool disable = false;
    /// Keep the line when closed (false clears it).
    bool leave = true;
    std::FILE* file = stdout;
    /// Redraw in place (a terminal) or print whole lines; unset: isatty(file).
    std::optional<bool> terminal;
  };
  explicit Tqdm(Options options);
  ~Tqdm();
  Tqdm(const Tqdm&) = delete;
  Tqdm& operator=(const Tqdm&) = delete;

  /// n = 0, a new total, the clock restarts; redraws.
  void reset(std::optional<int64_t> total = std::nullopt);
  void set_description(const std::string& desc);
  /// Rendered "k=v, ..." with format_num for numbers; redraws unless `refresh` is false.
  void set_postfix(const ProgressBarMetrics& metrics, bool refresh = true);
  /// Sets n and redraws (Lightning's _update_n); nothing when disabled.
  void update_to(int64_t n);
  void refresh();
  /// Leaves the line (leave) or clears it; idempotent.
  void close();
  /// Prints a message above the bar.
  void write(const std::string& message);

  /// The line as tqdm formats it, for a terminal `ncols` wide (unset: a 10-character bar).
  std::string format_meter(std::optional<int> ncols) const;
  /// tqdm.format_meter with Lightning's bar format: `elapsed` seconds, the average rate, the UTF block bar.
  static std::string format_meter(int64_t n, std::optional<int64_t> total, double elapsed, std::optional<int> ncols,
                                  const std::string& desc, const std::string& postfix);
  /// Lightning's Tqdm.format_num: tqdm's '{:.3g}'-or-str() choice, floats and strings padded with zeros to 5
  /// characters ("1.000", "0.100", "1e-5" unpadded, ints as they are).
  static std::string format_num(const ProgressBarValue& value);

  int64_t n = 0;
  std::optional<int64_t> total;
  std::string desc;
  std::string postfix;
  bool disable;
  bool leave;
  int64_t position;
  bool closed = false;

 private:
  void display(const std::string& line, int64_t pos);
  void print_plain(bool force);

  std::FILE* file_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_;
  size_t last_len_ = 0;
  PlainProgress plain_;
};

struct TQDMProgressBarOptions {
  /// Redraw every this many batches (0 turns the display off). TQDM_MINITERS raises it; on Colab (COLAB_GPU) 1
  /// becomes 20.
  int64_t refresh_rate = 1;
  /// Offset the bars by 2 * process_position lines.
  int64_t process_position = 0;
  /// A new training bar per epoch, so each epoch's line stays (Lightning 2.3+; false is 2.2.5's behaviour: one
  /// training bar reset every epoch).
  bool leave = false;
  /// Where to draw.
  std::FILE* stream = stdout;
  /// Redraw in place (true) or print whole lines (false); unset: whether the stream is a terminal.
  std::optional<bool> terminal;
};

class TQDMProgressBar : public ProgressBar {
 public:
  explicit TQDMProgressBar(TQDMProgressBarOptions options = {});

  int64_t refresh_rate() const { return refresh_rate_; }
  int64_t process_position() const { return options_.process_position; }
  const TQDMProgressBarOptions& options() const { return options_; }
  bool is_enabled() const override { return enabled_ && refresh_rate_ > 0; }
  void disable() override { enabled_ = false; }
  void enable() override { enabled_ = true; }

  /// The bars; each throws volt::Error (Lightning's TypeError) before it is created.
  Tqdm& train_progress_bar() const;
  Tqdm& val_progress_bar() const;
  Tqdm& test_progress_bar() const;
  Tqdm& predict_progress_bar() const;

  /// Override to customise a bar (Lightning's init_*_tqdm).
  virtual std::unique_ptr<Tqdm> init_sanity_tqdm();
  virtual std::unique_ptr<Tqdm> init_train_tqdm();
  virtual std::unique_ptr<Tqdm> init_predict_tqdm();
  virtual std::unique_ptr<Tqdm> init_validation_tqdm();
  virtual std::unique_ptr<Tqdm> init_test_tqdm();

  void on_sanity_check_start(Trainer& trainer, Module& module) override;
  void on_sanity_check_end(Trainer& trainer, Module& module) override;
  void on_train_start(Trainer& trainer, Module& module) override;
  void on_train_epoch_start(Trainer& trainer, Module& module) override;
  void on_train_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                          int64_t batch_idx) override;
  void on_train_epoch_end(Trainer& trainer, Module& module) override;
  void on_train_end(Trainer& trainer, Module& module) override;
  void on_validation_start(Trainer& trainer, Module& module) override;
  void on_validation_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx,
                                 int64_t dataloader_idx) override;
  void on_validation_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                               int64_t batch_idx, int64_t dataloader_idx) override;
  void on_validation_end(Trainer& trainer, Module& module) override;
  void on_test_start(Trainer& trainer, Module& module) override;
  void on_test_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx,
                           int64_t dataloader_idx) override;
  void on_test_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                         int64_t batch_idx, int64_t dataloader_idx) override;
  void on_test_end(Trainer& trainer, Module& module) override;
  void on_predict_start(Trainer& trainer, Module& module) override;
  void on_predict_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx,
                              int64_t dataloader_idx) override;
  void on_predict_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                            int64_t batch_idx, int64_t dataloader_idx) override;
  void on_predict_end(Trainer& trainer, Module& module) override;
  /// Closes any open bar so an exception's message starts on a fresh line.
  void on_exception(Trainer& trainer, Module& module, const std::exception& exception) override;

  /// Writes above the first enabled bar (train, val, test, predict); prints nothing if none is active.
  void print(const std::string& message) override;

  /// Lightning's _resolve_refresh_rate (COLAB_GPU, TQDM_MINITERS).
  static int64_t resolve_refresh_rate(int64_t refresh_rate);

 protected:
  Tqdm::Options bar_options(const std::string& desc, int64_t position, bool leave) const;
  bool should_update(int64_t current, std::optional<int64_t> total) const;

 private:
  TQDMProgressBarOptions options_;
  int64_t refresh_rate_;
  bool enabled_ = true;
  std::unique_ptr<Tqdm> train_bar_, val_bar_, test_bar_, predict_bar_;
};

}  // namespace volt
