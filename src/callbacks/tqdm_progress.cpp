// Lightning 2.2.5's callbacks/progress/tqdm_progress.py, and the parts of tqdm 4.64 it relies on (format_meter,
// format_num, the in-place redraw with cursor moves for positions > 0).
#include "volt/callbacks/tqdm_progress.hpp"

#include <cmath>
#include <cstdlib>

#include "display_width.hpp"
#include "volt/error.hpp"
#include "volt/serialization/python_repr.hpp"
#include "volt/trainer.hpp"

namespace volt {
namespace {

// tqdm's Bar.UTF: " " then U+258F..U+2588 (one eighth to a full block).
const char* const kUtfBar[] = {" ", "▏", "▎", "▍", "▌", "▋", "▊", "▉", "█"};

// Cuts UTF-8 text to `width` code points.
std::string disp_trim(const std::string& s, size_t width) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (n == width) return s.substr(0, i);
      ++n;
    }
  }
  return s;
}

// tqdm's format_interval: "MM:SS", or "H:MM:SS" from one hour.
std::string format_interval(double t) {
  auto total = static_cast<int64_t>(t);
  int64_t mins = total / 60, s = total % 60, h = mins / 60, m = mins % 60;
  char buf[48];
  if (h) std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(h), static_cast<long long>(m),
                       static_cast<long long>(s));
  else std::snprintf(buf, sizeof buf, "%02lld:%02lld", static_cast<long long>(m), static_cast<long long>(s));
  return buf;
}

// tqdm's Bar.__format__ with the UTF charset.
std::string bar(double frac, int64_t length) {
  frac = std::max(0.0, std::min(1.0, frac));
  const int64_t nsyms = 8;
  auto cells = static_cast<int64_t>(frac * static_cast<double>(length) * nsyms);
  int64_t full = cells / nsyms, part = cells % nsyms;
  std::string out;
  for (int64_t i = 0; i < full; ++i) out += kUtfBar[8];
  if (full < length) {
    out += kUtfBar[part];
    out += std::string(static_cast<size_t>(length - full - 1), ' ');
  }
  return out;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
  return s;
}

// Python's float(s) succeeds.
bool parses_as_float(const std::string& s) {
  const char* begin = s.c_str();
  char* end = nullptr;
  std::strtod(begin, &end);
  if (end == begin) return false;
  while (*end == ' ' || *end == '\t' || *end == '\n') ++end;
  return *end == '\0';
}

}  // namespace

// ---- Tqdm -----------------------------------------------------------------------------------------------------

Tqdm::Tqdm(Options options)
    : desc(std::move(options.desc)),
      disable(options.disable),
      leave(options.leave),
      position(options.position),
      file_(options.file ? options.file : stdout),
      terminal_(options.terminal.value_or(is_terminal(options.file ? options.file : stdout))),
      start_(std::chrono::steady_clock::now()) {
  refresh();  // tqdm draws a bar as soon as it exists
}

Tqdm::~Tqdm() = default;

std::string Tqdm::format_num(const ProgressBarValue& value) {
  bool should_be_padded = !std::holds_alternative<int64_t>(value);
  std::string n;
  if (auto* s = std::get_if<std::string>(&value)) {
    n = *s;
  } else {
    // tqdm.format_num: '{0:.3g}'.format(n) with "+0"/"-0" shortened, unless str(n) is as short
    double x = std::holds_alternative<int64_t>(value) ? static_cast<double>(std::get<int64_t>(value))
                                                       : std::get<double>(value);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3g", x);
    std::string f = replace_all(replace_all(buf, "+0", "+"), "-0", "-");
    std::string str = std::holds_alternative<int64_t>(value) ? std::to_string(std::get<int64_t>(value))
                                                             : python_float_repr(x);
    n = f.size() < str.size() ? f : str;
  }
  if (should_be_padded && n.find('e') == std::string::npos) {
    if (n.find('.') == std::string::npos && n.size() < 5) {
      if (!parses_as_float(n)) return n;
      n += ".";
    }
    if (n.size() < 5) n += std::string(5 - n.size(), '0');
  }
  return n;
}

std::string Tqdm::format_meter(std::optional<int> ncols) const {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return format_meter(n, total, elapsed, ncols, desc, postfix);
}

