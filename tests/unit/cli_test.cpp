// The `volt` command (LightningCLI's analogue): configs end to end, overrides, --print_config, the registry, and
// every error case: a clear message naming the YAML path, exit status 2, and nothing written.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/boring.hpp"
#include "volt/cli.hpp"
#include "volt/registry.hpp"
#include "volt/serialization/pickle_reader.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_cli_test {

using namespace volt;
using namespace volt::testing;
namespace fs = std::filesystem;

namespace {

// Lightning's BoringModel, logging its losses so that callbacks can monitor them.
class LoggingBoringModel : public BoringModel {
 public:
  explicit LoggingBoringModel(double lr) : lr_(lr) {}
  StepOutput validation_step(const Batch& batch, int64_t, int64_t) override {
    log("val_loss", step(batch));
    return {};
  }
  StepOutput test_step(const Batch& batch, int64_t, int64_t) override {
    log("test_loss", step(batch));
    return {};
  }
  OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(lr_));
  }

 private:
  double lr_;
};

// The test program registers its model like a user's program does.
const bool kRegistered = [] {
  Registry::global().add_model("BoringModel", [](InitArgs& args) {
    return std::make_shared<LoggingBoringModel>(args.get("lr", 0.1));
  }, "tests");
  return true;
}();

std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
  std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct CliResult {
  int status;
  std::string out, err;
};

CliResult cli(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  int status = run_cli(args, out, err);
  return {status, out.str(), err.str()};
}

std::vector<std::string> files_under(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

/// A small fit: BoringModel, 2 epochs of 4 batches, a checkpoint callback and a CSV logger under `dir`.
std::string boring_config(const std::string& dir) {
  return "seed_everything: 7\n"
         "trainer:\n"
         "  max_epochs: 2\n"
         "  limit_train_batches: 4\n"
         "  limit_val_batches: 2\n"
         "  enable_progress_bar: false\n"
         "  enable_model_summary: false\n"
         "  default_root_dir: " + dir + "\n"
         "  callbacks:\n"
         "    - class_path: lightning.pytorch.callbacks.ModelCheckpoint\n"
         "      init_args: {dirpath: " + dir + "/ckpts, save_last: true, monitor: null}\n"
         "    - class_path: EarlyStopping\n"
         "      init_args: {monitor: val_loss, patience: 5}\n"
         "  logger:\n"
         "    class_path: CSVLogger\n"
         "    init_args: {save_dir: " + dir + ", name: logs}\n"
         "model:\n"
         "  class_path: BoringModel\n";
}

}  // namespace

TEST(Cli, FitRunsTheConfigEndToEnd) {
  std::string dir = fs::absolute(fresh_dir("cli_fit")).string();
  std::string config = write_file(dir, "input.yaml", boring_config(dir));
  auto r = cli({"fit", "--config", config, "--trainer.max_epochs=3"});
  ASSERT_EQ(r.status, 0) << r.err;
  // the override won: three epochs of four batches
  auto ckpt = as_state(read_checkpoint_file(dir + "/ckpts/last.ckpt"), "last.ckpt");
  EXPECT_EQ(ckpt.at("epoch").toInt(), 2);
  EXPECT_EQ(ckpt.at("global_step").toInt(), 12);
  // both callbacks from the config are in the checkpoint, under Lightning's state keys
  auto callbacks = as_state(ckpt.at("callbacks"), "callbacks");
  EXPECT_TRUE(callbacks.contains("EarlyStopping{'monitor': 'val_loss', 'mode': 'min'}"));
  EXPECT_TRUE(callbacks.contains("ModelCheckpoint{'monitor': None, 'mode': 'min', 'every_n_train_steps': 0, "
                                 "'every_n_epochs': 1, 'train_time_interval': None}"));
  // the logger wrote its metrics, and SaveConfigCallback the complete config, into the version directory
  EXPECT_TRUE(fs::exists(dir + "/logs/version_0/metrics.csv"));
  YAML::Node saved = YAML::LoadFile(dir + "/logs/version_0/config.yaml");
  EXPECT_EQ(saved["trainer"]["max_epochs"].as<int>(), 3);
  EXPECT_EQ(saved["seed_everything"].as<int>(), 7);
  EXPECT_EQ(saved["trainer"]["callbacks"][1]["init_args"]["patience"].as<int>(), 5);
  EXPECT_EQ(saved["model"]["class_path"].as<std::string>(), "BoringModel");
}

