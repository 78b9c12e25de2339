// StochasticWeightAveraging (Lightning 2.2.5's callbacks/stochastic_weight_avg.py) and SWALR against real
// Lightning: the set-ups of tools/gen_swa_golden.py use deterministic weights and data, so lrs, n_averaged, steps,
// weights, BatchNorm statistics and the callback state are compared with tests/golden/callbacks/swa.json.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/ivalue_json.hpp"
#include "support/boring.hpp"
#include "support/messages.hpp"
#include "volt/callbacks/stochastic_weight_avg.hpp"
#include "volt/optim/swa_utils.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_swa_test {

using namespace volt;
using namespace volt::testing;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

json golden() { return test::golden_json("callbacks/swa.json"); }

torch::Tensor det(std::vector<int64_t> shape, double scale, double phase) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return (torch::sin(torch::arange(n, torch::kFloat) * 0.7 + phase) * scale).reshape(shape);
}

// tools/gen_swa_golden.py's Model.
class SwaModel : public Module {
 public:
  SwaModel(bool bn, bool scheduler, double momentum) : scheduler_(scheduler), momentum_(momentum) {
    if (bn)
      net = register_module("net", torch::nn::Sequential(torch::nn::Linear(4, 4), torch::nn::BatchNorm1d(4),
                                                         torch::nn::Linear(4, 1)));
    else
      net = register_module("net", torch::nn::Sequential(torch::nn::Linear(4, 1)));
    torch::NoGradGuard no_grad;
    int i = 0;
    for (auto& kv : net->named_parameters()) {
      if (!(bn && kv.key().rfind("1.", 0) == 0)) kv.value().copy_(det(kv.value().sizes().vec(), 0.3, i));
      ++i;
    }
  }
  StepOutput training_step(const Batch& batch, int64_t) override {
    auto xy = batch.toTupleRef().elements();
    return torch::mse_loss(net->forward(xy[0].toTensor()), xy[1].toTensor());
  }
  OptimizerConfig configure_optimizers() override {
    auto opt = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1).momentum(momentum_));
    if (!scheduler_) return OptimizerConfig(opt);
    LRSchedulerConfig s;
    s.scheduler = std::make_shared<StepLR>(*opt, 1, 0.5);
    return OptimizerConfig(opt, s);
  }
  std::shared_ptr<DataLoader> train_dataloader() override {
    auto x = det({32, 4}, 1.0, 0.0);
    DataLoaderOptions o;
    o.batch_size = 8;
    return std::make_shared<TensorDataLoader>(std::vector<torch::Tensor>{x, x.sum(1, true) * 0.5}, o);
  }
  torch::nn::Sequential net{nullptr};

 private:
  bool scheduler_;
  double momentum_;
};

std::vector<double> flat(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kDouble).flatten().contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

struct EpochRecord {
  std::vector<double> start_lrs, end_lrs;
  std::vector<std::vector<double>> weights;
  std::optional<int64_t> n_averaged;
  int64_t global_step_start = 0, global_step_end = 0;
};

struct Probe : Callback {
  explicit Probe(std::shared_ptr<StochasticWeightAveraging> swa) : swa(std::move(swa)) {}
  std::shared_ptr<StochasticWeightAveraging> swa;
  std::vector<EpochRecord> epochs;
  void on_train_epoch_start(Trainer& trainer, Module& module) override {
    EpochRecord r;
    for (const auto& g : trainer.optimizers()[0]->param_groups()) r.start_lrs.push_back(g.options().get_lr());
    for (const auto& p : module.parameters()) r.weights.push_back(flat(p));
    r.global_step_start = trainer.global_step();
    epochs.push_back(r);
  }
  void on_train_epoch_end(Trainer& trainer, Module&) override {
    auto& r = epochs.back();
    for (const auto& g : trainer.optimizers()[0]->param_groups()) r.end_lrs.push_back(g.options().get_lr());
    r.n_averaged = swa->n_averaged();
    r.global_step_end = trainer.global_step();
  }
};

StochasticWeightAveragingOptions setup_options(const std::string& name) {
  StochasticWeightAveragingOptions o;
  if (name == "cos_int_start") {
    o.swa_lrs = {0.05};
    o.swa_epoch_start = 2;
    o.annealing_epochs = 2;
  } else if (name == "linear_fraction_swap") {
    o.swa_lrs = {0.02};
    o.swa_epoch_start = 0.5;
    o.annealing_epochs = 3;
    o.annealing_strategy = "linear";
  } else {  // bn_momentum
    o.swa_lrs = {0.05};
    o.swa_epoch_start = 3;
    o.annealing_epochs = 1;
  }
  return o;
}

