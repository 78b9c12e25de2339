// ksuit's default callbacks, early stoppers and best-metric callbacks (spec ksuit.md §5–§7) on volt.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "support/messages.hpp"
#include "support/scripted.hpp"
#include "volt/ksuit/default_callbacks.hpp"
#include "volt/ksuit/early_stoppers.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_ksuit_callbacks_test {

using namespace volt;
using namespace volt::testing;
using namespace volt::ksuit;
namespace fs = std::filesystem;

namespace {

// Linear(2, 1) regression; `nan_from_update` makes the loss NaN from that optimizer step on.
class Regression : public Module {
 public:
  explicit Regression(int64_t samples = 8, int64_t batch_size = 4) : batch_size_(batch_size) {
    torch::manual_seed(3);
    fc = register_module("fc", torch::nn::Linear(2, 1));
    x_ = torch::randn({samples, 2});
    y_ = x_.sum(1, true);
  }
  StepOutput training_step(const Batch& batch, int64_t) override {
    auto xy = batch.toTupleRef().elements();
    auto loss = torch::mse_loss(fc->forward(xy[0].toTensor()), xy[1].toTensor());
    if (nan_from_update >= 0 && global_step() >= nan_from_update) loss = loss * std::nan("");
    losses.push_back(loss.item<float>());
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
  std::vector<float> losses;
  int64_t nan_from_update = -1;

 private:
  int64_t batch_size_;
  torch::Tensor x_, y_;
};

std::vector<std::pair<int64_t, double>> values(const CallbackPtr& any, const std::string& key) {
  return dynamic_cast<CallbackBase&>(*any).writer().get_all_metric_values(key);
}

}  // namespace

TEST(KsuitDefaultCallbacks, TheSetInKsuitsOrderAndWhatItLogs) {
  DefaultCallbacksOptions o;
  o.log_every_n_epochs = 1;
  o.track_every_n_updates = 2;
  o.add_eta = false;
  auto set = default_callbacks(o);
  std::vector<std::string> names;
  for (const auto& cb : set) names.push_back(dynamic_cast<CallbackBase&>(*cb).str());
  EXPECT_EQ(names, (std::vector<std::string>{
                       "DatasetStatsCallback", "ParamCountCallback", "ProgressCallback(every_n_epochs=1)",
                       "TrainTimeCallback(every_n_epochs=1)", "PeakMemoryCallback(every_n_epochs=1)",
                       "OnlineLossCallback(every_n_epochs=1)", "LrCallback(every_n_updates=2)",
                       "OnlineLossCallback(every_n_updates=2)"}));
  Regression model(8, 4);  // 2 updates per epoch
  CapturedMessages messages;
  Trainer trainer(plain_options(test_dir("ksuit_defaults_"), set, 2));
  trainer.fit(model, model.loader());
  const auto& l = model.losses;
  ASSERT_EQ(l.size(), 4u);
  auto mean2 = [](float a, float b) { return (static_cast<double>(a) + static_cast<double>(b)) / 2.0; };
  // the log-interval and the track-interval instance keep their keys apart by the interval suffix
  auto epochs = values(set[0], "loss/online/total/E1");
  ASSERT_EQ(epochs.size(), 2u);
  EXPECT_EQ(epochs[0].first, 2);
  EXPECT_DOUBLE_EQ(epochs[0].second, mean2(l[0], l[1]));
  EXPECT_DOUBLE_EQ(epochs[1].second, mean2(l[2], l[3]));
  auto updates = values(set[0], "loss/online/total/U2");
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_DOUBLE_EQ(updates[1].second, mean2(l[2], l[3]));
  // the learning rate also at update 1
  EXPECT_EQ(values(set[0], "optim/lr"), (std::vector<std::pair<int64_t, double>>{{1, 0.05}, {2, 0.05}, {4, 0.05}}));
  const auto& summary = dynamic_cast<CallbackBase&>(*set[0]).tracker().summary();
  EXPECT_EQ(summary.at("ds_stats/train/len"), 8);
  EXPECT_EQ(summary.at("param_count/total"), 3);
  EXPECT_EQ(summary.at("param_count/fc/trainable"), 3);
  EXPECT_EQ(summary.count("optim/lr/max") + summary.count("optim/lr/last"), 0u);  // neutral: no summary
  EXPECT_DOUBLE_EQ(summary.at("loss/online/total/E1/min"), std::min(mean2(l[0], l[1]), mean2(l[2], l[3])));
  EXPECT_EQ(messages.containing("Dataset lengths"), (std::vector<std::string>{"[DatasetStatsCallback] Dataset lengths: train=8"}));
  EXPECT_EQ(messages.containing("Parameter count of total"),
            (std::vector<std::string>{"[ParamCountCallback] Parameter count of total: trainable=3 frozen=0"}));
  EXPECT_EQ(messages.containing("Epoch 2/2"),
            (std::vector<std::string>{"[ProgressCallback(every_n_epochs=1)] Epoch 2/2 (E2_U4_S16)"}));
  // only the log-interval loss is echoed
  EXPECT_EQ(messages.containing("loss/online/total/E1").size(), 2u);
  EXPECT_TRUE(messages.containing("loss/online/total/U2").empty());
  EXPECT_EQ(short_number_str(12345), "12.3K");
  EXPECT_EQ(short_number_str(1500000), "1.5M");
  EXPECT_EQ(short_number_str(999), "999");
}

TEST(KsuitDefaultCallbacks, OnlineLossRaisesOnNaNUnlessSkipped) {
  OnlineLossOptions o;
  o.every_n_updates = 1;
  Regression model(8, 4);
  model.nan_from_update = 1;  // the second step's loss
  Trainer trainer(plain_options(test_dir("ksuit_nan_"), {std::make_shared<OnlineLossCallback>(o)}, 1));
  try {
    trainer.fit(model, model.loader());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "OnlineLossCallback: the mean of loss 'total' over the last interval is NaN at "
                                     "E1_U2_S8 (set OnlineLossOptions::skip_nan_loss to go on)");
  }
  o.skip_nan_loss = true;
  auto skipping = std::make_shared<OnlineLossCallback>(o);
  Regression again(8, 4);
  again.nan_from_update = 1;
  CapturedMessages messages;
  Trainer tolerant(plain_options(test_dir("ksuit_nan_skip_"), {skipping}, 1));
  tolerant.fit(again, again.loader());
  EXPECT_EQ(values(skipping, "loss/online/total/U1").size(), 1u);
  EXPECT_EQ(messages.containing("NaN loss 'total' at E1_U2_S8").size(), 1u);
}

