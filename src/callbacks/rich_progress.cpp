// Lightning 2.2.5's callbacks/progress/rich_progress.py, with the parts of rich it uses (Progress with
// auto_refresh=False, the bar, time, batches and speed columns, the live display's cursor moves) written out.
#include "volt/callbacks/rich_progress.hpp"

#include <cmath>
#include <sstream>

#include "display_width.hpp"
#include "volt/error.hpp"
#include "volt/trainer.hpp"

namespace volt {
namespace {

// A rich style string to ANSI SGR codes: bold/dim/italic/underline, basic colour names, "#RRGGBB", "greyNN".
std::string ansi(const std::string& style) {
  static const std::pair<const char*, const char*> names[] = {
      {"bold", "1"},     {"dim", "2"},    {"italic", "3"},   {"underline", "4"}, {"black", "30"}, {"red", "31"},
      {"green", "32"},   {"yellow", "33"}, {"blue", "34"},   {"magenta", "35"},  {"cyan", "36"},  {"white", "37"}};
  static const std::pair<const char*, int> greys[] = {{"grey23", 237}, {"grey54", 245}, {"grey70", 249}};
  std::string out;
  std::istringstream words(style);
  std::string word;
  while (words >> word) {
    std::string code;
    for (const auto& n : names)
      if (word == n.first) code = n.second;
    for (const auto& g : greys)
      if (word == g.first) code = "38;5;" + std::to_string(g.second);
    if (word.size() == 7 && word[0] == '#') {
      unsigned rgb = static_cast<unsigned>(std::stoul(word.substr(1), nullptr, 16));
      code = "38;2;" + std::to_string((rgb >> 16) & 255) + ";" + std::to_string((rgb >> 8) & 255) + ";" +
             std::to_string(rgb & 255);
    }
    if (!code.empty()) out += (out.empty() ? "" : ";") + code;
  }
  return out.empty() ? "" : "\x1b[" + out + "m";
}

std::string paint(const std::string& text, const std::string& style, bool styled) {
  if (!styled || text.empty()) return text;
  std::string code = ansi(style);
  return code.empty() ? text : code + text + "\x1b[0m";
}

std::string pad(const std::string& s, size_t width) {
  size_t len = detail::display_width(s);
  return len >= width ? s : s + std::string(width - len, ' ');
}

std::string repeat(const char* piece, int64_t n) {
  std::string out;
  for (int64_t i = 0; i < n; ++i) out += piece;
  return out;
}

// Python's str(timedelta(seconds=int(t))): "H:MM:SS".
std::string timedelta_str(double t) {
  auto s = static_cast<int64_t>(t);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return buf;
}

// f"{value:{spec}}" for specs like ".3f", ".4g", ".2e"; anything else falls back to str(value).
std::string format_metric(const ProgressBarValue& value, const std::string& spec) {
  if (auto* s = std::get_if<std::string>(&value)) return *s;
  double x = std::holds_alternative<int64_t>(value) ? static_cast<double>(std::get<int64_t>(value))
                                                     : std::get<double>(value);
  if (spec.size() >= 2 && spec[0] == '.' && std::string("fge").find(spec.back()) != std::string::npos) {
    char buf[64];
    std::string fmt = "%" + spec;
    std::snprintf(buf, sizeof buf, fmt.c_str(), x);
    return buf;
  }
  return std::holds_alternative<int64_t>(value) ? std::to_string(std::get<int64_t>(value)) : std::to_string(x);
}

// What a plain line shows apart from timings: a line is printed again only when this changes.
std::string plain_key(const RichProgressBar::Task& task, const ProgressBarMetrics& metrics, bool with_metrics) {
  std::string key = task.description + "|" + std::to_string(task.completed) + "/" + std::to_string(task.total);
  if (with_metrics)
    for (const auto& [name, value] : metrics) key += "|" + name + "=" + format_metric(value, ".6g");
  return key;
}

}  // namespace

RichProgressBar::RichProgressBar(RichProgressBarOptions options)
    : options_(std::move(options)), terminal_(options_.terminal.value_or(is_terminal(options_.stream))) {}

// ---- the display ----------------------------------------------------------------------------------------------

bool RichProgressBar::shows_metrics(size_t task_id) const {
  return trainer_ != nullptr && trainer_->fn() == TrainerFn::kFitting && !trainer_->sanity_checking() &&
         train_id_ == task_id;
}

std::string RichProgressBar::render_task(size_t task_id, size_t description_width, bool styled) const {
  const Task& task = tasks_.at(task_id);
  const auto& theme = options_.theme;
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - task.start).count();
  std::optional<double> speed;
  if (task.completed > 0 && elapsed > 0) speed = static_cast<double>(task.completed) / elapsed;
  // the bar: 40 cells of half-cell resolution; the unfinished part is drawn only with colours, as rich does
  const int64_t width = 40;
  int64_t completed = std::min(task.total, std::max<int64_t>(0, task.completed));
  int64_t halves = task.total > 0 ? width * 2 * completed / task.total : width * 2;
  int64_t full = halves / 2, half = halves % 2;
  bool finished = task.total > 0 && completed >= task.total;
  std::string bar = paint(repeat("━", full), finished ? theme.progress_bar_finished : theme.progress_bar, styled);
  if (half) bar += paint("╸", theme.progress_bar, styled);
  int64_t remaining = width - full - half;
  if (styled && remaining > 0) {
    std::string back;
    if (!half && full) back += "╺", --remaining;
    back += repeat("━", remaining);
    bar += paint(back, "grey23", styled);
  } else {
    bar += std::string(static_cast<size_t>(remaining), ' ');
  }
  std::string batches = std::to_string(task.completed) + "/" + std::to_string(task.total);
  std::string remaining_time = "-:--:--";
  if (speed && task.total > 0) remaining_time = timedelta_str(std::ceil((task.total - task.completed) / *speed));
  std::string time = timedelta_str(elapsed) + " • " + remaining_time;
  char buf[64];
  if (speed) std::snprintf(buf, sizeof buf, "%.2f", *speed);
  std::string rate = std::string(speed ? buf : "0.00") + "it/s";
  std::string line = paint(pad(task.description, description_width), theme.description, styled) + " " + bar + " " +
                     paint(batches, theme.batch_progress, styled) + " " + paint(time, theme.time, styled) + " " +
                     paint(rate, theme.processing_speed, styled);
  if (shows_metrics(task_id) && !metrics_.empty()) {
    std::string text;
    for (const auto& [name, value] : metrics_)
      text += (text.empty() ? "" : theme.metrics_text_delimiter) + name + ": " +
              format_metric(value, theme.metrics_format);
    line += " " + paint(text, theme.metrics, styled);
  }
  return line;
}

