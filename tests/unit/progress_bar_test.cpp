// Progress bars: tqdm's formatting against real tqdm 4.64 / Lightning 2.2.5 (tests/golden/callbacks/tqdm.json),
// get_metrics and v_num, Lightning's pinned update amounts and get_metrics call sequence, the in-place rendering on
// a pseudo-terminal, the plain line fallback on a non-terminal, RichProgressBar, and the trainer's rules.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/ivalue_json.hpp"
#include "support/boring.hpp"
#include "support/loggers.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_progress_bar_test {

using namespace volt;
using namespace volt::testing;
using json = nlohmann::json;

namespace {

// read once; a reference, so that `for (x : golden().at(...))` iterates a live object, not a destroyed temporary
const json& golden() {
  static const json g = test::golden_json("callbacks/tqdm.json");
  return g;
}

// A pseudo-terminal `cols` wide in raw mode (no "\n" → "\r\n"); `stream` writes to it, a thread drains it.
class Pty {
 public:
  explicit Pty(int cols) {
    winsize ws{};
    ws.ws_col = static_cast<unsigned short>(cols);
    ws.ws_row = 50;
    if (openpty(&master_, &slave_, nullptr, nullptr, &ws) != 0) throw std::runtime_error("openpty failed");
    termios t{};
    tcgetattr(slave_, &t);
    cfmakeraw(&t);
    tcsetattr(slave_, TCSANOW, &t);
    stream = fdopen(slave_, "w");
    reader_ = std::thread([this] {
      char buf[4096];
      for (;;) {
        pollfd p{master_, POLLIN, 0};
        int ready = poll(&p, 1, 50);
        if (ready > 0) {
          ssize_t n = read(master_, buf, sizeof buf);
          if (n <= 0) break;
          output_.append(buf, static_cast<size_t>(n));
        } else if (stop_) {
          break;
        }
      }
    });
  }
  ~Pty() {
    if (reader_.joinable()) finish();
  }
  /// Everything written so far (waits until the terminal is drained).
  std::string finish() {
    std::fflush(stream);
    usleep(150000);
    stop_ = true;
    reader_.join();
    std::fclose(stream);
    close(master_);
    return output_;
  }
  std::FILE* stream = nullptr;

 private:
  int master_ = -1, slave_ = -1;
  std::thread reader_;
  std::atomic<bool> stop_{false};
  std::string output_;
};

std::string read_all(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string text;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, file)) text.append(buf, n);
  return text;
}

std::vector<std::string> split(const std::string& s, const std::string& seps) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (seps.find(c) != std::string::npos) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

// BoringModel that logs "a" (train) and "b" (validation) to the progress bar as Lightning's
// test_tqdm_progress_bar_correct_value_epoch_end does.
class LoggingModel : public BoringModel {
 public:
  StepOutput training_step(const Batch& batch, int64_t batch_idx) override {
    LogOptions o;
    o.prog_bar = true, o.on_step = false, o.on_epoch = true, o.reduce_fx = "max";
    log("a", static_cast<double>(global_step()), o);
    return BoringModel::training_step(batch, batch_idx);
  }
  StepOutput validation_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override {
    LogOptions o;
    o.prog_bar = true, o.on_step = false, o.on_epoch = true, o.reduce_fx = "max";
    log("b", static_cast<double>(global_step()), o);
    return BoringModel::validation_step(batch, batch_idx, dataloader_idx);
  }
};

TrainerOptions options(const std::string& name, std::vector<CallbackPtr> callbacks) {
  TrainerOptions o;
  o.default_root_dir = fresh_dir(name);
  o.enable_model_summary = false, o.enable_checkpointing = false;
  o.callbacks = std::move(callbacks);
  return o;
}

std::string show(const ProgressBarValue& v) {
  if (auto* i = std::get_if<int64_t>(&v)) return "int:" + std::to_string(*i);
  if (auto* d = std::get_if<double>(&v)) return "float:" + Tqdm::format_num(*d);
  return "str:" + std::get<std::string>(v);
}

}  // namespace

