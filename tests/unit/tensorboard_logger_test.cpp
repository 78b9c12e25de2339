// TensorBoardLogger: the event file is read back record by record (TFRecord CRCs checked, Event protos decoded)
// after a fit; CRC32C against the standard check values; the records of tests/golden/tensorboard/*.json (real
// Lightning 2.2.5 + torch 1.13's SummaryWriter, tools/gen_tensorboard_golden.py) byte for byte except wall times;
// and, when some python has tensorboard, tensorboard's own EventAccumulator and hparams parsers read a volt file
// (tests/python/read_tensorboard.py).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "support/boring.hpp"
#include "support/ivalue_json.hpp"
#include "volt/error.hpp"
#include "volt/loggers/tensorboard_logger.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_tensorboard_logger_test {

using namespace volt;
using namespace volt::testing;
namespace fs = std::filesystem;

namespace {

struct Value {
  std::string tag;
  bool has_simple_value = false;
  float simple_value = 0;
  std::string plugin_name, content;  // Summary.Value.metadata.plugin_data
};

struct Event {
  std::string data;  // the serialized Event
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;
  std::string summary;  // the serialized Summary
  std::vector<Value> values;
  // {tag, simple_value} of the values that have one
  std::vector<std::pair<std::string, float>> scalars;
};

uint64_t le(const std::string& s, size_t pos, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(s[pos + i])) << (8 * i);
  return v;
}

uint64_t read_varint(const std::string& s, size_t& pos) {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    auto b = static_cast<unsigned char>(s.at(pos++));
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
}

// Calls f(field, wire, value-as-uint64, bytes) for every field of a message.
template <typename F>
void fields(const std::string& msg, F f) {
  size_t pos = 0;
  while (pos < msg.size()) {
    uint64_t k = read_varint(msg, pos);
    int field = static_cast<int>(k >> 3), wire = static_cast<int>(k & 7);
    if (wire == 0) {
      f(field, wire, read_varint(msg, pos), std::string());
    } else if (wire == 1) {
      f(field, wire, le(msg, pos, 8), std::string());
      pos += 8;
    } else if (wire == 5) {
      f(field, wire, le(msg, pos, 4), std::string());
      pos += 4;
    } else if (wire == 2) {
      uint64_t n = read_varint(msg, pos);
      f(field, wire, n, msg.substr(pos, n));
      pos += n;
    } else {
      throw std::runtime_error("unexpected wire type");
    }
  }
}

Event decode(const std::string& data) {
  Event e;
  e.data = data;
  fields(data, [&](int field, int, uint64_t v, const std::string& b) {
    if (field == 1) std::memcpy(&e.wall_time, &v, 8);
    if (field == 2) e.step = static_cast<int64_t>(v);
    if (field == 3) e.file_version = b;
    if (field == 5) {
      e.summary = b;
      fields(b, [&](int sf, int, uint64_t, const std::string& value) {
        ASSERT_EQ(sf, 1);
        Value val;
        fields(value, [&](int vf, int, uint64_t vv, const std::string& vb) {
          if (vf == 1) val.tag = vb;
          if (vf == 2) {
            auto bits = static_cast<uint32_t>(vv);
            std::memcpy(&val.simple_value, &bits, 4);
            val.has_simple_value = true;
          }
          if (vf == 9)  // metadata{plugin_data{plugin_name, content}}
            fields(vb, [&](int mf, int, uint64_t, const std::string& mb) {
              if (mf == 1)
                fields(mb, [&](int pf, int, uint64_t, const std::string& pb) {
                  if (pf == 1) val.plugin_name = pb;
                  if (pf == 2) val.content = pb;
                });
            });
        });
        if (val.has_simple_value) e.scalars.emplace_back(val.tag, val.simple_value);
        e.values.push_back(val);
      });
    }
  });
  return e;
}

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::vector<Event> read_events(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  std::vector<Event> events;
  size_t pos = 0;
  while (pos < s.size()) {
    EXPECT_GE(s.size() - pos, 12u);
    uint64_t n = le(s, pos, 8);
    EXPECT_EQ(le(s, pos + 8, 4), tensorboard::masked_crc32c(s.data() + pos, 8)) << "length crc at " << pos;
    std::string data = s.substr(pos + 12, n);
    EXPECT_EQ(le(s, pos + 12 + n, 4), tensorboard::masked_crc32c(data.data(), data.size())) << "data crc at " << pos;
    events.push_back(decode(data));
    pos += 12 + n + 4;
  }
  EXPECT_EQ(pos, s.size());
  return events;
}

