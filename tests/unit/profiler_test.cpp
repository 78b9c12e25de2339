// Profilers (TrainerOptions::profiler) and the slow-callback warning. The action names and call counts of a
// scripted run are compared with real Lightning 2.2.5's SimpleProfiler (tests/golden/profiler, made by
// tools/gen_profiler_golden.py); durations are never compared.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/boring.hpp"
#include "support/ivalue_json.hpp"
#include "support/messages.hpp"
#include "volt/cli.hpp"
#include "volt/registry.hpp"
#include "volt/volt.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_profiler_test {

namespace profiler_test {

using namespace volt;

// The generator's model: Lightning's BoringModel with SGD(lr=0.1) and no scheduler. Its class name is part of the
// action names ("[LightningModule]BoringModel.<hook>").
class BoringModel : public volt::testing::BoringModel {
 public:
  OptimizerConfig configure_optimizers() override {
    return OptimizerConfig(std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1)));
  }
};

class Counter : public Callback {
 public:
  void on_train_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t) override { ++batches; }
  StateDict state_dict() override { return {{"batches", batches}}; }
  int64_t batches = 0;
};

TrainerOptions scripted_options(const std::string& dir, bool checkpointing = false) {
  TrainerOptions o;
  o.default_root_dir = dir;
  o.max_epochs = 2;
  o.limit_train_batches = 3;
  o.limit_val_batches = 2;
  o.limit_test_batches = 2;
  o.limit_predict_batches = 2;
  o.enable_progress_bar = false;
  o.enable_model_summary = false;
  o.enable_checkpointing = checkpointing;
  o.callbacks = {std::make_shared<Counter>()};
  return o;
}

std::map<std::string, int64_t> golden_counts(const std::string& scenario) {
  std::map<std::string, int64_t> out;
  const auto golden = volt::test::golden_json("profiler/" + scenario + ".json");
  for (const auto& [k, v] : golden.items()) out[k] = v.get<int64_t>();
  return out;
}

std::string diff(const std::map<std::string, int64_t>& expected, const std::map<std::string, int64_t>& actual) {
  std::ostringstream out;
  for (const auto& [k, v] : expected) {
    auto it = actual.find(k);
    if (it == actual.end()) out << "missing: " << k << " (" << v << ")\n";
    else if (it->second != v) out << "count: " << k << " " << it->second << " != " << v << "\n";
  }
  for (const auto& [k, v] : actual)
    if (!expected.count(k)) out << "extra: " << k << " (" << v << ")\n";
  return out.str();
}

class ProfilerGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ProfilerGolden, ActionNamesAndCountsMatchLightning) {
  const std::string scenario = GetParam();
  auto profiler = std::make_shared<SimpleProfiler>();
  TrainerOptions o = scripted_options(volt::testing::fresh_dir("profiler_golden_" + scenario),
                                      scenario == "fit_checkpoint");
  o.profiler = profiler;
  volt::testing::CapturedMessages quiet;  // the report goes through rank_zero_info
  Trainer trainer(o);
  torch::manual_seed(0);
  BoringModel model;
  if (scenario == "fit" || scenario == "fit_checkpoint") trainer.fit(model);
  else if (scenario == "validate") trainer.validate(model, nullptr, "", false);
  else if (scenario == "test") trainer.test(model, nullptr, "", false);
  else trainer.predict(model);
  auto expected = golden_counts(scenario);
  EXPECT_EQ(profiler->counts(), expected) << diff(expected, profiler->counts());
  // describe() ran at the end: the report went to rank_zero_info
  ASSERT_FALSE(quiet.containing("Profiler Report").empty());
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ProfilerGolden,
                         ::testing::Values("fit", "fit_checkpoint", "validate", "test", "predict"));

TEST(Profiler, OffByDefaultAndChosenByName) {
  EXPECT_FALSE(Trainer().profiler().enabled());
  TrainerOptions o;
  o.profiler = "simple";
  EXPECT_NE(dynamic_cast<SimpleProfiler*>(&Trainer(o).profiler()), nullptr);
  o.profiler = "Advanced";
  EXPECT_NE(dynamic_cast<AdvancedProfiler*>(&Trainer(o).profiler()), nullptr);
  o.profiler = "pytorch";
  try {
    Trainer t(o);
    FAIL() << "expected MisconfigurationError";
  } catch (const MisconfigurationError& e) {
    EXPECT_NE(std::string(e.what()).find("it can only be one of ['simple', 'advanced']"), std::string::npos) << e.what();
  }
  TrainerOptions bare;
  bare.barebones = true;
  bare.profiler = "simple";
  try {
    Trainer t(bare);
    FAIL() << "expected MisconfigurationError";
  } catch (const MisconfigurationError& e) {
    EXPECT_EQ(std::string(e.what()), "`Trainer(barebones=True, profiler='simple')` was passed. Profiling can impact raw "
                                     "speed so it is disabled in barebones mode.");
  }
}