TEST(Cli, SeedEverythingMakesRunsRepeatable) {
  std::string dir = fs::absolute(fresh_dir("cli_seed")).string();
  std::string config = write_file(dir, "input.yaml", boring_config(dir));
  auto weights = [&](const std::string& sub) {
    auto r = cli({"fit", "--config", config, "--trainer.callbacks=[{class_path: ModelCheckpoint, init_args: "
                                             "{dirpath: " + dir + "/" + sub + ", save_last: true}}]"});
    EXPECT_EQ(r.status, 0) << r.err;
    auto ckpt = as_state(read_checkpoint_file(dir + "/" + sub + "/last.ckpt"), "last.ckpt");
    return as_state(ckpt.at("state_dict"), "state_dict").at("layer.weight").toTensor();
  };
  EXPECT_TRUE(torch::equal(weights("a"), weights("b")));
}

TEST(Cli, ValidateTestAndPredictSubcommandsRun) {
  std::string dir = fs::absolute(fresh_dir("cli_eval")).string();
  std::string config = write_file(dir, "input.yaml", boring_config(dir));
  ASSERT_EQ(cli({"fit", "--config", config}).status, 0);
  for (std::string sub : {"validate", "test", "predict"}) {
    auto r = cli({sub, "--config", config, "--ckpt_path", dir + "/ckpts/last.ckpt"});
    EXPECT_EQ(r.status, 0) << sub << ": " << r.err;
  }
  // "last" finds the checkpoint callback's last.ckpt, as Lightning's ckpt_path="last" does
  EXPECT_EQ(cli({"test", "--config", config, "--ckpt_path=last"}).status, 0);
  // each run saved its config in its own logger version directory
  EXPECT_TRUE(fs::exists(dir + "/logs/version_4/config.yaml"));
  // and a run whose log directory already holds a config stops before it overwrites anything
  auto r = cli({"test", "--config", config, "--ckpt_path=last", "--trainer.logger.init_args.version=4"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("SaveConfigCallback expected " + dir + "/logs/version_4/config.yaml to NOT exist"),
            std::string::npos) << r.err;
}

TEST(Cli, LaterConfigsAndOverridesWinInOrder) {
  std::string dir = fresh_dir("cli_merge");
  std::string a = write_file(dir, "a.yaml", "trainer: {max_epochs: 1, max_steps: 10}\nmodel: BoringModel\n");
  std::string b = write_file(dir, "b.yaml", "trainer: {max_epochs: 4}\n");
  auto args = parse_cli_args({"fit", "--trainer.max_steps=99", "--config", a, "--config=" + b, "--model.lr", "0.5",
                              "--trainer.limit_val_batches=0.25"});
  EXPECT_EQ(args.subcommand, "fit");
  EXPECT_EQ(args.config["trainer"]["max_epochs"].as<int>(), 4);   // b after a
  EXPECT_EQ(args.config["trainer"]["max_steps"].as<int>(), 10);   // a after the override
  // `model: BoringModel` with --model.lr becomes {class_path: BoringModel, init_args: {lr: 0.5}}
  EXPECT_EQ(args.config["model"]["class_path"].as<std::string>(), "BoringModel");
  EXPECT_EQ(args.config["model"]["init_args"]["lr"].as<double>(), 0.5);
  auto args2 = parse_cli_args({"fit", "-c", a, "--model=OtherModel"});
  EXPECT_EQ(args2.config["model"].as<std::string>(), "OtherModel");
  EXPECT_EQ(args2.config["trainer"]["max_steps"].as<int>(), 10);  // -c is --config
  EXPECT_EQ(args.config["trainer"]["limit_val_batches"].as<double>(), 0.25);
}

TEST(Cli, PrintConfigShowsEveryDefaultAndWritesNothing) {
  std::string dir = fs::absolute(fresh_dir("cli_print")).string();
  std::string config = write_file(dir, "config.yaml", boring_config(dir + "/run"));
  auto r = cli({"fit", "--config", config, "--print_config"});
  ASSERT_EQ(r.status, 0) << r.err;
  YAML::Node shown = YAML::Load(r.out);
  EXPECT_EQ(shown["trainer"]["max_epochs"].as<int>(), 2);
  EXPECT_EQ(shown["trainer"]["max_steps"].as<int>(), -1);            // defaults filled in
  EXPECT_EQ(shown["trainer"]["log_every_n_steps"].as<int>(), 50);
  EXPECT_EQ(shown["trainer"]["callbacks"][0]["class_path"].as<std::string>(), "ModelCheckpoint");
  EXPECT_EQ(shown["trainer"]["callbacks"][0]["init_args"]["save_top_k"].as<int>(), 1);
  EXPECT_EQ(shown["trainer"]["callbacks"][1]["init_args"]["min_delta"].as<double>(), 0.0);
  EXPECT_EQ(shown["trainer"]["logger"][0]["init_args"]["flush_logs_every_n_steps"].as<int>(), 100);
  EXPECT_EQ(shown["model"]["init_args"]["lr"].as<double>(), 0.1);
  EXPECT_TRUE(shown["ckpt_path"].IsNull());
  EXPECT_EQ(files_under(dir), std::vector<std::string>{"config.yaml"});
  // the printed config is itself a valid config
  std::string again = write_file(dir, "again.yaml", r.out);
  auto r2 = cli({"fit", "--config", again, "--print_config"});
  ASSERT_EQ(r2.status, 0) << r2.err;
  EXPECT_EQ(r2.out, r.out);
}

TEST(Cli, KsuitCallbacksComeFromKindEntriesWithQualifiedNames) {
  std::string dir = fresh_dir("cli_kind_ksuit");
  std::string config = write_file(dir, "c.yaml",
                                  "trainer:\n  callbacks:\n"
                                  "    - kind: noether.core.callbacks.BestCheckpointCallback\n"
                                  "      name: BestCheckpointCallback\n      every_n_epochs: 1\n"
                                  "      metric_key: loss/test/total\n"
                                  "    - kind: EmaCallback\n      target_factors: [0.9, 0.99]\n"
                                  "      every_n_updates: 10\n"
                                  "model: BoringModel\n");
  auto run = build_cli_run("fit", parse_cli_args({"fit", "--config", config}).config);
  const auto& shown = run.effective_config["trainer"]["callbacks"];
  EXPECT_EQ(shown[0]["class_path"].as<std::string>(), "BestCheckpointCallback");
  EXPECT_EQ(shown[0]["init_args"]["metric_key"].as<std::string>(), "loss/test/total");
  EXPECT_EQ(shown[1]["class_path"].as<std::string>(), "EmaCallback");
  EXPECT_EQ(shown[1]["init_args"]["target_factors"][1].as<double>(), 0.99);
  EXPECT_EQ(run.trainer->options().callbacks.size(), 3u);  // the two, and SaveConfigCallback
  // ksuit's extra="forbid": a misspelled field is an error naming it
  std::string bad = write_file(dir, "bad.yaml", "trainer:\n  callbacks:\n    - kind: EmaCallback\n"
                                                "      target_factor: [0.9]\nmodel: BoringModel\n");
  try {
    build_cli_run("fit", parse_cli_args({"fit", "--config", bad}).config);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("trainer.callbacks[0].target_factor: unknown argument 'target_factor' for "
                                         "EmaCallback"), std::string::npos) << e.what();
  }
}