// ---- formatting against tqdm ----------------------------------------------------------------------------------------

TEST(TQDMProgressBar, FormatNumMatchesLightning) {
  for (const auto& item : golden().at("format_num")) {
    const std::string type = item[1].get<std::string>();
    ProgressBarValue v;
    if (type == "int") v = item[0].get<int64_t>();
    else if (type == "float") v = std::stod(item[0].get<std::string>());
    else v = item[0].get<std::string>();
    EXPECT_EQ(Tqdm::format_num(v), item[2].get<std::string>()) << item.dump();
  }
}

TEST(TQDMProgressBar, FormatMeterMatchesTqdm) {
  for (const auto& m : golden().at("format_meter")) {
    std::optional<int64_t> total;
    if (!m["total"].is_null()) total = m["total"].get<int64_t>();
    std::optional<int> ncols;
    if (!m["ncols"].is_null()) ncols = m["ncols"].get<int>();
    EXPECT_EQ(Tqdm::format_meter(m["n"].get<int64_t>(), total, m["elapsed"].get<double>(), ncols,
                                 m["desc"].get<std::string>(), m["postfix"].get<std::string>()),
              m["line"].get<std::string>())
        << m.dump();
  }
}

TEST(TQDMProgressBar, RefreshRateResolution) {
  unsetenv("COLAB_GPU");
  for (const auto& [rate, miniters, expected] :
       std::vector<std::tuple<int, const char*, int>>{{0, "1", 1}, {1, "0", 1}, {1, "1", 1}, {2, "1", 2}, {1, "2", 2}}) {
    setenv("TQDM_MINITERS", miniters, 1);
    EXPECT_EQ(TQDMProgressBar::resolve_refresh_rate(rate), expected);
  }
  unsetenv("TQDM_MINITERS");
  setenv("COLAB_GPU", "1", 1);
  EXPECT_EQ(TQDMProgressBar::resolve_refresh_rate(1), 20);
  EXPECT_EQ(TQDMProgressBar::resolve_refresh_rate(19), 19);
  unsetenv("COLAB_GPU");
  EXPECT_EQ(TQDMProgressBar::resolve_refresh_rate(3), 3);
  TQDMProgressBarOptions o;
  o.refresh_rate = 0;
  EXPECT_FALSE(TQDMProgressBar(o).is_enabled());
}

// ---- get_metrics --------------------------------------------------------------------------------------------------

TEST(ProgressBar, StandardMetricsVersion) {
  auto with_loggers = [](std::vector<std::string> versions) {
    TrainerOptions o = options("pbar_versions", {});
    for (const auto& v : versions) o.loggers.push_back(std::make_shared<RecordingLogger>(v));
    Trainer trainer(o);
    std::string out;
    for (const auto& [k, v] : get_standard_metrics(trainer)) out += k + "=" + show(v);
    return out;
  };
  EXPECT_EQ(with_loggers({}), "");
  EXPECT_EQ(with_loggers({"0"}), "v_num=int:0");
  EXPECT_EQ(with_loggers({"12345"}), "v_num=int:12345");
  EXPECT_EQ(with_loggers({"version_abcdef"}), "v_num=str:cdef");
  EXPECT_EQ(with_loggers({""}), "");
  EXPECT_EQ(with_loggers({"1", "2"}), "v_num=str:1_2");
  EXPECT_EQ(with_loggers({"3", "3"}), "v_num=str:3");
}