const bool kRegistered = [] {
  Registry::global().add_model("ProfilerBoringModel", [](InitArgs&) { return std::make_shared<BoringModel>(); },
                               "profiler_test");
  return true;
}();

TEST(Profiler, CliTakesTheName) {
  auto run = build_cli_run("fit", YAML::Load("trainer:\n  profiler: simple\nmodel: ProfilerBoringModel\n"));
  EXPECT_NE(dynamic_cast<SimpleProfiler*>(&run.trainer->profiler()), nullptr);
  EXPECT_EQ(run.effective_config["trainer"]["profiler"].as<std::string>(), "simple");
  auto off = build_cli_run("fit", YAML::Load("model: ProfilerBoringModel\n"));
  EXPECT_FALSE(off.trainer->profiler().enabled());
  EXPECT_TRUE(off.effective_config["trainer"]["profiler"].IsNull());
  try {
    build_cli_run("fit", YAML::Load("trainer:\n  profiler: fancy\nmodel: ProfilerBoringModel\n"));
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("['simple', 'advanced']"), std::string::npos) << e.what();
  }
}

TEST(Profiler, SimpleTableIsLightningsAndWritesStageFile) {
  std::string dir = volt::testing::fresh_dir("profiler_table");
  auto profiler = std::make_shared<SimpleProfiler>(dir, "perf");
  TrainerOptions o = scripted_options(dir);
  o.profiler = profiler;
  Trainer trainer(o);
  BoringModel model;
  trainer.fit(model);
  std::ifstream file(std::filesystem::path(dir) / "fit-perf.txt");
  ASSERT_TRUE(file.good());
  std::stringstream text;
  text << file.rdbuf();
  std::vector<std::string> lines;
  for (std::string line; std::getline(text, line);) lines.push_back(line);
  ASSERT_GT(lines.size(), 8u);
  EXPECT_EQ(lines[0], "FIT Profiler Report");
  EXPECT_EQ(lines[1], "");
  // |  Action<padded to the longest name>\t|  Mean duration (s)\t|  Num calls      \t|  ...
  EXPECT_EQ(lines[3].rfind("|  Action ", 0), 0u) << lines[3];
  EXPECT_NE(lines[3].find("\t|  Mean duration (s)\t|  Num calls      \t|  Total time (s) \t|  Percentage %   \t|"),
            std::string::npos)
      << lines[3];
  EXPECT_EQ(lines[2], std::string(lines[2].size(), '-'));
  EXPECT_EQ(lines[5].rfind("|  Total ", 0), 0u) << lines[5];
  EXPECT_NE(lines[5].find("\t|  -              \t|  "), std::string::npos) << lines[5];
  EXPECT_NE(lines[5].find("100 %"), std::string::npos);
  // every recorded action has its row, with its count
  for (const auto& [action, record] : profiler->records()) {
    bool found = false;
    for (const auto& line : lines)
      if (line.rfind("|  " + action + " ", 0) == 0 || line.rfind("|  " + action + "\t", 0) == 0)
        found = line.find("\t|  " + std::to_string(record.count) + " ") != std::string::npos;
    EXPECT_TRUE(found) << action;
  }
  // the rows are sorted by percentage, largest first
  std::vector<double> shares;
  for (size_t i = 7; i + 1 < lines.size(); ++i) {
    auto last = lines[i].rfind("\t|  ", lines[i].size() - 3);
    shares.push_back(std::stod(lines[i].substr(last + 4)));
  }
  EXPECT_TRUE(std::is_sorted(shares.rbegin(), shares.rend()));
}

TEST(Profiler, SimpleNotExtendedAndMisuse) {
  SimpleProfiler p("", "", /*extended=*/false);
  { auto scope = p.profile("a"); }
  p.start("b");
  EXPECT_THROW(p.start("b"), std::invalid_argument);
  p.stop("b");
  EXPECT_THROW(p.stop("b"), std::invalid_argument);
  std::string s = p.summary();
  EXPECT_EQ(s.rfind("Profiler Report\n\n", 0), 0u) << s;  // no stage before setup
  EXPECT_NE(s.find("|  Action\t|  Mean duration (s)\t|  Total time (s) \t|"), std::string::npos) << s;
  EXPECT_EQ(s.find("Num calls"), std::string::npos);
}

