// TensorBoardLogger: the event file is read back record by record (TFRecord CRCs checked, Event protos decoded)
// after a fit; CRC32C against the standard check values; and, when the system python has tensorboard, its
// EventFileLoader reads the same file.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/boring.hpp"
#include "volt/loggers/tensorboard_logger.hpp"

using namespace volt;
using namespace volt::testing;
namespace fs = std::filesystem;

namespace {

struct Event {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;
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
  fields(data, [&](int field, int, uint64_t v, const std::string& b) {
    if (field == 1) std::memcpy(&e.wall_time, &v, 8);
    if (field == 2) e.step = static_cast<int64_t>(v);
    if (field == 3) e.file_version = b;
    if (field == 5)
      fields(b, [&](int sf, int, uint64_t, const std::string& value) {
        ASSERT_EQ(sf, 1);
        std::string tag;
        float x = 0;
        fields(value, [&](int vf, int, uint64_t vv, const std::string& vb) {
          if (vf == 1) tag = vb;
          if (vf == 2) {
            auto bits = static_cast<uint32_t>(vv);
            std::memcpy(&x, &bits, 4);
          }
        });
        e.scalars.emplace_back(tag, x);
      });
  });
  return e;
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
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_GE(events[i].wall_time, events[0].wall_time);
    ASSERT_EQ(events[i].scalars.size(), 1u);
    got.emplace_back(events[i].step, events[i].scalars[0].first, events[i].scalars[0].second);
  }
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

TEST(TensorBoardLogger, TensorBoardEventFileLoaderReadsIt) {
  // tensorboard's own reader, when the system python has it (never installed by the tests)
  if (std::system("/usr/bin/python3 -c 'import tensorboard' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "no tensorboard in /usr/bin/python3";
  }
  auto dir = fresh_dir("tb_logger_python");
  TensorBoardLogger logger(dir);
  logger.log_hyperparams(StateDict{{"lr", 0.1}});
  logger.log_metrics({{"epoch", 0.0}, {"val_b", 1.0}}, 7);
  logger.finalize("success");
  const std::string file = logger.event_file();
  std::string script =
      "import sys\n"
      "from tensorboard.backend.event_processing.event_file_loader import EventFileLoader\n"
      "ev = list(EventFileLoader(sys.argv[1]).Load())\n"
      "assert ev[0].file_version == 'brain.Event:2'\n"
      "vals = [(e.step, v.tag, v.simple_value) for e in ev[1:] for v in e.summary.value]\n"
      "assert vals == [(0, 'hp_metric', -1.0), (7, 'epoch', 0.0), (7, 'val_b', 1.0)], vals\n";
  fs::path py = fs::path(dir) / "read.py";
  std::ofstream(py) << script;
  EXPECT_EQ(std::system(("/usr/bin/python3 " + py.string() + " " + file).c_str()), 0);
}