class LoggingModel : public BoringModel {
 public:
  StepOutput training_step(const Batch& batch, int64_t batch_idx) override {
    log("train_a", 0.25 * static_cast<double>(batch_idx));
    return BoringModel::training_step(batch, batch_idx);
  }
  StepOutput validation_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override {
    log("val_b", 0.5 + static_cast<double>(batch_idx));
    return BoringModel::validation_step(batch, batch_idx, dataloader_idx);
  }
};

}  // namespace

TEST(TensorBoardLogger, Crc32cCheckValues) {
  // the CRC-32C check value and RFC 3720's test vectors
  EXPECT_EQ(tensorboard::crc32c("123456789", 9), 0xE3069283u);
  std::string zeros(32, '\0'), ones(32, '\xff');
  EXPECT_EQ(tensorboard::crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  EXPECT_EQ(tensorboard::crc32c(ones.data(), ones.size()), 0x62A8AB43u);
  uint32_t c = tensorboard::crc32c("123456789", 9);
  EXPECT_EQ(tensorboard::masked_crc32c("123456789", 9), ((c >> 15) | (c << 17)) + 0xa282ead8u);
}

TEST(TensorBoardLogger, FitWritesReadableEventFile) {
  auto dir = fresh_dir("tb_logger_fit");
  fs::create_directories(fs::path(dir) / "lightning_logs" / "version_0");
  auto logger = std::make_shared<TensorBoardLogger>(dir);
  EXPECT_EQ(logger->version(), "1");
  logger->log_hyperparams(StateDict{{"lr", 0.1}});
  TrainerOptions o;
  o.max_epochs = 2;
  o.log_every_n_steps = 2;
  o.num_sanity_val_steps = 0;
  o.limit_train_batches = 4;
  o.limit_val_batches = 2;
  o.enable_progress_bar = false;
  o.enable_model_summary = false;
  o.loggers = {logger};
  Trainer trainer(o);
  LoggingModel model;
  trainer.fit(model);

  fs::path log_dir = fs::path(dir) / "lightning_logs" / "version_1";
  EXPECT_EQ(logger->log_dir(), log_dir.string());
  const std::string file = logger->event_file();
  EXPECT_EQ(fs::path(file).parent_path(), log_dir);
  EXPECT_EQ(fs::path(file).filename().string().rfind("events.out.tfevents.", 0), 0u);
  EXPECT_TRUE(fs::exists(log_dir / "checkpoints"));  // ModelCheckpoint follows the logger's log_dir
  std::ifstream yaml(log_dir / "hparams.yaml");
  std::string line;
  std::getline(yaml, line);
  EXPECT_EQ(line, "lr: 0.1");

  auto events = read_events(file);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  EXPECT_TRUE(events[0].scalars.empty());
  EXPECT_GT(events[0].wall_time, 1.6e9);
  std::vector<std::tuple<int64_t, std::string, float>> got;
  std::vector<std::string> plugin_tags;
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_GE(events[i].wall_time, events[0].wall_time);
    ASSERT_EQ(events[i].values.size(), 1u);
    if (events[i].scalars.empty()) {
      EXPECT_EQ(events[i].values[0].plugin_name, "hparams");
      plugin_tags.push_back(events[i].values[0].tag);
      EXPECT_EQ(got.size(), 1u) << "the hparams summaries follow hp_metric";
      continue;
    }
    got.emplace_back(events[i].step, events[i].scalars[0].first, events[i].scalars[0].second);
  }
  EXPECT_EQ(plugin_tags, (std::vector<std::string>{"_hparams_/experiment", "_hparams_/session_start_info",
                                                   "_hparams_/session_end_info"}));
  // what the Trainer sends (same calls as the CSVLogger's rows): one scalar event per metric, keys sorted
  std::vector<std::tuple<int64_t, std::string, float>> want = {
      {0, "hp_metric", -1.0f},
      {1, "epoch", 0.0f}, {1, "train_a", 0.25f},
      {3, "epoch", 0.0f}, {3, "train_a", 0.75f},
      {3, "epoch", 0.0f}, {3, "val_b", 1.0f},
      {5, "epoch", 1.0f}, {5, "train_a", 0.25f},
      {7, "epoch", 1.0f}, {7, "train_a", 0.75f},
      {7, "epoch", 1.0f}, {7, "val_b", 1.0f}};
  EXPECT_EQ(got, want);
}