TEST(KsuitEarlyStoppers, FixedStopsAtAnIterationInAnyUnit) {
  FixedEarlyStopperOptions o;
  o.stop_at_sample = 20;  // batch 4: the 5th update
  Regression model(16, 4);
  Trainer trainer(plain_options(test_dir("ksuit_fixed_"), {std::make_shared<FixedEarlyStopper>(o)}, 10));
  trainer.fit(model, model.loader());
  EXPECT_EQ(trainer.global_step(), 5);
  EXPECT_THROW(FixedEarlyStopper(FixedEarlyStopperOptions{}), MisconfigurationError);
  EXPECT_THROW(FixedEarlyStopper(FixedEarlyStopperOptions{1, 2, std::nullopt}), MisconfigurationError);
}

TEST(KsuitEarlyStoppers, MetricStopperReadsTheModulesMetricAndKeepsState) {
  MetricEarlyStopperOptions o;
  o.metric_key = "val_loss";  // lower is better, from the metric properties
  o.tolerance = 1;
  auto stopper = std::make_shared<MetricEarlyStopper>(o);
  ScriptedModel model(table({3.0, 1.0, 2.0, 5.0}, "val_loss"));
  TrainerOptions t = golden_options(test_dir("ksuit_metric_stop_"), {stopper});
  t.max_epochs = 10;
  t.limit_train_batches = 2;
  t.limit_val_batches = 1;
  t.enable_checkpointing = false;
  Trainer trainer(t);
  trainer.fit(model);
  EXPECT_EQ(trainer.global_step(), 6);  // stopped after the third epoch (2.0 did not improve on 1.0)
  EXPECT_EQ(stopper->best(), 1.0);
  EXPECT_EQ(stopper->state_key(), "MetricEarlyStopper{'metric_key': 'val_loss'}");
  auto restored = std::make_shared<MetricEarlyStopper>(o);
  restored->load_state_dict(stopper->state_dict());
  EXPECT_EQ(restored->best(), 1.0);
  EXPECT_EQ(restored->tolerance_counter(), 1);
  EXPECT_THROW(restored->load_state_dict(StateDict{{"best", std::string("x")}, {"tolerance_counter", 1}}),
               CheckpointError);
}

