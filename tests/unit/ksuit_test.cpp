// The ksuit layer (spec ksuit.md): progress units, metric properties and mode="auto", the sealed template hooks,
// periodic firing, the LogWriter, EMA across a resume, and ksuit-style callbacks next to Lightning ones.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/loggers.hpp"
#include "support/messages.hpp"
#include "support/scripted.hpp"
#include "volt/ksuit/ema.hpp"
#include "volt/ksuit/periodic.hpp"
#include "volt/serialization/pickle_reader.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_ksuit_test {

using namespace volt;
using namespace volt::testing;
using namespace volt::ksuit;
namespace fs = std::filesystem;

namespace {

// Linear(2, 1) regression with SGD; `samples` rows in batches of `batch_size`.
class TinyModel : public Module {
 public:
  explicit TinyModel(int64_t samples = 16, int64_t batch_size = 4) : batch_size_(batch_size) {
    torch::manual_seed(7);
    fc = register_module("fc", torch::nn::Linear(2, 1));
    x_ = torch::randn({samples, 2});
    y_ = x_.sum(1, true);
  }
  StepOutput training_step(const Batch& batch, int64_t) override {
    auto xy = batch.toTupleRef().elements();
    return torch::mse_loss(fc->forward(xy[0].toTensor()), xy[1].toTensor());
  }
  StepOutput validation_step(const Batch& batch, int64_t, int64_t) override {
    auto xy = batch.toTupleRef().elements();
    auto loss = torch::mse_loss(fc->forward(xy[0].toTensor()), xy[1].toTensor());
    log("val_loss", loss);
    return loss;
  }
  OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.05));
  }
  std::shared_ptr<DataLoader> loader() {
    DataLoaderOptions o;
    o.batch_size = batch_size_;
    return std::make_shared<TensorDataLoader>(std::vector<torch::Tensor>{x_, y_}, o);
  }
  torch::nn::Linear fc{nullptr};

 private:
  int64_t batch_size_;
  torch::Tensor x_, y_;
};

// Records every periodic firing as "<type> E.._U.._S..", and counts the track hooks.
class Firing : public PeriodicCallback {
 public:
  using PeriodicCallback::PeriodicCallback;
  std::vector<std::string> fired;
  int accumulation_steps = 0, updates = 0;
  std::vector<double> total_losses;

 protected:
  void _periodic_callback(IntervalType type, const UpdateCounter& c) override {
    fired.push_back(std::string(interval_name(type)) + " " + c.cur_iteration().str());
  }
  void _track_after_accumulation_step(const UpdateCounter&, const Batch&, const LossMap& losses, const StepOutput&,
                                      int64_t, int64_t) override {
    ++accumulation_steps;
    total_losses.push_back(losses.at("total").item<double>());
  }
  void _track_after_update_step(const UpdateCounter&, const std::map<std::string, double>& times) override {
    ++updates;
    EXPECT_TRUE(times.count("update") && times.count("data_wait"));
  }
};

std::vector<std::string> fire(Interval interval, int64_t samples, int64_t batch_size, int64_t epochs,
                              int64_t accumulate = 1, Firing** out = nullptr) {
  auto cb = std::make_shared<Firing>(interval);
  TinyModel model(samples, batch_size);
  TrainerOptions o = plain_options(test_dir("ksuit_fire_"), {cb}, epochs);
  o.accumulate_grad_batches = accumulate;
  Trainer trainer(o);
  trainer.fit(model, model.loader());
  static std::shared_ptr<Firing> keep;
  keep = cb;
  if (out) *out = cb.get();
  return cb->fired;
}

}  // namespace

// ---- §3 progress ------------------------------------------------------------------------------------------------

