// EarlyStopping (Lightning 2.2.5's callbacks/early_stopping.py): construction, the stopping criteria and their
// messages, when the check runs, and its state. callback_golden_test.cpp compares the same runs with Lightning's.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/scripted.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_early_stopping_test {

using namespace volt;
using namespace volt::testing;
namespace fs = std::filesystem;

namespace {

class EarlyStoppingTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(0); }
  std::string root = fs::weakly_canonical(fresh_dir(
      std::string("es_") + ::testing::UnitTest::GetInstance()->current_test_info()->name())).string();

  TrainerOptions options(std::vector<CallbackPtr> callbacks, int64_t max_epochs = 10) {
    TrainerOptions o = golden_options(root, std::move(callbacks));
    o.max_epochs = max_epochs;
    o.limit_train_batches = 2;
    o.limit_val_batches = 2;
    o.enable_checkpointing = false;
    return o;
  }

  /// Fits on `values` and returns the epoch in which the callback stopped training (-1: it did not).
  int64_t stop_epoch(EarlyStoppingOptions es, std::vector<double> values, TrainerOptions* custom = nullptr) {
    auto cb = std::make_shared<EarlyStopping>(es);
    TrainerOptions o = custom ? *custom : options({});
    o.callbacks = {cb};
    ScriptedModel model(table(std::move(values), es.monitor));
    Trainer trainer(o);
    trainer.fit(model);
    last = cb;
    return trainer.should_stop ? cb->stopped_epoch() : -1;
  }
  std::shared_ptr<EarlyStopping> last;
};

EarlyStoppingOptions es(const std::string& monitor, int64_t patience = 3) {
  EarlyStoppingOptions o;
  o.monitor = monitor;
  o.patience = patience;
  return o;
}

}  // namespace

TEST(EarlyStoppingSetup, DefaultsSignOfMinDeltaStateKeyAndModeError) {
  EarlyStopping plain("val_loss");
  EXPECT_EQ(plain.patience(), 3);
  EXPECT_EQ(plain.min_delta(), 0.0);
  EXPECT_TRUE(std::signbit(plain.min_delta()));  // 0.0 * -1 in min mode
  EXPECT_EQ(plain.best_score().item<double>(), INFINITY);
  EXPECT_TRUE(plain.is_monitoring());
  EXPECT_EQ(plain.state_key(), "EarlyStopping{'monitor': 'val_loss', 'mode': 'min'}");
  auto o = es("x");
  o.min_delta = 0.1;
  EXPECT_EQ(EarlyStopping(o).min_delta(), -0.1);
  o.mode = "max";
  EXPECT_EQ(EarlyStopping(o).min_delta(), 0.1);
  EXPECT_EQ(EarlyStopping(o).best_score().item<double>(), -INFINITY);
  EXPECT_EQ(EarlyStopping(o).state_key(), "EarlyStopping{'monitor': 'x', 'mode': 'max'}");
  o.mode = "avg";
  try {
    EarlyStopping bad(o);
    ADD_FAILURE() << "no error";
  } catch (const MisconfigurationError& e) {
    EXPECT_EQ(std::string(e.what()), "`mode` can be min, max, got avg");
  }
  o.mode = "min";
  o.patience = -1;  // not validated, as in Lightning
  EXPECT_NO_THROW(EarlyStopping{o});
}

TEST(EarlyStoppingSetup, TwoWithTheSameMonitorAndModeCollide) {
  TrainerOptions o;
  o.callbacks = {std::make_shared<EarlyStopping>("val_loss"), std::make_shared<EarlyStopping>("val_loss")};
  EXPECT_THROW(Trainer{o}, MisconfigurationError);
  auto other = es("val_loss");
  other.mode = "max";
  o.callbacks = {std::make_shared<EarlyStopping>("val_loss"), std::make_shared<EarlyStopping>(other)};
  EXPECT_NO_THROW(Trainer{o});
}

TEST_F(EarlyStoppingTest, PatienceCountsChecksWithoutImprovement) {
  EXPECT_EQ(stop_epoch(es("val_loss", 3), {6, 5, 5, 5, 5, 5}), 4);
  EXPECT_EQ(last->wait_count(), 3);
  EXPECT_EQ(last->best_score().item<double>(), 5.0);
  EXPECT_EQ(stop_epoch(es("val_loss", 1), {6, 5, 4, 4, 3, 3}), 3);
  EXPECT_EQ(stop_epoch(es("val_loss", 3), {6, 5, 6, 5, 5, 5}), 4);  // returning to the best is no improvement
  EXPECT_EQ(stop_epoch(es("val_loss", 3), {10, 9, 8, 7, 6, 5, 4, 3, 2, 1}), -1);
  EXPECT_EQ(last->stopped_epoch(), 0);
}

