// Lightning 2.2.5's callbacks/progress/progress_bar.py: the ProgressBar base and get_standard_metrics.
#include "volt/callbacks/progress_bar.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <torch/torch.h>

#include <iostream>
#include <mutex>
#include <set>

#include "volt/error.hpp"
#include "volt/messages.hpp"
#include "volt/trainer.hpp"

namespace volt {

ProgressBarMetrics get_standard_metrics(const Trainer& trainer) {
  ProgressBarMetrics items;
  const auto& loggers = trainer.loggers();
  if (loggers.empty()) return items;
  std::string version;
  if (loggers.size() == 1) {
    version = loggers[0]->version();
  } else {  // Lightning's _version: "_".join(dict.fromkeys(str(logger.version) ...))
    std::vector<std::string> seen;
    for (const auto& logger : loggers) {
      std::string v = logger->version();
      if (std::find(seen.begin(), seen.end(), v) == seen.end()) seen.push_back(v);
    }
    for (const auto& v : seen) version += (version.empty() ? "" : "_") + v;
  }
  if (version.empty()) return items;
  bool digits = loggers.size() == 1 && version.size() < 19 &&
                std::all_of(version.begin(), version.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits) items.emplace_back("v_num", static_cast<int64_t>(std::stoll(version)));
  else items.emplace_back("v_num", version.size() > 4 ? version.substr(version.size() - 4) : version);
  return items;
}

Trainer& ProgressBar::trainer() const {
  if (trainer_ == nullptr) throw Error("The `" + class_name() + "._trainer` reference has not been set yet.");
  return *trainer_;
}

int64_t ProgressBar::total_train_batches() const { return trainer().num_training_batches(); }

int64_t ProgressBar::total_val_batches_current_dataloader() const {
  const Trainer& t = trainer();
  const auto& batches = t.sanity_checking() ? t.num_sanity_val_batches() : t.num_val_batches();
  VOLT_CHECK(current_eval_dataloader_idx_.has_value(), "ProgressBar: no validation dataloader is running");
  size_t i = static_cast<size_t>(*current_eval_dataloader_idx_);
  return i < batches.size() ? batches[i] : 0;
}

int64_t ProgressBar::total_test_batches_current_dataloader() const { return trainer().num_test_batches(); }

int64_t ProgressBar::total_predict_batches_current_dataloader() const { return trainer().num_predict_batches(); }

bool ProgressBar::has_dataloader_changed(int64_t dataloader_idx) {
  auto old = current_eval_dataloader_idx_;
  current_eval_dataloader_idx_ = dataloader_idx;
  return old != dataloader_idx;
}

void ProgressBar::print(const std::string& message) { std::cout << message << std::endl; }

void ProgressBar::setup(Trainer& trainer, Module&, const std::string&) {
  trainer_ = &trainer;
  if (!trainer.is_global_zero()) disable();
}

ProgressBarMetrics ProgressBar::get_metrics(Trainer& trainer, Module&) {
  ProgressBarMetrics items = get_standard_metrics(trainer);
  std::vector<std::string> duplicates;
  for (const auto& [name, value] : trainer.progress_bar_metrics()) {
    ProgressBarValue v;
    torch::Tensor t = value.detach();
    if (t.is_floating_point() || t.is_complex()) v = t.item<double>();
    else v = t.item<int64_t>();
    auto it = std::find_if(items.begin(), items.end(), [&](const auto& kv) { return kv.first == name; });
    if (it != items.end()) {
      duplicates.push_back(name);
      it->second = v;  // {**standard, **pbar}: the logged value wins, in the standard key's place
    } else {
      items.emplace_back(name, v);
    }
  }
  if (!duplicates.empty()) {
    std::string joined;
    for (const auto& d : duplicates) joined += (joined.empty() ? "" : ", ") + d;
    // Python's warning filter shows a given warning once per process
    static std::mutex mutex;
    static std::set<std::string> shown;
    std::lock_guard<std::mutex> lock(mutex);
    if (shown.insert(joined).second)
      rank_zero_warn("The progress bar already tracks a metric with the name(s) '" + joined + "' and `self.log('" +
                     duplicates[0] + "', ..., prog_bar=True)` will overwrite this value.  If this is undesired, "
                     "change the name or override `get_metrics()` in the progress bar callback.");
  }
  return items;
}

bool PlainProgress::due(int64_t n, std::optional<int64_t> total) {
  if (n <= 0) return false;
  bool is_due;
  if (!total || *total <= 0) is_due = n > last_n_;
  else if (n >= *total) is_due = last_n_ < *total;
  else is_due = n * 10 / *total > last_n_ * 10 / *total;
  if (is_due) last_n_ = n;
  return is_due;
}

bool PlainProgress::changed(const std::string& line_key) {
  if (line_key == last_key_) return false;
  last_key_ = line_key;
  return true;
}

bool is_terminal(std::FILE* stream) { return stream != nullptr && isatty(fileno(stream)) != 0; }

std::optional<int> terminal_columns(std::FILE* stream) {
  if (!is_terminal(stream)) return std::nullopt;
  winsize size{};
  if (ioctl(fileno(stream), TIOCGWINSZ, &size) != 0 || size.ws_col == 0) return std::nullopt;
  return static_cast<int>(size.ws_col);
}

}  // namespace volt
