// LearningRateMonitor against real Lightning 2.2.5: names, lr histories, every logged (step, metrics) call, the
// momentum/weight-decay values, warnings and errors for the set-ups of tools/gen_callbacks_golden.py
// (tests/golden/callbacks/lr_monitor.json), plus the constructor and no-logger errors.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "support/boring.hpp"
#include "support/loggers.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_lr_monitor_test {

using namespace volt;
using namespace volt::testing;
using json = nlohmann::json;

namespace {

json golden(const std::string& file) {
  std::ifstream in(std::string(VOLT_SOURCE_DIR) + "/tests/golden/callbacks/" + file);
  if (!in) throw std::runtime_error("missing tests/golden/callbacks/" + file);
  return json::parse(in);
}

torch::optim::OptimizerParamGroup group(torch::Tensor p, std::unique_ptr<torch::optim::OptimizerOptions> o = nullptr) {
  if (o) return torch::optim::OptimizerParamGroup({std::move(p)}, std::move(o));
  return torch::optim::OptimizerParamGroup({std::move(p)});
}

// The set-ups of LRModel in tools/gen_callbacks_golden.py.
class LRModel : public BoringModel {
 public:
  explicit LRModel(std::string setup) : setup_(std::move(setup)) {
    if (setup_ == "two_adams_manual" || setup_ == "mixed_manual") automatic_optimization = false;
  }

  StepOutput training_step(const Batch& batch, int64_t batch_idx) override {
    if (automatic_optimization) return BoringModel::training_step(batch, batch_idx);
    for (const auto& opt : optimizers()) {
      opt->zero_grad();
      manual_backward(step(batch));
      manual_optimizer_step(*opt);
    }
    return IValue();
  }

  OptimizerConfig configure_optimizers() override {
    using namespace torch::optim;
    auto w = layer->weight, b = layer->bias;
    auto sched = [](Optimizer& o, double gamma = 0.1, std::string interval = "epoch", std::string name = "") {
      LRSchedulerConfig c;
      c.scheduler = std::make_shared<volt::StepLR>(o, 1, gamma);
      c.interval = std::move(interval);
      c.name = std::move(name);
      return c;
    };
    if (setup_ == "sgd_steplr" || setup_ == "sgd_steplr_step_interval") {
      auto opt = std::make_shared<SGD>(parameters(), SGDOptions(0.1));
      return OptimizerConfig(opt, sched(*opt, 0.5, setup_ == "sgd_steplr" ? "epoch" : "step"));
    }
    if (setup_ == "no_scheduler") return OptimizerConfig(std::make_shared<SGD>(parameters(), SGDOptions(0.1)));
    if (setup_ == "adam_two_groups") {
      std::vector<OptimizerParamGroup> groups;
      groups.push_back(group(w));
      auto o2 = std::make_unique<AdamOptions>(0.02);
      o2->weight_decay(0.5);
      groups.push_back(group(b, std::move(o2)));
      auto opt = std::make_shared<Adam>(groups, AdamOptions(0.01));
      return OptimizerConfig(opt, sched(*opt, 0.5));
    }
    if (setup_ == "sgd_named_group") {
      auto opt = std::make_shared<SGD>(parameters(), SGDOptions(0.1).momentum(0.9).weight_decay(0.01));
      param_group_extras(opt->param_groups()[0]).set("name", "linear");
      return OptimizerConfig(opt, sched(*opt));
    }
    if (setup_ == "scheduler_named") {
      auto opt = std::make_shared<SGD>(parameters(), SGDOptions(0.1));
      return OptimizerConfig(opt, sched(*opt, 0.1, "epoch", "my_logging_name"));
    }
    OptimizerConfig config;
    if (setup_ == "two_adams_manual") {
      auto o1 = std::make_shared<Adam>(std::vector<torch::Tensor>{w}, AdamOptions(0.01));
      auto o2 = std::make_shared<Adam>(std::vector<torch::Tensor>{b}, AdamOptions(0.02));
      config.optimizers = {o1, o2};
      config.lr_schedulers = {sched(*o1), sched(*o2)};
    } else if (setup_ == "mixed_manual") {
      auto o1 = std::make_shared<SGD>(std::vector<torch::Tensor>{w}, SGDOptions(0.1).momentum(0.5));
      auto o2 = std::make_shared<Adam>(std::vector<torch::Tensor>{b}, AdamOptions(0.01).betas({0.8, 0.99}));
      auto o3 = std::make_shared<AdamW>(std::vector<torch::Tensor>{w}, AdamWOptions(0.03));
      auto o4 = std::make_shared<Adam>(std::vector<torch::Tensor>{b}, AdamOptions(0.04));
      config.optimizers = {o1, o2, o3, o4};
      config.lr_schedulers = {sched(*o1), sched(*o2, 0.1, "epoch", "named")};
    } else if (setup_ == "adagrad") {
      config.optimizers = {std::make_shared<Adagrad>(parameters(), AdagradOptions(0.1))};
    } else if (setup_ == "duplicate_group_names") {
      std::vector<OptimizerParamGroup> groups{group(w), group(b)};
      auto opt = std::make_shared<SGD>(groups, SGDOptions(0.1));
      for (auto& g : opt->param_groups()) param_group_extras(g).set("name", "a");
      config.optimizers = {opt};
    } else {
      throw std::runtime_error("unknown set-up " + setup_);
    }
    return config;
  }