TEST(ProgressBar, LoggedValuesOverrideStandardOnesWithAWarning) {
  struct Model : BoringModel {
    StepOutput training_step(const Batch& batch, int64_t batch_idx) override {
      LogOptions o;
      o.prog_bar = true;
      log("v_num", 7.0, o);
      log("loss_x", 0.5, o);
      return BoringModel::training_step(batch, batch_idx);
    }
  };
  struct Probe : TQDMProgressBar {
    using TQDMProgressBar::TQDMProgressBar;
    ProgressBarMetrics last;
    ProgressBarMetrics get_metrics(Trainer& t, Module& m) override { return last = TQDMProgressBar::get_metrics(t, m); }
  };
  CapturedMessages messages;
  TQDMProgressBarOptions po;
  po.stream = std::tmpfile();
  auto probe = std::make_shared<Probe>(po);
  TrainerOptions o = options("pbar_duplicate", {probe});
  o.max_epochs = 1, o.limit_train_batches = 2, o.limit_val_batches = 0;
  o.loggers = {std::make_shared<RecordingLogger>("0")};
  Model model;
  Trainer(o).fit(model);
  std::fclose(po.stream);
  ASSERT_EQ(probe->last.size(), 2u);
  EXPECT_EQ(probe->last[0].first, "v_num");  // the standard key keeps its place, the logged value wins
  EXPECT_EQ(show(probe->last[0].second), "float:7.000");
  EXPECT_EQ(probe->last[1].first, "loss_x");
  const std::string warning =
      "The progress bar already tracks a metric with the name(s) 'v_num' and `self.log('v_num', ..., prog_bar=True)` "
      "will overwrite this value.  If this is undesired, change the name or override `get_metrics()` in the progress "
      "bar callback.";
  EXPECT_EQ(std::count(messages.warnings.begin(), messages.warnings.end(), warning), 1);
}

TEST(TQDMProgressBar, GetMetricsSequenceMatchesLightning) {
  // Lightning's test_tqdm_progress_bar_correct_value_epoch_end
  struct Mocked : TQDMProgressBar {
    using TQDMProgressBar::TQDMProgressBar;
    std::vector<std::string> calls;
    ProgressBarMetrics get_metrics(Trainer& t, Module& m) override {
      auto items = TQDMProgressBar::get_metrics(t, m);
      items.erase(items.begin());  // v_num
      std::string stage = t.sanity_checking() ? "sanity_check" : t.validating() ? "validate" : "train";
      std::string entry = stage + "," + std::to_string(t.current_epoch()) + "," + std::to_string(t.global_step()) + ",";
      for (const auto& [k, v] : items) entry += k + "=" + Tqdm::format_num(v) + ";";
      calls.push_back(entry);
      return items;
    }
  };
  TQDMProgressBarOptions po;
  po.stream = std::tmpfile();
  auto pbar = std::make_shared<Mocked>(po);
  TrainerOptions o = options("pbar_sequence", {pbar});
  o.limit_train_batches = 2, o.limit_val_batches = 2, o.max_epochs = 2, o.num_sanity_val_steps = 2;
  o.loggers = {std::make_shared<RecordingLogger>("0")};
  LoggingModel model;
  Trainer trainer(o);
  trainer.fit(model);
  EXPECT_EQ(pbar->calls, (std::vector<std::string>{"sanity_check,0,0,b=0.000;", "train,0,1,", "train,0,2,",
                                                   "validate,0,2,b=2.000;", "train,0,2,a=1.000;b=2.000;",
                                                   "train,1,3,a=1.000;b=2.000;", "train,1,4,a=1.000;b=2.000;",
                                                   "validate,1,4,a=1.000;b=4.000;", "train,1,4,a=3.000;b=4.000;"}));
  pbar->calls.clear();
  trainer.validate(model);
  trainer.test(model);
  EXPECT_TRUE(pbar->calls.empty());
  std::fclose(po.stream);
}

// ---- update amounts (Lightning's test_train_progress_bar_update_amount) --------------------------------------------