std::unique_ptr<SwaModel> setup_model(const std::string& name) {
  if (name == "cos_int_start") return std::make_unique<SwaModel>(false, false, 0.0);
  if (name == "linear_fraction_swap") return std::make_unique<SwaModel>(false, true, 0.0);
  return std::make_unique<SwaModel>(true, false, 0.9);
}

int64_t setup_epochs(const std::string& name) { return name == "bn_momentum" ? 5 : 6; }

void expect_close(const std::vector<double>& actual, const json& expected, const std::string& what) {
  auto e = expected.get<std::vector<double>>();
  ASSERT_EQ(actual.size(), e.size()) << what;
  for (size_t i = 0; i < e.size(); ++i) EXPECT_NEAR(actual[i], e[i], 1e-6 + 1e-6 * std::abs(e[i])) << what << "[" << i << "]";
}

class SwaTest : public ::testing::Test {
 protected:
  std::string root = fs::weakly_canonical(fresh_dir(
      std::string("swa_") + ::testing::UnitTest::GetInstance()->current_test_info()->name())).string();

  TrainerOptions options(std::vector<CallbackPtr> callbacks, int64_t max_epochs, bool checkpoints = false) {
    TrainerOptions o = golden_options(root, std::move(callbacks));
    o.max_epochs = max_epochs;
    o.enable_checkpointing = checkpoints;
    return o;
  }
};

}  // namespace

TEST(SwaSetup, ConstructorValidatesLikeLightning) {
  auto make = [](std::vector<double> lrs, SwaEpochStart start) {
    StochasticWeightAveragingOptions o;
    o.swa_lrs = std::move(lrs);
    o.swa_epoch_start = start;
    return StochasticWeightAveraging(o);
  };
  for (SwaEpochStart bad : {SwaEpochStart(0), SwaEpochStart(-1), SwaEpochStart(1.5), SwaEpochStart(-0.1)}) {
    try {
      make({0.1}, bad);
      ADD_FAILURE() << "expected an error";
    } catch (const MisconfigurationError& e) {
      EXPECT_STREQ(e.what(), "swa_epoch_start should be a >0 integer or a float between 0 and 1.");
    }
  }
  EXPECT_NO_THROW(make({0.1}, 0.0));
  EXPECT_NO_THROW(make({0.1}, 1.0));
  EXPECT_NO_THROW(make({0.1}, 1));
  for (auto bad : {std::vector<double>{}, std::vector<double>{0.0}, std::vector<double>{0.2, -1.0}}) {
    try {
      make(bad, 0.8);
      ADD_FAILURE() << "expected an error";
    } catch (const MisconfigurationError& e) {
      EXPECT_STREQ(e.what(), "The `swa_lrs` should a positive float, or a list of positive floats");
    }
  }
  auto swa = make({0.1}, 0.1);
  EXPECT_FALSE(swa.n_averaged().has_value());
  EXPECT_TRUE(swa.average_model_state().empty());
}

TEST(SwaSetup, SwalrAnnealsToSwaLrAndRejectsBadArguments) {
  auto w = torch::zeros({1}, torch::requires_grad());
  torch::optim::SGD opt({w}, torch::optim::SGDOptions(1.0));
  SWALR linear(opt, {0.0}, 4, "linear");
  std::vector<double> lrs{opt.param_groups()[0].options().get_lr()};
  for (int i = 0; i < 5; ++i) {
    linear.step();
    lrs.push_back(opt.param_groups()[0].options().get_lr());
  }
  // PyTorch: 1.0 (initial step leaves it), then 0.75, 0.5, 0.25, 0 and it stays
  std::vector<double> expected{1.0, 0.75, 0.5, 0.25, 0.0, 0.0};
  for (size_t i = 0; i < lrs.size(); ++i) EXPECT_NEAR(lrs[i], expected[i], 1e-15) << i;
  EXPECT_THROW(SWALR(opt, {0.1}, 2, "step"), MisconfigurationError);
  EXPECT_THROW(SWALR(opt, {0.1, 0.2}, 2, "cos"), MisconfigurationError);
  EXPECT_THROW(SWALR(opt, {0.1}, -1, "cos"), MisconfigurationError);
}

