// The learning-rate finder (Lightning 2.2.5's tuner/lr_finder.py) against real Lightning: suggestions on synthetic
// curves and whole searches on a deterministic model (tests/golden/callbacks/lr_finder.json,
// tools/gen_lr_finder_golden.py), the restore after a search, the Tuner's checks and the curve files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "support/ivalue_json.hpp"
#include "support/boring.hpp"
#include "support/messages.hpp"
#include "volt/tuner.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_lr_finder_test {

using namespace volt;
using namespace volt::testing;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// read once; a reference, so that `for (x : golden().at(...))` iterates a live object, not a destroyed temporary
const json& golden() {
  static const json g = test::golden_json("callbacks/lr_finder.json");
  return g;
}

double decode(const json& v) {
  if (v.is_string()) {
    auto s = v.get<std::string>();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    return s == "inf" ? INFINITY : -INFINITY;
  }
  return v.get<double>();
}

std::vector<double> decode_list(const json& v) {
  std::vector<double> out;
  for (const auto& x : v) out.push_back(decode(x));
  return out;
}

torch::Tensor det(std::vector<int64_t> shape, double scale, double phase) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return (torch::sin(torch::arange(n, torch::kFloat) * 0.7 + phase) * scale).reshape(shape);
}

// tools/gen_lr_finder_golden.py's Model: Linear(4, 1) with fixed weights, SGD(lr = hparams lr), batches of 4.
class FinderModel : public Module {
 public:
  explicit FinderModel(int64_t samples = 64) : samples_(samples) {
    save_hyperparameters(StateDict{{"lr", 0.1}, {"samples", samples}});
    net = register_module("net", torch::nn::Linear(4, 1));
    torch::NoGradGuard no_grad;
    int i = 0;
    for (auto& p : net->parameters()) p.copy_(det(p.sizes().vec(), 0.3, i++));
  }
  StepOutput training_step(const Batch& batch, int64_t) override {
    auto xy = batch.toTupleRef().elements();
    auto loss = torch::mse_loss(net->forward(xy[0].toTensor()), xy[1].toTensor());
    ++steps;
    return none_at.count(steps) ? IValue() : IValue(loss);
  }
  OptimizerConfig configure_optimizers() override {
    return OptimizerConfig(std::make_shared<torch::optim::SGD>(
        parameters(), torch::optim::SGDOptions(hparams().at("lr").toDouble())));
  }
  std::shared_ptr<DataLoader> train_dataloader() override {
    auto x = det({samples_, 4}, 1.0, 0.0);
    DataLoaderOptions o;
    o.batch_size = 4;
    return std::make_shared<TensorDataLoader>(std::vector<torch::Tensor>{x, x.sum(1, true) * 0.5}, o);
  }
  torch::nn::Linear net{nullptr};
  int64_t steps = 0;
  std::set<int64_t> none_at;  // training_step calls (1-based) that return None

 private:
  int64_t samples_;
};

LearningRateFinderOptions run_options(const std::string& name) {
  LearningRateFinderOptions o;
  if (name == "exp_threshold") {
    o.min_lr = 1e-4, o.max_lr = 10.0, o.num_training_steps = 30;
  } else if (name == "linear_no_threshold_acc2") {
    o.min_lr = 1e-3, o.max_lr = 0.5, o.num_training_steps = 15, o.mode = "linear";
    o.early_stop_threshold.reset();
  } else if (name == "exp_multi_epoch") {
    o.min_lr = 1e-5, o.max_lr = 0.3, o.num_training_steps = 12;
    o.early_stop_threshold.reset();
  } else {  // exp_high_threshold
    o.min_lr = 1e-4, o.max_lr = 3.0, o.num_training_steps = 24, o.early_stop_threshold = 100.0;
  }
  return o;
}

class LrFinderTest : public ::testing::Test {
 protected:
  std::string root = fs::weakly_canonical(fresh_dir(
      std::string("lrf_") + ::testing::UnitTest::GetInstance()->current_test_info()->name())).string();
  TrainerOptions options(int64_t max_epochs, std::vector<CallbackPtr> callbacks = {}) {
    TrainerOptions o = golden_options(root, std::move(callbacks));
    o.max_epochs = max_epochs;
    o.enable_checkpointing = false;
    return o;
  }
};

}  // namespace

