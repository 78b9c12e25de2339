// ModelCheckpoint behaviours of spec §1.9 and Lightning 2.2.5, each pinned by a direct assertion. The same ground is
// covered against real Lightning by callback_golden_test.cpp; these tests say what each behaviour is.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/scripted.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_model_checkpoint_test {

using namespace volt;
using namespace volt::testing;
namespace fs = std::filesystem;

namespace {

class ModelCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(0); }
  std::string root = fs::weakly_canonical(fresh_dir(
      std::string("mc_") + ::testing::UnitTest::GetInstance()->current_test_info()->name())).string();
  std::string ckpt(const std::string& name) const { return (fs::path(root) / "checkpoints" / name).string(); }

  TrainerOptions options(std::vector<CallbackPtr> callbacks, int64_t max_epochs) {
    TrainerOptions o = golden_options(root, std::move(callbacks));
    o.max_epochs = max_epochs;
    o.limit_train_batches = 2;
    o.limit_val_batches = 2;
    return o;
  }

  std::vector<std::string> files() const { return list_files(root); }
};

std::string error_of(const ModelCheckpointOptions& o) {
  try {
    ModelCheckpoint cb(o);
  } catch (const MisconfigurationError& e) {
    return e.what();
  }
  return "(no error)";
}

StateDict load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return as_state(torch::pickle_load(bytes), path);
}

/// Records whether the trainer was sanity checking whenever a checkpoint is dumped.
struct SaveWatcher : Callback {
  std::vector<bool> sanity;
  void on_save_checkpoint(Trainer& t, Module&, StateDict&) override { sanity.push_back(t.sanity_checking()); }
};

}  // namespace

// ---- construction -------------------------------------------------------------------------------------------------

TEST(ModelCheckpointValidation, EachMessageAsLightning) {
  ModelCheckpointOptions o;
  o.mode = "avg";
  EXPECT_EQ(error_of(o), "`mode` can be min, max but got avg");
  o = {};
  o.save_top_k = -2;
  EXPECT_EQ(error_of(o), "Invalid value for save_top_k=-2. Must be >= -1");
  o = {};
  o.every_n_train_steps = -1;
  EXPECT_EQ(error_of(o), "Invalid value for every_n_train_steps=-1. Must be >= 0");
  o = {};
  o.every_n_epochs = -3;
  EXPECT_EQ(error_of(o), "Invalid value for every_n_epochs=-3. Must be >= 0");
  o = {};
  o.every_n_train_steps = 2, o.every_n_epochs = 3;
  EXPECT_EQ(error_of(o), "Combination of parameters every_n_train_steps=2, every_n_epochs=3 and "
                         "train_time_interval=None should be mutually exclusive.");
  o = {};
  o.every_n_epochs = 2, o.train_time_interval = std::chrono::minutes(1);
  EXPECT_EQ(error_of(o), "Combination of parameters every_n_train_steps=0, every_n_epochs=2 and "
                         "train_time_interval=0:01:00 should be mutually exclusive.");
  o = {};
  o.save_top_k = 2;
  EXPECT_EQ(error_of(o), "ModelCheckpoint(save_top_k=2, monitor=None) is not a valid configuration. No quantity "
                         "for top_k to track.");
  // mode is checked first; every_n_epochs with a zero step trigger is fine
  o = {};
  o.save_top_k = -5, o.mode = "bad";
  EXPECT_EQ(error_of(o), "`mode` can be min, max but got bad");
  o = {};
  o.every_n_train_steps = 0, o.every_n_epochs = 3;
  EXPECT_EQ(error_of(o), "(no error)");
  EXPECT_THROW(SaveLast("copy"), MisconfigurationError);
}