namespace {

const std::string kGoldenDir = std::string(VOLT_SOURCE_DIR) + "/tests/golden/tensorboard/";

// PARAMS of tools/gen_tensorboard_golden.py
StateDict golden_params() {
  return StateDict{
      {"lr", 0.001},
      {"batch_size", 32},
      {"use_bn", true},
      {"dropout_off", false},
      {"optimizer", "adam"},
      {"scheduler", IValue()},
      {"model", StateDict{{"layers", c10::List<int64_t>({64, 32})},
                          {"act", "relu"},
                          {"depth", 3},
                          {"inner", StateDict{{"eps", 1e-05}}}}},
      {"betas", c10::ivalue::Tuple::create(0.9, 0.999)},
      {"big", int64_t{12345678901}},
      {"neg", -2.5},
  };
}

// The scenarios of tools/gen_tensorboard_golden.py, made with volt's logger; returns it finalized.
std::unique_ptr<TensorBoardLogger> run_scenario(const std::string& name, const std::string& root) {
  TensorBoardLoggerOptions o;
  o.version = int64_t{0};
  if (name == "hparams_default") {
    auto logger = std::make_unique<TensorBoardLogger>(root, o);
    logger->log_hyperparams(golden_params());
    logger->log_metrics({{"epoch", 0.0}, {"train_loss", 0.75}}, 4);
    logger->log_metrics({{"val_acc", 0.1}}, 9);
    logger->finalize("success");
    return logger;
  }
  if (name == "hparams_metrics_prefix") {
    o.prefix = "fold1";
    o.default_hp_metric = false;
    auto logger = std::make_unique<TensorBoardLogger>(root, o);
    logger->log_hyperparams(StateDict{{"lr", 0.1}, {"name", "boring"}}, {{{"val_loss", 0.25}, {"acc", 1.0}}});
    logger->log_metrics({{"val_loss", 0.125}}, 2);
    logger->finalize("success");
    return logger;
  }
  if (name == "no_hp_metric") {
    o.default_hp_metric = false;
    auto logger = std::make_unique<TensorBoardLogger>(root, o);
    logger->log_hyperparams(StateDict{{"lr", 0.1}});
    logger->log_metrics({{"a", 1.5}}, 1);
    logger->finalize("success");
    return logger;
  }
  if (name == "save_only") {
    auto logger = std::make_unique<TensorBoardLogger>(root, o);
    logger->save();
    logger->finalize("success");
    return logger;
  }
  ADD_FAILURE() << "unknown scenario " << name;
  return nullptr;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class TensorBoardGolden : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(TensorBoardGolden, RecordsMatchLightning) {
  const auto golden = test::read_json(kGoldenDir + GetParam() + ".json");
  const auto dir = fresh_dir("tb_golden_" + GetParam());
  auto logger = run_scenario(GetParam(), dir);
  ASSERT_TRUE(logger);
  EXPECT_EQ(logger->log_dir(), (fs::path(dir) / "lightning_logs" / "version_0").string());
  auto events = read_events(logger->event_file());
  const auto& records = golden.at("records");
  ASSERT_EQ(events.size(), records.size());
  for (size_t i = 0; i < events.size(); ++i) {
    SCOPED_TRACE("record " + std::to_string(i));
    const auto& r = records.at(i);
    const Event& e = events[i];
    EXPECT_EQ(e.step, r.at("step").get<int64_t>());
    EXPECT_EQ(e.file_version, r.value("file_version", std::string()));
    const auto no_values = test::ordered_json::array();
    const auto& values = r.contains("values") ? r.at("values") : no_values;
    ASSERT_EQ(e.values.size(), values.size());
    for (size_t k = 0; k < values.size(); ++k) {
      const auto& v = values.at(k);
      EXPECT_EQ(e.values[k].tag, v.at("tag").get<std::string>());
      EXPECT_EQ(e.values[k].has_simple_value, v.contains("simple_value"));
      if (v.contains("simple_value")) {
        EXPECT_EQ(static_cast<double>(e.values[k].simple_value),
                  test::from_hex(v.at("simple_value").get<std::string>()));
      }
      EXPECT_EQ(e.values[k].plugin_name, v.value("plugin_name", std::string()));
      EXPECT_EQ(hex(e.values[k].content), v.value("content_hex", std::string())) << v.dump();
    }
    EXPECT_EQ(hex(e.summary), r.value("summary_hex", std::string()));
    // the whole Event but its wall_time, which volt writes first (field 1, fixed64: tag 0x09 and 8 bytes)
    ASSERT_GE(e.data.size(), 9u);
    EXPECT_EQ(e.data[0], '\x09');
    EXPECT_GT(e.wall_time, 1.6e9);
    EXPECT_EQ(hex(e.data.substr(9)), r.at("event_hex").get<std::string>());
  }
  // Known difference, not the TensorBoard logger's: hparams_to_yaml (csv_logger.cpp, shared with CSVLogger) writes a
  // tuple as a plain list where PyYAML tags it "!!python/tuple"
  std::string yaml = golden.at("hparams_yaml").get<std::string>();
  for (size_t p; (p = yaml.find(" !!python/tuple")) != std::string::npos;) yaml.erase(p, 15);
  EXPECT_EQ(read_text(fs::path(logger->log_dir()) / "hparams.yaml"), yaml);
}

INSTANTIATE_TEST_SUITE_P(TensorBoardLogger, TensorBoardGolden,
                         ::testing::Values("hparams_default", "hparams_metrics_prefix", "no_hp_metric",
                                           "save_only"));

TEST(TensorBoardLogger, FailedRunWritesNoHparamsYaml) {
  // Lightning's finalize saves (hparams.yaml) only when status == "success"
  auto dir = fresh_dir("tb_logger_failed");
  TensorBoardLogger logger(dir);
  logger.log_metrics({{"a", 1.0}}, 1);
  logger.finalize("failed");
  EXPECT_TRUE(fs::exists(logger.event_file()));
  EXPECT_FALSE(fs::exists(fs::path(logger.log_dir()) / "hparams.yaml"));
  logger.save();  // after close: only hparams.yaml, no new event file
  EXPECT_TRUE(fs::exists(fs::path(logger.log_dir()) / "hparams.yaml"));
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(logger.log_dir()))
    files += entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
  EXPECT_EQ(files, 1u);
}

TEST(TensorBoardLogger, SanitizeHparamsLikeLightning) {
  // what the golden files show of Lightning's _flatten_dict/_sanitize_params and torch's hparams(), as values
  auto hp = tensorboard::sanitize_hparams(golden_params());
  std::vector<tensorboard::HParam> want = {
      {"lr", 0.001},          {"batch_size", 32.0},       {"use_bn", 1.0},         {"dropout_off", 0.0},
      {"optimizer", "adam"},  {"scheduler", "None"},      {"model/layers", "[64, 32]"},
      {"model/act", "relu"},  {"model/depth", 3.0},       {"model/inner/eps", 1e-05},
      {"betas", "(0.9, 0.999)"}, {"big", 12345678901.0},  {"neg", -2.5}};
  EXPECT_EQ(hp, want);
  // an empty nested dict disappears; a key repeated by flattening keeps its first place and takes the last value
  auto flat = tensorboard::sanitize_hparams(StateDict{{"a/b", 1}, {"e", StateDict{}}, {"a", StateDict{{"b", 2}}}});
  EXPECT_EQ(flat, (std::vector<tensorboard::HParam>{{"a/b", 2.0}}));
  // a 1-d tensor logs its first element (torch's make_np(v)[0]); other tensors are refused before anything is written
  EXPECT_EQ(tensorboard::sanitize_hparams(StateDict{{"t", torch::tensor({0.5, 2.0})}}),
            (std::vector<tensorboard::HParam>{{"t", 0.5}}));
  auto dir = fresh_dir("tb_logger_bad_hparam");
  TensorBoardLogger logger(dir);
  EXPECT_THROW(logger.log_hyperparams(StateDict{{"t", torch::ones({2, 2})}}), Error);
  EXPECT_EQ(logger.event_file(), "");
}

namespace {

// The interpreter for the tensorboard reader test: $VOLT_TENSORBOARD_PYTHON, else /usr/bin/python3.
std::string tensorboard_python() {
  const char* env = std::getenv("VOLT_TENSORBOARD_PYTHON");
  return env && *env ? env : "/usr/bin/python3";
}

std::string run_capture(const std::string& cmd, int& status) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) {
    status = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  status = ::pclose(p);
  return out;
}

}  // namespace

