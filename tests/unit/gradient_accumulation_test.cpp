// GradientAccumulationScheduler: Lightning's validation messages, the factor per epoch, the zero_grad counts of
// Lightning's test_trainer_accumulate_grad_batches_with_callback, and the set-up errors at on_train_start.
#include <gtest/gtest.h>

#include "support/boring.hpp"
#include "support/loggers.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_gradient_accumulation_test {

using namespace volt;
using namespace volt::testing;

namespace {

using Schedule = std::vector<std::pair<int64_t, int64_t>>;

std::string error_of(const Schedule& s) {
  try {
    GradientAccumulationScheduler scheduler(s);
  } catch (const MisconfigurationError& e) {
    return e.what();
  }
  return "";
}

// Counts optimizer.zero_grad calls (through the hook that wraps them).
class CountingModel : public BoringModel {
 public:
  int zero_grads = 0;
  void optimizer_zero_grad(int64_t epoch, int64_t batch_idx, torch::optim::Optimizer& optimizer) override {
    ++zero_grads;
    BoringModel::optimizer_zero_grad(epoch, batch_idx, optimizer);
  }
};

TrainerOptions options(const std::string& name, std::vector<CallbackPtr> callbacks) {
  TrainerOptions o = golden_options(fresh_dir(name), std::move(callbacks));
  o.limit_train_batches = 10, o.limit_val_batches = 0, o.max_epochs = 4, o.enable_checkpointing = false;
  return o;
}

}  // namespace

TEST(GradientAccumulationScheduler, ValidatesTheSchedule) {
  EXPECT_EQ(error_of({}), "Empty dict cannot be interpreted correct");
  EXPECT_EQ(error_of({{1, 2}, {-3, 4}}), "Epoch should be an int greater than or equal to 0. Got [1, -3].");
  EXPECT_EQ(error_of({{1, 0}, {3, 4}}), "Accumulation factor should be an int greater than 0. Got [0, 4].");
  EXPECT_EQ(error_of({{0, 2}, {2, -1}}), "Accumulation factor should be an int greater than 0. Got [2, -1].");
  EXPECT_EQ(error_of({{0, 2}}), "");
}

TEST(GradientAccumulationScheduler, AddsEpochZeroAndLooksUpTheFactor) {
  GradientAccumulationScheduler s({{4, 2}, {1, 3}});
  EXPECT_EQ(s.scheduling(), (Schedule{{4, 2}, {1, 3}, {0, 1}}));  // Python's dict.update appends {0: 1}
  EXPECT_EQ(s.epochs(), (std::vector<int64_t>{0, 1, 4}));
  EXPECT_EQ(s.get_accumulate_grad_batches(0), 1);
  EXPECT_EQ(s.get_accumulate_grad_batches(1), 3);
  EXPECT_EQ(s.get_accumulate_grad_batches(3), 3);
  EXPECT_EQ(s.get_accumulate_grad_batches(4), 2);
  EXPECT_EQ(s.get_accumulate_grad_batches(100), 2);
  EXPECT_TRUE(s.going_to_accumulate_grad_batches());
  EXPECT_FALSE(GradientAccumulationScheduler({{0, 1}, {3, 1}}).going_to_accumulate_grad_batches());
  // a repeated epoch keeps its first place and its last factor, as in a Python dict literal
  EXPECT_EQ(GradientAccumulationScheduler({{2, 2}, {0, 1}, {2, 5}}).scheduling(), (Schedule{{2, 5}, {0, 1}}));
}

TEST(GradientAccumulationScheduler, ChangesAccumulationPerEpoch) {
  // Lightning's test: {1: 2, 3: 4} → 10 + 5 + 5 + 3 zero_grad calls; {0: 2, 2: 1} → 5 + 5 + 10 + 10
  for (const auto& [schedule, expected] : std::vector<std::pair<Schedule, int>>{{{{1, 2}, {3, 4}}, 23},
                                                                                {{{0, 2}, {2, 1}}, 30}}) {
    CountingModel model;
    Trainer trainer(options("gas_counts", {std::make_shared<GradientAccumulationScheduler>(schedule)}));
    EXPECT_EQ(trainer.accumulate_grad_batches(), 1);
    trainer.fit(model);
    EXPECT_EQ(model.zero_grads, expected);
  }
}