TEST(ModelCheckpointValidation, TriggersAndStateKey) {
  ModelCheckpointOptions o;
  o.monitor = "val_loss";
  ModelCheckpoint cb(o);
  EXPECT_EQ(cb.every_n_epochs(), 1);
  EXPECT_EQ(cb.every_n_train_steps(), 0);
  EXPECT_EQ(cb.state_key(), "ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min', 'every_n_train_steps': 0, "
                            "'every_n_epochs': 1, 'train_time_interval': None}");
  ModelCheckpointOptions steps;
  steps.every_n_train_steps = 16;  // only the step trigger: no saving at epoch ends
  ModelCheckpoint by_steps(steps);
  EXPECT_EQ(by_steps.every_n_epochs(), 0);
  ModelCheckpointOptions timed;
  TimeDelta::Parts minute;
  minute.minutes = 1;
  timed.train_time_interval = minute;
  EXPECT_EQ(ModelCheckpoint(timed).state_key(),
            "ModelCheckpoint{'monitor': None, 'mode': 'min', 'every_n_train_steps': 0, 'every_n_epochs': 0, "
            "'train_time_interval': datetime.timedelta(seconds=60)}");
  EXPECT_EQ(cb.kth_value().item<double>(), INFINITY);
  o.mode = "max";
  EXPECT_EQ(ModelCheckpoint(o).kth_value().item<double>(), -INFINITY);
}

TEST(ModelCheckpointValidation, DirpathIsResolvedAtConstruction) {
  ModelCheckpointOptions o;
  o.dirpath = "relative/../dir";
  EXPECT_EQ(ModelCheckpoint(o).dirpath(), (fs::current_path() / "dir").string());
  if (const char* home = std::getenv("HOME")) {
    o.dirpath = "~/x";
    EXPECT_EQ(ModelCheckpoint(o).dirpath(), fs::weakly_canonical(fs::path(home) / "x").string());
  }
  EXPECT_EQ(ModelCheckpoint().dirpath(), "");  // resolved in setup
}

// ---- file names -----------------------------------------------------------------------------------------------------

TEST(ModelCheckpointNames, TemplatesFormatSpecsAndMetricNames) {
  auto name = [](const std::string& filename, const MetricMap& metrics, bool auto_insert = true,
                 std::optional<int64_t> ver = std::nullopt) {
    ModelCheckpointOptions o;
    o.filename = filename;
    o.auto_insert_metric_name = auto_insert;
    return ModelCheckpoint(o).format_checkpoint_name(metrics, "", ver);
  };
  const auto i = [](int64_t v) { return torch::tensor(v); };
  const auto f = [](double v) { return torch::tensor(v, torch::kDouble); };
  EXPECT_EQ(name("", {{"epoch", i(3)}, {"step", i(2)}}), "epoch=3-step=2.ckpt");
  EXPECT_EQ(name("{epoch}", {{"epoch", i(0)}}), "epoch=0.ckpt");
  EXPECT_EQ(name("{epoch:03d}", {{"epoch", i(5)}}), "epoch=005.ckpt");
  EXPECT_EQ(name("{epoch}-{val_loss:.2f}", {{"epoch", i(2)}, {"val_loss", f(0.123456)}}), "epoch=2-val_loss=0.12.ckpt");
  EXPECT_EQ(name("epoch={epoch}-validation_loss={val_loss:.2f}", {{"epoch", i(2)}, {"val_loss", f(0.123456)}}, false),
            "epoch=2-validation_loss=0.12.ckpt");
  EXPECT_EQ(name("{missing:d}", {}), "missing=0.ckpt");
  EXPECT_EQ(name("{step}", {{"step", i(0)}}), "step=0.ckpt");
  EXPECT_EQ(name("{epoch:03d}-{epoch_test:03d}", {{"epoch", i(3)}, {"epoch_test", i(3)}}),
            "epoch=003-epoch_test=003.ckpt");
  EXPECT_EQ(name("{epoch}_{val/loss:.5f}", {{"epoch", i(4)}, {"val/loss", f(0.03)}}), "epoch=4_val/loss=0.03000.ckpt");
  EXPECT_EQ(name("mAP@0.50={val/mAP@0.50:.4f}", {{"val/mAP@0.50", f(0.2)}}, false), "mAP@0.50=0.2000.ckpt");
  EXPECT_EQ(name("name", {}, true, 3), "name-v3.ckpt");
  // a float32 metric without a spec prints the float32 value's Python repr
  EXPECT_EQ(name("{acc}", {{"acc", torch::tensor(0.03f)}}), "acc=0.029999999329447746.ckpt");
  EXPECT_THROW(name("{loss:d}", {{"loss", f(1.5)}}), MisconfigurationError);

  ModelCheckpointOptions o;
  o.dirpath = "/tmp/some_dir";
  o.filename = "name";
  ModelCheckpoint cb(o);
  EXPECT_EQ(cb.format_checkpoint_name({}, "", 3), "/tmp/some_dir/name-v3.ckpt");
  cb.checkpoint_join_char = "@";
  cb.checkpoint_equals_char = ":";
  EXPECT_EQ(cb.format_checkpoint_name({{"epoch", i(3)}, {"acc", f(0.03)}}, "{epoch},{acc:.5f}"),
            "/tmp/some_dir/epoch:3,acc:0.03000.ckpt");
  cb.checkpoint_equals_char = "=";
  cb.checkpoint_name_last = "{foo}-last";
  EXPECT_EQ(cb.format_checkpoint_name({{"foo", i(1)}}, cb.checkpoint_name_last), "/tmp/some_dir/foo=1-last.ckpt");
}