TEST(Cli, KsuitKindEntriesBuildCallbacksToo) {
  std::string dir = fresh_dir("cli_kind");
  std::string config = write_file(dir, "c.yaml",
                                  "trainer:\n  callbacks:\n    - kind: EarlyStopping\n      monitor: train_loss\n"
                                  "      patience: 2\nmodel: BoringModel\n");
  auto args = parse_cli_args({"fit", "--config", config});
  auto run = build_cli_run("fit", args.config);
  EXPECT_EQ(run.effective_config["trainer"]["callbacks"][0]["init_args"]["patience"].as<int>(), 2);
  EXPECT_EQ(run.trainer->options().callbacks.front()->state_key(),
            "EarlyStopping{'monitor': 'train_loss', 'mode': 'min'}");
}

// ---- errors: path, problem, choices; status 2; nothing written ---------------------------------------------------

namespace {
struct ErrorCase {
  const char* name;
  std::string yaml;                      // the config file's text
  std::vector<std::string> extra;        // more arguments
  std::vector<std::string> expected;     // substrings of the message
};

std::string minimal(const std::string& trainer_extra = "", const std::string& rest = "model: BoringModel\n") {
  return "trainer:\n  default_root_dir: out\n  logger: {class_path: CSVLogger, init_args: {save_dir: out}}\n" +
         trainer_extra + rest;
}
}  // namespace

