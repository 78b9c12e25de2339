// The default progress bar (Lightning's TQDMProgressBar): one line per stage, redrawn in place, with the
// progress-bar metrics. Rank zero only.
#pragma once
#include <chrono>
#include <cstdio>
#include <string>

#include "volt/callback.hpp"

namespace volt {

struct ProgressBarOptions {
  /// Redraw every this many batches.
  int64_t refresh_rate = 1;
  /// Where to draw (stdout by default).
  std::FILE* stream = stdout;
};

class ProgressBar : public Callback {
 public:
  explicit ProgressBar(ProgressBarOptions options = {}) : options_(options) {}
  void disable() { enabled_ = false; }
  void enable() { enabled_ = true; }
  bool is_enabled() const { return enabled_; }

  void setup(Trainer& trainer, Module& module, const std::string& stage) override;
  void on_train_epoch_start(Trainer& trainer, Module& module) override;
  void on_train_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                          int64_t batch_idx) override;
  void on_train_epoch_end(Trainer& trainer, Module& module) override;
  void on_validation_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                               int64_t batch_idx, int64_t dataloader_idx) override;
  void on_validation_end(Trainer& trainer, Module& module) override;
  void on_test_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                         int64_t batch_idx, int64_t dataloader_idx) override;
  void on_test_end(Trainer& trainer, Module& module) override;
  void on_predict_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                            int64_t batch_idx, int64_t dataloader_idx) override;
  void on_predict_end(Trainer& trainer, Module& module) override;

 private:
  void draw(Trainer& trainer, const std::string& label, int64_t done, int64_t total, bool force);
  void finish_line();

  ProgressBarOptions options_;
  bool enabled_ = true;
  bool line_open_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace volt