TEST(LrFinderSuggestion, MatchesLightningOnSyntheticCurves) {
  for (const auto& c : golden().at("suggestions")) {
    SCOPED_TRACE(c["name"].get<std::string>());
    LRFinder finder("exponential", 1e-8, 1.0, 0);
    finder.lrs = decode_list(c["lrs"]);
    finder.losses = decode_list(c["losses"]);
    CapturedMessages messages;
    auto s = finder.suggestion(c["skip_begin"].get<int64_t>(), c["skip_end"].get<int64_t>());
    if (c["suggestion"].is_null()) {
      EXPECT_FALSE(s.has_value());
      EXPECT_FALSE(finder.optimal_idx().has_value());
      EXPECT_EQ(messages.containing("Failed to compute suggestion").size(), 1u);
    } else {
      ASSERT_TRUE(s.has_value());
      EXPECT_EQ(*s, c["suggestion"].get<double>());
      EXPECT_EQ(finder.optimal_idx().value(), c["optimal_idx"].get<int64_t>());
    }
  }
}

TEST(LrFinderSuggestion, SweepSchedulesFollowLightningsFormulas) {
  auto w = torch::zeros({1}, torch::requires_grad());
  torch::optim::SGD opt({w}, torch::optim::SGDOptions(1e-3));
  param_group_extras(opt.param_groups()[0]).set("initial_lr", 1e-3);
  LRFinderExponentialLR exp(opt, 1.0, 4);
  std::vector<double> lrs{opt.param_groups()[0].options().get_lr()};
  for (int k = 0; k < 3; ++k) {
    exp.step();
    lrs.push_back(opt.param_groups()[0].options().get_lr());
  }
  // step 0 uses min_lr, step 1 jumps to r = 2/N, the last step uses max_lr
  EXPECT_DOUBLE_EQ(lrs[0], 1e-3);
  EXPECT_DOUBLE_EQ(lrs[1], 1e-3 * std::pow(1.0 / 1e-3, 2.0 / 4));
  EXPECT_DOUBLE_EQ(lrs[2], 1e-3 * std::pow(1.0 / 1e-3, 3.0 / 4));
  EXPECT_DOUBLE_EQ(lrs[3], 1.0);
}