TEST(KsuitProgress, TrainingIterationConvertsBetweenUnitsAsKsuit) {
  // 10 updates per epoch, 64 samples per update
  EXPECT_EQ(TrainingIteration::epochs(3).to_fully_specified(10, 64).str(), "E3_U30_S1920");
  EXPECT_EQ(TrainingIteration::updates(25).to_fully_specified(10, 64).str(), "E2_U25_S1600");
  // samples round down to whole updates, epochs to whole epochs
  EXPECT_EQ(TrainingIteration::samples(1000).to_fully_specified(10, 64).str(), "E1_U15_S960");
  EXPECT_EQ(TrainingIteration::epochs(5).str(), "Epoch: 5");
  EXPECT_EQ((TrainingIteration{std::nullopt, 100, 64}).str(), "Update: 100, Sample: 64");
  EXPECT_EQ(TrainingIteration::from_string("E1_U100_S6400"), TrainingIteration::full(1, 100, 6400));
  EXPECT_EQ(TrainingIteration::find_string("model_cp=E2_U8_S32_model.th")->str(), "E2_U8_S32");
  EXPECT_FALSE(TrainingIteration::find_string("model_cp=latest_model.th"));
  EXPECT_THROW(TrainingIteration::from_string("E1_U100"), MisconfigurationError);
  EXPECT_THROW(TrainingIteration::full(1, 2, 3).to_fully_specified(10, 64), MisconfigurationError);
  EXPECT_THROW(TrainingIteration::epochs(1) + TrainingIteration::updates(1), MisconfigurationError);
  auto a = TrainingIteration::full(1, 10, 640), b = TrainingIteration::full(0, 4, 256);
  EXPECT_EQ((a - b).str(), "E1_U6_S384");
  EXPECT_TRUE(a >= b);
  EXPECT_FALSE(b >= a);
  EXPECT_TRUE(a >= TrainingIteration::updates(10));  // only the units set on both sides count
  EXPECT_EQ(a.to_target_specification(TrainingIteration::samples(0)).str(), "Sample: 640");
}

TEST(KsuitProgress, UpdateCounterEndInAnyUnitAndResumeConsistency) {
  UpdateCounter fresh(TrainingIteration::full(0, 0, 0), TrainingIteration::samples(100), 4, 8);
  EXPECT_EQ(fresh.end_iteration()->str(), "E3_U12_S96");
  UpdateCounter resumed(TrainingIteration::full(1, 6, 48), TrainingIteration::epochs(3), 4, 8);
  // absolute: 3 epochs = 12 updates even when resuming mid-epoch (ksuit's start + 2 epochs would give U14)
  EXPECT_EQ(resumed.end_iteration()->str(), "E3_U12_S96");
  EXPECT_FALSE(resumed.is_finished());
  for (int i = 0; i < 6; ++i) {
    resumed.add_samples(8);
    resumed.next_update();
    if (resumed.is_full_epoch()) resumed.next_epoch();
  }
  EXPECT_EQ(resumed.cur_iteration().str(), "E3_U12_S96");
  EXPECT_DOUBLE_EQ(resumed.epoch_as_float(), 3.0);
  EXPECT_TRUE(resumed.is_finished());
  // a start that does not match the batch size (resuming with another batch size) is refused
  EXPECT_THROW(UpdateCounter(TrainingIteration::full(1, 6, 40), std::nullopt, 4, 8), MisconfigurationError);
  EXPECT_THROW(UpdateCounter(TrainingIteration::epochs(1), std::nullopt, 4, 8), MisconfigurationError);
}

TEST(KsuitProgress, TrainingEndsAtAnEndGivenInSamples) {
  auto ctx = std::make_shared<Context>(ContextOptions{TrainingIteration::samples(40), std::nullopt, "", "model"});
  auto cb = std::make_shared<Firing>(Interval{std::nullopt, 1, std::nullopt}, ctx);
  TinyModel model(16, 4);  // 4 updates per epoch, 4 samples each: 40 samples = 10 updates
  Trainer trainer(plain_options(test_dir("ksuit_end_"), {cb}, 100));
  trainer.fit(model, model.loader());
  EXPECT_EQ(trainer.global_step(), 10);
  ASSERT_FALSE(cb->fired.empty());
  EXPECT_EQ(cb->fired.back(), "update E2_U10_S40");
}

// ---- §7 metric properties and mode="auto" ------------------------------------------------------------------------

