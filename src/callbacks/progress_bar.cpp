#include "volt/callbacks/progress_bar.hpp"

#include <torch/torch.h>

#include "volt/serialization/python_repr.hpp"
#include "volt/trainer.hpp"

namespace volt {

void ProgressBar::setup(Trainer& trainer, Module&, const std::string&) {
  if (!trainer.is_global_zero()) disable();
}

void ProgressBar::draw(Trainer& trainer, const std::string& label, int64_t done, int64_t total, bool force) {
  if (!enabled_ || (!force && options_.refresh_rate > 1 && done % options_.refresh_rate != 0 && done != total)) return;
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  int percent = total > 0 ? static_cast<int>(100 * done / total) : 100;
  const int width = 20;
  int filled = total > 0 ? static_cast<int>(width * done / total) : width;
  std::string bar(filled, '#');
  bar.resize(width, ' ');
  std::string metrics;
  for (const auto& kv : trainer.progress_bar_metrics()) {
    char value[32];
    std::snprintf(value, sizeof value, "%.3g", kv.second.item<double>());
    metrics += ", " + kv.first + "=" + value;
  }
  double rate = elapsed > 0 ? done / elapsed : 0.0;
  std::fprintf(options_.stream, "\r%s: %3d%%|%s| %lld/%lld [%.1fs, %.2fit/s%s]", label.c_str(), percent, bar.c_str(),
               static_cast<long long>(done), static_cast<long long>(total), elapsed, rate, metrics.c_str());
  std::fflush(options_.stream);
  line_open_ = true;
}

void ProgressBar::finish_line() {
  if (!enabled_ || !line_open_) return;
  std::fputc('\n', options_.stream);
  std::fflush(options_.stream);
  line_open_ = false;
}

void ProgressBar::on_train_epoch_start(Trainer&, Module&) { start_ = std::chrono::steady_clock::now(); }

void ProgressBar::on_train_batch_end(Trainer& trainer, Module&, const StepOutput&, const Batch&, int64_t batch_idx) {
  draw(trainer, "Epoch " + std::to_string(trainer.current_epoch()), batch_idx + 1, trainer.num_training_batches(),
       false);
}

void ProgressBar::on_train_epoch_end(Trainer& trainer, Module&) {
  draw(trainer, "Epoch " + std::to_string(trainer.current_epoch()), trainer.num_training_batches(),
       trainer.num_training_batches(), true);
  finish_line();
}

void ProgressBar::on_validation_batch_end(Trainer& trainer, Module&, const StepOutput&, const Batch&, int64_t batch_idx,
                                          int64_t) {
  if (trainer.fn() == TrainerFn::kFitting) return;  // inside fit the training line shows the metrics
  if (batch_idx == 0) start_ = std::chrono::steady_clock::now();
  int64_t total = 0;
  for (auto n : trainer.num_val_batches()) total += n;
  draw(trainer, "Validation", batch_idx + 1, total, false);
}

void ProgressBar::on_validation_end(Trainer&, Module&) { finish_line(); }

void ProgressBar::on_test_batch_end(Trainer& trainer, Module&, const StepOutput&, const Batch&, int64_t batch_idx,
                                    int64_t) {
  if (batch_idx == 0) start_ = std::chrono::steady_clock::now();
  draw(trainer, "Testing", batch_idx + 1, trainer.num_test_batches(), false);
}

void ProgressBar::on_test_end(Trainer&, Module&) { finish_line(); }

void ProgressBar::on_predict_batch_end(Trainer& trainer, Module&, const StepOutput&, const Batch&, int64_t batch_idx,
                                       int64_t) {
  if (batch_idx == 0) start_ = std::chrono::steady_clock::now();
  draw(trainer, "Predicting", batch_idx + 1, trainer.num_predict_batches(), false);
}

void ProgressBar::on_predict_end(Trainer&, Module&) { finish_line(); }

}  // namespace volt
