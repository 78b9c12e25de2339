// Trainer behaviour beyond hook order: log() rules and metric views (spec §8), callback list assembly and
// configure_callbacks overrides (spec §5), state-key collisions (spec §4), step outputs, signals (spec §6).
#include <gtest/gtest.h>

#include <csignal>

#include "support/boring.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_trainer_behaviour_test {

using namespace volt;
using namespace volt::testing;

namespace {

TrainerOptions quiet(const std::string& dir) {
  TrainerOptions o = golden_options(dir, {});
  o.max_epochs = 1;
  o.limit_train_batches = 4;
  o.limit_val_batches = 2;
  o.num_sanity_val_steps = 0;
  o.enable_checkpointing = false;
  return o;
}

// Logs from the hooks named in `where`, with the given options; records what the trainer exposes meanwhile.
class LoggingModel : public BoringModel {
 public:
  std::string where = "training_step";
  LogOptions options;
  StepOutput training_step(const Batch& batch, int64_t batch_idx) override {
    auto out = BoringModel::training_step(batch, batch_idx);
    if (where == "training_step") log("train_loss", out.toGenericDict().at("loss").toTensor(), options);
    return out;
  }
  StepOutput validation_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override {
    auto out = BoringModel::validation_step(batch, batch_idx, dataloader_idx);
    log("val_loss", static_cast<double>(batch_idx + 1));  // 1, 2 → epoch mean 1.5 (equal batch sizes)
    return out;
  }
  void on_train_epoch_end() override {
    if (where == "on_train_epoch_end") log("epoch_metric", 3.0, options);
  }
  void on_fit_start() override {
    if (where == "on_fit_start") log("x", 1.0);
  }
};

}  // namespace

TEST(Logging, TrainingStepDefaultsToOnStepAndValidationToOnEpoch) {
  LoggingModel model;
  model.options.prog_bar = true;
  Trainer trainer(quiet(fresh_dir("logging_defaults")));
  trainer.fit(model);
  auto metrics = trainer.callback_metrics();
  ASSERT_TRUE(metrics.count("train_loss"));
  ASSERT_TRUE(metrics.count("val_loss"));
  EXPECT_DOUBLE_EQ(metrics["val_loss"].item<double>(), 1.5);
  EXPECT_FALSE(metrics.count("train_loss_step"));  // not forked: on_epoch is false in training_step by default
  EXPECT_TRUE(trainer.progress_bar_metrics().count("train_loss"));
  EXPECT_FALSE(trainer.progress_bar_metrics().count("val_loss"));
}

TEST(Logging, OnStepAndOnEpochForkTheName) {
  LoggingModel model;
  model.options.on_step = true;
  model.options.on_epoch = true;
  Trainer trainer(quiet(fresh_dir("logging_fork")));
  trainer.fit(model);
  auto metrics = trainer.callback_metrics();
  EXPECT_TRUE(metrics.count("train_loss"));
  EXPECT_TRUE(metrics.count("train_loss_step"));
  EXPECT_TRUE(metrics.count("train_loss_epoch"));
}

TEST(Logging, ForbiddenHookNamesTheHook) {
  LoggingModel model;
  model.where = "on_fit_start";
  Trainer trainer(quiet(fresh_dir("logging_forbidden")));
  try {
    trainer.fit(model);
    FAIL() << "expected MisconfigurationError";
  } catch (const MisconfigurationError& e) {
    EXPECT_STREQ(e.what(), "You can't `self.log()` inside `on_fit_start`.");
  }
}

TEST(Logging, DisallowedOnStepNamesTheAllowedValues) {
  LoggingModel model;
  model.where = "on_train_epoch_end";
  model.options.on_step = true;
  Trainer trainer(quiet(fresh_dir("logging_on_step")));
  try {
    trainer.fit(model);
    FAIL() << "expected MisconfigurationError";
  } catch (const MisconfigurationError& e) {
    EXPECT_STREQ(e.what(), "You can't `self.log(on_step=True)` inside `on_train_epoch_end`, must be one of (False,)");
  }
}