 private:
  std::string setup_;
};

class LRMonitorGolden : public ::testing::TestWithParam<std::string> {};

std::vector<std::string> scenario_names() {
  std::vector<std::string> names;
  const json all = golden("lr_monitor.json");
  for (const auto& item : all.items()) names.push_back(item.key());
  return names;
}

}  // namespace

TEST_P(LRMonitorGolden, MatchesLightning) {
  const json g = golden("lr_monitor.json").at(GetParam());
  torch::manual_seed(0);
  auto logger = std::make_shared<RecordingLogger>();
  LearningRateMonitorOptions mo;
  if (g["monitor"].contains("logging_interval")) mo.logging_interval = g["monitor"]["logging_interval"].get<std::string>();
  mo.log_momentum = g["monitor"].value("log_momentum", false);
  mo.log_weight_decay = g["monitor"].value("log_weight_decay", false);
  auto monitor = std::make_shared<LearningRateMonitor>(mo);
  TrainerOptions o = golden_options(fresh_dir("lr_monitor_" + GetParam()), {monitor});
  o.enable_checkpointing = false;
  o.max_epochs = g["trainer"]["max_epochs"].get<int64_t>();
  o.limit_train_batches = g["trainer"]["limit_train_batches"].get<int64_t>();
  o.limit_val_batches = 0;
  o.log_every_n_steps = g["trainer"]["log_every_n_steps"].get<int64_t>();
  o.loggers = {logger};
  LRModel model(g["setup"].get<std::string>());
  CapturedMessages messages;
  Trainer trainer(o);
  if (!g["error"].is_null()) {
    try {
      trainer.fit(model);
      FAIL() << "expected an error";
    } catch (const MisconfigurationError& e) {
      EXPECT_EQ(std::string(e.what()), g["error"].get<std::string>());
    }
    return;
  }
  trainer.fit(model);

  // names and histories, in Python's dict order
  ASSERT_EQ(monitor->lrs().size(), g["lrs"].size());
  for (size_t i = 0; i < g["lrs"].size(); ++i) {
    EXPECT_EQ(monitor->lrs()[i].first, g["lrs"][i][0].get<std::string>());
    auto expected = g["lrs"][i][1].get<std::vector<double>>();
    ASSERT_EQ(monitor->lrs()[i].second.size(), expected.size()) << monitor->lrs()[i].first;
    for (size_t j = 0; j < expected.size(); ++j) EXPECT_DOUBLE_EQ(monitor->lrs()[i].second[j], expected[j]);
  }
  auto check_last = [](const auto& actual, const json& expected) {
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(actual[i].first, expected[i][0].get<std::string>());
      if (expected[i][1].is_null()) EXPECT_FALSE(actual[i].second.has_value()) << actual[i].first;
      else EXPECT_DOUBLE_EQ(actual[i].second.value_or(-1), expected[i][1].get<double>()) << actual[i].first;
    }
  };
  check_last(monitor->last_momentum_values(), g["last_momentum_values"]);
  check_last(monitor->last_weight_decay_values(), g["last_weight_decay_values"]);

  // every logger call: step and metrics
  ASSERT_EQ(logger->calls.size(), g["logged"].size());
  for (size_t i = 0; i < logger->calls.size(); ++i) {
    const auto& call = logger->calls[i];
    EXPECT_EQ(call.step, g["logged"][i][0].get<int64_t>()) << "call " << i;
    auto expected = g["logged"][i][1].get<std::map<std::string, double>>();
    ASSERT_EQ(call.metrics.size(), expected.size()) << "call " << i;
    for (const auto& [k, v] : expected) {
      ASSERT_TRUE(call.metrics.count(k)) << k;
      EXPECT_DOUBLE_EQ(call.metrics.at(k), v) << k;
    }
  }

  // the values other callbacks can monitor (float32 tensors, as Python's torch.tensor(float))
  auto metrics = trainer.callback_metrics();
  for (const auto& [k, v] : g["callback_metrics"].items()) {
    ASSERT_TRUE(metrics.count(k)) << k;
    EXPECT_FLOAT_EQ(metrics.at(k).item<float>(), v.get<float>()) << k;
  }
  std::vector<std::string> momentum_warnings;
  for (const auto& w : messages.warnings)
    if (w.find("momentum") != std::string::npos) momentum_warnings.push_back(w);
  EXPECT_EQ(momentum_warnings, g["warnings"].get<std::vector<std::string>>());
}

