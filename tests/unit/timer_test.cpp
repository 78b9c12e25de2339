// Timer (Lightning 2.2.5's callbacks/timer.py) and Trainer(max_time=...): durations, per-stage times, the stop
// decision, its state and the restore of a depleted timer.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/scripted.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_timer_test {

using namespace volt;
using namespace volt::testing;
namespace fs = std::filesystem;

namespace {

class TimerTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(0); }
  std::string root = fs::weakly_canonical(fresh_dir(
      std::string("timer_") + ::testing::UnitTest::GetInstance()->current_test_info()->name())).string();

  TrainerOptions options(std::vector<CallbackPtr> callbacks) {
    TrainerOptions o = golden_options(root, std::move(callbacks));
    o.limit_train_batches = 3;
    o.limit_val_batches = 1;
    o.enable_checkpointing = false;
    return o;
  }
};

std::shared_ptr<Timer> timer(std::optional<TimerDuration> duration, std::string interval = "step",
                             bool verbose = true) {
  TimerOptions o;
  o.duration = std::move(duration);
  o.interval = std::move(interval);
  o.verbose = verbose;
  return std::make_shared<Timer>(o);
}

}  // namespace

TEST(TimerSetup, DurationsInEveryForm) {
  EXPECT_EQ(timer("00:00:00:22")->duration(), std::optional<double>(22));
  EXPECT_EQ(timer("01:02:03:04")->duration(), std::optional<double>(93784));
  EXPECT_EQ(timer("12:34:56:65")->duration(), std::optional<double>(12 * 86400 + 34 * 3600 + 56 * 60 + 65));
  EXPECT_EQ(timer(90.5)->duration(), std::optional<double>(90.5));
  EXPECT_EQ(timer(3)->duration(), std::optional<double>(3));
  EXPECT_EQ(timer(std::chrono::minutes(2))->duration(), std::optional<double>(120));
  TimeDelta::Parts parts;
  parts.weeks = 52, parts.days = 1;
  EXPECT_EQ(timer(parts)->duration(), std::optional<double>(365 * 86400));
  EXPECT_FALSE(timer(std::nullopt)->duration().has_value());
  for (const char* bad : {"6:00:00", "60 minutes", ""}) {
    try {
      timer(bad);
      ADD_FAILURE() << bad;
    } catch (const MisconfigurationError& e) {
      EXPECT_EQ(std::string(e.what()), "`Timer(duration='" + std::string(bad) +
                                           "')` is not a valid duration. Expected a string in the format DD:HH:MM:SS.");
    }
  }
  try {
    timer(std::nullopt, "invalid");
    ADD_FAILURE() << "no error";
  } catch (const MisconfigurationError& e) {
    EXPECT_EQ(std::string(e.what()),
              "Unsupported parameter value `Timer(interval=invalid)`. Possible choices are: step, epoch");
  }
}

TEST(TimerSetup, BeforeStartingNothingHasElapsed) {
  auto t = timer(10.0);
  EXPECT_EQ(t->time_elapsed(), 0.0);
  EXPECT_EQ(t->time_remaining(), std::optional<double>(10.0));
  EXPECT_FALSE(t->start_time("validate").has_value());
  EXPECT_FALSE(timer(std::nullopt)->time_remaining().has_value());
  try {
    t->time_elapsed("training");
    ADD_FAILURE() << "no error";
  } catch (const MisconfigurationError& e) {
    EXPECT_EQ(std::string(e.what()), "'training' is not a valid RunningStage");
  }
  StateDict state = t->state_dict();
  StateDict times = as_state(state.at("time_elapsed"), "time_elapsed");
  std::vector<std::string> stages;
  for (const auto& kv : times) {
    stages.push_back(kv.key().toStringRef());
    EXPECT_TRUE(kv.value().isInt()) << "a stage that never ran is the int 0";
  }
  EXPECT_EQ(stages, (std::vector<std::string>{"train", "sanity_check", "validate", "test", "predict"}));
  EXPECT_EQ(t->state_key(), "Timer");
}

TEST(TimerSetup, MaxTimeAddsATimerUnlessOneIsThere) {
  TrainerOptions o;
  o.max_time = "00:00:01:00";
  Trainer trainer(o);
  std::vector<std::string> names;
  Timer* added = nullptr;
  for (const auto& cb : trainer.callbacks()) {
    names.push_back(cb->class_name());
    if (auto* t = dynamic_cast<Timer*>(cb.get())) added = t;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"Timer", "TQDMProgressBar", "ModelSummary", "ModelCheckpoint"}));
  ASSERT_NE(added, nullptr);
  EXPECT_EQ(added->duration(), std::optional<double>(60));
  EXPECT_EQ(added->interval(), "step");

  CapturedMessages messages;
  o.callbacks = {timer(5.0, "epoch")};
  Trainer with_timer(o);
  int timers = 0;
  for (const auto& cb : with_timer.callbacks()) timers += dynamic_cast<Timer*>(cb.get()) != nullptr;
  EXPECT_EQ(timers, 1);
  EXPECT_EQ(messages.all, std::vector<std::string>{
                              "Ignoring `Trainer(max_time=...)`, callbacks list already contains a Timer."});
}