TEST(KsuitBestCheckpoint, SavesWhenTheMetricOfThisStepImproves) {
  const std::string root = test_dir("ksuit_best_");
  OnlineLossOptions loss;
  loss.every_n_epochs = 1;
  loss.verbose = false;
  BestCheckpointOptions best;
  best.metric_key = "loss/online/total/E1";
  auto saver = std::make_shared<BestCheckpointCallback>(best);
  Regression model(8, 4);
  Trainer trainer(plain_options(root, {std::make_shared<OnlineLossCallback>(loss), saver}, 3));
  trainer.fit(model, model.loader());
  const std::string file = root + "/checkpoints/model_cp=best_model.loss.online.total.E1_model.th";
  ASSERT_TRUE(fs::exists(file));
  auto epoch_losses = values(saver, best.metric_key);
  ASSERT_EQ(epoch_losses.size(), 3u);
  EXPECT_EQ(*saver->best(), epoch_losses.back().second);  // the loss falls every epoch: the last is the best
  EXPECT_LT(epoch_losses[2].second, epoch_losses[1].second);
  EXPECT_LT(epoch_losses[1].second, epoch_losses[0].second);
  StateDict saved = CheckpointWriter::load_model_checkpoint(file);
  EXPECT_EQ(saved.at("checkpoint_tag").toStringRef(), "best_model.loss.online.total.E1");
  EXPECT_TRUE(torch::equal(as_state(saved.at("state_dict"), "sd").at("fc.weight").toTensor(), model.fc->weight));

  // a reader placed before the producer cannot see the value of this step
  Regression again(8, 4);
  Trainer wrong_order(plain_options(test_dir("ksuit_best_order_"),
                            {std::make_shared<BestCheckpointCallback>(best), std::make_shared<OnlineLossCallback>(loss)},
                            1));
  try {
    wrong_order.fit(again, again.loader());
    ADD_FAILURE() << "no error";
  } catch (const MisconfigurationError& e) {
    EXPECT_NE(std::string(e.what()).find("BestCheckpointCallback(every_n_epochs=1): metric 'loss/online/total/E1' was "
                                         "not logged in this step"),
              std::string::npos)
        << e.what();
  }
}

TEST(KsuitBestMetric, LogsTheBestSourceAndTargetsAtThatStep) {
  OnlineLossOptions loss;
  loss.every_n_updates = 1;
  loss.verbose = false;
  BestMetricOptions o;
  o.source_metric_key = "loss/online/total/U1";
  o.every_n_updates = 1;
  auto best = std::make_shared<BestMetricCallback>(o);
  Regression model(8, 4);
  Trainer trainer(plain_options(test_dir("ksuit_best_metric_"), {std::make_shared<OnlineLossCallback>(loss), best}, 2));
  trainer.fit(model, model.loader());
  auto source = values(best, "loss/online/total/U1");
  auto logged = values(best, "loss/online/total/U1/best");
  ASSERT_EQ(logged.size(), source.size());
  double running = INFINITY;
  for (size_t i = 0; i < source.size(); ++i) {
    running = std::min(running, source[i].second);
    EXPECT_EQ(logged[i].second, running);
  }
}

}  // namespace volt_test_ksuit_callbacks_test
}  // namespace