TEST(KsuitMetricProperties, FirstMatchWinsOnTheLowerCasedKey) {
  MetricPropertyProvider p;
  EXPECT_EQ(p.get_ordinality("val_loss"), Ordinality::kLowerIsBetter);
  EXPECT_EQ(p.get_ordinality("Loss/Online/Total/E1"), Ordinality::kLowerIsBetter);
  EXPECT_EQ(p.get_ordinality("val_acc"), Ordinality::kHigherIsBetter);
  EXPECT_EQ(p.get_ordinality("train_acc_epoch"), Ordinality::kHigherIsBetter);
  EXPECT_EQ(p.get_ordinality("accuracy/test"), Ordinality::kHigherIsBetter);
  EXPECT_EQ(p.get_ordinality("test/error_rate"), Ordinality::kLowerIsBetter);
  // neutral patterns come first: an optimizer key with "loss" in it stays neutral
  EXPECT_EQ(p.get_ordinality("optim/loss_scale"), Ordinality::kNeutral);
  // "*accuracy*" is before "*loss*"
  EXPECT_EQ(p.get_ordinality("loss_of_accuracy"), Ordinality::kHigherIsBetter);
  EXPECT_EQ(p.get_ordinality("val_score"), std::nullopt);
  // user patterns are appended (the defaults win) unless put first
  p.register_pattern("*score*", Ordinality::kHigherIsBetter);
  p.register_pattern("val_loss", Ordinality::kHigherIsBetter);
  EXPECT_EQ(p.get_ordinality("val_score"), Ordinality::kHigherIsBetter);
  EXPECT_EQ(p.get_ordinality("val_loss"), Ordinality::kLowerIsBetter);
  p.register_pattern("VAL_LOSS", Ordinality::kNeutral, /*first=*/true);
  EXPECT_EQ(p.get_ordinality("val_loss"), Ordinality::kNeutral);
  EXPECT_TRUE(p.is_neutral_key("val_loss"));
  CapturedMessages messages;
  EXPECT_TRUE(p.higher_is_better("something_unknown_42"));
  EXPECT_EQ(messages.containing("something_unknown_42").size(), 1u);
  EXPECT_FALSE(MetricPropertyProvider(false).get_ordinality("val_loss"));
}

TEST(KsuitMetricProperties, Fnmatch) {
  EXPECT_TRUE(fnmatch("loss/online/total", "loss/*"));
  EXPECT_TRUE(fnmatch("abc", "a?c"));
  EXPECT_FALSE(fnmatch("abbc", "a?c"));
  EXPECT_TRUE(fnmatch("a1", "a[0-9]"));
  EXPECT_FALSE(fnmatch("a1", "a[!0-9]"));
  EXPECT_TRUE(fnmatch("", "*"));
  EXPECT_FALSE(fnmatch("val_loss", "loss*"));
}

TEST(KsuitModeAuto, EarlyStoppingAndModelCheckpointAskTheTrainer) {
  const std::string root = test_dir("ksuit_auto_");
  EarlyStoppingOptions es;
  es.monitor = "val_loss";
  es.mode = "auto";
  es.patience = 1;
  auto stopper = std::make_shared<EarlyStopping>(es);
  EXPECT_EQ(stopper->mode(), "auto");
  EXPECT_EQ(stopper->state_key(), "EarlyStopping{'monitor': 'val_loss', 'mode': 'auto'}");
  ModelCheckpointOptions mc;
  mc.monitor = "val_loss";
  mc.mode = "auto";
  mc.dirpath = root + "/ckpt";
  mc.filename = "{epoch}";
  auto checkpoint = std::make_shared<ModelCheckpoint>(mc);
  // val_loss goes 3, 1, 2, 5: lower is better, so the best is epoch 1 and training stops after epoch 2
  ScriptedModel model(table({3.0, 1.0, 2.0, 5.0}, "val_loss"));
  TrainerOptions o = golden_options(root, {stopper, checkpoint});
  o.max_epochs = 4;
  o.limit_train_batches = 2;
  o.limit_val_batches = 2;
  Trainer trainer(o);
  trainer.fit(model);
  EXPECT_EQ(stopper->mode(), "min");
  EXPECT_EQ(checkpoint->mode(), "min");
  EXPECT_EQ(stopper->stopped_epoch(), 2);
  EXPECT_EQ(fs::path(checkpoint->best_model_path()).filename().string(), "epoch=1.ckpt");
  EXPECT_EQ(checkpoint->best_model_score()->item<double>(), 1.0);
}

TEST(KsuitModeAuto, HigherIsBetterForAccuracyAndUserPatterns) {
  const std::string root = test_dir("ksuit_auto_");
  EarlyStoppingOptions es;
  es.monitor = "val_acc";
  es.mode = "auto";
  auto acc = std::make_shared<EarlyStopping>(es);
  es.monitor = "val_score";
  auto score = std::make_shared<EarlyStopping>(es);
  ScriptedModel model(table({1.0}, "val_acc"));
  TrainerOptions o = golden_options(root, {acc});
  o.max_epochs = 1;
  o.limit_train_batches = 1;
  o.limit_val_batches = 1;
  o.enable_checkpointing = false;
  Trainer trainer(o);
  trainer.fit(model);
  EXPECT_EQ(acc->mode(), "max");
  EXPECT_EQ(acc->best_score().item<double>(), 1.0);

  o.callbacks = {score};
  ScriptedModel scored(table({1.0}, "val_score"));
  Trainer unknown(o);
  try {
    unknown.fit(scored);
    ADD_FAILURE() << "no error for an unknown metric";
  } catch (const MisconfigurationError& e) {
    EXPECT_NE(std::string(e.what()).find("EarlyStopping(monitor='val_score', mode='auto'): cannot tell whether higher "
                                         "or lower is better for 'val_score' (no pattern matches it)"),
              std::string::npos)
        << e.what();
  }
  Trainer registered(o);
  registered.metric_properties().register_pattern("*score", Ordinality::kHigherIsBetter);
  registered.fit(scored);
  EXPECT_EQ(score->mode(), "max");
}