// ---- triggers -------------------------------------------------------------------------------------------------------

TEST_F(ModelCheckpointTest, DefaultKeepsOnlyTheNewest) {
  auto o = options({}, 3);
  o.limit_train_batches = 5;
  o.limit_val_batches = 1;
  ScriptedModel model;
  Trainer trainer(o);
  trainer.fit(model);
  EXPECT_EQ(model.saves, (std::vector<std::pair<int64_t, int64_t>>{{0, 5}, {1, 10}, {2, 15}}));
  EXPECT_EQ(files(), std::vector<std::string>{"checkpoints/epoch=2-step=15.ckpt"});
  auto* cb = dynamic_cast<ModelCheckpoint*>(trainer.checkpoint_callback());
  ASSERT_NE(cb, nullptr);
  EXPECT_EQ(cb->best_model_path(), ckpt("epoch=2-step=15.ckpt"));
  EXPECT_FALSE(cb->best_model_score().has_value());  // no monitor: no score, no top-k bookkeeping
  EXPECT_TRUE(cb->best_k_models().empty());
  EXPECT_EQ(cb->kth_best_model_path(), "");
}

TEST_F(ModelCheckpointTest, EveryNEpochs) {
  for (int64_t every : {0, 2}) {
    fresh_dir(fs::path(root).filename().string());
    ModelCheckpointOptions mc;
    mc.filename = "{epoch}", mc.save_top_k = -1, mc.every_n_epochs = every;
    ScriptedModel model;
    auto o = options({std::make_shared<ModelCheckpoint>(mc)}, 5);
    Trainer(o).fit(model);
    if (every == 0) EXPECT_TRUE(files().empty());
    else EXPECT_EQ(files(), (std::vector<std::string>{"checkpoints/epoch=1.ckpt", "checkpoints/epoch=3.ckpt"}));
  }
}

TEST_F(ModelCheckpointTest, EveryNTrainStepsAndNeverTwiceAtOneStep) {
  ModelCheckpointOptions mc;
  mc.every_n_train_steps = 2, mc.save_top_k = -1, mc.save_last = true;
  auto o = options({std::make_shared<ModelCheckpoint>(mc)}, 2);
  o.limit_train_batches = 4;
  o.limit_val_batches = 1;
  ScriptedModel model;
  Trainer(o).fit(model);
  // top-k + last at steps 2, 4, 6, 8; the epoch ends (steps 4 and 8) are skipped: already saved at that step
  EXPECT_EQ(model.saves, (std::vector<std::pair<int64_t, int64_t>>{
                             {0, 2}, {0, 2}, {0, 4}, {0, 4}, {1, 6}, {1, 6}, {1, 8}, {1, 8}}));
  EXPECT_EQ(files(), (std::vector<std::string>{"checkpoints/epoch=0-step=2.ckpt", "checkpoints/epoch=0-step=4.ckpt",
                                               "checkpoints/epoch=1-step=6.ckpt", "checkpoints/epoch=1-step=8.ckpt",
                                               "checkpoints/last.ckpt"}));
}

TEST_F(ModelCheckpointTest, NoStepTakenMeansNothingToSave) {
  auto o = options({}, 2);
  ScriptedModel model(ScriptSpec{{0.0}, "val_loss", "validation_step", /*no_steps=*/true, std::nullopt,
                                 /*manual=*/true});
  Trainer trainer(o);
  trainer.fit(model);
  EXPECT_EQ(trainer.global_step(), 0);
  EXPECT_TRUE(model.saves.empty());  // _last_global_step_saved starts at 0
}