TEST_F(TimerTest, ZeroDurationStopsBeforeTheFirstBatch) {
  for (const char* interval : {"step", "epoch"}) {
    CapturedMessages messages;
    auto o = options({timer("00:00:00:00", interval)});
    o.max_epochs = 3;
    ScriptedModel model;
    Trainer trainer(o);
    trainer.fit(model);
    EXPECT_EQ(trainer.global_step(), 0) << interval;
    EXPECT_EQ(trainer.current_epoch(), 0) << interval;
    EXPECT_EQ(messages.containing("Time limit reached"),
              std::vector<std::string>{"Time limit reached. Elapsed time is 0:00:00. Signaling Trainer to stop."});
  }
}

TEST_F(TimerTest, MaxTimeLeavesMaxEpochsUnlimited) {
  CapturedMessages messages;
  auto o = options({});
  o.max_time = TimeDelta::from_seconds(86400);
  o.max_steps = 4;
  ScriptedModel model;
  Trainer trainer(o);
  trainer.fit(model);
  EXPECT_EQ(trainer.max_epochs(), -1);
  EXPECT_EQ(trainer.global_step(), 4);
  EXPECT_TRUE(messages.containing("`max_epochs` was not set").empty());
}

TEST_F(TimerTest, StepOrEpochInterval) {
  // a limit of one microsecond is over by the end of the first batch (or the first epoch)
  for (const char* interval : {"step", "epoch"}) {
    auto o = options({timer(std::chrono::microseconds(1), interval, /*verbose=*/false)});
    o.max_epochs = 5;
    ScriptedModel model;
    Trainer trainer(o);
    trainer.fit(model);
    EXPECT_EQ(trainer.global_step(), std::string(interval) == "step" ? 1 : 3) << interval;
  }
}

TEST_F(TimerTest, MeasuresTheStages) {
  auto t = timer(std::nullopt);
  auto o = options({t});
  o.max_steps = 5;
  ScriptedModel model;
  Trainer trainer(o);
  trainer.fit(model);
  EXPECT_GT(t->time_elapsed(), 0.0);
  EXPECT_EQ(t->time_elapsed(), t->time_elapsed("train"));  // ended: a fixed span
  EXPECT_GT(t->time_elapsed("validate"), 0.0);             // the sanity check and the validations
  EXPECT_EQ(t->time_elapsed("test"), 0.0);
  EXPECT_EQ(t->time_elapsed("sanity_check"), 0.0);  // no hooks of its own: the sanity check counts as "validate"
  ASSERT_TRUE(t->start_time().has_value() && t->end_time().has_value());
  EXPECT_LT(*t->start_time(), *t->end_time());
  trainer.test(model);
  EXPECT_GT(t->time_elapsed("test"), 0.0);
  EXPECT_EQ(t->time_elapsed("predict"), 0.0);
  StateDict times = as_state(t->state_dict().at("time_elapsed"), "time_elapsed");
  EXPECT_TRUE(times.at("train").isDouble());
  EXPECT_TRUE(times.at("sanity_check").isInt());
}

TEST_F(TimerTest, ADepletedTimerRestoredFromACheckpointStopsAtOnce) {
  auto first = timer(std::nullopt);
  auto o = options({first});
  o.max_steps = 2;
  ScriptedModel model;
  Trainer trainer(o);
  trainer.fit(model);
  // two hours of training so far, as a checkpoint would say
  first->load_state_dict(StateDict{{"time_elapsed", StateDict{{"train", 7200.25}}}});
  EXPECT_GE(first->time_elapsed(), 7200.25);
  const std::string path = root + "/depleted.ckpt";
  trainer.save_checkpoint(path);

  CapturedMessages messages;
  auto second = timer("00:01:00:00");
  o = options({second});
  o.max_steps = 10;
  ScriptedModel resumed;
  Trainer again(o);
  again.fit(resumed, nullptr, path);
  EXPECT_EQ(again.global_step(), 2);  // nothing trained
  EXPECT_EQ(messages.containing("Time limit reached"),
            std::vector<std::string>{"Time limit reached. Elapsed time is 2:00:00. Signaling Trainer to stop."});
  EXPECT_GE(second->time_elapsed(), 7200.25);
}

}  // namespace volt_test_timer_test
}  // namespace