// ---- §1 sealed templates ------------------------------------------------------------------------------------------

namespace {
class Sneaky : public CallbackBase {
 public:
  bool grad_enabled = true, model_training = true, hidden_called = false;
  int before = 0, after = 0;
  // hides (cannot override) the sealed template: the trainer still goes through CallbackBase::before_training
  void before_training(const UpdateCounter&) { hidden_called = true; }

 protected:
  void _before_training(const UpdateCounter& c) override {
    ++before;
    grad_enabled = torch::GradMode::is_enabled();
    model_training = model().is_training();
    EXPECT_EQ(c.cur_iteration().str(), "E0_U0_S0");
  }
  void _after_training(const UpdateCounter& c) override {
    ++after;
    EXPECT_FALSE(torch::GradMode::is_enabled());
    EXPECT_FALSE(model().is_training());
    EXPECT_EQ(c.cur_iteration().str(), "E2_U8_S32");
  }
};
}  // namespace

TEST(KsuitCallbackBase, SealedTemplatesApplyNoGradAndEvalMode) {
  auto cb = std::make_shared<Sneaky>();
  TinyModel model;
  // a submodule the user keeps in eval mode (set before the ksuit callback runs) stays so after it
  LambdaCallbackOptions freeze, probe;
  freeze.on_train_start = [&](Trainer&, Module&) { model.fc->eval(); };
  bool root_training = false, fc_training = true;
  probe.on_train_start = [&](Trainer&, Module&) {
    root_training = model.is_training();
    fc_training = model.fc->is_training();
  };
  Trainer trainer(plain_options(test_dir("ksuit_sealed_"),
                        {std::make_shared<LambdaCallback>(freeze), cb, std::make_shared<LambdaCallback>(probe)}, 2));
  EXPECT_THROW(cb->trainer(), MisconfigurationError);  // dependencies exist once fit sets them up
  trainer.fit(model, model.loader());
  EXPECT_EQ(cb->before, 1);
  EXPECT_EQ(cb->after, 1);
  EXPECT_FALSE(cb->grad_enabled);
  EXPECT_FALSE(cb->model_training);
  EXPECT_FALSE(cb->hidden_called);
  EXPECT_TRUE(torch::GradMode::is_enabled());
  EXPECT_TRUE(root_training);
  EXPECT_FALSE(fc_training);
  EXPECT_EQ(&cb->trainer(), &trainer);
  EXPECT_EQ(&cb->model(), &model);
  EXPECT_EQ(cb->str(), "Sneaky");
  EXPECT_EQ(cb->logger().name(), "Sneaky");
}

// ---- §2 periodic firing --------------------------------------------------------------------------------------------

TEST(KsuitPeriodic, EveryNEpochs) {
  // 16 samples / batch 4: 4 updates per epoch
  EXPECT_EQ(fire({2, std::nullopt, std::nullopt}, 16, 4, 5),
            (std::vector<std::string>{"epoch E2_U8_S32", "epoch E4_U16_S64"}));
}

TEST(KsuitPeriodic, EveryNUpdatesWithTrackHooks) {
  Firing* cb = nullptr;
  EXPECT_EQ(fire({std::nullopt, 3, std::nullopt}, 16, 4, 3, 1, &cb),
            (std::vector<std::string>{"update E0_U3_S12", "update E1_U6_S24", "update E2_U9_S36",
                                      "update E3_U12_S48"}));
  EXPECT_EQ(cb->accumulation_steps, 12);
  EXPECT_EQ(cb->updates, 12);
  EXPECT_EQ(cb->str(), "Firing(every_n_updates=3)");
  EXPECT_EQ(cb->to_short_interval_string(), "U3");
}

