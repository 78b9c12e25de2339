// Hook order against real Lightning 2.2.5: each scenario mirrors tools/gen_golden.py and is compared entry by
// entry with the sequence Lightning recorded (tests/golden/hooks/*.json, CALL order).
#include <gtest/gtest.h>

#include "support/boring.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_hook_order_test {

using namespace volt;
using namespace volt::testing;

namespace {

// Compares entry by entry and reports the first difference with its neighbourhood.
void expect_same_sequence(const Calls& actual, const Calls& expected) {
  size_t n = std::min(actual.size(), expected.size());
  for (size_t i = 0; i < n; ++i) {
    if (actual[i] != expected[i]) {
      std::string context;
      for (size_t j = (i > 3 ? i - 3 : 0); j < std::min(n, i + 4); ++j)
        context += "  [" + std::to_string(j) + "] volt=" + actual[j] + "  lightning=" + expected[j] + "\n";
      FAIL() << "first difference at entry " << i << ":\n" << context;
    }
  }
  EXPECT_EQ(actual.size(), expected.size()) << "sequences agree for " << n << " entries, then one of them ends";
}

struct StopInTrainBatchEnd : Callback {
  void on_train_batch_end(Trainer& t, Module&, const StepOutput&, const Batch&, int64_t batch_idx) override {
    if (t.current_epoch() == 0 && batch_idx == 0) t.should_stop = true;
  }
};

struct StopOnFitStart : Callback {
  void on_fit_start(Trainer& t, Module&) override { t.should_stop = true; }
};

struct RaisingRecorder : Recorder {
  using Recorder::Recorder;
  void on_train_batch_end(Trainer& t, Module& m, const StepOutput& o, const Batch& b, int64_t batch_idx) override {
    Recorder::on_train_batch_end(t, m, o, b, batch_idx);
    if (batch_idx == 1) throw std::runtime_error("boom");
  }
};

class HookOrder : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(0); }
  Calls calls;
  std::string dir = fresh_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  TrainerOptions options(std::vector<CallbackPtr> extra = {}) {
    std::vector<CallbackPtr> cbs{std::make_shared<Recorder>(calls)};
    cbs.insert(cbs.end(), extra.begin(), extra.end());
    return golden_options(dir, cbs);
  }
};

}  // namespace

TEST_F(HookOrder, FitWithSanityCheck) {
  auto o = options();
  o.max_epochs = 2, o.limit_train_batches = 2, o.limit_val_batches = 1, o.num_sanity_val_steps = 1;
  RecordingModel model(calls);
  Trainer(o).fit(model);
  expect_same_sequence(calls, golden_hooks("fit_sanity"));
}

TEST_F(HookOrder, FitAccumulateTwoWithClipping) {
  auto o = options();
  o.max_epochs = 1, o.limit_train_batches = 4, o.limit_val_batches = 1, o.num_sanity_val_steps = 0;
  o.accumulate_grad_batches = 2, o.gradient_clip_val = 0.5, o.enable_checkpointing = false;
  RecordingModel model(calls);
  Trainer(o).fit(model);
  expect_same_sequence(calls, golden_hooks("fit_accum2_clip"));
}

TEST_F(HookOrder, AccumulateStepsOnTheLastOddBatch) {
  auto o = options();
  o.max_epochs = 1, o.limit_train_batches = 3, o.limit_val_batches = 0, o.accumulate_grad_batches = 2;
  o.enable_checkpointing = false;
  RecordingModel model(calls);
  Trainer(o).fit(model);
  expect_same_sequence(calls, golden_hooks("accum2_odd"));
}

TEST_F(HookOrder, Validate) {
  auto o = options();
  o.limit_val_batches = 2, o.limit_test_batches = 2, o.limit_predict_batches = 2;
  RecordingModel model(calls);
  Trainer(o).validate(model);
  expect_same_sequence(calls, golden_hooks("validate"));
}

TEST_F(HookOrder, Test) {
  auto o = options();
  o.limit_val_batches = 2, o.limit_test_batches = 2, o.limit_predict_batches = 2;
  RecordingModel model(calls);
  Trainer(o).test(model);
  expect_same_sequence(calls, golden_hooks("test"));
}

TEST_F(HookOrder, Predict) {
  auto o = options();
  o.limit_val_batches = 2, o.limit_test_batches = 2, o.limit_predict_batches = 2;
  RecordingModel model(calls);
  auto predictions = Trainer(o).predict(model);
  expect_same_sequence(calls, golden_hooks("predict"));
  ASSERT_EQ(predictions.size(), 2u);
  EXPECT_EQ(predictions[0].toTensor().sizes(), (std::vector<int64_t>{1, 2}));
}

TEST_F(HookOrder, ValidateWithZeroBatchesRunsNoLoopHooks) {
  auto o = options();
  o.limit_val_batches = 0;
  RecordingModel model(calls);
  EXPECT_TRUE(Trainer(o).validate(model).empty());
  expect_same_sequence(calls, golden_hooks("validate_zero_batches"));
}

TEST_F(HookOrder, FitWithoutSanityCheck) {
  auto o = options();
  o.max_epochs = 1, o.limit_train_batches = 2, o.limit_val_batches = 1, o.num_sanity_val_steps = 0;
  RecordingModel model(calls);
  Trainer(o).fit(model);
  expect_same_sequence(calls, golden_hooks("fit_no_sanity"));
}