TEST(GradientAccumulationScheduler, PlainTrainerAccumulationForComparison) {
  for (int k : {1, 2, 3, 7}) {
    CountingModel model;
    TrainerOptions o = options("gas_plain", {});
    o.limit_train_batches = 20, o.max_epochs = 1, o.accumulate_grad_batches = k;
    Trainer(o).fit(model);
    EXPECT_EQ(model.zero_grads, (20 + k - 1) / k) << "k=" << k;
  }
}

TEST(GradientAccumulationScheduler, RejectsTrainerAccumulation) {
  TrainerOptions o = options("gas_trainer_accumulate", {std::make_shared<GradientAccumulationScheduler>(Schedule{{0, 2}})});
  o.accumulate_grad_batches = 2;
  BoringModel model;
  try {
    Trainer(o).fit(model);
    FAIL();
  } catch (const MisconfigurationError& e) {
    EXPECT_STREQ(e.what(), "You have set `accumulate_grad_batches` and are using the `GradientAccumulationScheduler` "
                           "callback. Either remove `accumulate_grad_batches` from the Trainer or remove the callback.");
  }
}

TEST(GradientAccumulationScheduler, RejectsManualOptimization) {
  struct Manual : BoringModel {
    Manual() { automatic_optimization = false; }
    StepOutput training_step(const Batch&, int64_t) override { return IValue(); }
  };
  Manual model;
  try {
    Trainer(options("gas_manual", {std::make_shared<GradientAccumulationScheduler>(Schedule{{0, 2}})})).fit(model);
    FAIL();
  } catch (const MisconfigurationError& e) {
    EXPECT_NE(std::string(e.what()).find("`GradientAccumulationScheduler` is not supported for\n"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("manual optimization. Please remove the callback or switch to automatic "
                                         "optimization."),
              std::string::npos);
  }
}

TEST(GradientAccumulationScheduler, WarnsWhenOptimizerHooksAreOverridden) {
  CapturedMessages messages;
  CountingModel model;  // overrides optimizer_zero_grad
  auto o = options("gas_warn", {std::make_shared<GradientAccumulationScheduler>(Schedule{{0, 2}})});
  o.max_epochs = 1;
  Trainer(o).fit(model);
  const std::string expected =
      "When using `Trainer(accumulate_grad_batches != 1)` and overriding `LightningModule.optimizer_{step,zero_grad}`, "
      "the hooks will not be called on every batch (rather, they are called on every optimization step).";
  EXPECT_EQ(std::count(messages.warnings.begin(), messages.warnings.end(), expected), 1);

  CapturedMessages quiet;  // factors of 1 only: no warning
  CountingModel model2;
  auto o2 = options("gas_nowarn", {std::make_shared<GradientAccumulationScheduler>(Schedule{{0, 1}})});
  o2.max_epochs = 1;
  Trainer(o2).fit(model2);
  EXPECT_EQ(std::count(quiet.warnings.begin(), quiet.warnings.end(), expected), 0);
}

TEST(GradientAccumulationScheduler, TrainerSetterValidates) {
  Trainer trainer(options("gas_setter", {}));
  trainer.set_accumulate_grad_batches(4);
  EXPECT_EQ(trainer.accumulate_grad_batches(), 4);
  EXPECT_EQ(trainer.options().accumulate_grad_batches, 1);
  EXPECT_THROW(trainer.set_accumulate_grad_batches(0), MisconfigurationError);
}

}  // namespace volt_test_gradient_accumulation_test
}  // namespace