TEST_F(LrFinderTest, SearchesMatchLightningAndRestoreTheModel) {
  for (const auto& item : golden().at("runs").items()) {
    const std::string name = item.key();
    SCOPED_TRACE(name);
    const json& e = item.value();
    FinderModel model(name == "exp_multi_epoch" ? 16 : 64);
    auto before = model.net->weight.clone();
    TrainerOptions o = options(name == "exp_multi_epoch" ? 5 : name == "exp_high_threshold" ? 2 : 3);
    if (name == "linear_no_threshold_acc2") o.accumulate_grad_batches = 2;
    o.default_root_dir = root + "/" + name;
    Trainer trainer(o);
    auto finder = Tuner(trainer).lr_find(model, nullptr, nullptr, nullptr, "fit", run_options(name));
    ASSERT_TRUE(finder.has_value());
    auto lrs = e["lrs"].get<std::vector<double>>();
    ASSERT_EQ(finder->lrs.size(), lrs.size());
    for (size_t i = 0; i < lrs.size(); ++i) EXPECT_DOUBLE_EQ(finder->lrs[i], lrs[i]) << i;
    auto losses = decode_list(e["losses"]);
    ASSERT_EQ(finder->losses.size(), losses.size());
    for (size_t i = 0; i < losses.size(); ++i) EXPECT_NEAR(finder->losses[i], losses[i], 1e-6 * losses[i]) << i;
    auto s = finder->suggestion();
    if (e["suggestion"].is_null()) EXPECT_FALSE(s.has_value());
    else EXPECT_DOUBLE_EQ(s.value(), e["suggestion"].get<double>());
    EXPECT_DOUBLE_EQ(model.hparams().at("lr").toDouble(), e["model_lr"].get<double>());
    EXPECT_TRUE(torch::equal(model.net->weight, before));  // restored exactly
    EXPECT_EQ(trainer.global_step(), e["global_step"].get<int64_t>());
    // the curve next to the logs
    std::ifstream csv(o.default_root_dir + "/lr_find.csv");
    ASSERT_TRUE(csv.good());
    std::string line;
    std::getline(csv, line);
    EXPECT_EQ(line, "lr,loss");
    size_t rows = 0;
    while (std::getline(csv, line)) ++rows;
    EXPECT_EQ(rows, lrs.size());
    std::ifstream svg(o.default_root_dir + "/lr_find.svg");
    std::string text((std::istreambuf_iterator<char>(svg)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text.rfind("<svg", 0), 0u);
    EXPECT_NE(text.find("<polyline"), std::string::npos);
    EXPECT_EQ(text.find("fill=\"red\"") != std::string::npos, s.has_value());
  }
}

TEST_F(LrFinderTest, StepsReturningNoneRecordNaNAndTheSuggestionStaysFinite) {
  FinderModel model;
  model.none_at = {5, 12, 17};
  Trainer trainer(options(3));
  LearningRateFinderOptions o;
  o.num_training_steps = 20;
  o.early_stop_threshold.reset();
  CapturedMessages messages;
  auto finder = Tuner(trainer).lr_find(model, nullptr, nullptr, nullptr, "fit", o);
  ASSERT_EQ(finder->losses.size(), 20u);
  EXPECT_TRUE(std::isnan(finder->losses[4]));
  auto s = finder->suggestion();
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(std::isfinite(*s));
  EXPECT_EQ(model.hparams().at("lr").toDouble(), *s);
  EXPECT_EQ(messages.containing("Learning rate set to").size(), 1u);
}

TEST_F(LrFinderTest, CallbackSearchLeavesTheRealRunUnchanged) {
  // Two identical fits, one with a LearningRateFinder: weights restored, random numbers isolated, and (as in
  // Lightning 2.2.5) the already built optimizer keeps its lr, so both runs end with the same weights.
  auto run = [&](bool with_finder, const std::string& dir) {
    torch::manual_seed(7);
    FinderModel model;
    LearningRateFinderOptions fo;
    fo.num_training_steps = 12;
    fo.early_stop_threshold.reset();  // the default 4.0 stops this curve after 3 steps (see lr_finder.json)
    auto finder = std::make_shared<LearningRateFinder>(fo);
    TrainerOptions o = options(2, with_finder ? std::vector<CallbackPtr>{finder} : std::vector<CallbackPtr>{});
    o.default_root_dir = root + "/" + dir;
    Trainer trainer(o);
    trainer.fit(model);
    EXPECT_EQ(trainer.global_step(), 32);
    if (with_finder) {
      EXPECT_TRUE(finder->optimal_lr().has_value());
      EXPECT_EQ(finder->optimal_lr()->lrs.size(), 12u);
      EXPECT_EQ(&model.trainer(), &trainer);
    }
    return std::make_pair(model.net->weight.clone(), torch::rand({3}));
  };
  auto plain = run(false, "plain");
  auto searched = run(true, "searched");
  EXPECT_TRUE(torch::equal(plain.first, searched.first));
  EXPECT_TRUE(torch::equal(plain.second, searched.second));  // the generator's stream is unchanged
}

TEST_F(LrFinderTest, ErrorsNameTheProblem) {
  LearningRateFinderOptions bad;
  bad.mode = "cyclic";
  try {
    LearningRateFinder finder(bad);
    ADD_FAILURE() << "expected MisconfigurationError";
  } catch (const MisconfigurationError& e) {
    EXPECT_STREQ(e.what(), "`mode` should be either of ('linear', 'exponential')");
  }
  FinderModel model;
  Trainer trainer(options(1));
  EXPECT_THROW(Tuner(trainer).lr_find(model, nullptr, nullptr, nullptr, "validate"), MisconfigurationError);
  LearningRateFinderOptions named;
  named.attr_name = "my_lr";
  try {
    Tuner(trainer).lr_find(model, nullptr, nullptr, nullptr, "fit", named);
    ADD_FAILURE() << "expected MisconfigurationError";
  } catch (const MisconfigurationError& e) {
    EXPECT_NE(std::string(e.what()).find("was set to my_lr, but could not find this"), std::string::npos);
  }
  Trainer with_cb(options(1, {std::make_shared<LearningRateFinder>()}));
  EXPECT_THROW(Tuner(with_cb).lr_find(model), MisconfigurationError);
  TrainerOptions fast = options(1);
  fast.fast_dev_run = 1;
  Trainer fast_trainer(fast);
  CapturedMessages messages;
  EXPECT_FALSE(Tuner(fast_trainer).lr_find(model).has_value());
  EXPECT_EQ(messages.containing("Skipping learning rate finder since `fast_dev_run` is enabled.").size(), 1u);
}

}  // namespace volt_test_lr_finder_test
}  // namespace
