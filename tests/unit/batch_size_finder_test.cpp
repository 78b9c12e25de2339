// The batch size finder (Lightning 2.2.5's tuner/batch_size_scaling.py) against real Lightning: for each case of
// tools/gen_batch_size_golden.py (tests/golden/callbacks/batch_size.json) the size found, the batch sizes the
// trials ran with, the info messages and the attribute afterwards; plus restore, errors and the callback form.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/ivalue_json.hpp"
#include "support/boring.hpp"
#include "support/messages.hpp"
#include "volt/tuner.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_batch_size_finder_test {

using namespace volt;
using namespace volt::testing;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// read once; a reference, so that `for (x : golden().at(...))` iterates a live object, not a destroyed temporary
const json& golden() {
  static const json g = test::golden_json("callbacks/batch_size.json");
  return g;
}

// The generator's Model: fails with "CUDA out of memory." for batches larger than fail_above.
class SizedModel : public Module {
 public:
  SizedModel(int64_t length, std::optional<int64_t> fail_above) : length_(length), fail_above_(fail_above) {
    save_hyperparameters(StateDict{{"batch_size", int64_t{1}}});
    layer = register_module("layer", torch::nn::Linear(2, 1));
  }
  StepOutput training_step(const Batch& batch, int64_t batch_idx) override {
    const int64_t n = batch.toTensor().size(0);
    if (batch_idx == 0) trials.push_back(n);
    if (fail_above_ && n > *fail_above_) throw std::runtime_error("CUDA out of memory.");
    if (other_error) throw std::logic_error("not a memory problem");
    return layer->forward(batch.toTensor()).sum();
  }
  OptimizerConfig configure_optimizers() override {
    return OptimizerConfig(std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1)));
  }
  std::shared_ptr<DataLoader> train_dataloader() override {
    DataLoaderOptions o;
    o.batch_size = hparams().at("batch_size").toInt();
    return std::make_shared<TensorDataLoader>(std::vector<torch::Tensor>{torch::ones({length_, 2})}, o);
  }
  torch::nn::Linear layer{nullptr};
  std::vector<int64_t> trials;
  bool other_error = false;

 private:
  int64_t length_;
  std::optional<int64_t> fail_above_;
};

class BatchSizeTest : public ::testing::Test {
 protected:
  std::string root = fs::weakly_canonical(fresh_dir(
      std::string("bsf_") + ::testing::UnitTest::GetInstance()->current_test_info()->name())).string();
  TrainerOptions options(std::vector<CallbackPtr> callbacks = {}, int64_t max_epochs = 1) {
    TrainerOptions o = golden_options(root, std::move(callbacks));
    o.max_epochs = max_epochs;
    o.enable_checkpointing = false;
    return o;
  }
};

}  // namespace

TEST_F(BatchSizeTest, MatchesLightningForEveryCase) {
  for (const auto& c : golden().at("cases")) {
    const std::string label = c["mode"].get<std::string>() + " init " + std::to_string(c["init_val"].get<int>()) +
                              " trials " + std::to_string(c["max_trials"].get<int>()) + " length " +
                              std::to_string(c["length"].get<int>());
    SCOPED_TRACE(label);
    SizedModel model(c["length"].get<int64_t>(),
                     c["fail_above"].is_null() ? std::nullopt : std::optional<int64_t>(c["fail_above"].get<int64_t>()));
    auto before = model.layer->weight.clone();
    BatchSizeFinderOptions o;
    o.mode = c["mode"].get<std::string>();
    o.init_val = c["init_val"].get<int64_t>();
    o.max_trials = c["max_trials"].get<int64_t>();
    o.steps_per_trial = c["steps_per_trial"].get<int64_t>();
    Trainer trainer(options());
    CapturedMessages messages;
    auto size = Tuner(trainer).scale_batch_size(model, nullptr, "fit", o);
    EXPECT_EQ(size.value(), c["result"].get<int64_t>());
    EXPECT_EQ(model.trials, c["trials"].get<std::vector<int64_t>>());
    EXPECT_EQ(model.hparams().at("batch_size").toInt(), c["attribute"].get<int64_t>());
    std::vector<std::string> infos;
    for (const auto& m : messages.infos)
      if (m.rfind("Batch size", 0) == 0 || m.rfind("The batch size", 0) == 0 || m.rfind("Finished batch size", 0) == 0)
        infos.push_back(m);
    EXPECT_EQ(infos, c["messages"].get<std::vector<std::string>>());
    EXPECT_TRUE(torch::equal(model.layer->weight, before));  // trials trained, the weights came back
    EXPECT_EQ(trainer.global_step(), c["global_step"].get<int64_t>());
  }
}

TEST_F(BatchSizeTest, CallbackSearchesThenTheRealFitUsesTheSize) {
  SizedModel model(64, std::nullopt);
  BatchSizeFinderOptions o;
  o.init_val = 2;
  o.max_trials = 4;
  o.steps_per_trial = 1;
  auto finder = std::make_shared<BatchSizeFinder>(o);
  Trainer trainer(options({finder}, 2));
  trainer.fit(model);
  EXPECT_EQ(finder->optimal_batch_size().value(), 32);  // 2 → 4 → 8 → 16 → 32 after 4 successful trials
  EXPECT_EQ(trainer.global_step(), (64 / 32) * 2);
  EXPECT_EQ(trainer.current_epoch(), 2);
  EXPECT_EQ(&model.trainer(), &trainer);
}

TEST_F(BatchSizeTest, ErrorsNameTheProblem) {
  BatchSizeFinderOptions bad;
  bad.mode = "linear";
  EXPECT_THROW(BatchSizeFinder{bad}, MisconfigurationError);
  SizedModel model(16, std::nullopt);
  Trainer trainer(options());
  EXPECT_THROW(Tuner(trainer).scale_batch_size(model, nullptr, "tune"), MisconfigurationError);
  BatchSizeFinderOptions missing;
  missing.batch_arg_name = "bs";
  try {
    Tuner(trainer).scale_batch_size(model, nullptr, "fit", missing);
    ADD_FAILURE() << "expected MisconfigurationError";
  } catch (const MisconfigurationError& e) {
    EXPECT_NE(std::string(e.what()).find("Field bs not found in `model`, `datamodule`, nor their `hparams`"),
              std::string::npos);
  }
  Trainer with_cb(options({std::make_shared<BatchSizeFinder>()}));
  EXPECT_THROW(Tuner(with_cb).scale_batch_size(model), MisconfigurationError);
  // an error that is not out-of-memory propagates, and the weights are still restored
  SizedModel failing(16, std::nullopt);
  failing.other_error = true;
  auto before = failing.layer->weight.clone();
  EXPECT_THROW(Tuner(trainer).scale_batch_size(failing), std::logic_error);
  EXPECT_TRUE(torch::equal(failing.layer->weight, before));
  EXPECT_TRUE(is_oom_error(std::runtime_error("CUDA out of memory. Tried to allocate 2 GiB")));
  EXPECT_TRUE(is_oom_error(std::runtime_error("[enforce fail] DefaultCPUAllocator: can't allocate memory: you tried")));
  EXPECT_FALSE(is_oom_error(std::runtime_error("out of memory")));
}

}  // namespace volt_test_batch_size_finder_test
}  // namespace