INSTANTIATE_TEST_SUITE_P(Lightning, LRMonitorGolden, ::testing::ValuesIn(scenario_names()),
                         [](const auto& info) { return info.param; });

TEST(LearningRateMonitor, RejectsUnknownLoggingInterval) {
  LearningRateMonitorOptions o;
  o.logging_interval = "batch";
  try {
    LearningRateMonitor monitor(o);
    FAIL();
  } catch (const MisconfigurationError& e) {
    EXPECT_STREQ(e.what(), "logging_interval should be `step` or `epoch` or `None`.");
  }
  for (const char* ok : {"step", "epoch"}) {
    o.logging_interval = ok;
    EXPECT_NO_THROW(LearningRateMonitor{o});
  }
}

TEST(LearningRateMonitor, NeedsALogger) {
  TrainerOptions o = golden_options(fresh_dir("lr_monitor_no_logger"), {std::make_shared<LearningRateMonitor>()});
  o.max_epochs = 1, o.limit_train_batches = 1, o.limit_val_batches = 0, o.enable_checkpointing = false;
  BoringModel model;
  try {
    Trainer(o).fit(model);
    FAIL();
  } catch (const MisconfigurationError& e) {
    EXPECT_STREQ(e.what(), "Cannot use `LearningRateMonitor` callback with `Trainer` that has no logger.");
  }
}

TEST(LearningRateMonitor, LogsNothingWhenLogEveryNStepsIsZero) {
  auto logger = std::make_shared<RecordingLogger>();
  LearningRateMonitorOptions mo;
  mo.logging_interval = "step";
  TrainerOptions o = golden_options(fresh_dir("lr_monitor_zero"), {std::make_shared<LearningRateMonitor>(mo)});
  o.max_epochs = 1, o.limit_train_batches = 3, o.limit_val_batches = 0, o.enable_checkpointing = false;
  o.log_every_n_steps = 0;
  o.loggers = {logger};
  BoringModel model;
  Trainer(o).fit(model);
  EXPECT_TRUE(logger->calls.empty());
}

}  // namespace volt_test_lr_monitor_test
}  // namespace