TEST(Logging, CallbacksLogThroughTheModuleWithTheirHookName) {
  struct LogsInBatchEnd : Callback {
    void on_train_batch_end(Trainer&, Module& m, const StepOutput&, const Batch&, int64_t i) override {
      m.log("cb_metric", static_cast<double>(i));
    }
    void on_validation_end(Trainer&, Module& m) override { m.log("bad", 1.0); }
  };
  BoringModel model;
  auto o = quiet(fresh_dir("logging_callback"));
  o.limit_val_batches = 0;
  o.callbacks = {std::make_shared<LogsInBatchEnd>()};
  Trainer trainer(o);
  trainer.fit(model);
  EXPECT_DOUBLE_EQ(trainer.callback_metrics()["cb_metric"].item<double>(), 3.0);

  auto o2 = quiet(fresh_dir("logging_callback_bad"));
  o2.callbacks = {std::make_shared<LogsInBatchEnd>()};
  BoringModel model2;
  EXPECT_THROW(Trainer(o2).fit(model2), MisconfigurationError);  // on_validation_end may not log
}

TEST(Logging, LoggingInPredictIsAnError) {
  struct PredictLogger : BoringModel {
    StepOutput predict_step(const Batch& b, int64_t i, int64_t d) override {
      log("p", 1.0);
      return BoringModel::predict_step(b, i, d);
    }
  } model;
  auto o = quiet(fresh_dir("logging_predict"));
  o.limit_predict_batches = 1;
  try {
    Trainer(o).predict(model);
    FAIL() << "expected MisconfigurationError";
  } catch (const MisconfigurationError& e) {
    EXPECT_STREQ(e.what(), "You can't `self.log()` inside `predict_step`.");
  }
}

// ---- callback list assembly ----------------------------------------------------------------------------------

namespace {
struct CallbackA : Callback {};
struct CallbackB : Callback {};
struct SubB : CallbackB {};
struct CallbackC : Callback {};

std::vector<std::string> names(const Trainer& t) {
  std::vector<std::string> out;
  for (const auto& cb : t.callbacks()) out.push_back(cb->class_name());
  return out;
}

class ConfiguresCallbacks : public BoringModel {
 public:
  std::vector<CallbackPtr> returned;
  std::vector<CallbackPtr> configure_callbacks() override { return returned; }
};
}  // namespace

TEST(CallbackList, DefaultsAreAddedAndCheckpointsGoLast) {
  TrainerOptions o;
  o.callbacks = {std::make_shared<ModelCheckpoint>(), std::make_shared<CallbackA>()};
  Trainer trainer(o);
  EXPECT_EQ(names(trainer), (std::vector<std::string>{"CallbackA", "TQDMProgressBar", "ModelSummary", "ModelCheckpoint"}));
  EXPECT_NE(trainer.checkpoint_callback(), nullptr);
}

TEST(CallbackList, CheckpointCallbackWithCheckpointingOffIsAnError) {
  TrainerOptions o;
  o.enable_checkpointing = false;
  o.callbacks = {std::make_shared<ModelCheckpoint>()};
  EXPECT_THROW(Trainer{o}, MisconfigurationError);
}