TEST(KsuitPeriodic, EveryNSamplesNotDivisibleByTheBatchSize) {
  // S = 4, 8, 12, ...: floor(S / 10) grows at 12, 20, 32, 40
  EXPECT_EQ(fire({std::nullopt, std::nullopt, 10}, 16, 4, 3),
            (std::vector<std::string>{"sample E0_U3_S12", "sample E1_U5_S20", "sample E2_U8_S32",
                                      "sample E2_U10_S40"}));
  // divisible: every 8 samples = every 2 updates
  EXPECT_EQ(fire({std::nullopt, std::nullopt, 8}, 16, 4, 1),
            (std::vector<std::string>{"sample E0_U2_S8", "sample E1_U4_S16"}));
}

TEST(KsuitPeriodic, SeveralIntervalsFireInOneStep) {
  EXPECT_EQ(fire({1, 2, 12}, 16, 4, 2),
            (std::vector<std::string>{"update E0_U2_S8", "sample E0_U3_S12", "update E1_U4_S16", "epoch E1_U4_S16",
                                      "update E1_U6_S24", "sample E1_U6_S24", "update E2_U8_S32",
                                      "epoch E2_U8_S32"}));
}

TEST(KsuitPeriodic, AccumulationCountsUpdatesAndTheEffectiveBatchSize) {
  Firing* cb = nullptr;
  // 4 batches of 4, accumulate 2: 2 updates per epoch, 8 samples per update
  EXPECT_EQ(fire({1, std::nullopt, std::nullopt}, 16, 4, 2, 2, &cb),
            (std::vector<std::string>{"epoch E1_U2_S16", "epoch E2_U4_S32"}));
  EXPECT_EQ(cb->accumulation_steps, 8);
  EXPECT_EQ(cb->updates, 4);
}

TEST(KsuitPeriodic, IntervalStringsAndErrors) {
  Interval both{1, 100, std::nullopt};
  EXPECT_EQ(both.verbose_string(), "every_n_epochs=1,every_n_updates=100");
  EXPECT_EQ(both.short_string(), "E1_U100");
  EXPECT_EQ((Interval{std::nullopt, std::nullopt, 6400}).short_string(), "S6400");
  EXPECT_THROW(Firing(Interval{0, std::nullopt, std::nullopt}), MisconfigurationError);
  Firing firing(both);
  UpdateCounter c(TrainingIteration::full(0, 5, 20), std::nullopt, 4, 4);
  EXPECT_THROW(firing.updates_per_log_interval(c), MisconfigurationError);
  Firing samples(Interval{std::nullopt, std::nullopt, 12});
  EXPECT_EQ(samples.updates_per_log_interval(c), 3);
  EXPECT_EQ(samples.updates_till_next_log(c), 1);
  Firing odd(Interval{std::nullopt, std::nullopt, 10});
  EXPECT_THROW(odd.updates_per_log_interval(c), MisconfigurationError);
}

// ---- §4 LogWriter ---------------------------------------------------------------------------------------------------

namespace {
// Logs `key` (value = update) at its interval, echoing to stdout when `echo`.
class Logs : public PeriodicCallback {
 public:
  Logs(Interval interval, std::string key, bool echo = false, std::string format = "")
      : PeriodicCallback(interval), key_(std::move(key)), echo_(echo), format_(std::move(format)) {}
  std::vector<std::vector<std::string>> seen_in_cache;

 protected:
  void _periodic_callback(IntervalType, const UpdateCounter& c) override {
    std::vector<std::string> keys;
    for (const auto& kv : writer().log_cache().scalars) keys.push_back(kv.first);
    seen_in_cache.push_back(keys);
    writer().add_scalar(key_, static_cast<double>(c.update()) / 3.0, echo_ ? &logger() : nullptr, format_);
  }

 private:
  std::string key_;
  bool echo_;
  std::string format_;
};
}  // namespace