TEST_F(ModelCheckpointTest, TrainTimeInterval) {
  ModelCheckpointOptions mc;
  mc.train_time_interval = std::chrono::microseconds(1), mc.save_top_k = -1;
  auto o = options({std::make_shared<ModelCheckpoint>(mc)}, 1);
  o.limit_train_batches = 3;
  ScriptedModel model;
  Trainer(o).fit(model);
  EXPECT_EQ(files(), (std::vector<std::string>{"checkpoints/epoch=0-step=1.ckpt", "checkpoints/epoch=0-step=2.ckpt",
                                               "checkpoints/epoch=0-step=3.ckpt"}));
  // a zero timedelta is falsy: no time trigger (and the interval disables the epoch trigger)
  fresh_dir(fs::path(root).filename().string());
  mc.train_time_interval = TimeDelta();
  ScriptedModel model2;
  Trainer(options({std::make_shared<ModelCheckpoint>(mc)}, 1)).fit(model2);
  EXPECT_TRUE(files().empty());
}

TEST_F(ModelCheckpointTest, SaveOnTrainEpochEndOrAfterValidation) {
  for (bool at_epoch_end : {true, false}) {
    fresh_dir(fs::path(root).filename().string());
    ModelCheckpointOptions mc;
    mc.save_top_k = -1, mc.save_on_train_epoch_end = at_epoch_end;
    auto o = options({std::make_shared<ModelCheckpoint>(mc)}, 2);
    o.limit_train_batches = 4;
    o.limit_val_batches = 1;
    o.val_check_interval = 0.5;
    ScriptedModel model;
    Trainer(o).fit(model);
    if (at_epoch_end)
      EXPECT_EQ(model.saves, (std::vector<std::pair<int64_t, int64_t>>{{0, 4}, {1, 8}}));
    else
      EXPECT_EQ(model.saves, (std::vector<std::pair<int64_t, int64_t>>{{0, 2}, {0, 4}, {1, 6}, {1, 8}}));
  }
}

TEST_F(ModelCheckpointTest, NeverSavesWhileSanityChecking) {
  auto watcher = std::make_shared<SaveWatcher>();
  ModelCheckpointOptions mc;
  mc.monitor = "val_loss", mc.save_top_k = -1;
  auto o = options({watcher, std::make_shared<ModelCheckpoint>(mc)}, 2);
  o.num_sanity_val_steps = 2;
  ScriptedModel model(table({3.0, 2.0}));
  Trainer(o).fit(model);
  EXPECT_EQ(watcher->sanity, (std::vector<bool>{false, false}));
  EXPECT_EQ(model.saves, (std::vector<std::pair<int64_t, int64_t>>{{0, 2}, {1, 4}}));
}

TEST_F(ModelCheckpointTest, ValidateAndTestNeverSave) {
  auto o = options({}, 1);
  ScriptedModel model;
  Trainer trainer(o);
  trainer.validate(model);
  trainer.test(model);
  EXPECT_TRUE(model.saves.empty());
}

// ---- top-k ------------------------------------------------------------------------------------------------------------

TEST_F(ModelCheckpointTest, TopKByMonitorWithBookkeeping) {
  ModelCheckpointOptions mc;
  mc.monitor = "val_loss", mc.save_top_k = 2, mc.filename = "{epoch}-{val_loss:.2f}";
  auto cb = std::make_shared<ModelCheckpoint>(mc);
  ScriptedModel model(table({5, 4, 4, 6, NAN, 3, 3.5}));
  Trainer(options({cb}, 7)).fit(model);
  EXPECT_EQ(files(), (std::vector<std::string>{"checkpoints/epoch=5-val_loss=3.00.ckpt",
                                               "checkpoints/epoch=6-val_loss=3.50.ckpt"}));
  EXPECT_EQ(cb->best_model_path(), ckpt("epoch=5-val_loss=3.00.ckpt"));
  EXPECT_EQ(cb->best_model_score()->item<double>(), 3.0);
  EXPECT_EQ(cb->kth_best_model_path(), ckpt("epoch=6-val_loss=3.50.ckpt"));
  EXPECT_EQ(cb->kth_value().item<double>(), 3.5);
  ASSERT_EQ(cb->best_k_models().size(), 2u);
  EXPECT_EQ(cb->best_k_models()[0].first, ckpt("epoch=5-val_loss=3.00.ckpt"));  // insertion order
  EXPECT_EQ(cb->current_score()->item<double>(), 3.5);
}