std::vector<std::string> RichProgressBar::render_lines(bool styled) const {
  size_t width = 0;
  for (const auto& t : tasks_)
    if (t.visible) width = std::max(width, detail::display_width(t.description));
  std::vector<std::string> lines;
  for (size_t i = 0; i < tasks_.size(); ++i)
    if (tasks_[i].visible) lines.push_back(render_task(i, width, styled));
  return lines;
}

void RichProgressBar::refresh() {
  if (!running_ || !terminal_) return;
  std::string out;
  if (rendered_lines_ > 0) {
    out += "\r";
    for (size_t i = 1; i < rendered_lines_; ++i) out += "\x1b[2K\x1b[1A";
    out += "\x1b[2K";
  }
  auto lines = render_lines(true);
  for (size_t i = 0; i < lines.size(); ++i) out += (i ? "\n" : "") + lines[i];
  rendered_lines_ = lines.size();
  std::fputs(out.c_str(), options_.stream);
  std::fflush(options_.stream);
}

void RichProgressBar::init_progress() {
  if (!is_enabled() || running_) return;
  train_id_ = val_sanity_id_ = val_id_ = test_id_ = predict_id_ = std::nullopt;
  tasks_.clear();
  rendered_lines_ = 0;
  running_ = true;
}

void RichProgressBar::stop_progress() {
  if (!running_) return;
  refresh();
  if (terminal_ && rendered_lines_ > 0) {
    std::fputs("\n", options_.stream);
    std::fflush(options_.stream);
  }
  rendered_lines_ = 0;
  running_ = false;
}