TEST(KsuitLogWriter, OneMergedEntryPerUpdateSentToTheLoggers) {
  auto per_update = std::make_shared<Logs>(Interval{std::nullopt, 2, std::nullopt}, "loss/a/U2", true, ".3f");
  auto per_epoch = std::make_shared<Logs>(Interval{1, std::nullopt, std::nullopt}, "acc/b/E1");
  auto logger = std::make_shared<RecordingLogger>();
  TinyModel model(8, 4);  // 2 updates per epoch
  TrainerOptions o = plain_options(test_dir("ksuit_log_"), {per_update, per_epoch}, 2);
  o.loggers = {logger};
  CapturedMessages messages;
  Trainer trainer(o);
  trainer.fit(model, model.loader());
  auto& writer = per_update->writer();
  ASSERT_EQ(&writer, &per_epoch->writer());  // one writer shared by the trainer's ksuit callbacks
  const auto& entries = writer.log_entries();
  ASSERT_EQ(entries.size(), 2u);  // updates 2 and 4, each holding both keys
  EXPECT_EQ(entries[0].update, 2);
  EXPECT_EQ(entries[0].epoch, 1);
  EXPECT_EQ(entries[0].sample, 8);
  ASSERT_EQ(entries[0].scalars.size(), 2u);
  EXPECT_EQ(entries[0].scalars[0].first, "loss/a/U2");
  EXPECT_EQ(entries[0].scalars[1].first, "acc/b/E1");
  // the epoch callback saw the update callback's value of the same step
  EXPECT_EQ(per_epoch->seen_in_cache[0], (std::vector<std::string>{"loss/a/U2"}));
  std::vector<RecordingLogger::Call> calls;
  for (const auto& call : logger->calls)
    if (call.metrics.count("loss/a/U2")) calls.push_back(call);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].step, 4);
  EXPECT_EQ(calls[1].metrics, (std::map<std::string, double>{
                                          {"loss/a/U2", 4.0 / 3.0}, {"acc/b/E1", 4.0 / 3.0}, {"epoch", 2}, {"sample", 16}}));
  // stdout only for the callback that passed its logger, formatted with format_str
  EXPECT_EQ(messages.containing("loss/a/U2"),
            (std::vector<std::string>{"[Logs(every_n_updates=2)] loss/a/U2: 0.667",
                                      "[Logs(every_n_updates=2)] loss/a/U2: 1.333"}));
  EXPECT_TRUE(messages.containing("acc/b/E1").empty());
  EXPECT_EQ(writer.get_all_metric_values("acc/b/E1"),
            (std::vector<std::pair<int64_t, double>>{{2, 2.0 / 3.0}, {4, 4.0 / 3.0}}));
  // the summary picks min for a loss, max for an accuracy
  auto summary = per_update->tracker().summary();
  EXPECT_EQ(summary, (std::map<std::string, double>{{"acc/b/E1/last", 4.0 / 3.0},
                                                    {"acc/b/E1/max", 4.0 / 3.0},
                                                    {"loss/a/U2/last", 4.0 / 3.0},
                                                    {"loss/a/U2/min", 2.0 / 3.0}}));
}

TEST(KsuitLogWriter, DuplicateKeyInOneUpdateIsAClearError) {
  auto first = std::make_shared<Logs>(Interval{std::nullopt, 1, std::nullopt}, "loss/online/total");
  auto second = std::make_shared<Logs>(Interval{std::nullopt, 1, std::nullopt}, "loss/online/total");
  TinyModel model(8, 4);
  Trainer trainer(plain_options(test_dir("ksuit_dup_"), {first, second}, 1));
  try {
    trainer.fit(model, model.loader());
    ADD_FAILURE() << "no error";
  } catch (const MisconfigurationError& e) {
    EXPECT_EQ(std::string(e.what()),
              "LogWriter: 'loss/online/total' was already logged for update 1 (E0_U1_S4); each key may be logged "
              "once per update. Give the second value another key, e.g. with the callback's interval suffix "
              "(to_short_interval_string()).");
  }
}

TEST(KsuitLogWriter, DirectUseOutsideTrainingAndReservedKeys) {
  auto provider = std::make_shared<MetricPropertyProvider>();
  LogWriter writer(std::make_shared<Tracker>(), provider);
  EXPECT_THROW(writer.add_scalar("x", 1.0), MisconfigurationError);
  UpdateCounter counter(TrainingIteration::full(0, 0, 0), std::nullopt, 2, 4);
  writer.bind(&counter);
  counter.add_samples(4);
  counter.next_update();
  writer.add_scalar("loss/", torch::tensor(0.5f));  // a trailing '/' is stripped, a tensor becomes its item
  EXPECT_THROW(writer.add_scalar("update", 1.0), MisconfigurationError);
  EXPECT_THROW(writer.add_scalar("loss", 1.0), MisconfigurationError);
  EXPECT_THROW(writer.add_scalar("vec", torch::ones({2})), MisconfigurationError);
  counter.add_samples(4);
  counter.next_update();
  writer.add_scalar("loss", 0.25);  // a later update closes the open entry first
  writer.flush();
  writer.flush();  // nothing cached: no-op
  EXPECT_EQ(writer.get_all_metric_values("loss"), (std::vector<std::pair<int64_t, double>>{{1, 0.5}, {2, 0.25}}));
}

// ---- §6 EMA across a resume ------------------------------------------------------------------------------------------