std::string Tqdm::format_meter(int64_t n, std::optional<int64_t> total, double elapsed, std::optional<int> ncols,
                               const std::string& desc, const std::string& postfix) {
  std::optional<double> rate;
  if (elapsed > 0 && n > 0) rate = static_cast<double>(n) / elapsed;
  char buf[64];
  std::string rate_fmt = "?";
  if (rate) std::snprintf(buf, sizeof buf, "%5.2f", *rate), rate_fmt = buf;
  rate_fmt += "it/s";
  std::string total_fmt = total ? std::to_string(*total) : "?";
  std::string remaining_str = "?";
  if (rate) remaining_str = format_interval(total && *total ? static_cast<double>(*total - n) / *rate : 0.0);
  std::string l_bar = desc.empty() ? "" : (desc.size() >= 2 && desc.compare(desc.size() - 2, 2, ": ") == 0 ? desc
                                                                                                          : desc + ": ");
  double frac = 0.0;
  if (total && *total) {
    frac = static_cast<double>(n) / static_cast<double>(*total);
    std::snprintf(buf, sizeof buf, "%3.0f%%|", frac * 100.0);
    l_bar += buf;
  } else {
    l_bar += "|";
  }
  std::string r_bar = "| " + std::to_string(n) + "/" + total_fmt + " [" + format_interval(elapsed) + "<" +
                      remaining_str + ", " + rate_fmt + (postfix.empty() ? "" : ", " + postfix) + "]";
  int64_t width = ncols ? std::max<int64_t>(1, *ncols - static_cast<int64_t>(detail::display_width(l_bar + r_bar))) : 10;
  std::string drawn = total && *total ? bar(frac, width) : std::string(static_cast<size_t>(width), ' ');
  std::string line = l_bar + drawn + r_bar;
  return ncols ? disp_trim(line, static_cast<size_t>(*ncols)) : line;
}

void Tqdm::display(const std::string& line, int64_t pos) {
  std::string out;
  if (pos > 0) out += std::string(static_cast<size_t>(pos), '\n');
  size_t len = detail::display_width(line);
  out += "\r" + line + std::string(last_len_ > len ? last_len_ - len : 0, ' ');
  last_len_ = len;
  for (int64_t i = 0; i < pos; ++i) out += "\x1b[A";
  std::fputs(out.c_str(), file_);
  std::fflush(file_);
}

void Tqdm::print_plain(bool force) {
  std::string key = desc + "|" + std::to_string(n) + "|" + (total ? std::to_string(*total) : "?") + "|" + postfix;
  bool due = plain_.due(n, total);
  if (!due && !(force && n > 0)) return;
  if (!plain_.changed(key) && !due) return;
  std::fputs((format_meter(std::nullopt) + "\n").c_str(), file_);
  std::fflush(file_);
}

void Tqdm::refresh() {
  if (disable || closed) return;
  if (terminal_) display(format_meter(terminal_columns(file_)), position);
  else print_plain(false);
}

void Tqdm::reset(std::optional<int64_t> new_total) {
  if (!terminal_ && leave && !disable && !closed) print_plain(true);  // the finished epoch with its last metrics
  n = 0;
  if (new_total) total = new_total;
  start_ = std::chrono::steady_clock::now();
  plain_.reset();
  refresh();
}

void Tqdm::set_description(const std::string& d) {
  desc = d;
  refresh();
}

void Tqdm::set_postfix(const ProgressBarMetrics& metrics, bool redraw) {
  std::string out;
  for (const auto& [key, value] : metrics) {
    std::string v = std::holds_alternative<std::string>(value) ? std::get<std::string>(value) : format_num(value);
    while (!v.empty() && v.front() == ' ') v.erase(v.begin());
    while (!v.empty() && v.back() == ' ') v.pop_back();
    out += (out.empty() ? "" : ", ") + key + "=" + v;
  }
  postfix = out;
  if (redraw) refresh();
}

void Tqdm::update_to(int64_t value) {
  if (disable) return;
  n = value;
  refresh();
}

void Tqdm::close() {
  if (closed) return;
  closed = true;
  if (disable) return;
  if (terminal_) {
    if (leave) {
      display(format_meter(terminal_columns(file_)), position);
      if (position == 0) std::fputs("\n", file_);
    } else {
      display("", position);
      if (position == 0) std::fputs("\r", file_);
    }
    std::fflush(file_);
  } else if (leave) {
    print_plain(true);
  }
}