TEST_F(HookOrder, FitWithoutValidation) {
  auto o = options();
  o.max_epochs = 1, o.limit_train_batches = 2, o.limit_val_batches = 0;
  RecordingModel model(calls);
  Trainer(o).fit(model);
  expect_same_sequence(calls, golden_hooks("fit_no_val"));
}

TEST_F(HookOrder, ShouldStopInTrainBatchEnd) {
  auto o = options({std::make_shared<StopInTrainBatchEnd>()});
  o.max_epochs = 3, o.limit_train_batches = 3, o.limit_val_batches = 1, o.num_sanity_val_steps = 0;
  RecordingModel model(calls);
  Trainer trainer(o);
  trainer.fit(model);
  expect_same_sequence(calls, golden_hooks("stop_in_batch_end"));
  EXPECT_EQ(trainer.global_step(), 1);
}

TEST_F(HookOrder, ShouldStopWaitsForMinEpochs) {
  auto o = options({std::make_shared<StopInTrainBatchEnd>()});
  o.max_epochs = 3, o.min_epochs = 2, o.limit_train_batches = 3, o.limit_val_batches = 1, o.num_sanity_val_steps = 0;
  RecordingModel model(calls);
  Trainer trainer(o);
  trainer.fit(model);
  expect_same_sequence(calls, golden_hooks("stop_min_epochs"));
  EXPECT_EQ(trainer.current_epoch(), 2);
}

TEST_F(HookOrder, ShouldStopOnFitStartRunsNoTrainingHooks) {
  auto o = options({std::make_shared<StopOnFitStart>()});
  o.max_epochs = 2, o.limit_train_batches = 2;
  RecordingModel model(calls);
  Trainer(o).fit(model);
  expect_same_sequence(calls, golden_hooks("stop_on_fit_start"));
}

TEST_F(HookOrder, MinusOneFromOnTrainBatchStartEndsTheEpoch) {
  auto o = options();
  o.max_epochs = 2, o.limit_train_batches = 3, o.limit_val_batches = 1, o.num_sanity_val_steps = 0;
  RecordingModel model(calls);
  model.minus_one_at_batch = 1;
  Trainer trainer(o);
  trainer.fit(model);
  expect_same_sequence(calls, golden_hooks("batch_start_minus_one"));
  EXPECT_EQ(trainer.global_step(), 2);
}

TEST_F(HookOrder, ExceptionInAHookRunsOnExceptionAndNoTeardown) {
  auto o = golden_options(dir, {std::make_shared<RaisingRecorder>(calls)});
  o.max_epochs = 1, o.limit_train_batches = 3, o.limit_val_batches = 0;
  RecordingModel model(calls);
  Trainer trainer(o);
  try {
    trainer.fit(model);
    ADD_FAILURE() << "fit did not raise";
  } catch (const std::runtime_error& e) {
    calls.push_back(std::string("--- raised: ") + e.what() + " ---");
  }
  expect_same_sequence(calls, golden_hooks("exception_in_batch_end"));
  EXPECT_EQ(trainer.status(), "interrupted");
}

TEST_F(HookOrder, MaxStepsInTheMiddleOfAnEpoch) {
  auto o = options();
  o.max_steps = 3, o.limit_train_batches = 2, o.max_epochs = 5, o.limit_val_batches = 0;
  RecordingModel model(calls);
  Trainer(o).fit(model);
  expect_same_sequence(calls, golden_hooks("max_steps_mid_epoch"));
}

TEST_F(HookOrder, ValCheckIntervalSavesAfterValidation) {
  auto o = options();
  o.max_epochs = 1, o.limit_train_batches = 4, o.val_check_interval = 2, o.limit_val_batches = 1;
  o.num_sanity_val_steps = 0;
  RecordingModel model(calls);
  Trainer(o).fit(model);
  expect_same_sequence(calls, golden_hooks("val_check_interval"));
}

TEST_F(HookOrder, ResumeFromEpochEndCheckpoint) {
  auto o = options();
  o.max_epochs = 1, o.limit_train_batches = 2, o.limit_val_batches = 0;
  {
    RecordingModel model(calls);
    Trainer(o).fit(model);
  }
  calls.push_back("--- resume ---");
  o = options();
  o.max_epochs = 2, o.limit_train_batches = 2, o.limit_val_batches = 0;
  RecordingModel model(calls);
  Trainer(o).fit(model, nullptr, dir + "/checkpoints/epoch=0-step=2.ckpt");
  expect_same_sequence(calls, golden_hooks("resume_epoch_end"));
}

TEST_F(HookOrder, ResumeUnderMaxSteps) {
  auto o = options();
  o.max_steps = 1, o.limit_train_batches = 4, o.limit_val_batches = 0;
  {
    RecordingModel model(calls);
    Trainer(o).fit(model);
  }
  calls.push_back("--- resume ---");
  o = options();
  o.max_steps = 3, o.limit_train_batches = 4, o.limit_val_batches = 0;
  RecordingModel model(calls);
  Trainer trainer(o);
  trainer.fit(model, nullptr, dir + "/checkpoints/epoch=0-step=1.ckpt");
  expect_same_sequence(calls, golden_hooks("resume_max_steps"));
  EXPECT_EQ(trainer.global_step(), 3);
}

}  // namespace volt_test_hook_order_test
}  // namespace