namespace {
std::shared_ptr<EmaCallback> make_ema() {
  EmaOptions o;
  o.target_factors = {0.9, 0.5};
  o.every_n_epochs = 1;
  o.save_latest_weights = true;
  return std::make_shared<EmaCallback>(o);
}

TrainerOptions ema_options(const std::string& root, std::shared_ptr<EmaCallback> ema, int64_t epochs) {
  TrainerOptions o = plain_options(root, {ema}, epochs);
  ModelCheckpointOptions mc;
  mc.dirpath = root + "/checkpoints";
  mc.save_last = true;
  mc.save_top_k = 0;
  o.enable_checkpointing = true;
  o.callbacks.push_back(std::make_shared<ModelCheckpoint>(mc));
  return o;
}
}  // namespace

TEST(KsuitEma, SavedAsItsOwnFilesAndRestoredBitIdenticalOnResume) {
  const std::string straight_root = test_dir("ksuit_ema_straight_"), resumed_root = test_dir("ksuit_ema_resumed_");
  auto straight = make_ema();
  {
    TinyModel model(16, 4);
    Trainer trainer(ema_options(straight_root, straight, 4));
    trainer.fit(model, model.loader());
    // the EMA differs from the weights it follows, and the 0.5 one is closer to them
    auto raw = model.fc->weight.detach();
    auto ema9 = straight->ema_state_dict(0.9).at("fc.weight").toTensor();
    auto ema5 = straight->ema_state_dict(0.5).at("fc.weight").toTensor();
    EXPECT_FALSE(torch::equal(raw, ema9));
    EXPECT_LT((raw - ema5).abs().sum().item<double>(), (raw - ema9).abs().sum().item<double>());
  }
  const std::string dir = straight_root + "/checkpoints/";
  for (const char* file : {"model_cp=E1_U4_S16_ema=0.9_model.th", "model_cp=E4_U16_S64_ema=0.5_model.th",
                           "model_cp=latest_ema=0.9_model.th", "model_cp=last_ema=0.5_model.th"})
    EXPECT_TRUE(fs::exists(dir + file)) << file;
  StateDict last = CheckpointWriter::load_model_checkpoint(dir + "model_cp=last_ema=0.9_model.th");
  EXPECT_EQ(last.at("ema").toDouble(), 0.9);
  EXPECT_EQ(last.at("checkpoint_tag").toStringRef(), "last");
  EXPECT_EQ(as_state(last.at("training_iteration"), "it").at("update").toInt(), 16);
  EXPECT_TRUE(torch::equal(as_state(last.at("state_dict"), "sd").at("fc.bias").toTensor(),
                           straight->ema_state_dict(0.9).at("fc.bias").toTensor()));
  // the trainer checkpoint does not hold the EMA
  StateDict ckpt = as_state(read_checkpoint_file(dir + "last.ckpt"), "last.ckpt");
  StateDict callback_states = as_state(ckpt.at("callbacks"), "callbacks");
  ASSERT_EQ(callback_states.size(), 1u);
  EXPECT_EQ(callback_states.begin()->key().toStringRef().rfind("ModelCheckpoint{", 0), 0u);

  // 2 epochs, then a new trainer and a new callback resume to 4
  {
    TinyModel model(16, 4);
    Trainer trainer(ema_options(resumed_root, make_ema(), 2));
    trainer.fit(model, model.loader());
  }
  auto resumed = make_ema();
  TinyModel model(16, 4);
  bool was_resumed = false;
  LambdaCallbackOptions probe;
  probe.on_train_start = [&](Trainer&, Module&) { was_resumed = resumed->was_resumed(); };
  TrainerOptions resumed_options = ema_options(resumed_root, resumed, 4);
  resumed_options.callbacks.push_back(std::make_shared<LambdaCallback>(probe));
  Trainer trainer(resumed_options);
  trainer.fit(model, model.loader(), nullptr, resumed_root + "/checkpoints/last.ckpt");
  EXPECT_TRUE(was_resumed);
  EXPECT_FALSE(resumed->was_resumed());
  for (double f : {0.9, 0.5}) {
    StateDict a = straight->ema_state_dict(f), b = resumed->ema_state_dict(f);
    for (const char* key : {"fc.weight", "fc.bias"})
      EXPECT_TRUE(torch::equal(a.at(key).toTensor(), b.at(key).toTensor())) << key << " factor " << f;
  }
}

