// CSVLogger against real Lightning 2.2.5: the metrics.csv and hparams.yaml bytes for the logging pattern of
// tools/gen_logger_golden.py (tests/golden/loggers/), version numbering, the YAML of hparams, and ModelCheckpoint
// saving under the logger's log_dir.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/boring.hpp"
#include "volt/callbacks/model_checkpoint.hpp"
#include "volt/loggers/csv_logger.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_csv_logger_test {

using namespace volt;
using namespace volt::testing;
namespace fs = std::filesystem;

namespace {

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("missing " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string golden(const std::string& file) {
  return read(fs::path(VOLT_SOURCE_DIR) / "tests/golden/loggers" / file);
}

// The Model of tools/gen_logger_golden.py.
class LoggingModel : public BoringModel {
 public:
  StepOutput training_step(const Batch& batch, int64_t batch_idx) override {
    LogOptions o;
    o.on_step = true;
    o.on_epoch = true;
    log("train_a", 0.1 * static_cast<double>(batch_idx), o);
    return BoringModel::training_step(batch, batch_idx);
  }
  StepOutput validation_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override {
    log("val_b", 0.5 + static_cast<double>(batch_idx));
    return BoringModel::validation_step(batch, batch_idx, dataloader_idx);
  }
};

TrainerOptions golden_options(std::shared_ptr<Logger> logger) {
  TrainerOptions o;
  o.max_epochs = 2;
  o.log_every_n_steps = 2;
  o.num_sanity_val_steps = 0;
  o.limit_train_batches = 4;
  o.limit_val_batches = 2;
  o.enable_checkpointing = false;
  o.enable_progress_bar = false;
  o.enable_model_summary = false;
  o.loggers = {std::move(logger)};
  return o;
}

}  // namespace

TEST(CSVLogger, FitWritesWhatLightningWrites) {
  auto dir = fresh_dir("csv_logger_golden");
  auto logger = std::make_shared<CSVLogger>(dir);
  logger->log_hyperparams(StateDict{{"lr", 0.1},
                                    {"name", std::string("boring")},
                                    {"layers", c10::List<int64_t>({32, 2})},
                                    {"flag", true}});
  Trainer trainer(golden_options(logger));
  LoggingModel model;
  trainer.fit(model);
  fs::path log_dir = fs::path(dir) / "lightning_logs" / "version_0";
  EXPECT_EQ(logger->log_dir(), log_dir.string());
  EXPECT_EQ(logger->version(), "0");
  EXPECT_EQ(logger->name(), "lightning_logs");
  EXPECT_EQ(logger->save_dir(), dir);
  EXPECT_EQ(read(log_dir / "metrics.csv"), golden("csv_metrics.csv"));
  EXPECT_EQ(read(log_dir / "hparams.yaml"), golden("csv_hparams.yaml"));
  // no temporary files left behind by the atomic writes
  for (const auto& e : fs::directory_iterator(log_dir))
    EXPECT_TRUE(e.path().filename() == "metrics.csv" || e.path().filename() == "hparams.yaml") << e.path();
}

TEST(CSVLogger, VersionsIncrementOverExistingDirs) {
  auto dir = fresh_dir("csv_logger_versions");
  EXPECT_EQ(CSVLogger(dir).version(), "0");
  fs::create_directories(fs::path(dir) / "lightning_logs" / "version_0");
  fs::create_directories(fs::path(dir) / "lightning_logs" / "version_3");
  fs::create_directories(fs::path(dir) / "lightning_logs" / "version_x");
  fs::create_directories(fs::path(dir) / "lightning_logs" / "other_9");
  CSVLogger next(dir);
  EXPECT_EQ(next.version(), "4");
  EXPECT_EQ(next.log_dir(), (fs::path(dir) / "lightning_logs" / "version_4").string());
  CSVLoggerOptions given;
  given.name = "exp";
  given.version = int64_t{7};
  EXPECT_EQ(CSVLogger(dir, given).log_dir(), (fs::path(dir) / "exp" / "version_7").string());
  given.version = std::string("run_a");
  EXPECT_EQ(CSVLogger(dir, given).log_dir(), (fs::path(dir) / "exp" / "run_a").string());
  EXPECT_EQ(CSVLogger(dir, given).version(), "run_a");
}

TEST(CSVLogger, RowsMergeColumnsAndFlushEveryNSteps) {
  auto dir = fresh_dir("csv_logger_rows");
  CSVLoggerOptions o;
  o.flush_logs_every_n_steps = 2;
  o.prefix = "p";
  CSVLogger logger(dir, o);
  logger.log_metrics({{"a", 0.5}}, 0);
  fs::path file = fs::path(logger.log_dir()) / "metrics.csv";
  EXPECT_FALSE(fs::exists(file));  // (0 + 1) % 2 != 0: not flushed yet
  logger.log_metrics({{"b", 1.0}}, 1);
  EXPECT_EQ(read(file), "p-a,p-b,step\r\n0.5,,0\r\n,1.0,1\r\n");
  logger.log_metrics({{"a", 2.0}}, 2);
  logger.save();  // no new key: appended
  EXPECT_EQ(read(file), "p-a,p-b,step\r\n0.5,,0\r\n,1.0,1\r\n2.0,,2\r\n");
  logger.log_metrics({{"c", 1e-05}}, 3);  // new key: rewritten with the new header
  EXPECT_EQ(read(file), "p-a,p-b,p-c,step\r\n0.5,,,0\r\n,1.0,,1\r\n2.0,,,2\r\n,,1e-05,3\r\n");
  EXPECT_EQ(read(fs::path(logger.log_dir()) / "hparams.yaml"), "{}\n");
}

// Every save writes hparams.yaml as Lightning's does, but an unchanged file is left alone (an atomic rewrite costs
// two fsyncs per logging step): the same inode until the hyperparameters change or the file goes missing.
TEST(CSVLogger, HparamsYamlIsRewrittenOnlyWhenItChanges) {
  auto dir = fresh_dir("csv_logger_hparams_rewrite");
  CSVLogger logger(dir);
  logger.log_hyperparams(StateDict{{"lr", 0.1}});
  logger.save();
  const fs::path file = fs::path(logger.log_dir()) / "hparams.yaml";
  auto inode = [&] {
    struct stat st {};
    EXPECT_EQ(::stat(file.c_str(), &st), 0) << file;
    return st.st_ino;
  };
  const auto first = inode();
  logger.log_metrics({{"a", 1.0}}, 0);
  logger.save();
  EXPECT_EQ(inode(), first) << "an unchanged hparams.yaml was rewritten";
  logger.log_hyperparams(StateDict{{"lr", 0.2}});
  logger.save();
  EXPECT_NE(inode(), first);
  EXPECT_EQ(read(file), "lr: 0.2\n");
  fs::remove(file);
  logger.save();
  EXPECT_EQ(read(file), "lr: 0.2\n");
}

TEST(CSVLogger, HparamsYamlAsPyYAMLDumpsIt) {
  StateDict nested{{"depth", int64_t{3}}, {"act", std::string("relu")}};
  c10::impl::GenericList lists(c10::AnyType::get());
  lists.push_back(c10::List<int64_t>({1, 2}));
  lists.push_back(std::string("x"));
  StateDict h{{"opt", nested.ivalue()},
              {"eps", 1e-05},
              {"none", IValue()},
              {"quoted", std::string("a: b")},
              {"number_like", std::string("123")},
              {"empty", std::string("")},
              {"false_word", std::string("no")},
              {"lists", lists},
              {"big", 3.0}};
  EXPECT_EQ(hparams_to_yaml(h),
            "big: 3.0\n"
            "empty: ''\n"
            "eps: 1.0e-05\n"
            "false_word: 'no'\n"
            "lists:\n"
            "- - 1\n"
            "  - 2\n"
            "- x\n"
            "none: null\n"
            "number_like: '123'\n"
            "opt:\n"
            "  act: relu\n"
            "  depth: 3\n"
            "quoted: 'a: b'\n");
  EXPECT_EQ(hparams_to_yaml(StateDict{}), "{}\n");
}

TEST(CSVLogger, ModelCheckpointSavesUnderLogDir) {
  auto dir = fresh_dir("csv_logger_ckpt");
  auto logger = std::make_shared<CSVLogger>(dir);
  auto o = golden_options(logger);
  o.max_epochs = 1;
  o.enable_checkpointing = true;
  Trainer trainer(o);
  LoggingModel model;
  trainer.fit(model);
  fs::path ckpt_dir = fs::path(dir) / "lightning_logs" / "version_0" / "checkpoints";
  auto* mc = dynamic_cast<ModelCheckpoint*>(trainer.checkpoint_callback());
  ASSERT_NE(mc, nullptr);
  EXPECT_EQ(mc->dirpath(), ckpt_dir.string());
  EXPECT_TRUE(fs::exists(ckpt_dir / "epoch=0-step=4.ckpt"));
}

}  // namespace volt_test_csv_logger_test
}  // namespace
