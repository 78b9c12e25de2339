// OnExceptionCheckpoint (Lightning 2.2.5's callbacks/on_exception_checkpoint.py) and the ckpt_path resolution it
// takes part in.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/scripted.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_on_exception_checkpoint_test {

using namespace volt;
using namespace volt::testing;
namespace fs = std::filesystem;

namespace {

class OnExceptionCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(0); }
  std::string root = fs::weakly_canonical(fresh_dir(
      std::string("oec_") + ::testing::UnitTest::GetInstance()->current_test_info()->name())).string();

  TrainerOptions options(std::vector<CallbackPtr> callbacks) {
    TrainerOptions o = golden_options(root, std::move(callbacks));
    o.max_epochs = 3;
    o.limit_train_batches = 2;
    o.limit_val_batches = 2;
    return o;
  }
};

const std::string kWarning =
    "`.fit(ckpt_path=None)` was called without a model. The last model of the previous `fit` call will be used. You "
    "can pass `fit(ckpt_path='best')` to use the best model or `fit(ckpt_path='last')` to use the last model. If you "
    "pass a value, this warning will be silenced.";

}  // namespace

TEST(OnExceptionCheckpointSetup, PathAndValidation) {
  OnExceptionCheckpoint cb("some/dir");
  EXPECT_EQ(cb.ckpt_path(), "some/dir/on_exception.ckpt");
  EXPECT_EQ(OnExceptionCheckpoint("d", "crash").ckpt_path(), "d/crash.ckpt");
  EXPECT_TRUE(cb.is_monitoring());  // a Checkpoint
  EXPECT_EQ(cb.state_key(), "OnExceptionCheckpoint");
  try {
    OnExceptionCheckpoint bad("d", "");
    ADD_FAILURE() << "no error";
  } catch (const MisconfigurationError& e) {
    EXPECT_EQ(std::string(e.what()), "The filename cannot be empty");
  }
  // it counts as checkpointing: no default ModelCheckpoint, and none allowed with checkpointing off
  TrainerOptions o;
  o.callbacks = {std::make_shared<OnExceptionCheckpoint>("d")};
  Trainer trainer(o);
  EXPECT_EQ(trainer.checkpoint_callbacks().size(), 1u);
  o.enable_checkpointing = false;
  EXPECT_THROW(Trainer{o}, MisconfigurationError);
}

TEST_F(OnExceptionCheckpointTest, SavesOnExceptionThenFitResumesFromItAndDeletesIt) {
  const std::string dir = root + "/oe";
  {
    CapturedMessages messages;
    ScriptSpec spec;
    spec.raise_at_step = 3;
    ScriptedModel model(spec);
    Trainer trainer(options({std::make_shared<OnExceptionCheckpoint>(dir)}));
    EXPECT_THROW(trainer.fit(model), std::runtime_error);
    EXPECT_EQ(model.saves, (std::vector<std::pair<int64_t, int64_t>>{{1, 3}}));
    EXPECT_EQ(messages.containing("ckpt_path"),
              (std::vector<std::string>{kWarning, ".fit(ckpt_path=\"last\") is set, but there is no last checkpoint "
                                                  "available. No checkpoint will be loaded. HINT: Set "
                                                  "`ModelCheckpoint(..., save_last=True)`."}));
  }
  EXPECT_EQ(list_files(root), std::vector<std::string>{"oe/on_exception.ckpt"});
  CapturedMessages messages;
  ScriptedModel model;
  Trainer trainer(options({std::make_shared<OnExceptionCheckpoint>(dir)}));
  trainer.fit(model);  // ckpt_path unset + OnExceptionCheckpoint + fitting = "last"
  EXPECT_EQ(messages.containing("ckpt_path"), std::vector<std::string>{kWarning});
  EXPECT_EQ(trainer.ckpt_path(), dir + "/on_exception.ckpt");
  EXPECT_EQ(trainer.global_step(), 6);
  EXPECT_TRUE(list_files(root).empty());  // teardown after the successful run deleted it
}

TEST_F(OnExceptionCheckpointTest, SavesWhateverTheTrainerRuns) {
  const std::string dir = root + "/oe";
  struct RaiseInTest : Callback {
    void on_test_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t, int64_t) override {
      throw std::runtime_error("test boom");
    }
  };
  ScriptedModel model;
  Trainer trainer(options({std::make_shared<RaiseInTest>(), std::make_shared<OnExceptionCheckpoint>(dir)}));
  EXPECT_THROW(trainer.test(model), std::runtime_error);
  EXPECT_TRUE(fs::exists(dir + "/on_exception.ckpt"));
}

TEST_F(OnExceptionCheckpointTest, BestIsNotItsBusiness) {
  ScriptedModel model;
  Trainer trainer(options({std::make_shared<OnExceptionCheckpoint>(root + "/oe")}));
  try {
    trainer.validate(model, nullptr, "best");
    ADD_FAILURE() << "no error";
  } catch (const MisconfigurationError& e) {
    EXPECT_EQ(std::string(e.what()), "`.validate()` found no path for the best weights: None. Please specify a path "
                                     "for a checkpoint `.validate(ckpt_path=PATH)`");
  }
}

TEST_F(OnExceptionCheckpointTest, LastPicksTheNewestCandidate) {
  ModelCheckpointOptions mc;
  mc.save_last = true;
  const std::string dir = root + "/oe";
  {
    ScriptedModel model;
    auto o = options({std::make_shared<ModelCheckpoint>(mc)});
    o.max_epochs = 1;
    Trainer(o).fit(model);
  }
  // an older on-exception file loses against last.ckpt
  fs::create_directories(dir);
  fs::copy_file(root + "/checkpoints/last.ckpt", dir + "/on_exception.ckpt");
  fs::last_write_time(dir + "/on_exception.ckpt",
                      fs::last_write_time(root + "/checkpoints/last.ckpt") - std::chrono::hours(1));
  ScriptedModel model;
  auto o = options({std::make_shared<ModelCheckpoint>(mc), std::make_shared<OnExceptionCheckpoint>(dir)});
  o.max_epochs = 2;
  Trainer trainer(o);
  trainer.fit(model, nullptr, "last");
  EXPECT_EQ(trainer.ckpt_path(), root + "/checkpoints/last.ckpt");
}

}  // namespace volt_test_on_exception_checkpoint_test
}  // namespace