TEST(KsuitEma, ResumingWithoutLatestFilesSaysHowToFixIt) {
  const std::string root = test_dir("ksuit_ema_nolatest_");
  EmaOptions o;
  o.target_factors = {0.9};
  {
    TinyModel model(8, 4);
    Trainer trainer(ema_options(root, std::make_shared<EmaCallback>(o), 1));
    trainer.fit(model, model.loader());
  }
  TinyModel model(8, 4);
  Trainer trainer(ema_options(root, std::make_shared<EmaCallback>(o), 2));
  try {
    trainer.fit(model, model.loader(), nullptr, root + "/checkpoints/last.ckpt");
    ADD_FAILURE() << "no error";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("model_cp=latest_ema=0.9_model.th' does not exist"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("save_latest_weights = true"), std::string::npos);
  }
  EXPECT_THROW(EmaCallback(EmaOptions{}), MisconfigurationError);
  EmaOptions bad;
  bad.target_factors = {1.0};
  EXPECT_THROW(EmaCallback{bad}, MisconfigurationError);
}

TEST(KsuitEma, ValidatesWithTheEmaWeightsSwappedIn) {
  EmaOptions o;
  o.target_factors = {0.9};
  o.validate_with_factor = 0.9;
  auto ema = std::make_shared<EmaCallback>(o);
  std::vector<double> seen, expected;
  LambdaCallbackOptions probe;  // runs after the EMA callback: sees the weights validation uses
  TinyModel* model_ptr = nullptr;
  probe.on_validation_epoch_start = [&](Trainer&, Module&) {
    seen.push_back(model_ptr->fc->bias.item<double>());
    expected.push_back(ema->ema_state_dict(0.9).at("fc.bias").toTensor().item<double>());
  };
  TinyModel model(8, 4);
  model_ptr = &model;
  Trainer trainer(plain_options(test_dir("ksuit_ema_val_"), {ema, std::make_shared<LambdaCallback>(probe)}, 2));
  trainer.fit(model, model.loader(), model.loader());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen, expected);
  EXPECT_NE(model.fc->bias.item<double>(), expected.back());  // the raw weights are back after validation
}

// ---- mixing ksuit-style and Lightning-style callbacks ------------------------------------------------------------------

namespace {
class KsuitRecorder : public PeriodicCallback {
 public:
  explicit KsuitRecorder(Calls& calls) : PeriodicCallback(Interval{1, std::nullopt, std::nullopt}), calls_(calls) {}

 protected:
  void _before_training(const UpdateCounter& c) override { calls_.push_back("ksuit.before_training " + c.cur_iteration().str()); }
  void _track_after_update_step(const UpdateCounter& c, const std::map<std::string, double>&) override {
    calls_.push_back("ksuit.track_after_update_step U" + std::to_string(c.update()));
  }
  void _periodic_callback(IntervalType t, const UpdateCounter& c) override {
    calls_.push_back(std::string("ksuit.periodic ") + interval_name(t) + " " + c.cur_iteration().str());
  }
  void _after_training(const UpdateCounter& c) override { calls_.push_back("ksuit.after_training " + c.cur_iteration().str()); }

 private:
  Calls& calls_;
};
}  // namespace

TEST(KsuitMixing, KsuitAndLightningCallbacksShareOneTrainer) {
  Calls calls;
  LambdaCallbackOptions lightning;
  lightning.on_train_start = [&](Trainer&, Module&) { calls.push_back("lightning.on_train_start"); };
  lightning.on_train_batch_end = [&](Trainer& t, Module&, const StepOutput&, const Batch&, int64_t) {
    calls.push_back("lightning.on_train_batch_end step " + std::to_string(t.global_step()));
  };
  lightning.on_train_epoch_end = [&](Trainer&, Module&) { calls.push_back("lightning.on_train_epoch_end"); };
  lightning.on_train_end = [&](Trainer&, Module&) { calls.push_back("lightning.on_train_end"); };
  TinyModel model(8, 4);
  Trainer trainer(plain_options(test_dir("ksuit_mix_"),
                        {std::make_shared<LambdaCallback>(lightning), std::make_shared<KsuitRecorder>(calls)}, 1));
  trainer.fit(model, model.loader());
  EXPECT_EQ(calls, (Calls{"lightning.on_train_start", "ksuit.before_training E0_U0_S0",
                          "lightning.on_train_batch_end step 1", "ksuit.track_after_update_step U1",
                          "lightning.on_train_batch_end step 2", "ksuit.track_after_update_step U2",
                          "lightning.on_train_epoch_end", "ksuit.periodic epoch E1_U2_S8", "lightning.on_train_end",
                          "ksuit.after_training E1_U2_S8"}));
}

}  // namespace volt_test_ksuit_test
}  // namespace