void Tqdm::write(const std::string& message) {
  if (terminal_ && !disable && !closed) {
    std::string clear = "\r" + std::string(last_len_, ' ') + "\r";
    std::fputs((clear + message + "\n").c_str(), file_);
    last_len_ = 0;
    refresh();
  } else {
    std::fputs((message + "\n").c_str(), file_);
  }
  std::fflush(file_);
}

// ---- TQDMProgressBar ------------------------------------------------------------------------------------------

int64_t TQDMProgressBar::resolve_refresh_rate(int64_t refresh_rate) {
  const char* colab = std::getenv("COLAB_GPU");
  if (colab && *colab && refresh_rate == 1) return 20;
  if (const char* miniters = std::getenv("TQDM_MINITERS")) return std::max<int64_t>(std::atoll(miniters), refresh_rate);
  return refresh_rate;
}

TQDMProgressBar::TQDMProgressBar(TQDMProgressBarOptions options)
    : options_(options), refresh_rate_(resolve_refresh_rate(options.refresh_rate)) {}

namespace {
Tqdm& require(const std::unique_ptr<Tqdm>& bar, const std::string& owner, const char* slot) {
  if (!bar) throw Error("The `" + owner + "." + slot + "` reference has not been set yet.");
  return *bar;
}
}  // namespace

Tqdm& TQDMProgressBar::train_progress_bar() const { return require(train_bar_, class_name(), "_train_progress_bar"); }
Tqdm& TQDMProgressBar::val_progress_bar() const { return require(val_bar_, class_name(), "_val_progress_bar"); }
Tqdm& TQDMProgressBar::test_progress_bar() const { return require(test_bar_, class_name(), "_test_progress_bar"); }
Tqdm& TQDMProgressBar::predict_progress_bar() const {
  return require(predict_bar_, class_name(), "_predict_progress_bar");
}

Tqdm::Options TQDMProgressBar::bar_options(const std::string& desc, int64_t position, bool leave) const {
  Tqdm::Options o;
  o.desc = desc;
  o.position = position;
  o.disable = is_disabled();
  o.leave = leave;
  o.file = options_.stream;
  o.terminal = options_.terminal;
  return o;
}

std::unique_ptr<Tqdm> TQDMProgressBar::init_sanity_tqdm() {
  return std::make_unique<Tqdm>(bar_options(sanity_check_description(), 2 * process_position(), false));
}
std::unique_ptr<Tqdm> TQDMProgressBar::init_train_tqdm() {
  return std::make_unique<Tqdm>(bar_options(train_description(), 2 * process_position(), true));
}
std::unique_ptr<Tqdm> TQDMProgressBar::init_predict_tqdm() {
  return std::make_unique<Tqdm>(bar_options(predict_description(), 2 * process_position(), true));
}
std::unique_ptr<Tqdm> TQDMProgressBar::init_validation_tqdm() {
  bool has_main_bar = trainer().fn() != TrainerFn::kValidating;  // no training bar in trainer.validate()
  return std::make_unique<Tqdm>(
      bar_options(validation_description(), 2 * process_position() + (has_main_bar ? 1 : 0), !has_main_bar));
}
std::unique_ptr<Tqdm> TQDMProgressBar::init_test_tqdm() {
  return std::make_unique<Tqdm>(bar_options("Testing", 2 * process_position(), true));
}

bool TQDMProgressBar::should_update(int64_t current, std::optional<int64_t> total) const {
  return is_enabled() && (current % refresh_rate_ == 0 || (total && current == *total));
}

void TQDMProgressBar::on_sanity_check_start(Trainer&, Module&) {
  val_bar_ = init_sanity_tqdm();
  Tqdm::Options dummy = bar_options("", 0, true);
  dummy.disable = true;
  train_bar_ = std::make_unique<Tqdm>(dummy);
}

void TQDMProgressBar::on_sanity_check_end(Trainer&, Module&) {
  val_progress_bar().close();
  train_progress_bar().close();
}

void TQDMProgressBar::on_train_start(Trainer&, Module&) { train_bar_ = init_train_tqdm(); }

void TQDMProgressBar::on_train_epoch_start(Trainer& trainer, Module&) {
  if (options_.leave) {
    if (train_bar_) train_bar_->close();
    train_bar_ = init_train_tqdm();
  }
  Tqdm& bar = train_progress_bar();
  bar.reset(total_train_batches());
  bar.set_description("Epoch " + std::to_string(trainer.current_epoch()));
}