TEST_F(SwaTest, MatchesLightningPerEpochAndAfterFit) {
  const json g = golden()["setups"];
  for (const auto& item : g.items()) {
    const std::string name = item.key();
    SCOPED_TRACE(name);
    const json& e = item.value();
    auto swa = std::make_shared<StochasticWeightAveraging>(setup_options(name));
    auto probe = std::make_shared<Probe>(swa);
    auto model = setup_model(name);
    Trainer trainer(options({swa, probe}, setup_epochs(name)));
    trainer.fit(*model);

    ASSERT_EQ(probe->epochs.size(), e["epochs"].size());
    for (size_t i = 0; i < probe->epochs.size(); ++i) {
      const auto& r = probe->epochs[i];
      const json& x = e["epochs"][i];
      SCOPED_TRACE("epoch " + std::to_string(i));
      auto start = x["start_lrs"].get<std::vector<double>>(), end = x["end_lrs"].get<std::vector<double>>();
      ASSERT_EQ(r.start_lrs.size(), start.size());
      ASSERT_EQ(r.end_lrs.size(), end.size());
      for (size_t k = 0; k < start.size(); ++k) EXPECT_DOUBLE_EQ(r.start_lrs[k], start[k]);
      for (size_t k = 0; k < end.size(); ++k) EXPECT_DOUBLE_EQ(r.end_lrs[k], end[k]);
      if (x["n_averaged"].is_null()) EXPECT_FALSE(r.n_averaged.has_value());
      else EXPECT_EQ(r.n_averaged.value_or(-1), x["n_averaged"].get<int64_t>());
      EXPECT_EQ(r.global_step_start, x["global_step_start"].get<int64_t>());
      EXPECT_EQ(r.global_step_end, x["global_step_end"].get<int64_t>());
      for (size_t p = 0; p < r.weights.size(); ++p) expect_close(r.weights[p], x["weights"][p], "weights");
    }
    auto params = model->parameters();
    ASSERT_EQ(params.size(), e["final_weights"].size());
    for (size_t p = 0; p < params.size(); ++p) expect_close(flat(params[p]), e["final_weights"][p], "final weight");
    auto buffers = model->named_buffers();
    ASSERT_EQ(buffers.size(), e["final_buffers"].size());
    for (size_t b = 0; b < buffers.size(); ++b) {
      EXPECT_EQ(buffers[b].key(), e["final_buffers"][b][0].get<std::string>());
      expect_close(flat(buffers[b].value()), e["final_buffers"][b][1], buffers[b].key());
    }
    StateDict sd = swa->state_dict();
    EXPECT_EQ(sd.at("n_averaged").toInt(), e["n_averaged"].get<int64_t>());
    EXPECT_EQ(sd.at("latest_update_epoch").toInt(), e["latest_update_epoch"].get<int64_t>());
    StateDict avg = as_state(sd.at("average_model_state"), "avg");
    ASSERT_EQ(avg.size(), e["average_model_state"].size());
    size_t k = 0;
    for (const auto& kv : avg) {
      EXPECT_EQ(kv.key().toStringRef(), e["average_model_state"][k][0].get<std::string>());
      expect_close(flat(kv.value().toTensor()), e["average_model_state"][k][1], kv.key().toStringRef());
      ++k;
    }
    // scheduler state: Python's keys and values, without the anneal function
    StateDict sched = as_state(sd.at("scheduler_state"), "sched");
    std::vector<std::string> keys;
    for (const auto& kv : sched) keys.push_back(kv.key().toStringRef());
    EXPECT_EQ(keys, (std::vector<std::string>{"anneal_epochs", "base_lrs", "last_epoch", "verbose", "_step_count",
                                              "_get_lr_called_within_step", "_last_lr"}));
    for (const auto& pair : e["scheduler_state"]) {
      const std::string key = pair[0].get<std::string>();
      if (key == "anneal_func") continue;
      const json& v = pair[1];
      if (v.is_array()) {
        auto list = sched.at(key).toListRef();
        ASSERT_EQ(list.size(), v.size()) << key;
        for (size_t i = 0; i < list.size(); ++i) EXPECT_DOUBLE_EQ(list[i].toDouble(), v[i].get<double>()) << key;
      } else if (v.is_boolean()) {
        EXPECT_EQ(sched.at(key).toBool(), v.get<bool>()) << key;
      } else {
        EXPECT_EQ(sched.at(key).toInt(), v.get<int64_t>()) << key;
      }
    }
    EXPECT_EQ(trainer.max_epochs(), e["max_epochs"].get<int64_t>());
    EXPECT_EQ(trainer.current_epoch(), e["current_epoch"].get<int64_t>());
    EXPECT_EQ(trainer.global_step(), e["global_step"].get<int64_t>());
    EXPECT_EQ(trainer.accumulate_grad_batches(), e["accumulate_grad_batches"].get<int64_t>());
    EXPECT_FALSE(trainer.skip_backward);
  }
}

TEST_F(SwaTest, AveragedWeightsAreTheMeanOfTheRecordedWeights) {
  auto swa = std::make_shared<StochasticWeightAveraging>(setup_options("cos_int_start"));
  auto probe = std::make_shared<Probe>(swa);
  auto model = setup_model("cos_int_start");
  Trainer trainer(options({swa, probe}, 6));
  trainer.fit(*model);
  // updated at the start of epochs 1..5 with the weights the previous epoch produced
  ASSERT_EQ(swa->n_averaged().value(), 5);
  auto params = model->parameters();
  for (size_t p = 0; p < params.size(); ++p) {
    std::vector<double> mean(probe->epochs[1].weights[p].size(), 0.0);
    for (size_t e = 1; e <= 5; ++e)
      for (size_t i = 0; i < mean.size(); ++i) mean[i] += probe->epochs[e].weights[p][i] / 5.0;
    auto final_weights = flat(params[p]);  // no BatchNorm: the module holds the average after fit
    for (size_t i = 0; i < mean.size(); ++i) EXPECT_NEAR(final_weights[i], mean[i], 1e-6);
  }
}

