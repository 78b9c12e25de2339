// LambdaCallback: every one of the 37 hooks reaches its function (Lightning's test_lambda_call: fit, a resumed fit
// that raises in on_train_epoch_start, test and predict), with the hook's arguments; empty functions are no-ops.
#include <gtest/gtest.h>

#include <set>

#include "support/boring.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_lambda_callback_test {

using namespace volt;
using namespace volt::testing;

namespace {

struct Raise : std::runtime_error {
  Raise() : std::runtime_error("raise in on_train_epoch_start") {}
};

}  // namespace

TEST(LambdaCallback, EveryHookIsCalled) {
  std::set<std::string> seen;
  bool raise = false;
  LambdaCallbackOptions h;
#define SEEN(hook) h.hook = [&seen](auto&&...) { seen.insert(#hook); }
  SEEN(setup); SEEN(teardown); SEEN(on_fit_start); SEEN(on_fit_end); SEEN(on_sanity_check_start);
  SEEN(on_sanity_check_end); SEEN(on_train_batch_start); SEEN(on_train_batch_end); SEEN(on_train_epoch_end);
  SEEN(on_validation_epoch_start); SEEN(on_validation_epoch_end); SEEN(on_test_epoch_start); SEEN(on_test_epoch_end);
  SEEN(on_validation_batch_start); SEEN(on_validation_batch_end); SEEN(on_test_batch_start); SEEN(on_test_batch_end);
  SEEN(on_train_start); SEEN(on_train_end); SEEN(on_validation_start); SEEN(on_validation_end); SEEN(on_test_start);
  SEEN(on_test_end); SEEN(on_exception); SEEN(on_save_checkpoint); SEEN(on_load_checkpoint); SEEN(on_before_backward);
  SEEN(on_after_backward); SEEN(on_before_optimizer_step); SEEN(on_before_zero_grad); SEEN(on_predict_start);
  SEEN(on_predict_end); SEEN(on_predict_batch_start); SEEN(on_predict_batch_end); SEEN(on_predict_epoch_start);
  SEEN(on_predict_epoch_end);
#undef SEEN
  h.on_train_epoch_start = [&](Trainer&, Module&) {
    seen.insert("on_train_epoch_start");
    if (raise) throw Raise();
  };

  std::string dir = fresh_dir("lambda_callback");
  auto make_options = [&](int64_t max_epochs) {
    TrainerOptions o;
    o.default_root_dir = dir;
    o.enable_progress_bar = false, o.enable_model_summary = false;
    o.max_epochs = max_epochs, o.limit_train_batches = 1, o.limit_val_batches = 1, o.limit_test_batches = 1;
    o.limit_predict_batches = 1, o.num_sanity_val_steps = 1;
    o.callbacks = {std::make_shared<LambdaCallback>(h)};
    return o;
  };
  torch::manual_seed(0);
  BoringModel model;
  Trainer first(make_options(1));
  first.fit(model);
  std::string ckpt = first.checkpoint_callback()->best_model_path();
  ASSERT_FALSE(ckpt.empty());

  raise = true;
  Trainer resumed(make_options(2));
  EXPECT_THROW(resumed.fit(model, nullptr, ckpt), Raise);
  raise = false;
  Trainer(make_options(1)).test(model);
  Trainer(make_options(1)).predict(model);

  EXPECT_EQ(seen.size(), 37u);
  for (const char* hook : {"on_exception", "on_load_checkpoint", "on_save_checkpoint", "on_predict_batch_end",
                           "on_test_batch_end", "on_sanity_check_end", "on_before_zero_grad"})
    EXPECT_TRUE(seen.count(hook)) << hook;
}

TEST(LambdaCallback, PassesTheHookArguments) {
  std::vector<std::string> log;
  LambdaCallbackOptions h;
  h.setup = [&](Trainer&, Module&, const std::string& stage) { log.push_back("setup:" + stage); };
  h.on_train_batch_end = [&](Trainer& t, Module&, const StepOutput& out, const Batch& batch, int64_t i) {
    ASSERT_TRUE(out.isGenericDict());
    log.push_back("batch_end:" + std::to_string(i) + ":" + std::to_string(batch.toTensor().size(0)) + ":" +
                  std::to_string(t.global_step()));
  };
  h.on_predict_batch_end = [&](Trainer&, Module&, const StepOutput& out, const Batch&, int64_t i, int64_t dl) {
    log.push_back("predict:" + std::to_string(i) + ":" + std::to_string(dl) + ":" +
                  std::to_string(out.toTensor().size(1)));
  };
  TrainerOptions o = golden_options(fresh_dir("lambda_args"), {std::make_shared<LambdaCallback>(h)});
  o.max_epochs = 1, o.limit_train_batches = 2, o.limit_val_batches = 0, o.limit_predict_batches = 1;
  o.enable_checkpointing = false;
  BoringModel model;
  Trainer(o).fit(model);
  Trainer(o).predict(model);
  EXPECT_EQ(log, (std::vector<std::string>{"setup:fit", "batch_end:0:1:1", "batch_end:1:1:2", "setup:predict",
                                           "predict:0:0:2"}));
}

TEST(LambdaCallback, EmptyFunctionsAreNoOps) {
  TrainerOptions o = golden_options(fresh_dir("lambda_empty"), {std::make_shared<LambdaCallback>()});
  o.max_epochs = 1, o.limit_train_batches = 1, o.limit_val_batches = 1, o.enable_checkpointing = false;
  BoringModel model;
  EXPECT_NO_THROW(Trainer(o).fit(model));
  EXPECT_EQ(LambdaCallback().class_name(), "LambdaCallback");
  EXPECT_FALSE(LambdaCallback().is_stateful());
}

}  // namespace volt_test_lambda_callback_test
}  // namespace