namespace {

// Records each bar's n whenever it changes, as Lightning's test records _update_n.
struct NRecorder : TQDMProgressBar {
  using TQDMProgressBar::TQDMProgressBar;
  std::vector<int64_t> train_n, val_n, test_n;
  static void note(std::vector<int64_t>& v, int64_t n) {
    if (v.empty() || v.back() != n) v.push_back(n);
  }
  void on_train_epoch_start(Trainer& t, Module& m) override {
    TQDMProgressBar::on_train_epoch_start(t, m);
    note(train_n, train_progress_bar().n);
  }
  void on_train_batch_end(Trainer& t, Module& m, const StepOutput& o, const Batch& b, int64_t i) override {
    TQDMProgressBar::on_train_batch_end(t, m, o, b, i);
    note(train_n, train_progress_bar().n);
  }
  void on_validation_batch_start(Trainer& t, Module& m, const Batch& b, int64_t i, int64_t d) override {
    TQDMProgressBar::on_validation_batch_start(t, m, b, i, d);
    if (!t.sanity_checking()) note(val_n, val_progress_bar().n);
  }
  void on_validation_batch_end(Trainer& t, Module& m, const StepOutput& o, const Batch& b, int64_t i,
                               int64_t d) override {
    TQDMProgressBar::on_validation_batch_end(t, m, o, b, i, d);
    if (!t.sanity_checking()) note(val_n, val_progress_bar().n);
  }
  void on_test_batch_start(Trainer& t, Module& m, const Batch& b, int64_t i, int64_t d) override {
    TQDMProgressBar::on_test_batch_start(t, m, b, i, d);
    note(test_n, test_progress_bar().n);
  }
  void on_test_batch_end(Trainer& t, Module& m, const StepOutput& o, const Batch& b, int64_t i, int64_t d) override {
    TQDMProgressBar::on_test_batch_end(t, m, o, b, i, d);
    note(test_n, test_progress_bar().n);
  }
};

}  // namespace

TEST(TQDMProgressBar, UpdateAmounts) {
  using V = std::vector<int64_t>;
  for (const auto& [train, val, refresh, train_expected, val_expected] :
       std::vector<std::tuple<int, int, int, V, V>>{{2, 3, 1, {0, 1, 2}, {0, 1, 2, 3}},
                                                    {5, 0, 3, {0, 3, 5}, {}},
                                                    {5, 2, 3, {0, 3, 5}, {0, 2}},
                                                    {5, 2, 6, {0, 5}, {0, 2}}}) {
    TQDMProgressBarOptions po;
    po.refresh_rate = refresh;
    po.stream = std::tmpfile();
    auto bar = std::make_shared<NRecorder>(po);
    TrainerOptions o = options("pbar_amounts", {bar});
    o.max_epochs = 1, o.limit_train_batches = train, o.limit_val_batches = val;
    BoringModel model;
    Trainer(o).fit(model);
    EXPECT_EQ(bar->train_n, train_expected) << train << "," << val << "," << refresh;
    EXPECT_EQ(bar->val_n, val_expected) << train << "," << val << "," << refresh;
    std::fclose(po.stream);
  }
  for (const auto& [test, refresh, expected] :
       std::vector<std::tuple<int, int, V>>{{1, 3, {0, 1}}, {3, 1, {0, 1, 2, 3}}, {5, 3, {0, 3, 5}}}) {
    TQDMProgressBarOptions po;
    po.refresh_rate = refresh;
    po.stream = std::tmpfile();
    auto bar = std::make_shared<NRecorder>(po);
    TrainerOptions o = options("pbar_test_amounts", {bar});
    o.limit_test_batches = test;
    BoringModel model;
    Trainer(o).test(model);
    EXPECT_EQ(bar->test_n, expected);
    std::fclose(po.stream);
  }
}

TEST(TQDMProgressBar, ValCheckIntervalKeepsTheTrainCount) {
  // Lightning's test_progress_bar_max_val_check_interval: 7 batches, validation every 4, refresh 3
  TQDMProgressBarOptions po;
  po.refresh_rate = 3;
  po.stream = std::tmpfile();
  auto bar = std::make_shared<NRecorder>(po);
  TrainerOptions o = options("pbar_val_check", {bar});
  o.max_epochs = 1, o.limit_train_batches = 7, o.val_check_interval = 4, o.num_sanity_val_steps = 0;
  o.limit_val_batches = 2;
  BoringModel model;
  Trainer(o).fit(model);
  EXPECT_EQ(bar->train_n, (std::vector<int64_t>{0, 3, 6, 7}));
  std::fclose(po.stream);
}

// ---- rendering ----------------------------------------------------------------------------------------------------

