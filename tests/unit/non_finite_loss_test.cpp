// A NaN or infinite training loss (TrainerOptions::non_finite_loss, docs/reliability.md): reported once where a run
// of non-finite losses starts, with its epoch, batch and global step; "raise" stops through on_exception; "ignore"
// checks nothing. EarlyStopping(check_finite) stops such a run at the end of that epoch, with Lightning's message.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "support/boring.hpp"
#include "support/messages.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_non_finite_loss_test {

using namespace volt;
using namespace volt::testing;

// Linear regression on 32 samples in batches of 8 (4 batches per epoch). From training batch `bad_from` on (counted
// over the whole run), the loss is multiplied by `factor` (NaN or infinity); `bad_until` ends that run early.
class BlowUp : public Module {
 public:
  BlowUp(int64_t bad_from, double factor, int64_t bad_until = 1 << 30)
      : bad_from_(bad_from), bad_until_(bad_until), factor_(factor) {
    fc = register_module("fc", torch::nn::Linear(2, 1));
    x_ = torch::randn({32, 2}, at::detail::createCPUGenerator(3));
    y_ = x_.sum(1, true);
  }
  StepOutput training_step(const Batch& batch, int64_t) override {
    auto xy = batch.toTupleRef().elements();
    auto loss = torch::mse_loss(fc->forward(xy[0].toTensor()), xy[1].toTensor());
    const int64_t n = seen_++;
    if (n >= bad_from_ && n < bad_until_) loss = loss * factor_;
    LogOptions per_epoch;
    per_epoch.on_step = false;
    per_epoch.on_epoch = true;
    log("train_loss", loss, per_epoch);
    return loss;
  }
  OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.01));
  }
  std::shared_ptr<DataLoader> train_dataloader() override {
    DataLoaderOptions o;
    o.batch_size = 8;
    return std::make_shared<TensorDataLoader>(std::vector<torch::Tensor>{x_, y_}, o);
  }
  torch::nn::Linear fc{nullptr};

 private:
  int64_t bad_from_, bad_until_, seen_ = 0;
  double factor_;
  torch::Tensor x_, y_;
};

struct ExceptionSeen : Callback {
  void on_exception(Trainer&, Module&, const std::exception& e) override { message = e.what(); }
  std::string message;
};

TrainerOptions options(const std::string& name, const std::string& non_finite_loss, int64_t max_epochs = 3) {
  TrainerOptions o = plain_options(fresh_dir(name), {}, max_epochs);
  o.non_finite_loss = non_finite_loss;
  return o;
}

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

TEST(NonFiniteLoss, WarnsOnceWhereTheRunOfNaNsStartsAndTrainingGoesOn) {
  CapturedMessages messages;
  BlowUp model(/*bad_from=*/6, kNaN);  // epoch 1, batch 2; every later loss is NaN too
  Trainer trainer(options("nan_warn", "warn"));
  trainer.fit(model);
  auto found = messages.containing("The training loss is");
  ASSERT_EQ(found.size(), 1u) << "one report for the whole run of NaNs";
  EXPECT_EQ(found[0].rfind("The training loss is nan at epoch 1, batch 2 (global step 6).", 0), 0u) << found[0];
  EXPECT_NE(found[0].find("non_finite_loss='raise'"), std::string::npos) << found[0];
  EXPECT_EQ(trainer.global_step(), 12) << "a warning does not stop training";
}

TEST(NonFiniteLoss, EachRunOfNonFiniteLossesIsReportedWithItsValue) {
  CapturedMessages messages;
  BlowUp model(/*bad_from=*/1, kInf, /*bad_until=*/2);  // only batch 1 is infinite, then finite again
  Trainer trainer(options("inf_warn", "warn", 1));
  trainer.fit(model);
  auto found = messages.containing("The training loss is");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].rfind("The training loss is inf at epoch 0, batch 1 (global step 1).", 0), 0u) << found[0];
}

TEST(NonFiniteLoss, RaiseStopsThroughOnExceptionNamingWhere) {
  BlowUp model(/*bad_from=*/5, kNaN);
  auto seen = std::make_shared<ExceptionSeen>();
  TrainerOptions o = options("nan_raise", "raise");
  o.callbacks = {seen};
  Trainer trainer(o);
  try {
    trainer.fit(model);
    FAIL() << "expected NonFiniteLossError";
  } catch (const NonFiniteLossError& e) {
    EXPECT_STREQ(e.what(), "The training loss is nan at epoch 1, batch 1 (global step 5).");
  }
  EXPECT_EQ(seen->message, "The training loss is nan at epoch 1, batch 1 (global step 5).");
  EXPECT_EQ(trainer.global_step(), 5) << "the NaN batch did not step the optimizer";
  EXPECT_TRUE(torch::isfinite(model.fc->weight).all().item<bool>());
}

TEST(NonFiniteLoss, IgnoreChecksNothing) {
  CapturedMessages messages;
  BlowUp model(/*bad_from=*/0, kNaN);
  Trainer trainer(options("nan_ignore", "ignore", 1));
  trainer.fit(model);
  EXPECT_TRUE(messages.containing("The training loss is").empty());
}

TEST(NonFiniteLoss, AnUnknownChoiceIsAMisconfiguration) {
  try {
    Trainer trainer(options("nan_bad_option", "stop"));
    FAIL() << "expected MisconfigurationError";
  } catch (const MisconfigurationError& e) {
    EXPECT_STREQ(e.what(), "Trainer(non_finite_loss='stop') is not one of 'warn', 'raise' or 'ignore'");
  }
}

TEST(NonFiniteLoss, EarlyStoppingCheckFiniteStopsAtTheEndOfThatEpochAsLightningDoes) {
  CapturedMessages messages;
  BlowUp model(/*bad_from=*/9, kNaN);  // epoch 2, batch 1
  EarlyStoppingOptions es;
  es.monitor = "train_loss";
  es.check_finite = true;
  es.patience = 100;
  es.verbose = true;  // Lightning logs the reason only when verbose
  TrainerOptions o = options("nan_early_stopping", "ignore", 10);
  o.callbacks = {std::make_shared<EarlyStopping>(es)};
  Trainer trainer(o);
  trainer.fit(model);
  EXPECT_EQ(trainer.current_epoch(), 3) << "stopped after epoch 2, where the NaN appeared";
  auto stopped = messages.containing("Monitored metric train_loss = nan is not finite.");
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_NE(stopped[0].find("Previous best value was "), std::string::npos);
  EXPECT_NE(stopped[0].find(". Signaling Trainer to stop."), std::string::npos);
}

}  // namespace volt_test_non_finite_loss_test
}  // namespace