TEST_F(SwaTest, SwapsTheUserSchedulerWithAnInfoMessage) {
  CapturedMessages messages;
  auto swa = std::make_shared<StochasticWeightAveraging>(setup_options("linear_fraction_swap"));
  auto model = setup_model("linear_fraction_swap");
  Trainer trainer(options({swa}, 6));
  trainer.fit(*model);
  EXPECT_EQ(messages.containing("Swapping scheduler"),
            std::vector<std::string>{"Swapping scheduler `StepLR` for `SWALR`"});
  ASSERT_EQ(trainer.lr_scheduler_configs().size(), 1u);
  EXPECT_EQ(trainer.lr_scheduler_configs()[0].scheduler->class_name(), "SWALR");
  EXPECT_EQ(trainer.lr_scheduler_configs()[0].interval, "epoch");
}

TEST_F(SwaTest, FitErrorsNameTheProblem) {
  StochasticWeightAveragingOptions o;
  o.swa_lrs = {0.1};
  o.swa_epoch_start = 0.5;
  auto model = setup_model("cos_int_start");
  TrainerOptions t = options({std::make_shared<StochasticWeightAveraging>(o)}, 2);
  t.max_epochs = -1;
  t.max_steps = 3;
  Trainer trainer(t);
  try {
    trainer.fit(*model);
    ADD_FAILURE() << "expected MisconfigurationError";
  } catch (const MisconfigurationError& e) {
    EXPECT_NE(std::string(e.what()).find("`swa_epoch_start` as a float is not supported when `max_epochs=-1`"),
              std::string::npos);
  }
}

namespace {
struct CrashAt : Callback {
  explicit CrashAt(int64_t epoch) : epoch(epoch) {}
  int64_t epoch;
  void on_train_epoch_start(Trainer& trainer, Module&) override {
    if (trainer.current_epoch() == epoch) throw std::runtime_error("crash");
  }
};
}  // namespace

TEST_F(SwaTest, ResumeAfterACrashReproducesTheUninterruptedRun) {
  for (std::string name : {"cos_int_start", "bn_momentum"}) {
    SCOPED_TRACE(name);
    auto full_swa = std::make_shared<StochasticWeightAveraging>(setup_options(name));
    auto full = setup_model(name);
    Trainer full_trainer(options({full_swa}, setup_epochs(name)));
    full_trainer.fit(*full);

    const std::string dir = root + "/" + name;
    auto crashed = setup_model(name);
    TrainerOptions c = options({std::make_shared<StochasticWeightAveraging>(setup_options(name)),
                                std::make_shared<CrashAt>(3)}, setup_epochs(name), /*checkpoints=*/true);
    c.default_root_dir = dir;
    Trainer crash_trainer(c);
    EXPECT_THROW(crash_trainer.fit(*crashed), std::runtime_error);
    std::string ckpt;
    for (const auto& entry : fs::recursive_directory_iterator(dir))
      if (entry.path().extension() == ".ckpt") ckpt = entry.path().string();
    ASSERT_FALSE(ckpt.empty());

    auto resumed_swa = std::make_shared<StochasticWeightAveraging>(setup_options(name));
    auto resumed = setup_model(name);  // the weights come from the checkpoint
    TrainerOptions r = options({resumed_swa}, setup_epochs(name));
    r.default_root_dir = dir + "/resume";
    Trainer resume_trainer(r);
    resume_trainer.fit(*resumed, nullptr, ckpt);

    EXPECT_EQ(resumed_swa->n_averaged(), full_swa->n_averaged());
    EXPECT_EQ(resume_trainer.global_step(), full_trainer.global_step());
    auto a = full->named_parameters();
    for (const auto& kv : resumed->named_parameters())
      EXPECT_TRUE(torch::allclose(kv.value(), a[kv.key()], 0, 1e-7)) << kv.key();
    auto b = full->named_buffers();
    for (const auto& kv : resumed->named_buffers())
      EXPECT_TRUE(torch::allclose(kv.value().to(torch::kDouble), b[kv.key()].to(torch::kDouble), 0, 1e-6)) << kv.key();
    EXPECT_DOUBLE_EQ(resume_trainer.optimizers()[0]->param_groups()[0].options().get_lr(),
                     full_trainer.optimizers()[0]->param_groups()[0].options().get_lr());
  }
}

}  // namespace volt_test_swa_test
}  // namespace