size_t RichProgressBar::add_task(int64_t total, const std::string& description, bool visible) {
  Task task;
  task.description = description;
  task.total = total;
  task.visible = visible;
  task.start = std::chrono::steady_clock::now();
  tasks_.push_back(std::move(task));
  return tasks_.size() - 1;
}

void RichProgressBar::hide(std::optional<size_t> task_id) {
  if (running_ && task_id && *task_id < tasks_.size()) tasks_[*task_id].visible = false;
}

bool RichProgressBar::should_update(int64_t current, int64_t total) const {
  return current % options_.refresh_rate == 0 || current == total;
}

void RichProgressBar::update(std::optional<size_t> task_id, int64_t current, bool visible) {
  if (!running_ || !is_enabled() || !task_id) return;
  Task& task = tasks_.at(*task_id);
  if (!should_update(current, task.total)) return;
  int64_t leftover = current % options_.refresh_rate;
  task.completed += current == task.total && leftover != 0 ? leftover : options_.refresh_rate;
  task.visible = visible;
  if (terminal_) {
    refresh();
  } else if (task.plain.due(task.completed, task.total)) {
    task.plain.changed(plain_key(task, metrics_, shows_metrics(*task_id)));
    size_t width = detail::display_width(task.description);
    std::fputs((render_task(*task_id, width, false) + "\n").c_str(), options_.stream);
    std::fflush(options_.stream);
  }
}

void RichProgressBar::update_metrics(Trainer& trainer, Module& module) { metrics_ = get_metrics(trainer, module); }

std::string RichProgressBar::get_train_description(int64_t current_epoch) const {
  std::string d = "Epoch " + std::to_string(current_epoch);
  d += "/" + std::to_string(trainer().max_epochs() - 1);
  size_t width = validation_description().size();
  if (d.size() < width) d += std::string(width - d.size(), ' ');
  return d;
}

// ---- hooks ----------------------------------------------------------------------------------------------------

void RichProgressBar::setup(Trainer& trainer, Module& module, const std::string& stage) {
  ProgressBar::setup(trainer, module, stage);
}

void RichProgressBar::on_train_start(Trainer&, Module&) { init_progress(); }
void RichProgressBar::on_predict_start(Trainer&, Module&) { init_progress(); }
void RichProgressBar::on_test_start(Trainer&, Module&) { init_progress(); }
void RichProgressBar::on_validation_start(Trainer&, Module&) { init_progress(); }
void RichProgressBar::on_sanity_check_start(Trainer&, Module&) { init_progress(); }

void RichProgressBar::on_sanity_check_end(Trainer&, Module&) {
  hide(val_sanity_id_);
  refresh();
}

void RichProgressBar::on_train_epoch_start(Trainer& trainer, Module&) {
  if (is_disabled()) return;
  int64_t total = total_train_batches();
  std::string description = get_train_description(trainer.current_epoch());
  if (train_id_ && options_.leave) {
    stop_progress();
    init_progress();
  }
  if (running_) {
    if (!train_id_) {
      train_id_ = add_task(total, description);
    } else {
      Task& task = tasks_.at(*train_id_);
      task.total = total;
      task.completed = 0;
      task.description = description;
      task.visible = true;
      task.start = std::chrono::steady_clock::now();
      task.plain.reset();
    }
  }
  refresh();
}

void RichProgressBar::on_validation_batch_start(Trainer& trainer, Module&, const Batch&, int64_t,
                                                int64_t dataloader_idx) {
  if (is_disabled() || !has_dataloader_changed(dataloader_idx) || !running_) return;
  if (trainer.sanity_checking()) {
    hide(val_sanity_id_);
    val_sanity_id_ = add_task(total_val_batches_current_dataloader(), sanity_check_description(), false);
  } else {
    hide(val_id_);
    val_id_ = add_task(total_val_batches_current_dataloader(), validation_description(), false);
  }
  refresh();
}