TEST(CallbackList, ConfigureCallbacksOverridesSameTypesAndSubtypes) {
  auto o = quiet(fresh_dir("configure_callbacks"));
  o.enable_checkpointing = true;
  o.max_epochs = 1;
  o.limit_train_batches = 1;
  o.limit_val_batches = 0;
  auto a = std::make_shared<CallbackA>();
  o.callbacks = {a, std::make_shared<CallbackB>()};
  Trainer trainer(o);
  ASSERT_EQ(names(trainer), (std::vector<std::string>{"CallbackA", "CallbackB", "ModelCheckpoint"}));

  ConfiguresCallbacks model;
  ModelCheckpointOptions c1, c2;
  c1.monitor = "a";
  c2.monitor = "b";
  auto ckpt1 = std::make_shared<ModelCheckpoint>(c1), ckpt2 = std::make_shared<ModelCheckpoint>(c2);
  auto sub_b = std::make_shared<SubB>();
  auto c = std::make_shared<CallbackC>();
  model.returned = {ckpt1, sub_b, c, ckpt2};
  std::vector<std::string> messages;
  auto previous = set_message_handler([&](MessageLevel, const std::string& m) { messages.push_back(m); });
  try {
    trainer.fit(model);
  } catch (...) {
  }
  set_message_handler(previous);
  // CallbackB is replaced by its subclass, the default ModelCheckpoint by the model's; checkpoints stay last.
  const auto& cbs = trainer.callbacks();
  ASSERT_EQ(cbs.size(), 5u);
  EXPECT_EQ(cbs[0], a);
  EXPECT_EQ(cbs[1], sub_b);
  EXPECT_EQ(cbs[2], c);
  EXPECT_EQ(cbs[3], ckpt1);
  EXPECT_EQ(cbs[4], ckpt2);
  bool info = false;
  for (const auto& m : messages)
    info |= m == "The following callbacks returned in `LightningModule.configure_callbacks` will override existing "
                 "callbacks passed to Trainer: CallbackB, ModelCheckpoint";
  EXPECT_TRUE(info);
}

namespace {
struct Stateful : Callback {
  explicit Stateful(std::string what) : what(std::move(what)) {}
  std::string class_name() const override { return "Stateful"; }
  std::string state_key() const override { return generate_state_key({{"what", what}}); }
  StateDict state_dict() override { return {{"n", 1}}; }
  std::string what;
};
struct Stateless : Callback {};
}  // namespace

TEST(CallbackList, DuplicateStatefulKeysAreAnErrorAtConstruction) {
  TrainerOptions o;
  o.callbacks = {std::make_shared<Stateful>("a"), std::make_shared<Stateful>("a")};
  try {
    Trainer trainer(o);
    FAIL() << "expected MisconfigurationError";
  } catch (const MisconfigurationError& e) {
    EXPECT_EQ(std::string(e.what()),
              "Found more than one stateful callback of type `Stateful`. In the current configuration, this callback "
              "does not support being saved alongside other instances of the same type. Please consult the "
              "documentation of `Stateful` regarding valid settings for the callback state to be checkpointable. "
              "HINT: The `callback.state_key` must be unique among all callbacks in the Trainer.");
  }
  auto same = std::make_shared<Stateful>("b");
  o.callbacks = {same, same};  // the same instance added twice collides with itself
  EXPECT_THROW(Trainer{o}, MisconfigurationError);
  o.callbacks = {std::make_shared<Stateful>("a"), std::make_shared<Stateful>("b"), std::make_shared<Stateless>(),
                 std::make_shared<Stateless>()};
  EXPECT_NO_THROW(Trainer{o});
  EXPECT_EQ(Stateful("a").state_key(), "Stateful{'what': 'a'}");
  EXPECT_TRUE(Stateful("a").is_stateful());
  EXPECT_FALSE(Stateless().is_stateful());
}

// ---- step outputs, stop and signals ----------------------------------------------------------------------------

TEST(TrainingLoop, OnTrainBatchEndSeesTheLossDividedByAccumulationAndDetached) {
  struct Capture : Callback {
    std::vector<double> losses;
    bool any_requires_grad = false;
    void on_train_batch_end(Trainer&, Module&, const StepOutput& out, const Batch&, int64_t) override {
      auto loss = out.toGenericDict().at("loss").toTensor();
      any_requires_grad |= loss.requires_grad();
      losses.push_back(loss.item<double>());
    }
  };
  struct FixedLoss : BoringModel {
    StepOutput training_step(const Batch& batch, int64_t) override {
      auto out = forward(batch.toTensor());
      return (out.sum() * 0 + 6.0);  // the loss is exactly 6 whatever the weights
    }
  } model;
  auto capture = std::make_shared<Capture>();
  auto o = quiet(fresh_dir("outputs"));
  o.accumulate_grad_batches = 3;
  o.limit_val_batches = 0;
  o.callbacks = {capture};
  Trainer trainer(o);
  trainer.fit(model);
  EXPECT_EQ(capture->losses, (std::vector<double>{2.0, 2.0, 2.0, 2.0}));
  EXPECT_FALSE(capture->any_requires_grad);
  EXPECT_EQ(trainer.global_step(), 2);  // steps after batch 3 and at the last batch of the epoch
}