TEST_F(ModelCheckpointTest, SaveAllByMaxMode) {
  ModelCheckpointOptions mc;
  mc.monitor = "epoch", mc.mode = "max", mc.filename = "{epoch}", mc.save_top_k = -1;
  auto cb = std::make_shared<ModelCheckpoint>(mc);
  ScriptedModel model;
  Trainer(options({cb}, 3)).fit(model);
  EXPECT_EQ(cb->best_model_path(), ckpt("epoch=2.ckpt"));
  EXPECT_EQ(cb->best_model_score()->item<int64_t>(), 2);
  EXPECT_EQ(cb->kth_best_model_path(), ckpt("epoch=0.ckpt"));
  EXPECT_EQ(cb->best_k_models().size(), 3u);
}

TEST_F(ModelCheckpointTest, NanIsStoredAsInfinityAndReplaced) {
  ModelCheckpointOptions mc;
  mc.monitor = "val_loss", mc.save_top_k = 2;
  auto cb = std::make_shared<ModelCheckpoint>(mc);
  ScriptedModel model(table({NAN, NAN}));
  Trainer(options({cb}, 2)).fit(model);
  EXPECT_EQ(cb->best_model_score()->item<double>(), INFINITY);
  EXPECT_EQ(cb->current_score()->item<double>(), INFINITY);
}

TEST_F(ModelCheckpointTest, TopZeroWithLastAndVersionSuffixes) {
  ModelCheckpointOptions mc;
  mc.save_top_k = 0, mc.save_last = true;
  for (int run = 0; run < 2; ++run) {
    auto cb = std::make_shared<ModelCheckpoint>(mc);
    ScriptedModel model;
    Trainer(options({cb}, 3)).fit(model);
    EXPECT_EQ(cb->best_model_path(), "");
    EXPECT_TRUE(cb->best_k_models().empty());
    EXPECT_EQ(cb->last_model_path(), ckpt(run == 0 ? "last.ckpt" : "last-v1.ckpt"));
  }
  EXPECT_EQ(files(), (std::vector<std::string>{"checkpoints/last-v1.ckpt", "checkpoints/last.ckpt"}));
  EXPECT_FALSE(fs::is_symlink(ckpt("last.ckpt")));
}

TEST_F(ModelCheckpointTest, VersionCounterOnOff) {
  for (bool counter : {true, false}) {
    fresh_dir(fs::path(root).filename().string());
    ModelCheckpointOptions mc;
    mc.filename = "{epoch}", mc.save_top_k = -1, mc.enable_version_counter = counter;
    for (int run = 0; run < 2; ++run) {
      ScriptedModel model;
      Trainer(options({std::make_shared<ModelCheckpoint>(mc)}, 2)).fit(model);
    }
    if (counter)
      EXPECT_EQ(files(), (std::vector<std::string>{"checkpoints/epoch=0-v1.ckpt", "checkpoints/epoch=0.ckpt",
                                                   "checkpoints/epoch=1-v1.ckpt", "checkpoints/epoch=1.ckpt"}));
    else
      EXPECT_EQ(files(), (std::vector<std::string>{"checkpoints/epoch=0.ckpt", "checkpoints/epoch=1.ckpt"}));
  }
}

TEST_F(ModelCheckpointTest, StartingVersion) {
  ModelCheckpointOptions mc;
  mc.monitor = "epoch", mc.mode = "max", mc.filename = "test", mc.save_top_k = -1;
  auto cb = std::make_shared<ModelCheckpoint>(mc);
  cb->starting_version = 9;
  ScriptedModel model;
  Trainer(options({cb}, 3)).fit(model);
  EXPECT_EQ(files(), (std::vector<std::string>{"checkpoints/test-v10.ckpt", "checkpoints/test-v9.ckpt",
                                               "checkpoints/test.ckpt"}));
}