void RichProgressBar::on_validation_epoch_end(Trainer& trainer, Module&) {
  if (is_enabled() && val_id_ && trainer.fn() == TrainerFn::kFitting) {
    hide(val_id_);
    refresh();
  }
}

void RichProgressBar::on_validation_end(Trainer& trainer, Module& module) {
  if (trainer.fn() == TrainerFn::kFitting) update_metrics(trainer, module);
  reset_dataloader_idx_tracker();
}

void RichProgressBar::on_test_end(Trainer&, Module&) { reset_dataloader_idx_tracker(); }
void RichProgressBar::on_predict_end(Trainer&, Module&) { reset_dataloader_idx_tracker(); }

void RichProgressBar::on_test_batch_start(Trainer&, Module&, const Batch&, int64_t, int64_t dataloader_idx) {
  if (is_disabled() || !has_dataloader_changed(dataloader_idx) || !running_) return;
  hide(test_id_);
  test_id_ = add_task(total_test_batches_current_dataloader(), test_description());
  refresh();
}

void RichProgressBar::on_predict_batch_start(Trainer&, Module&, const Batch&, int64_t, int64_t dataloader_idx) {
  if (is_disabled() || !has_dataloader_changed(dataloader_idx) || !running_) return;
  hide(predict_id_);
  predict_id_ = add_task(total_predict_batches_current_dataloader(), predict_description());
  refresh();
}

void RichProgressBar::on_train_batch_end(Trainer& trainer, Module& module, const StepOutput&, const Batch&,
                                         int64_t batch_idx) {
  update(train_id_, batch_idx + 1);
  update_metrics(trainer, module);
  refresh();
}

void RichProgressBar::on_train_epoch_end(Trainer& trainer, Module& module) {
  update_metrics(trainer, module);
  if (!terminal_ && running_ && train_id_ && is_enabled()) {  // plain: the epoch with its final metrics
    Task& task = tasks_.at(*train_id_);
    if (task.plain.changed(plain_key(task, metrics_, shows_metrics(*train_id_)))) {
      std::fputs((render_task(*train_id_, detail::display_width(task.description), false) + "\n").c_str(), options_.stream);
      std::fflush(options_.stream);
    }
  }
}

void RichProgressBar::on_validation_batch_end(Trainer& trainer, Module&, const StepOutput&, const Batch&,
                                              int64_t batch_idx, int64_t) {
  if (is_disabled()) return;
  if (trainer.sanity_checking()) update(val_sanity_id_, batch_idx + 1);
  else if (val_id_) update(val_id_, batch_idx + 1);
  refresh();
}

void RichProgressBar::on_test_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t batch_idx,
                                        int64_t) {
  if (is_disabled()) return;
  update(test_id_, batch_idx + 1);
  refresh();
}

void RichProgressBar::on_predict_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t batch_idx,
                                           int64_t) {
  if (is_disabled()) return;
  update(predict_id_, batch_idx + 1);
  refresh();
}

void RichProgressBar::teardown(Trainer&, Module&, const std::string&) { stop_progress(); }
void RichProgressBar::on_exception(Trainer&, Module&, const std::exception&) { stop_progress(); }

void RichProgressBar::print(const std::string& message) {
  if (running_ && terminal_ && rendered_lines_ > 0) {
    std::string out = "\r";
    for (size_t i = 1; i < rendered_lines_; ++i) out += "\x1b[2K\x1b[1A";
    out += "\x1b[2K" + message + "\n";
    rendered_lines_ = 0;
    std::fputs(out.c_str(), options_.stream);
    refresh();
  } else {
    std::fputs((message + "\n").c_str(), options_.stream);
  }
  std::fflush(options_.stream);
}

}  // namespace volt