TEST(TQDMProgressBar, DrawsInPlaceOnATerminal) {
  Pty pty(100);
  TQDMProgressBarOptions po;
  po.stream = pty.stream;
  TrainerOptions o = options("pbar_pty", {std::make_shared<TQDMProgressBar>(po)});
  o.max_epochs = 2, o.limit_train_batches = 4, o.limit_val_batches = 2, o.num_sanity_val_steps = 1;
  o.loggers = {std::make_shared<RecordingLogger>("0")};
  LoggingModel model;
  Trainer(o).fit(model);
  std::string out = pty.finish();

  EXPECT_NE(out.find('\r'), std::string::npos);
  EXPECT_NE(out.find("\x1b[A"), std::string::npos) << "the validation bar is drawn one line below";
  // the lines the terminal keeps: the training bar's final state (leave) ends with a newline
  std::vector<std::string> segments = split(out, "\r\n");
  std::regex final_line(R"(Epoch 1: 100%\|(?:█)+\| 4/4 \[\d\d:\d\d<00:00, +[0-9.]+it/s, v_num=0, a=7\.000, b=8\.000\])");
  bool found = false;
  for (const auto& s : segments) {
    std::string trimmed = s.substr(0, s.find_last_not_of(' ') + 1);
    if (std::regex_match(trimmed, final_line)) {
      found = true;
      // tqdm fills the terminal's width exactly
      size_t columns = 0;
      for (unsigned char c : trimmed) columns += (c & 0xC0) != 0x80;
      EXPECT_EQ(columns, 100u) << trimmed;
    }
  }
  EXPECT_TRUE(found) << out;
  EXPECT_NE(out.find("Validation DataLoader 0: 100%|"), std::string::npos);
  EXPECT_NE(out.find("Sanity Checking DataLoader 0: 100%|"), std::string::npos);
  EXPECT_EQ(out.back(), '\n') << "the closed training bar leaves its line";
}

TEST(TQDMProgressBar, PrintsPlainLinesWhenNotATerminal) {
  std::FILE* file = std::tmpfile();
  TQDMProgressBarOptions po;
  po.stream = file;
  TrainerOptions o = options("pbar_plain", {std::make_shared<TQDMProgressBar>(po)});
  o.max_epochs = 2, o.limit_train_batches = 4, o.limit_val_batches = 2, o.num_sanity_val_steps = 1;
  o.loggers = {std::make_shared<RecordingLogger>("0")};
  o.limit_test_batches = 2;
  LoggingModel model;
  Trainer trainer(o);
  trainer.fit(model);
  trainer.test(model);
  std::string out = read_all(file);
  std::fclose(file);
  EXPECT_EQ(out.find('\r'), std::string::npos);
  EXPECT_EQ(out.find("\x1b"), std::string::npos);
  std::vector<std::string> heads;
  std::regex line(R"((.*?): +(\d+)%\|[^|]+\| (\d+)/(\d+) \[\d\d:\d\d<[0-9:?]+, +[0-9.?]+it/s(.*)\])");
  auto lines = split(out, "\n");
  ASSERT_EQ(lines.back(), "");
  lines.pop_back();
  for (const auto& l : lines) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(l, m, line)) << l;
    heads.push_back(m[1].str() + " " + m[3].str() + "/" + m[4].str() + m[5].str());
  }
  EXPECT_EQ(heads, (std::vector<std::string>{
                       "Sanity Checking DataLoader 0 1/1",
                       "Epoch 0 1/4, v_num=0",
                       "Epoch 0 2/4, v_num=0",
                       "Epoch 0 3/4, v_num=0",
                       "Epoch 0 4/4, v_num=0",
                       "Validation DataLoader 0 1/2",
                       "Validation DataLoader 0 2/2",
                       "Epoch 0 4/4, v_num=0, a=3.000, b=4.000",
                       "Epoch 1 1/4, v_num=0, a=3.000, b=4.000",
                       "Epoch 1 2/4, v_num=0, a=3.000, b=4.000",
                       "Epoch 1 3/4, v_num=0, a=3.000, b=4.000",
                       "Epoch 1 4/4, v_num=0, a=3.000, b=4.000",
                       "Validation DataLoader 0 1/2",
                       "Validation DataLoader 0 2/2",
                       "Epoch 1 4/4, v_num=0, a=7.000, b=8.000",
                       "Testing DataLoader 0 1/2",
                       "Testing DataLoader 0 2/2",
                   }))
      << out;
}