TEST(CliErrors, EveryBadInputNamesItsPathAndWritesNothing) {
  const std::vector<ErrorCase> cases = {
      {"unregistered callback",
       minimal("  callbacks:\n    - class_path: EarlyStoping\n      init_args: {monitor: x}\n"),
       {},
       {"trainer.callbacks[0].class_path: 'EarlyStoping' is not a registered callback", "registered callbacks: ",
        "EarlyStopping, EmaCallback"}},
      {"unknown callback argument",
       minimal("  callbacks:\n    - class_path: EarlyStopping\n      init_args: {monitor: x, patiense: 3}\n"),
       {},
       {"trainer.callbacks[0].init_args.patiense: unknown argument 'patiense' for EarlyStopping",
        "valid arguments: monitor, min_delta, patience, verbose, mode"}},
      {"wrong type", minimal("  max_epochs: three\n"), {}, {"trainer.max_epochs: expected an integer, got 'three'"}},
      {"wrong type in a callback",
       minimal("  callbacks:\n    - class_path: ModelCheckpoint\n      init_args: {save_top_k: [1]}\n"),
       {},
       {"trainer.callbacks[0].init_args.save_top_k: expected an integer, got a list"}},
      {"unknown trainer option", minimal("  max_epoch: 3\n"), {},
       {"trainer.max_epoch: unknown argument 'max_epoch' for the Trainer", "valid arguments: max_epochs, min_epochs"}},
      {"unregistered model", minimal("", "model: {class_path: Nope}\n"), {},
       {"model.class_path: 'Nope' is not a registered model", "BoringModel", "ImageClassifier"}},
      {"missing model", minimal("", ""), {}, {"model: is required", "registered models: BoringModel"}},
      {"unregistered data module", minimal("", "model: BoringModel\ndata: {class_path: MNIST}\n"), {},
       {"data.class_path: 'MNIST' is not a registered datamodule", "FashionMNISTDataModule"}},
      {"unregistered logger",
       "trainer:\n  logger: [{class_path: WandbLogger}]\nmodel: BoringModel\n", {},
       {"trainer.logger[0].class_path: 'WandbLogger' is not a registered logger", "CSVLogger, TensorBoardLogger"}},
      {"missing required argument", minimal("  callbacks: [{class_path: EarlyStopping}]\n"), {},
       {"trainer.callbacks[0].init_args.monitor: is required but missing"}},
      {"unknown top-level key", minimal() + "optimizer: sgd\n", {},
       {"optimizer: unknown top-level key 'optimizer'", "valid keys: seed_everything, trainer, model, data"}},
      {"entry without class_path", minimal("  callbacks: [{init_args: {monitor: x}}]\n"), {},
       {"trainer.callbacks[0]: the callback entry has no `class_path`"}},
      {"bad override value", minimal(), {"--trainer.limit_train_batches=lots"},
       {"trainer.limit_train_batches: expected an integer (a number of batches) or a float"}},
      {"override through a list", minimal("  callbacks: []\n"), {"--trainer.callbacks.x=1"},
       {"--trainer.callbacks.x: 'callbacks' is a list, not a mapping"}},
      {"missing checkpoint", minimal(), {"--ckpt_path=nowhere.ckpt"},
       {"ckpt_path: 'nowhere.ckpt' is not a file"}},
      {"invalid YAML", "trainer: [unclosed\n", {}, {"not valid YAML"}},
      {"a list at the top", "- trainer\n", {}, {"expected a mapping at the top"}},
  };
  for (const auto& c : cases) {
    std::string dir = fs::absolute(fresh_dir(std::string("cli_err_") + std::to_string(&c - cases.data()))).string();
    std::string config = write_file(dir, "config.yaml", c.yaml);
    std::vector<std::string> args = {"fit", "--config", config};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    fs::path cwd = fs::current_path();
    fs::current_path(dir);  // "out" in the configs would be created here if anything were written
    auto r = cli(args);
    fs::current_path(cwd);
    EXPECT_EQ(r.status, 2) << c.name;
    for (const auto& expected : c.expected)
      EXPECT_NE(r.err.find(expected), std::string::npos) << c.name << ": '" << expected << "' not in: " << r.err;
    EXPECT_EQ(files_under(dir), std::vector<std::string>{"config.yaml"}) << c.name;
  }
}