TEST_F(ModelCheckpointTest, SaveLastTemplateAndLink) {
  for (bool link : {false, true}) {
    fresh_dir(fs::path(root).filename().string());
    ModelCheckpointOptions mc;
    mc.save_top_k = -1;
    mc.save_last = link ? SaveLast("link") : SaveLast(true);
    auto cb = std::make_shared<ModelCheckpoint>(mc);
    cb->checkpoint_name_last = "last-{epoch}";
    ScriptedModel model;
    Trainer(options({cb}, 3)).fit(model);
    const std::string last = ckpt("last-epoch=2.ckpt");
    EXPECT_EQ(cb->last_model_path(), last);
    std::vector<std::string> expected{"checkpoints/epoch=0-step=2.ckpt", "checkpoints/epoch=1-step=4.ckpt",
                                      "checkpoints/epoch=2-step=6.ckpt", "checkpoints/last-epoch=2.ckpt"};
    if (link) expected.back() += " -> epoch=2-step=6.ckpt";  // a relative link
    EXPECT_EQ(files(), expected);
    if (link) {
      EXPECT_EQ(fs::canonical(last), fs::canonical(ckpt("epoch=2-step=6.ckpt")));
    }
    StateDict content = load(last);
    EXPECT_EQ(content.at("epoch").toInt(), 2);
    EXPECT_EQ(content.at("global_step").toInt(), 6);
  }
}

TEST_F(ModelCheckpointTest, SaveWeightsOnly) {
  ModelCheckpointOptions mc;
  mc.save_weights_only = true;
  ScriptedModel model;
  Trainer(options({std::make_shared<ModelCheckpoint>(mc)}, 1)).fit(model);
  StateDict content = load(ckpt("epoch=0-step=2.ckpt"));
  EXPECT_TRUE(content.contains("state_dict"));
  EXPECT_FALSE(content.contains("optimizer_states"));
  EXPECT_FALSE(content.contains("callbacks"));
}

TEST_F(ModelCheckpointTest, MissingMonitorWarnsOnceThenRaisesAfterValidation) {
  ModelCheckpointOptions mc;
  mc.monitor = "unit_missing";
  {
    CapturedMessages messages;
    auto o = options({std::make_shared<ModelCheckpoint>(mc)}, 2);
    o.limit_val_batches = 0;
    ScriptedModel model;
    Trainer(o).fit(model);
    EXPECT_EQ(messages.containing("could not find the monitored key").size(), 1u);
    EXPECT_TRUE(model.saves.empty());
  }
  ScriptedModel model;
  Trainer trainer(options({std::make_shared<ModelCheckpoint>(mc)}, 2));
  try {
    trainer.fit(model);
    ADD_FAILURE() << "no error";
  } catch (const MisconfigurationError& e) {
    EXPECT_EQ(std::string(e.what()),
              "`ModelCheckpoint(monitor='unit_missing')` could not find the monitored key in the returned metrics: "
              "['val_loss', 'epoch', 'step']. HINT: Did you call `log('unit_missing', value)` in the "
              "`LightningModule`?");
  }
}

// ---- state ------------------------------------------------------------------------------------------------------------

TEST_F(ModelCheckpointTest, StateRoundTripThroughACheckpoint) {
  ModelCheckpointOptions mc;
  mc.monitor = "val_loss", mc.save_top_k = 2, mc.save_last = true;
  auto cb = std::make_shared<ModelCheckpoint>(mc);
  ScriptedModel model(table({5, 3, 4}));
  Trainer(options({cb}, 3)).fit(model);
  StateDict callbacks = as_state(load(ckpt("last.ckpt")).at("callbacks"), "callbacks");
  ASSERT_TRUE(callbacks.contains(cb->state_key()));
  StateDict state = as_state(callbacks.at(cb->state_key()), "state");
  std::vector<std::string> keys;
  for (const auto& kv : state) keys.push_back(kv.key().toStringRef());
  EXPECT_EQ(keys, (std::vector<std::string>{"monitor", "best_model_score", "best_model_path", "current_score",
                                            "dirpath", "best_k_models", "kth_best_model_path", "kth_value",
                                            "last_model_path"}));

  // same dirpath: everything comes back
  ModelCheckpointOptions same = mc;
  same.dirpath = (fs::path(root) / "checkpoints").string();
  ModelCheckpoint restored(same);
  restored.load_state_dict(state);
  EXPECT_EQ(restored.best_model_path(), cb->best_model_path());
  EXPECT_EQ(restored.best_model_score()->item<double>(), 3.0);
  EXPECT_EQ(restored.kth_best_model_path(), cb->kth_best_model_path());
  EXPECT_EQ(restored.kth_value().item<double>(), 4.0);
  ASSERT_EQ(restored.best_k_models().size(), 2u);
  EXPECT_EQ(restored.best_k_models()[0].first, cb->best_k_models()[0].first);
  EXPECT_EQ(restored.last_model_path(), ckpt("last.ckpt"));

  // another dirpath: only best_model_path, with Lightning's warning
  CapturedMessages messages;
  ModelCheckpointOptions other = mc;
  other.dirpath = (fs::path(root) / "elsewhere").string();
  ModelCheckpoint moved(other);
  moved.load_state_dict(state);
  EXPECT_EQ(moved.best_model_path(), cb->best_model_path());
  EXPECT_TRUE(moved.best_k_models().empty());
  EXPECT_FALSE(moved.best_model_score().has_value());
  ASSERT_EQ(messages.all.size(), 1u);
  EXPECT_EQ(messages.all[0], "The dirpath has changed from '" + root + "/checkpoints' to '" + root +
                                 "/elsewhere', therefore `best_model_score`, `kth_best_model_path`, `kth_value`, "
                                 "`last_model_path` and `best_k_models` won't be reloaded. Only `best_model_path` "
                                 "will be reloaded.");
}