TEST(TQDMProgressBar, RefreshRateZeroDrawsNothing) {
  std::FILE* file = std::tmpfile();
  TQDMProgressBarOptions po;
  po.stream = file, po.refresh_rate = 0;
  TrainerOptions o = options("pbar_off", {std::make_shared<TQDMProgressBar>(po)});
  o.max_epochs = 1, o.limit_train_batches = 2, o.limit_val_batches = 1;
  BoringModel model;
  Trainer(o).fit(model);
  EXPECT_EQ(read_all(file), "");
  std::fclose(file);
}

TEST(TQDMProgressBar, PrintWritesAboveTheBar) {
  struct Printing : BoringModel {
    TQDMProgressBar* bar = nullptr;
    StepOutput training_step(const Batch& batch, int64_t batch_idx) override {
      bar->print("hello " + std::to_string(batch_idx));
      return BoringModel::training_step(batch, batch_idx);
    }
  };
  std::FILE* file = std::tmpfile();
  TQDMProgressBarOptions po;
  po.stream = file;
  auto bar = std::make_shared<TQDMProgressBar>(po);
  TrainerOptions o = options("pbar_print", {bar});
  o.max_epochs = 1, o.limit_train_batches = 2, o.limit_val_batches = 0;
  Printing model;
  model.bar = bar.get();
  Trainer(o).fit(model);
  std::string out = read_all(file);
  std::fclose(file);
  EXPECT_EQ(out.find("hello 0\n"), 0u) << out;
  EXPECT_NE(out.find("hello 1\n"), std::string::npos);
}

// ---- the trainer's rules --------------------------------------------------------------------------------------------

TEST(TQDMProgressBar, TrainerDefaultsAndErrors) {
  TrainerOptions o = options("pbar_trainer", {});
  Trainer plain(o);
  ASSERT_NE(plain.progress_bar_callback(), nullptr);
  EXPECT_EQ(plain.progress_bar_callback()->class_name(), "TQDMProgressBar");
  EXPECT_EQ(dynamic_cast<TQDMProgressBar*>(plain.progress_bar_callback())->refresh_rate(), 1);

  o.enable_progress_bar = false;
  EXPECT_EQ(Trainer(o).progress_bar_callback(), nullptr);
  o.callbacks = {std::make_shared<TQDMProgressBar>()};
  try {
    Trainer t(o);
    FAIL();
  } catch (const MisconfigurationError& e) {
    EXPECT_STREQ(e.what(),
                 "Trainer was configured with `enable_progress_bar=False` but found `TQDMProgressBar` in callbacks list.");
  }
  o.enable_progress_bar = true;
  o.callbacks = {std::make_shared<TQDMProgressBar>(), std::make_shared<RichProgressBar>()};
  try {
    Trainer t(o);
    FAIL();
  } catch (const MisconfigurationError& e) {
    EXPECT_STREQ(e.what(), "You added multiple progress bar callbacks to the Trainer, but currently only one progress "
                           "bar is supported.");
  }
}

TEST(TQDMProgressBar, ReferencesBeforeUse) {
  TQDMProgressBar bar;
  try {
    bar.trainer();
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "The `TQDMProgressBar._trainer` reference has not been set yet.");
  }
  try {
    bar.train_progress_bar();
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "The `TQDMProgressBar._train_progress_bar` reference has not been set yet.");
  }
  EXPECT_TRUE(bar.has_dataloader_changed(0));
  EXPECT_FALSE(bar.has_dataloader_changed(0));
  EXPECT_TRUE(bar.has_dataloader_changed(1));
  bar.reset_dataloader_idx_tracker();
  EXPECT_TRUE(bar.has_dataloader_changed(1));
  bar.disable();
  EXPECT_TRUE(bar.is_disabled());
  bar.enable();
  EXPECT_TRUE(bar.is_enabled());
}