TEST(TensorBoardLogger, TensorBoardReaderReadsScalarsAndHparams) {
  // tensorboard's own reader, when an interpreter has it (never installed by the tests)
  const std::string python = tensorboard_python();
  if (std::system((python + " -c 'import tensorboard' >/dev/null 2>&1").c_str()) != 0) {
    GTEST_SKIP() << "no tensorboard for " << python << " (set VOLT_TENSORBOARD_PYTHON to an interpreter with it)";
  }
  auto dir = fresh_dir("tb_logger_python");
  TensorBoardLogger logger(dir);
  logger.log_hyperparams(golden_params());
  logger.log_metrics({{"epoch", 0.0}, {"val_b", 1.0}}, 7);
  logger.finalize("success");
  int status = 0;
  std::string out = run_capture(python + " " + VOLT_SOURCE_DIR + "/tests/python/read_tensorboard.py '" +
                                    logger.event_file() + "'",
                                status);
  ASSERT_EQ(status, 0) << out;
  auto got = test::ordered_json::parse(out);
  EXPECT_EQ(got.at("scalars"), test::ordered_json::parse(
                                   R"([["epoch", 7, 0.0], ["hp_metric", 0, -1.0], ["val_b", 7, 1.0]])"));
  EXPECT_EQ(got.at("metrics"), test::ordered_json::parse(R"(["hp_metric"])"));
  EXPECT_EQ(got.at("status"), "STATUS_SUCCESS");
  // the reader's maps come back in its own order; compare as sets of (name, value)
  auto want_values = test::ordered_json::parse(R"json({
      "lr": 0.001, "batch_size": 32.0, "use_bn": 1.0, "dropout_off": 0.0, "optimizer": "adam",
      "scheduler": "None", "model/layers": "[64, 32]", "model/act": "relu", "model/depth": 3.0,
      "model/inner/eps": 1e-05, "betas": "(0.9, 0.999)", "big": 12345678901.0, "neg": -2.5})json");
  std::map<std::string, test::ordered_json> values, want;
  for (const auto& [name, value] : got.at("hparams").items()) values[name] = value;
  for (const auto& [name, value] : want_values.items()) want[name] = value;
  EXPECT_EQ(values, want);
  std::map<std::string, std::string> types;
  for (const auto& [name, value] : want_values.items())
    types[name] = value.is_string() ? "DATA_TYPE_STRING" : "DATA_TYPE_FLOAT64";
  std::map<std::string, std::string> got_types;
  for (const auto& [name, type] : got.at("hparam_types").items()) got_types[name] = type.get<std::string>();
  EXPECT_EQ(got_types, types);
}

}  // namespace volt_test_tensorboard_logger_test
}  // namespace