TEST(CliErrors, UsageErrors) {
  auto r = cli({});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("expected a subcommand: one of fit, validate, test, predict"), std::string::npos) << r.err;
  r = cli({"train"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown subcommand 'train'; choose one of fit, validate, test, predict"), std::string::npos);
  r = cli({"fit", "--config", "/nonexistent/cfg.yaml"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--config /nonexistent/cfg.yaml: no such file"), std::string::npos) << r.err;
  r = cli({"fit", "stray"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unexpected argument 'stray'"), std::string::npos) << r.err;
  r = cli({"fit", "--trainer.max_epochs"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--trainer.max_epochs needs a value"), std::string::npos) << r.err;
  r = cli({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("registered models:      BoringModel, ImageClassifier"), std::string::npos) << r.out;
}

TEST(CliErrors, AFailingRunExitsWithStatusOne) {
  std::string dir = fs::absolute(fresh_dir("cli_fail")).string();
  // a monitored metric that is never logged: EarlyStopping's strict check raises during the run
  std::string config = write_file(dir, "c.yaml", boring_config(dir) + "");
  auto r = cli({"fit", "--config", config, "--trainer.callbacks=[{class_path: EarlyStopping, init_args: "
                                           "{monitor: nope}}]"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("volt fit: error: Early stopping conditioned on metric `nope` which is not available"),
            std::string::npos) << r.err;
}

// ---- the installed-style program, as a separate process ---------------------------------------------------------

TEST(CliProgram, TheVoltCommandExitsNonZeroOnBadConfigsAndRunsGoodOnes) {
  std::string dir = fs::absolute(fresh_dir("cli_program")).string();
  std::string volt = std::string(VOLT_BIN_DIR) + "/volt";
  write_file(dir, "bad.yaml", "trainer: {max_epochs: 1}\nmodel: {class_path: ImageClassifier, init_args: "
                              "{channels: 16}}\n");
  std::string cmd = "cd '" + dir + "' && '" + volt + "' fit --config bad.yaml > out.txt 2> err.txt";
  int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_NE(read_file(dir + "/err.txt").find("model.init_args.channels: expected a list, got '16'"),
            std::string::npos) << read_file(dir + "/err.txt");

  const std::string data = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(data + "/train-images-idx3-ubyte.gz")) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  // a plugin's named callback is usable in a config (VOLT_PLUGIN_PATH is read before the config)
  write_file(dir, "good.yaml",
             "seed_everything: 1\n"
             "trainer:\n  max_epochs: 1\n  limit_train_batches: 3\n  limit_val_batches: 1\n  limit_test_batches: 1\n"
             "  enable_progress_bar: false\n  default_root_dir: run\n"
             "  callbacks: [{class_path: FitReport, init_args: {label: from-config}}]\n"
             "  logger: {class_path: CSVLogger, init_args: {save_dir: run}}\n"
             "model: {class_path: ImageClassifier, init_args: {channels: [4], hidden: 8}}\n"
             "data: {class_path: FashionMNISTDataModule, init_args: {data_dir: " + data + ", batch_size: 32}}\n");
  cmd = "cd '" + dir + "' && VOLT_PLUGIN_PATH='" + std::string(VOLT_PLUGINS_DIR) + "' '" + volt +
        "' fit --config good.yaml > out.txt 2> err.txt";
  status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << read_file(dir + "/err.txt");
  std::string out = read_file(dir + "/out.txt");
  EXPECT_NE(out.find("[monitor plugin from-config] fit ended at epoch 1, step 3"), std::string::npos) << out;
  EXPECT_TRUE(fs::exists(dir + "/run/lightning_logs/version_0/checkpoints/epoch=0-step=3.ckpt"));
  EXPECT_TRUE(fs::exists(dir + "/run/lightning_logs/version_0/config.yaml"));

  // --trainer.devices=2 --trainer.strategy=ddp: the command launches two ranks itself; rank 0 alone writes
  cmd = "cd '" + dir + "' && '" + volt + "' fit --config good.yaml --trainer.devices=2 --trainer.strategy=ddp "
        "--trainer.default_root_dir=ddp --trainer.logger.init_args.save_dir=ddp --trainer.callbacks=[] "
        "> ddp_out.txt 2> ddp_err.txt";
  status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << read_file(dir + "/ddp_err.txt");
  // each rank trains 3 batches of its half of the data; one checkpoint file for both
  EXPECT_TRUE(fs::exists(dir + "/ddp/lightning_logs/version_0/checkpoints/epoch=0-step=3.ckpt"))
      << read_file(dir + "/ddp_out.txt") << read_file(dir + "/ddp_err.txt");
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir + "/ddp/lightning_logs/version_0/checkpoints")) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST(Registry, NamesResolveWithOrWithoutAPackagePrefix) {
  auto& r = Registry::global();
  EXPECT_EQ(r.resolve("callback", "EarlyStopping"), "EarlyStopping");
  EXPECT_EQ(r.resolve("callback", "lightning.pytorch.callbacks.EarlyStopping"), "EarlyStopping");
  EXPECT_EQ(r.resolve("callback", "pytorch_lightning.callbacks.early_stopping.EarlyStopping"), "EarlyStopping");
  EXPECT_EQ(r.resolve("callback", "Nope"), "");
  EXPECT_EQ(r.resolve("logger", "lightning.pytorch.loggers.CSVLogger"), "CSVLogger");
  for (const char* name : {"ModelCheckpoint", "EarlyStopping", "LearningRateMonitor", "Timer",
                           "GradientAccumulationScheduler", "ModelSummary", "RichModelSummary", "TQDMProgressBar",
                           "RichProgressBar", "DeviceStatsMonitor", "OnExceptionCheckpoint", "BackboneFinetuning",
                           "StochasticWeightAveraging", "LearningRateFinder", "BatchSizeFinder", "EmaCallback",
                           "BestCheckpointCallback", "MetricEarlyStopper", "FixedEarlyStopper"})
    EXPECT_EQ(r.resolve("callback", name), name);
}

TEST(Registry, ANameTakenByAnotherSourceIsAnError) {
  Registry r;
  r.add_callback("Mine", [](InitArgs&) { return std::make_shared<Callback>(); }, "plugin 'a.so'");
  r.add_callback("Mine", [](InitArgs&) { return std::make_shared<Callback>(); }, "plugin 'a.so'");  // same source
  try {
    r.add_callback("Mine", [](InitArgs&) { return std::make_shared<Callback>(); }, "plugin 'b.so'");
    FAIL() << "expected MisconfigurationError";
  } catch (const MisconfigurationError& e) {
    EXPECT_STREQ(e.what(), "the callback name 'Mine' from plugin 'b.so' is already registered by plugin 'a.so'; "
                           "register it under another name");
  }
  r.remove_source("plugin 'a.so'");
  EXPECT_TRUE(r.callback_names().empty());
}

TEST(Registry, InitArgsConvertAndReportTypes) {
  YAML::Node node = YAML::Load("{a: 3, b: 2.5, c: [1, 2], d: null, e: yes, f: '7'}");
  InitArgs args(node, "x.init_args");
  EXPECT_EQ(args.get<int64_t>("a", 0), 3);
  EXPECT_EQ(args.get<double>("b", 0), 2.5);
  EXPECT_EQ(args.get<std::vector<int64_t>>("c", {}), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(args.get<std::optional<int64_t>>("d", 5), std::nullopt);
  EXPECT_EQ(args.get<bool>("e", false), true);
  EXPECT_EQ(args.get<std::string>("f", ""), "7");
  EXPECT_EQ(args.get<int64_t>("g", 9), 9);
  args.check_all_used("X");
  EXPECT_THROW(args.get<int64_t>("b", 0), ConfigError);
  try {
    args.get<std::vector<int64_t>>("a", {});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "x.init_args.a: expected a list, got '3'");
  }
}

}  // namespace volt_test_cli_test
}  // namespace