TEST(TrainingLoop, SigtermStopsAtTheNextSafePointThroughOnException) {
  struct Terminate : Callback {
    bool saw_exception = false, tore_down = false;
    void on_train_batch_start(Trainer&, Module&, const Batch&, int64_t i) override {
      if (i == 1) std::raise(SIGTERM);
    }
    void on_exception(Trainer&, Module&, const std::exception&) override { saw_exception = true; }
    void teardown(Trainer&, Module&, const std::string&) override { tore_down = true; }
  };
  auto cb = std::make_shared<Terminate>();
  BoringModel model;
  auto o = quiet(fresh_dir("sigterm"));
  o.limit_val_batches = 0;
  o.callbacks = {cb};
  Trainer trainer(o);
  EXPECT_THROW(trainer.fit(model), SignalError);
  EXPECT_TRUE(cb->saw_exception);
  EXPECT_FALSE(cb->tore_down);
  EXPECT_EQ(trainer.global_step(), 2);  // batch 1 completes; the stop comes at its safe point
  // the previous SIGTERM disposition is back: the test process would be killed otherwise
  EXPECT_EQ(std::signal(SIGTERM, SIG_DFL), SIG_DFL);
}

TEST(TrainerOptionsValidation, BadValuesNameTheOption) {
  TrainerOptions o;
  o.limit_train_batches = 1.5;
  EXPECT_THROW(Trainer{o}, MisconfigurationError);
  o = TrainerOptions{};
  o.accumulate_grad_batches = 0;
  EXPECT_THROW(Trainer{o}, MisconfigurationError);
  o = TrainerOptions{};
  o.gradient_clip_algorithm = "max";
  try {
    Trainer trainer(o);
    FAIL();
  } catch (const MisconfigurationError& e) {
    EXPECT_STREQ(e.what(), "`gradient_clip_algorithm` max is invalid. Allowed algorithms: ['value', 'norm'].");
  }
}

TEST(TrainerOptionsValidation, MissingTrainingPiecesAreClearErrors) {
  struct NoOptimizer : Module {
    StepOutput training_step(const Batch& b, int64_t) override { return b.toTensor().sum(); }
    std::shared_ptr<DataLoader> train_dataloader() override {
      return std::make_shared<TensorDataLoader>(std::vector<torch::Tensor>{torch::ones({4, 2})});
    }
  } model;
  TrainerOptions o = quiet(fresh_dir("no_optimizer"));
  EXPECT_THROW(Trainer(o).fit(model), MisconfigurationError);
}

TEST(TrainingLoop, ANonStandardExceptionStillReachesOnException) {
  struct ThrowsInt : Callback {
    bool heard = false;
    void on_train_start(Trainer&, Module&) override { throw 7; }
    void on_exception(Trainer&, Module&, const std::exception& e) override {
      heard = std::string(e.what()).find("non-standard exception") != std::string::npos;
    }
  };
  auto cb = std::make_shared<ThrowsInt>();
  BoringModel model;
  auto o = quiet(fresh_dir("throws_int"));
  o.callbacks = {cb};
  Trainer trainer(o);
  EXPECT_THROW(trainer.fit(model), int);
  EXPECT_TRUE(cb->heard);
  EXPECT_EQ(trainer.status(), "interrupted");
}

}  // namespace volt_test_trainer_behaviour_test
}  // namespace