TEST(Profiler, AdvancedReportsADistributionPerAction) {
  auto profiler = std::make_shared<AdvancedProfiler>();
  TrainerOptions o = scripted_options(volt::testing::fresh_dir("profiler_advanced"));
  o.profiler = profiler;
  volt::testing::CapturedMessages messages;
  Trainer trainer(o);
  BoringModel model;
  trainer.fit(model);
  auto s = profiler->stats("run_training_batch");
  EXPECT_EQ(s.count, 6);
  EXPECT_LE(s.min, s.p50);
  EXPECT_LE(s.p50, s.p90);
  EXPECT_LE(s.p90, s.p99);
  EXPECT_LE(s.p99, s.max);
  EXPECT_NEAR(s.mean * 6, s.total, 1e-9 + s.total * 1e-5);
  EXPECT_EQ(profiler->stats("[Callback]Counter.on_train_batch_end").count, 6);
  auto reports = messages.containing("FIT Profiler Report");
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_NE(reports[0].find("Profile stats for: run_training_epoch\n  calls: 2  total (s): "), std::string::npos)
      << reports[0];
}

// ---- the slow-callback warning ---------------------------------------------------------------------------------------

class Slow : public Callback {
 public:
  void on_train_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
};

TrainerOptions slow_options(const std::string& dir) {
  TrainerOptions o;
  o.default_root_dir = dir;
  o.max_epochs = 3;
  o.limit_train_batches = 3;  // 9 batches: batches 1 and 5 are measured, judged after the second
  o.limit_val_batches = 0;
  o.enable_progress_bar = false;
  o.enable_model_summary = false;
  o.enable_checkpointing = false;
  o.callbacks = {std::make_shared<Counter>(), std::make_shared<Slow>()};
  return o;
}

TEST(ProfilerSlowCallback, WarnsOnceNamingTheCallbackAndHook) {
  volt::testing::CapturedMessages messages;
  Trainer trainer(slow_options(volt::testing::fresh_dir("profiler_slow")));
  BoringModel model;
  trainer.fit(model);
  auto warnings = messages.containing("The callback `");
  ASSERT_EQ(warnings.size(), 1u) << (warnings.empty() ? "" : warnings[0]);
  const std::string& w = warnings[0];
  EXPECT_EQ(w.rfind("The callback `Slow` spends ", 0), 0u) << w;
  EXPECT_NE(w.find(" ms per training batch in `on_train_batch_end`, "), std::string::npos) << w;
  EXPECT_NE(w.find("% of the training batch time ("), std::string::npos) << w;
  EXPECT_NE(w.find(" ms per batch; means over 2 measured batches), more than Trainer(slow_callback_warning=0.25)"),
            std::string::npos)
      << w;
  // a second fit of the same trainer does not repeat it
  trainer.fit(model);
  EXPECT_EQ(messages.containing("The callback `").size(), 1u);
}

TEST(ProfilerSlowCallback, ZeroTurnsItOff) {
  volt::testing::CapturedMessages messages;
  TrainerOptions o = slow_options(volt::testing::fresh_dir("profiler_slow_off"));
  o.slow_callback_warning = 0;
  Trainer trainer(o);
  BoringModel model;
  trainer.fit(model);
  EXPECT_TRUE(messages.containing("The callback `").empty());
  o.slow_callback_warning = -1;
  EXPECT_THROW(Trainer{o}, MisconfigurationError);
}

}  // namespace profiler_test

namespace profiler_test {

// docs/profiling.md's sample (examples/docs/profiling.cpp) runs: the table file, the slow-callback warning, the check.
TEST(ProfilerExample, DocsSampleRuns) {
  std::string dir = volt::testing::fresh_dir("profiler_example");
  std::string cmd = std::string(VOLT_EXAMPLES_DIR) + "/docs/profiling '" + dir + "' > '" + dir + "/out.txt' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream in(dir + "/out.txt");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("The callback `SlowLogger` spends "), std::string::npos) << text;
  EXPECT_NE(text.find("No differences"), std::string::npos) << text;
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(dir) / "fit-perf.txt"));
}

}  // namespace profiler_test

}  // namespace volt_test_profiler_test
}  // namespace