TEST(TQDMProgressBar, LeaveKeepsOneLinePerEpoch) {
  std::FILE* file = std::tmpfile();
  TQDMProgressBarOptions po;
  po.stream = file, po.leave = true;
  TrainerOptions o = options("pbar_leave", {std::make_shared<TQDMProgressBar>(po)});
  o.max_epochs = 3, o.limit_train_batches = 1, o.limit_val_batches = 0;
  BoringModel model;
  Trainer(o).fit(model);
  std::string out = read_all(file);
  std::fclose(file);
  for (const char* epoch : {"Epoch 0: 100%", "Epoch 1: 100%", "Epoch 2: 100%"})
    EXPECT_NE(out.find(epoch), std::string::npos) << out;
}

// ---- RichProgressBar ----------------------------------------------------------------------------------------------

TEST(RichProgressBar, PlainLines) {
  std::FILE* file = std::tmpfile();
  RichProgressBarOptions ro;
  ro.stream = file;
  auto bar = std::make_shared<RichProgressBar>(ro);
  TrainerOptions o = options("rich_plain", {bar});
  o.max_epochs = 2, o.limit_train_batches = 2, o.limit_val_batches = 1, o.num_sanity_val_steps = 0;
  o.loggers = {std::make_shared<RecordingLogger>("0")};
  LoggingModel model;
  Trainer(o).fit(model);
  std::string out = read_all(file);
  std::fclose(file);
  EXPECT_EQ(out.find("\x1b"), std::string::npos);
  std::regex epoch_line(R"(Epoch 1/1  (?:━){40} 2/2 \d:\d\d:\d\d • \d:\d\d:\d\d [0-9.]+it/s v_num: 0\.000 a: 3\.000 b: 4\.000)");
  bool found = false;
  for (const auto& l : split(out, "\n")) found |= std::regex_match(l, epoch_line);
  EXPECT_TRUE(found) << out;
  EXPECT_NE(out.find("Validation ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 1/1"), std::string::npos) << out;
  ASSERT_TRUE(bar->train_progress_bar_id().has_value());
  EXPECT_EQ(bar->tasks()[*bar->train_progress_bar_id()].completed, 2);
}

TEST(RichProgressBar, LiveDisplayOnATerminal) {
  Pty pty(120);
  RichProgressBarOptions ro;
  ro.stream = pty.stream;
  TrainerOptions o = options("rich_pty", {std::make_shared<RichProgressBar>(ro)});
  o.max_epochs = 1, o.limit_train_batches = 3, o.limit_val_batches = 1, o.num_sanity_val_steps = 1;
  BoringModel model;
  Trainer(o).fit(model);
  std::string out = pty.finish();
  EXPECT_NE(out.find("\x1b[2K"), std::string::npos) << "redrawn in place";
  EXPECT_NE(out.find("\x1b[38;2;98;6;224m━"), std::string::npos) << "the theme's bar colour #6206E0";
  EXPECT_NE(out.find("Epoch 0/0 "), std::string::npos);
  EXPECT_NE(out.find("3/3"), std::string::npos);
  EXPECT_EQ(out.back(), '\n');
}

TEST(RichProgressBar, TrainDescriptionAndRefreshRate) {
  std::FILE* file = std::tmpfile();
  RichProgressBarOptions ro;
  ro.stream = file, ro.refresh_rate = 0;
  auto bar = std::make_shared<RichProgressBar>(ro);
  EXPECT_FALSE(bar->is_enabled());
  TrainerOptions o = options("rich_off", {bar});
  o.max_epochs = 1, o.limit_train_batches = 2, o.limit_val_batches = 1;
  BoringModel model;
  Trainer(o).fit(model);
  EXPECT_EQ(read_all(file), "");
  std::fclose(file);
}

}  // namespace volt_test_progress_bar_test
}  // namespace
