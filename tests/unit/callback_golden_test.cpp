// ModelCheckpoint, EarlyStopping, Timer and OnExceptionCheckpoint against real Lightning 2.2.5: every scenario of
// tests/golden/callbacks/scenarios.json is rebuilt here from its description (the same scripted model, callback
// arguments, Trainer arguments and ckpt_path) and run; the outcome must equal what Lightning recorded: the error
// text, epoch and step counters, every file on disk, every checkpoint written, the callback messages, each
// callback's state_key and state_dict(), and the inspected checkpoints' contents. vectors.json pins the pure
// functions (file name templates with Python format specs, timedelta printing, Timer durations, state keys,
// constructor errors). Generator: tools/gen_callback_golden.py.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>

#include "support/ivalue_json.hpp"
#include "support/scripted.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_callback_golden_test {

using namespace volt;
using namespace volt::testing;
using volt::test::decode;
using volt::test::expect_same;
using volt::test::from_hex;
using volt::test::ordered_json;

namespace fs = std::filesystem;

namespace {

const std::string kGoldenDir = std::string(VOLT_SOURCE_DIR) + "/tests/golden/callbacks/";

const ordered_json& scenarios() {
  static const ordered_json j = [] {
    std::ifstream in(kGoldenDir + "scenarios.json");
    return in ? ordered_json::parse(in) : ordered_json::array();
  }();
  return j;
}

const ordered_json& vectors() {
  static const ordered_json j = volt::test::read_json(kGoldenDir + "vectors.json");
  return j;
}

// The prefixes of the messages the generator keeps (MESSAGE_PREFIXES in tools/gen_callback_golden.py).
const std::vector<std::string> kMessagePrefixes = {
    "Epoch ", "Metric ", "Monitored metric ", "Stopping threshold reached", "Divergence threshold reached",
    "Early stopping conditioned", "`ModelCheckpoint(", "Checkpoint directory ", "The dirpath has changed",
    "Time limit reached", "Ignoring `Trainer(max_time", "`.fit(ckpt_path=None)`", ".fit(ckpt_path=\"last\")",
    "Trainer was signaled to stop", "[rank: "};

std::string relativize(std::string s, const std::string& root) {
  for (size_t pos; (pos = s.find(root)) != std::string::npos;) s.replace(pos, root.size(), "<root>");
  return s;
}

std::string absolutize(std::string s, const std::string& root) {
  for (size_t pos; (pos = s.find("<root>")) != std::string::npos;) s.replace(pos, 6, root);
  return s;
}

// A copy of `v` with the run directory printed as "<root>" in every string (dict keys included).
IValue relativize_value(const IValue& v, const std::string& root) {
  if (v.isString()) return relativize(v.toStringRef(), root);
  if (v.isGenericDict()) {
    auto d = v.toGenericDict();
    c10::impl::GenericDict out(d.keyType(), d.valueType());
    for (const auto& kv : d) out.insert(relativize_value(kv.key(), root), relativize_value(kv.value(), root));
    return out;
  }
  if (v.isList()) {
    c10::impl::GenericList out(c10::AnyType::get());
    for (const auto& item : v.toListRef()) out.push_back(relativize_value(item, root));
    return out;
  }
  return v;
}

double hexf(const ordered_json& j) { return from_hex(j.at("float").get<std::string>()); }

double number(const ordered_json& j) {
  if (j.is_string()) {
    const auto s = j.get<std::string>();
    if (s == "nan") return NAN;
    if (s == "inf") return INFINITY;
    if (s == "-inf") return -INFINITY;
    ADD_FAILURE() << "not a number: " << s;
  }
  return j.get<double>();
}

TimeDelta::Parts parts(const ordered_json& j) {
  TimeDelta::Parts p;
  for (const auto& [key, value] : j.items()) {
    const double v = value.get<double>();
    if (key == "weeks") p.weeks = v;
    else if (key == "days") p.days = v;
    else if (key == "hours") p.hours = v;
    else if (key == "minutes") p.minutes = v;
    else if (key == "seconds") p.seconds = v;
    else if (key == "milliseconds") p.milliseconds = v;
    else if (key == "microseconds") p.microseconds = v;
    else ADD_FAILURE() << "unknown timedelta field " << key;
  }
  return p;
}

TimerDuration duration(const ordered_json& j) {
  if (j.is_string()) return TimerDuration(j.get<std::string>());
  return TimerDuration(parts(j));
}

BatchLimit limit(const ordered_json& j) {
  if (j.is_number_integer()) return BatchLimit(j.get<int64_t>());
  return BatchLimit(j.get<double>());
}

ModelCheckpointOptions model_checkpoint_options(const ordered_json& args, const std::string& root) {
  ModelCheckpointOptions o;
  for (const auto& [key, v] : args.items()) {
    if (key == "dirpath") o.dirpath = v.is_null() ? "" : (fs::path(root) / v.get<std::string>()).string();
    else if (key == "filename") o.filename = v.get<std::string>();
    else if (key == "monitor") o.monitor = v.get<std::string>();
    else if (key == "verbose") o.verbose = v.get<bool>();
    else if (key == "save_last")
      o.save_last = v.is_string() ? SaveLast(v.get<std::string>().c_str()) : SaveLast(v.get<bool>());
    else if (key == "save_top_k") o.save_top_k = v.get<int64_t>();
    else if (key == "save_weights_only") o.save_weights_only = v.get<bool>();
    else if (key == "mode") o.mode = v.get<std::string>();
    else if (key == "auto_insert_metric_name") o.auto_insert_metric_name = v.get<bool>();
    else if (key == "every_n_train_steps") o.every_n_train_steps = v.get<int64_t>();
    else if (key == "every_n_epochs") o.every_n_epochs = v.get<int64_t>();
    else if (key == "train_time_interval") o.train_time_interval = TimeDelta(parts(v));
    else if (key == "save_on_train_epoch_end") o.save_on_train_epoch_end = v.get<bool>();
    else if (key == "enable_version_counter") o.enable_version_counter = v.get<bool>();
    else ADD_FAILURE() << "ModelCheckpoint argument not mapped: " << key;
  }
  return o;
}

EarlyStoppingOptions early_stopping_options(const ordered_json& args) {
  EarlyStoppingOptions o;
  for (const auto& [key, v] : args.items()) {
    if (key == "monitor") o.monitor = v.get<std::string>();
    else if (key == "min_delta") o.min_delta = v.get<double>();
    else if (key == "patience") o.patience = v.get<int64_t>();
    else if (key == "verbose") o.verbose = v.get<bool>();
    else if (key == "mode") o.mode = v.get<std::string>();
    else if (key == "strict") o.strict = v.get<bool>();
    else if (key == "check_finite") o.check_finite = v.get<bool>();
    else if (key == "stopping_threshold") o.stopping_threshold = v.get<double>();
    else if (key == "divergence_threshold") o.divergence_threshold = v.get<double>();
    else if (key == "check_on_train_epoch_end") o.check_on_train_epoch_end = v.get<bool>();
    else if (key == "log_rank_zero_only") o.log_rank_zero_only = v.get<bool>();
    else ADD_FAILURE() << "EarlyStopping argument not mapped: " << key;
  }
  return o;
}

CallbackPtr make_callback(const ordered_json& spec, const std::string& root) {
  const auto type = spec.at("type").get<std::string>();
  const ordered_json args = spec.value("args", ordered_json::object());
  if (type == "ModelCheckpoint") return std::make_shared<ModelCheckpoint>(model_checkpoint_options(args, root));
  if (type == "EarlyStopping") return std::make_shared<EarlyStopping>(early_stopping_options(args));
  if (type == "Timer") {
    TimerOptions o;
    for (const auto& [key, v] : args.items()) {
      if (key == "duration") o.duration = duration(v);
      else if (key == "interval") o.interval = v.get<std::string>();
      else if (key == "verbose") o.verbose = v.get<bool>();
      else ADD_FAILURE() << "Timer argument not mapped: " << key;
    }
    return std::make_shared<Timer>(o);
  }
  if (type == "OnExceptionCheckpoint") {
    OnExceptionCheckpointOptions o;
    for (const auto& [key, v] : args.items()) {
      if (key == "dirpath") o.dirpath = (fs::path(root) / v.get<std::string>()).string();
      else if (key == "filename") o.filename = v.get<std::string>();
      else ADD_FAILURE() << "OnExceptionCheckpoint argument not mapped: " << key;
    }
    return std::make_shared<OnExceptionCheckpoint>(o);
  }
  ADD_FAILURE() << "unknown callback type " << type;
  return nullptr;
}

void apply_trainer_args(TrainerOptions& o, const ordered_json& args) {
  for (const auto& [key, v] : args.items()) {
    if (key == "max_epochs") o.max_epochs = v.get<int64_t>();
    else if (key == "min_epochs") o.min_epochs = v.get<int64_t>();
    else if (key == "max_steps") o.max_steps = v.get<int64_t>();
    else if (key == "limit_train_batches") o.limit_train_batches = limit(v);
    else if (key == "limit_val_batches") o.limit_val_batches = limit(v);
    else if (key == "val_check_interval") o.val_check_interval = limit(v);
    else if (key == "check_val_every_n_epoch")
      o.check_val_every_n_epoch = v.is_null() ? std::nullopt : std::optional<int64_t>(v.get<int64_t>());
    else if (key == "num_sanity_val_steps") o.num_sanity_val_steps = v.get<int64_t>();
    else if (key == "enable_checkpointing") o.enable_checkpointing = v.get<bool>();
    else if (key == "max_time") o.max_time = duration(v);
    else ADD_FAILURE() << "Trainer argument not mapped: " << key;
  }
}

ScriptSpec script(const ordered_json& j) {
  ScriptSpec s;
  for (const auto& [key, v] : j.items()) {
    if (key == "table") {
      s.table.clear();
      for (const auto& x : v) s.table.push_back(number(x));
    } else if (key == "key") {
      s.key = v.get<std::string>();
    } else if (key == "where") {
      s.where = v.get<std::string>();
    } else if (key == "no_steps") {
      s.no_steps = v.get<bool>();
    } else if (key == "raise_at_step") {
      s.raise_at_step = v.get<int64_t>();
    } else if (key == "manual") {
      s.manual = v.get<bool>();
    } else {
      ADD_FAILURE() << "model spec not mapped: " << key;
    }
  }
  return s;
}

std::string type_name(const IValue& v) {
  if (v.isInt()) return "int";
  if (v.isDouble()) return "float";
  return v.tagKind();
}

// What the generator's callback_summary() records.
void expect_callback(const ordered_json& expected, Callback& cb, const std::string& root, const std::string& where) {
  SCOPED_TRACE(where);
  EXPECT_EQ(cb.class_name(), expected.at("type").get<std::string>());
  EXPECT_EQ(relativize(cb.state_key(), root), expected.at("state_key").get<std::string>());
  if (auto* timer = dynamic_cast<Timer*>(&cb)) {
    StateDict state = timer->state_dict();
    c10::impl::GenericDict types(c10::StringType::get(), c10::AnyType::get());
    for (const auto& kv : as_state(state.at("time_elapsed"), "time_elapsed"))
      types.insert(kv.key(), type_name(kv.value()));
    expect_same(decode(expected.at("state_types")), types, "Timer state types");
    const auto& d = expected.at("duration");
    if (d.is_null()) EXPECT_FALSE(timer->duration().has_value());
    else EXPECT_EQ(timer->duration().value_or(-1), hexf(d));
    return;
  }
  if (auto* oec = dynamic_cast<OnExceptionCheckpoint*>(&cb)) {
    EXPECT_EQ(relativize(oec->ckpt_path(), root), expected.at("ckpt_path").get<std::string>());
    return;
  }
  expect_same(decode(expected.at("state")), relativize_value(cb.state_dict().ivalue(), root), "state_dict()");
  if (auto* es = dynamic_cast<EarlyStopping*>(&cb)) {
    EXPECT_EQ(es->min_delta(), hexf(expected.at("min_delta")));
  }
}

void expect_checkpoint(const ordered_json& expected, const std::string& path, const std::string& root) {
  SCOPED_TRACE("inspect " + relativize(path, root));
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << "missing checkpoint " << path;
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  StateDict ckpt = as_state(torch::pickle_load(bytes), path);
  std::vector<std::string> keys;
  for (const auto& kv : ckpt) keys.push_back(kv.key().toStringRef());
  // volt adds its own version key next to Lightning's, and its resume state (docs/reliability.md)
  keys.erase(std::remove(keys.begin(), keys.end(), "volt_version"), keys.end());
  keys.erase(std::remove(keys.begin(), keys.end(), "volt_resume"), keys.end());
  EXPECT_EQ(keys, expected.at("keys").get<std::vector<std::string>>());
  EXPECT_EQ(ckpt.at("epoch").toInt(), expected.at("epoch").get<int64_t>());
  EXPECT_EQ(ckpt.at("global_step").toInt(), expected.at("global_step").get<int64_t>());
  if (!expected.contains("callbacks")) return;
  StateDict states = as_state(ckpt.at("callbacks"), "callbacks");
  if (states.contains("Timer")) {  // times are not reproducible: compare the layout
    StateDict times = as_state(as_state(states.at("Timer"), "Timer").at("time_elapsed"), "time_elapsed");
    c10::impl::GenericDict types(c10::StringType::get(), c10::AnyType::get());
    for (const auto& kv : times) types.insert(kv.key(), type_name(kv.value()));
    states.set("Timer", StateDict{{"time_elapsed", types}});
  }
  expect_same(decode(expected.at("callbacks")), relativize_value(states.ivalue(), root), "checkpoint['callbacks']");
}

class CallbackGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(CallbackGolden, Scenario) {
  const ordered_json* found = nullptr;
  for (const auto& sc : scenarios())
    if (sc.at("name") == GetParam()) found = &sc;
  ASSERT_NE(found, nullptr);
  const ordered_json& sc = *found;
  const std::string root = fs::weakly_canonical(fresh_dir("golden_" + GetParam())).string();
  size_t run_index = 0;
  for (const auto& run : sc.at("runs")) {
    SCOPED_TRACE("run " + std::to_string(run_index++) + " of " + GetParam() + ": " + sc.value("doc", ""));
    const ordered_json& expect = run.at("expect");
    torch::manual_seed(0);
    CapturedMessages messages;
    std::unique_ptr<Trainer> trainer;
    std::string error;
    bool raised = false;
    ScriptedModel model(script(run.value("model", sc.value("model", ordered_json::object()))));
    try {
      TrainerOptions o;
      o.default_root_dir = root;
      o.enable_progress_bar = false;
      o.enable_model_summary = false;
      for (const auto& spec : run.value("callbacks", sc.value("callbacks", ordered_json::array())))
        o.callbacks.push_back(make_callback(spec, root));
      apply_trainer_args(o, sc.value("trainer", ordered_json::object()));
      apply_trainer_args(o, run.value("trainer", ordered_json::object()));
      std::string ckpt_path = run.contains("ckpt_path") && !run.at("ckpt_path").is_null()
                                  ? absolutize(run.at("ckpt_path").get<std::string>(), root)
                                  : "";
      trainer = std::make_unique<Trainer>(o);
      trainer->fit(model, nullptr, ckpt_path);
    } catch (const std::exception& e) {
      raised = true;
      error = relativize(e.what(), root);
    }
    if (expect.at("error").is_null()) EXPECT_FALSE(raised) << "volt raised: " << error;
    else EXPECT_EQ(error, expect.at("error").get<std::string>());

    if (trainer) {
      EXPECT_EQ(trainer->current_epoch(), expect.at("current_epoch").get<int64_t>());
      EXPECT_EQ(trainer->global_step(), expect.at("global_step").get<int64_t>());
      EXPECT_EQ(trainer->should_stop, expect.at("should_stop").get<bool>());
      EXPECT_EQ(trainer->max_epochs(), expect.at("max_epochs").get<int64_t>());
      std::vector<Callback*> watched;
      for (const auto& cb : trainer->callbacks())
        if (dynamic_cast<ModelCheckpoint*>(cb.get()) || dynamic_cast<EarlyStopping*>(cb.get()) ||
            dynamic_cast<Timer*>(cb.get()) || dynamic_cast<OnExceptionCheckpoint*>(cb.get()))
          watched.push_back(cb.get());
      const auto& callbacks = expect.at("callbacks");
      ASSERT_EQ(watched.size(), callbacks.size());
      for (size_t i = 0; i < watched.size(); ++i)
        expect_callback(callbacks.at(i), *watched[i], root, "callback " + std::to_string(i));
    } else {
      EXPECT_FALSE(expect.contains("current_epoch")) << "Lightning built its Trainer, volt did not: " << error;
    }
    EXPECT_EQ(list_files(root), expect.at("files").get<std::vector<std::string>>());
    std::vector<std::vector<int64_t>> saves;
    for (const auto& s : model.saves) saves.push_back({s.first, s.second});
    EXPECT_EQ(saves, expect.at("saves").get<std::vector<std::vector<int64_t>>>());
    std::vector<std::string> kept;
    for (const auto& m : messages.all)
      for (const auto& prefix : kMessagePrefixes)
        if (m.rfind(prefix, 0) == 0) {
          kept.push_back(relativize(m, root));
          break;
        }
    EXPECT_EQ(kept, expect.at("messages").get<std::vector<std::string>>());
    for (const auto& [name, inspected] : expect.at("inspect").items())
      expect_checkpoint(inspected, (fs::path(root) / name).string(), root);
  }
}

std::vector<std::string> scenario_names() {
  std::vector<std::string> names;
  for (const auto& sc : scenarios()) names.push_back(sc.at("name").get<std::string>());
  return names;
}

INSTANTIATE_TEST_SUITE_P(Lightning, CallbackGolden, ::testing::ValuesIn(scenario_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// ---- vectors.json ---------------------------------------------------------------------------------------------------

torch::Tensor metric(const ordered_json& spec) {
  const auto value = spec.at(0).get<std::string>();
  const auto dtype = spec.at(1).get<std::string>();
  if (dtype == "float32") return torch::tensor(std::stod(value), torch::kDouble).to(torch::kFloat);
  if (dtype == "float64") return torch::tensor(std::stod(value), torch::kDouble);
  if (dtype == "int32") return torch::tensor(static_cast<int64_t>(std::stoll(value)), torch::kLong).to(torch::kInt);
  return torch::tensor(static_cast<int64_t>(std::stoll(value)), torch::kLong);
}

// "ValueError: text" -> "text"
std::string message_of(const std::string& error) {
  auto colon = error.find(": ");
  return colon == std::string::npos ? error : error.substr(colon + 2);
}

}  // namespace

TEST(CallbackVectors, GoldenFilesArePresent) {
  EXPECT_GE(scenarios().size(), 60u) << "tests/golden/callbacks/scenarios.json is missing or truncated";
  EXPECT_TRUE(vectors().contains("format_checkpoint_name"));
}

TEST(CallbackVectors, FormatCheckpointNameAsPython) {
  size_t checked = 0;
  for (const auto& v : vectors().at("format_checkpoint_name")) {
    ModelCheckpointOptions o;
    o.filename = v.at("filename").get<std::string>();
    o.auto_insert_metric_name = v.at("auto_insert_metric_name").get<bool>();
    ModelCheckpoint cb(o);
    MetricMap metrics;
    for (const auto& [name, spec] : v.at("metrics").items()) metrics[name] = metric(spec);
    std::optional<int64_t> ver;
    if (!v.at("ver").is_null()) ver = v.at("ver").get<int64_t>();
    const std::string what = v.dump();
    if (v.contains("expected")) {
      try {
        EXPECT_EQ(cb.format_checkpoint_name(metrics, "", ver), v.at("expected").get<std::string>()) << what;
      } catch (const std::exception& e) {
        ADD_FAILURE() << what << " raised " << e.what();
      }
    } else {
      try {
        auto name = cb.format_checkpoint_name(metrics, "", ver);
        ADD_FAILURE() << what << " gave " << name << ", Python raised " << v.at("error");
      } catch (const MisconfigurationError& e) {
        EXPECT_EQ(e.what(), message_of(v.at("error").get<std::string>())) << what;
      }
    }
    ++checked;
  }
  EXPECT_GT(checked, 600u);
}

TEST(CallbackVectors, TimeDeltaPrintsAsPython) {
  for (const auto& v : vectors().at("timedelta")) {
    TimeDelta td = v.contains("seconds") ? TimeDelta::from_seconds(hexf(v.at("seconds")))
                                         : TimeDelta(parts(v.at("parts")));
    EXPECT_EQ(td.repr(), v.at("repr").get<std::string>()) << v.dump();
    EXPECT_EQ(td.str(), v.at("str").get<std::string>()) << v.dump();
    EXPECT_EQ(td.total_seconds(), hexf(v.at("total_seconds"))) << v.dump();
  }
}

TEST(CallbackVectors, TimerDurationsAndIntervals) {
  for (const auto& v : vectors().at("timer")) {
    TimerOptions o;
    if (v.contains("duration")) {
      if (!v.at("duration").is_null()) o.duration = duration(v.at("duration"));
      if (v.contains("error")) {
        EXPECT_THROW(Timer{o}, MisconfigurationError) << v.dump();
        continue;
      }
      Timer timer(o);
      if (v.at("seconds").is_null()) EXPECT_FALSE(timer.duration().has_value());
      else EXPECT_EQ(timer.duration().value_or(-1), hexf(v.at("seconds"))) << v.dump();
    } else {
      o.interval = v.at("interval").get<std::string>();
      if (v.at("ok").get<bool>()) {
        EXPECT_NO_THROW(Timer{o}) << v.dump();
      } else {
        try {
          Timer timer(o);
          ADD_FAILURE() << v.dump() << " did not raise";
        } catch (const MisconfigurationError& e) {
          EXPECT_EQ(e.what(), v.at("error").get<std::string>());
        }
      }
    }
  }
}

TEST(CallbackVectors, StateKeys) {
  for (const auto& v : vectors().at("state_keys")) {
    const auto type = v.at("type").get<std::string>();
    CallbackPtr cb = make_callback(v, "/unused");
    EXPECT_EQ(cb->state_key(), v.at("state_key").get<std::string>()) << v.dump();
    if (type == "EarlyStopping") {
      EXPECT_EQ(dynamic_cast<EarlyStopping&>(*cb).min_delta(), hexf(v.at("min_delta"))) << v.dump();
    }
  }
}

TEST(CallbackVectors, ConstructorErrorsWithLightningsMessages) {
  for (const auto& v : vectors().at("constructor_errors")) {
    if (v.at("error").is_null()) {
      EXPECT_NO_THROW(make_callback(v, "/unused")) << v.dump();
      continue;
    }
    try {
      make_callback(v, "/unused");
      ADD_FAILURE() << v.dump() << " did not raise";
    } catch (const MisconfigurationError& e) {
      EXPECT_EQ(e.what(), v.at("error").get<std::string>());
    }
  }
}

}  // namespace volt_test_callback_golden_test
}  // namespace