TEST_F(EarlyStoppingTest, ThresholdsAndNonFiniteStopAtOnce) {
  auto o = es("val_loss");
  EXPECT_EQ(stop_epoch(o, {8, 4, 2, 3, 4, 5, 8, 10}), 5);
  o.stopping_threshold = 2.9;
  EXPECT_EQ(stop_epoch(o, {9, 8, 7, 6, 5, 6, 4, 3, 2, 1}), 8);
  o = es("val_loss");
  o.divergence_threshold = 15.9;
  EXPECT_EQ(stop_epoch(o, {9, 4, 2, 16, 1, 1, 1}), 3);
  EXPECT_EQ(last->best_score().item<double>(), 2.0);  // thresholds leave best_score and wait_count alone
  EXPECT_EQ(last->wait_count(), 0);
  EXPECT_EQ(stop_epoch(es("val_loss"), {4, 3, INFINITY, 1}), 2);
  EXPECT_EQ(stop_epoch(es("val_loss"), {4, 3, NAN, 1}), 2);
  o = es("val_loss", 2);
  o.check_finite = false;  // then NaN is just never an improvement
  EXPECT_EQ(stop_epoch(o, {4, 3, NAN, 2, 2, 2}), 5);
}

TEST_F(EarlyStoppingTest, MinDeltaByMode) {
  auto o = es("val_acc", 2);
  o.mode = "max";
  o.min_delta = 0.5;
  EXPECT_EQ(stop_epoch(o, {1, 1.25, 2, 2.25, 2.5, 3.5, 3.5}), 4);
  EXPECT_EQ(last->best_score().item<double>(), 2.0);
  o = es("val_loss", 2);
  o.min_delta = 0.25;
  EXPECT_EQ(stop_epoch(o, {4, 3.75, 3, 2.875, 2.5, 2.25}), 6);
}

TEST_F(EarlyStoppingTest, VerboseReasonsAsLightning) {
  CapturedMessages messages;
  auto o = es("val_loss", 2);
  o.verbose = true;
  o.divergence_threshold = 15.9;
  EXPECT_EQ(stop_epoch(o, {9, 4, 4, 16}), 3);
  EXPECT_EQ(messages.containing("Metric val_loss").size(), 2u);
  EXPECT_EQ(messages.containing("Metric val_loss")[0], "Metric val_loss improved. New best score: 9.000");
  EXPECT_EQ(messages.containing("Metric val_loss")[1],
            "Metric val_loss improved by 5.000 >= min_delta = 0.0. New best score: 4.000");
  EXPECT_EQ(messages.containing("Divergence")[0],
            "Divergence threshold reached: val_loss = 16.0 < 15.9. Signaling Trainer to stop.");
  messages.all.clear();
  o.divergence_threshold.reset();
  stop_epoch(o, {4, 3, NAN});
  EXPECT_EQ(messages.containing("Monitored")[0],
            "Monitored metric val_loss = nan is not finite. Previous best value was 3.000. Signaling Trainer to stop.");
  messages.all.clear();
  stop_epoch(o, {4, 3, 3, 3});
  EXPECT_EQ(messages.containing("Monitored")[0],
            "Monitored metric val_loss did not improve in the last 2 records. Best score: 3.000. Signaling Trainer to "
            "stop.");
}

TEST_F(EarlyStoppingTest, CheckAfterTheModulesTrainEpochEnd) {
  // logged in Module::on_train_epoch_end: visible only because EarlyStopping runs after the module there
  auto o = es("val_loss");
  o.check_on_train_epoch_end = true;
  auto cb = std::make_shared<EarlyStopping>(o);
  auto t = options({cb});
  t.limit_val_batches = 0;
  ScriptSpec spec = table({6, 5, 5, 5, 5, 5});
  spec.where = "on_train_epoch_end";
  ScriptedModel model(spec);
  Trainer trainer(t);
  trainer.fit(model);
  EXPECT_EQ(cb->stopped_epoch(), 4);
  EXPECT_EQ(cb->check_on_train_epoch_end(), std::optional<bool>(true));
}

