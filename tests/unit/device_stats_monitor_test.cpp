// DeviceStatsMonitor: how often CPU statistics are queried (Lightning's test_device_stats_monitor_cpu), the metric
// keys loggers receive for train/validation/test batches, the no-logger error and psutil's values from /proc.
#include <gtest/gtest.h>

#include "support/boring.hpp"
#include "support/loggers.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_device_stats_monitor_test {

using namespace volt;
using namespace volt::testing;

namespace {

class Counting : public DeviceStatsMonitor {
 public:
  using DeviceStatsMonitor::DeviceStatsMonitor;
  std::string class_name() const override { return "DeviceStatsMonitor"; }
  int queries = 0;

 protected:
  std::map<std::string, double> cpu_stats_now() override {
    ++queries;
    return DeviceStatsMonitor::cpu_stats_now();
  }
};

TrainerOptions options(const std::string& name, CallbackPtr monitor, std::shared_ptr<Logger> logger) {
  TrainerOptions o = golden_options(fresh_dir(name), {std::move(monitor)});
  o.enable_checkpointing = false, o.max_epochs = 1, o.limit_train_batches = 2, o.limit_val_batches = 0;
  o.log_every_n_steps = 1;
  if (logger) o.loggers = {logger};
  return o;
}

}  // namespace

TEST(DeviceStatsMonitor, QueriesCpuStatsAroundEveryLoggedBatch) {
  for (std::optional<bool> cpu_stats : {std::optional<bool>(), std::optional<bool>(true), std::optional<bool>(false)}) {
    auto monitor = std::make_shared<Counting>(cpu_stats);
    auto logger = std::make_shared<RecordingLogger>();
    BoringModel model;
    Trainer(options("device_stats_cpu", monitor, logger)).fit(model);
    bool off = cpu_stats == false;
    EXPECT_EQ(monitor->queries, off ? 0 : 4);
    EXPECT_EQ(logger->calls.size(), off ? 0u : 4u);
    if (off) continue;
    // the fit loop's step counter, which moves after on_train_batch_end
    std::vector<int64_t> steps;
    for (const auto& c : logger->calls) steps.push_back(c.step);
    EXPECT_EQ(steps, (std::vector<int64_t>{0, 0, 1, 1}));
    std::vector<std::string> keys;
    for (const auto& kv : logger->calls[1].metrics) keys.push_back(kv.first);
    EXPECT_EQ(keys, (std::vector<std::string>{"DeviceStatsMonitor.on_train_batch_end/cpu_percent",
                                              "DeviceStatsMonitor.on_train_batch_end/cpu_swap_percent",
                                              "DeviceStatsMonitor.on_train_batch_end/cpu_vm_percent"}));
    EXPECT_EQ(logger->calls[0].metrics.begin()->first, "DeviceStatsMonitor.on_train_batch_start/cpu_percent");
  }
}

TEST(DeviceStatsMonitor, LogsValidationAndTestBatches) {
  auto monitor = std::make_shared<DeviceStatsMonitor>();
  auto logger = std::make_shared<RecordingLogger>();
  auto o = options("device_stats_eval", monitor, logger);
  o.limit_val_batches = 1, o.limit_test_batches = 1, o.num_sanity_val_steps = 0;
  BoringModel model;
  Trainer trainer(o);
  trainer.fit(model);
  trainer.test(model);
  std::set<std::string> hooks;
  for (const auto& call : logger->calls)
    for (const auto& kv : call.metrics) hooks.insert(kv.first.substr(0, kv.first.find('/')));
  EXPECT_EQ(hooks, (std::set<std::string>{
                       "DeviceStatsMonitor.on_test_batch_end", "DeviceStatsMonitor.on_test_batch_start",
                       "DeviceStatsMonitor.on_train_batch_end", "DeviceStatsMonitor.on_train_batch_start",
                       "DeviceStatsMonitor.on_validation_batch_end", "DeviceStatsMonitor.on_validation_batch_start"}));
}

TEST(DeviceStatsMonitor, FollowsLogEveryNSteps) {
  auto monitor = std::make_shared<Counting>();
  auto logger = std::make_shared<RecordingLogger>();
  auto o = options("device_stats_every", monitor, logger);
  o.limit_train_batches = 6, o.log_every_n_steps = 3;
  BoringModel model;
  Trainer(o).fit(model);
  // (batches_that_stepped + 1) % 3 == 0 for batches 2 and 5 (the counter moves after on_train_batch_end)
  EXPECT_EQ(monitor->queries, 4);
}

TEST(DeviceStatsMonitor, NeedsALoggerToFit) {
  BoringModel model;
  try {
    Trainer(options("device_stats_no_logger", std::make_shared<DeviceStatsMonitor>(), nullptr)).fit(model);
    FAIL();
  } catch (const MisconfigurationError& e) {
    EXPECT_STREQ(e.what(), "Cannot use `DeviceStatsMonitor` callback with `Trainer(logger=False)`.");
  }
  // only fit checks: testing without a logger runs (and logs nowhere)
  EXPECT_NO_THROW(Trainer(options("device_stats_no_logger_test", std::make_shared<DeviceStatsMonitor>(), nullptr))
                      .test(model));
}

TEST(DeviceStatsMonitor, CpuStatsArePercentages) {
  auto stats = DeviceStatsMonitor::get_cpu_stats();
  ASSERT_EQ(stats.size(), 3u);
  for (const char* key : {"cpu_vm_percent", "cpu_percent", "cpu_swap_percent"}) {
    ASSERT_TRUE(stats.count(key)) << key;
    EXPECT_GE(stats[key], 0.0);
    EXPECT_LE(stats[key], 100.0);
    EXPECT_DOUBLE_EQ(stats[key], std::round(stats[key] * 10) / 10) << "psutil rounds to one decimal";
  }
  EXPECT_GT(stats["cpu_vm_percent"], 0.0);
  EXPECT_TRUE(DeviceStatsMonitor::get_cuda_stats(torch::Device(torch::kCPU)).empty());
}

}  // namespace volt_test_device_stats_monitor_test
}  // namespace