void TQDMProgressBar::on_train_batch_end(Trainer& trainer, Module& module, const StepOutput&, const Batch&,
                                         int64_t batch_idx) {
  int64_t n = batch_idx + 1;
  Tqdm& bar = train_progress_bar();
  if (should_update(n, bar.total)) {
    // Lightning updates n, then the postfix, redrawing each time; the last drawing is the same with one redraw,
    // and a plain line (printed when n moves) then shows this batch's metrics rather than the previous ones
    bar.set_postfix(get_metrics(trainer, module), /*refresh=*/false);
    bar.update_to(n);
  }
}

void TQDMProgressBar::on_train_epoch_end(Trainer& trainer, Module& module) {
  Tqdm& bar = train_progress_bar();
  if (!bar.disable) bar.set_postfix(get_metrics(trainer, module));
  if (options_.leave) bar.close();
}

void TQDMProgressBar::on_train_end(Trainer&, Module&) { train_progress_bar().close(); }

void TQDMProgressBar::on_validation_start(Trainer& trainer, Module&) {
  if (!trainer.sanity_checking()) val_bar_ = init_validation_tqdm();
}

void TQDMProgressBar::on_validation_batch_start(Trainer& trainer, Module&, const Batch&, int64_t,
                                                int64_t dataloader_idx) {
  if (!has_dataloader_changed(dataloader_idx)) return;
  Tqdm& bar = val_progress_bar();
  bar.reset(total_val_batches_current_dataloader());
  std::string desc = trainer.sanity_checking() ? sanity_check_description() : validation_description();
  bar.set_description(desc + " DataLoader " + std::to_string(dataloader_idx));
}

void TQDMProgressBar::on_validation_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t batch_idx,
                                              int64_t) {
  Tqdm& bar = val_progress_bar();
  if (should_update(batch_idx + 1, bar.total)) bar.update_to(batch_idx + 1);
}

void TQDMProgressBar::on_validation_end(Trainer& trainer, Module& module) {
  val_progress_bar().close();
  reset_dataloader_idx_tracker();
  if (train_bar_ && trainer.fn() == TrainerFn::kFitting) train_bar_->set_postfix(get_metrics(trainer, module));
}

void TQDMProgressBar::on_test_start(Trainer&, Module&) { test_bar_ = init_test_tqdm(); }

void TQDMProgressBar::on_test_batch_start(Trainer&, Module&, const Batch&, int64_t, int64_t dataloader_idx) {
  if (!has_dataloader_changed(dataloader_idx)) return;
  Tqdm& bar = test_progress_bar();
  bar.reset(total_test_batches_current_dataloader());
  bar.set_description(test_description() + " DataLoader " + std::to_string(dataloader_idx));
}

void TQDMProgressBar::on_test_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t batch_idx,
                                        int64_t) {
  Tqdm& bar = test_progress_bar();
  if (should_update(batch_idx + 1, bar.total)) bar.update_to(batch_idx + 1);
}

void TQDMProgressBar::on_test_end(Trainer&, Module&) {
  test_progress_bar().close();
  reset_dataloader_idx_tracker();
}

void TQDMProgressBar::on_predict_start(Trainer&, Module&) { predict_bar_ = init_predict_tqdm(); }

void TQDMProgressBar::on_predict_batch_start(Trainer&, Module&, const Batch&, int64_t, int64_t dataloader_idx) {
  if (!has_dataloader_changed(dataloader_idx)) return;
  Tqdm& bar = predict_progress_bar();
  bar.reset(total_predict_batches_current_dataloader());
  bar.set_description(predict_description() + " DataLoader " + std::to_string(dataloader_idx));
}

void TQDMProgressBar::on_predict_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t batch_idx,
                                           int64_t) {
  Tqdm& bar = predict_progress_bar();
  if (should_update(batch_idx + 1, bar.total)) bar.update_to(batch_idx + 1);
}

void TQDMProgressBar::on_predict_end(Trainer&, Module&) {
  predict_progress_bar().close();
  reset_dataloader_idx_tracker();
}

void TQDMProgressBar::on_exception(Trainer&, Module&, const std::exception&) {
  for (auto* bar : {&val_bar_, &train_bar_, &test_bar_, &predict_bar_})
    if (*bar) (*bar)->close();
}

void TQDMProgressBar::print(const std::string& message) {
  for (auto* bar : {&train_bar_, &val_bar_, &test_bar_, &predict_bar_}) {
    if (*bar && !(*bar)->disable) {
      (*bar)->write(message);
      return;
    }
  }
}

}  // namespace volt