TEST_F(EarlyStoppingTest, ChecksAfterEveryValidationWhenItRunsMidEpoch) {
  auto t = options({});
  t.limit_train_batches = 4;
  t.val_check_interval = 0.5;
  EXPECT_EQ(stop_epoch(es("val_loss", 2), {6, 5, 5, 5, 5}, &t), 2);  // two checks per epoch
  EXPECT_EQ(last->check_on_train_epoch_end(), std::optional<bool>(false));
  t = options({}, 12);
  t.check_val_every_n_epoch = 2;
  EXPECT_EQ(stop_epoch(es("val_loss", 2), {6, 5, 5, 5, 5, 5, 5, 5, 5, 5}, &t), 5);
}

TEST_F(EarlyStoppingTest, MinEpochsWin) {
  auto t = options({});
  t.min_epochs = 5;
  CapturedMessages messages;
  EXPECT_EQ(stop_epoch(es("val_loss", 1), {6, 5, 5, 5, 5, 5, 5, 5}, &t), 4);
  EXPECT_FALSE(messages.containing("Trainer was signaled to stop but the required `min_epochs=5`").empty());
}

TEST_F(EarlyStoppingTest, MissingMetric) {
  auto o = es("nope");
  ScriptedModel model;
  try {
    Trainer(options({std::make_shared<EarlyStopping>(o)})).fit(model);
    ADD_FAILURE() << "no error";
  } catch (const MisconfigurationError& e) {
    EXPECT_EQ(std::string(e.what()),
              "Early stopping conditioned on metric `nope` which is not available. Pass in or modify your "
              "`EarlyStopping` callback to use any of the following: `val_loss`");
  }
  o.strict = false;
  o.verbose = true;
  CapturedMessages messages;
  auto cb = std::make_shared<EarlyStopping>(o);
  ScriptedModel quiet;
  Trainer trainer(options({cb}, 2));
  trainer.fit(quiet);
  EXPECT_EQ(messages.containing("Early stopping conditioned on metric `nope`").size(), 2u);
  EXPECT_EQ(cb->wait_count(), 0);
  EXPECT_FALSE(trainer.should_stop);
}

TEST_F(EarlyStoppingTest, ValidateTestAndSanityCheckNeverCount) {
  auto cb = std::make_shared<EarlyStopping>(es("nope"));  // strict: a check would raise
  auto t = options({cb}, 1);
  t.num_sanity_val_steps = 2;
  t.limit_val_batches = 2;
  ScriptedModel model;
  Trainer trainer(t);
  EXPECT_NO_THROW(trainer.validate(model));
  EXPECT_NO_THROW(trainer.test(model));
}

TEST_F(EarlyStoppingTest, StateRoundTripAndResume) {
  auto o = es("val_loss", 3);
  auto cb = std::make_shared<EarlyStopping>(o);
  ModelCheckpointOptions mc;
  mc.save_last = true;
  auto t = options({cb, std::make_shared<ModelCheckpoint>(mc)}, 3);
  t.enable_checkpointing = true;
  ScriptedModel model(table({6, 5, 5, 5, 5, 5, 5}));
  Trainer(t).fit(model);
  StateDict state = cb->state_dict();
  std::vector<std::string> keys;
  for (const auto& kv : state) keys.push_back(kv.key().toStringRef());
  EXPECT_EQ(keys, (std::vector<std::string>{"wait_count", "stopped_epoch", "best_score", "patience"}));
  EXPECT_EQ(state.at("wait_count").toInt(), 1);

  auto restored_options = es("val_loss", 10);
  EarlyStopping restored(restored_options);
  restored.load_state_dict(state);
  EXPECT_EQ(restored.wait_count(), 1);
  EXPECT_EQ(restored.patience(), 3);  // the checkpoint's patience wins
  EXPECT_EQ(restored.best_score().item<double>(), 5.0);
  EXPECT_THROW(restored.load_state_dict(StateDict{{"wait_count", 1}}), CheckpointError);

  // resumed: the wait goes on from 1, so two more flat epochs stop the run
  auto resumed = std::make_shared<EarlyStopping>(es("val_loss", 3));
  t = options({resumed, std::make_shared<ModelCheckpoint>(mc)}, 10);
  t.enable_checkpointing = true;
  ScriptedModel again(table({6, 5, 5, 5, 5, 5, 5}));
  Trainer trainer(t);
  trainer.fit(again, nullptr, root + "/checkpoints/last.ckpt");
  EXPECT_EQ(resumed->stopped_epoch(), 4);
  EXPECT_EQ(trainer.current_epoch(), 5);
}

}  // namespace volt_test_early_stopping_test
}  // namespace