TEST_F(ModelCheckpointTest, ResumeContinuesTopK) {
  ModelCheckpointOptions mc;
  mc.monitor = "val_loss", mc.save_top_k = 2, mc.save_last = true;
  {
    ScriptedModel model(table({5, 3, 4, 2, 6, 1}));
    Trainer(options({std::make_shared<ModelCheckpoint>(mc)}, 3)).fit(model);
  }
  EXPECT_EQ(files(), (std::vector<std::string>{"checkpoints/epoch=1-step=4.ckpt", "checkpoints/epoch=2-step=6.ckpt",
                                               "checkpoints/last.ckpt"}));
  auto cb = std::make_shared<ModelCheckpoint>(mc);
  ScriptedModel model(table({5, 3, 4, 2, 6, 1}));
  Trainer(options({cb}, 6)).fit(model, nullptr, ckpt("last.ckpt"));
  // restored best_k_models {3.0, 4.0} rotate: 2.0 evicts 4.0, 6.0 is not in the top 2, 1.0 evicts 3.0
  EXPECT_EQ(files(), (std::vector<std::string>{"checkpoints/epoch=3-step=8.ckpt", "checkpoints/epoch=5-step=12.ckpt",
                                               "checkpoints/last.ckpt"}));
  EXPECT_EQ(cb->best_model_path(), ckpt("epoch=5-step=12.ckpt"));
  EXPECT_EQ(cb->best_model_score()->item<double>(), 1.0);
}

TEST_F(ModelCheckpointTest, ResumedFromFileIsNeverDeleted) {
  ModelCheckpointOptions mc;
  mc.dirpath = (fs::path(root) / "ckpts").string();
  mc.monitor = "step", mc.mode = "max", mc.save_top_k = 2, mc.every_n_train_steps = 2;
  auto o = options({std::make_shared<ModelCheckpoint>(mc)}, 1);
  o.max_epochs.reset();
  o.max_steps = 5;
  o.limit_train_batches = 10;
  o.limit_val_batches = 0;
  {
    ScriptedModel model;
    Trainer(o).fit(model);
  }
  o.callbacks = {std::make_shared<ModelCheckpoint>(mc)};
  o.max_steps = 8;
  ScriptedModel model;
  Trainer(o).fit(model, nullptr, root + "/ckpts/epoch=0-step=4.ckpt");
  EXPECT_EQ(files(), (std::vector<std::string>{"ckpts/epoch=0-step=4.ckpt", "ckpts/epoch=0-step=6.ckpt",
                                               "ckpts/epoch=0-step=8.ckpt"}));
}

TEST_F(ModelCheckpointTest, LastCheckpointCandidates) {
  ModelCheckpointOptions mc;
  mc.dirpath = root;
  ModelCheckpoint cb(mc);
  for (const char* name : {"log.txt", "last-v0.ckpt", "last-v1.ckpt", "epoch=0.ckpt", "lastly.ckpt"})
    std::ofstream(fs::path(root) / name) << "x";
  auto found = cb.last_checkpoint_candidates();
  std::sort(found.begin(), found.end());
  // re.match anchors only at the start: any stem starting with "last" counts
  EXPECT_EQ(found, (std::vector<std::string>{root + "/last-v0.ckpt", root + "/last-v1.ckpt", root + "/lastly.ckpt"}));
}

}  // namespace volt_test_model_checkpoint_test
}  // namespace
