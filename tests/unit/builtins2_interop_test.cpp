// Checkpoints holding BackboneFinetuning and StochasticWeightAveraging state, read back by Python's torch.load
// (Debian's /usr/bin/python3 with torch 1.13, tests/python/read_checkpoint.py): Lightning's state keys and layout.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/boring.hpp"
#include "support/python.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_builtins2_interop_test {

using namespace volt;
using namespace volt::testing;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

class TwoPartModel : public Module {
 public:
  TwoPartModel() {
    backbone = register_module("backbone", torch::nn::Sequential(torch::nn::Linear(8, 8), torch::nn::ReLU()));
    head = register_module("head", torch::nn::Linear(8, 1));
  }
  StepOutput training_step(const Batch& batch, int64_t) override {
    auto out = head->forward(backbone->forward(batch.toTensor()));
    return torch::mse_loss(out, torch::zeros_like(out));
  }
  OptimizerConfig configure_optimizers() override {
    std::vector<torch::Tensor> trainable;
    for (const auto& p : parameters())
      if (p.requires_grad()) trainable.push_back(p);
    return OptimizerConfig(std::make_shared<torch::optim::SGD>(trainable, torch::optim::SGDOptions(0.1)));
  }
  std::shared_ptr<DataLoader> train_dataloader() override {
    DataLoaderOptions o;
    o.batch_size = 4;
    return std::make_shared<TensorDataLoader>(std::vector<torch::Tensor>{torch::randn({8, 8})}, o);
  }
  torch::nn::Sequential backbone{nullptr};
  torch::nn::Linear head{nullptr};
};

}  // namespace

TEST(Builtins2Interop, FinetuningAndSwaStateReadsInPythonWithLightningsLayout) {
  if (!python_has_torch()) GTEST_SKIP() << "/usr/bin/python3 has no torch (apt install python3-torch)";
  torch::manual_seed(0);
  const std::string root = fs::weakly_canonical(fresh_dir("builtins2_interop")).string();
  BackboneFinetuningOptions fo;
  fo.unfreeze_backbone_at_epoch = 1;
  StochasticWeightAveragingOptions so;
  so.swa_lrs = {0.05};
  so.swa_epoch_start = 2;
  TwoPartModel model;
  TrainerOptions o = golden_options(root, {std::make_shared<BackboneFinetuning>(fo),
                                           std::make_shared<StochasticWeightAveraging>(so)});
  o.max_epochs = 3;
  Trainer trainer(o);
  trainer.fit(model);
  std::string ckpt;
  for (const auto& entry : fs::recursive_directory_iterator(root))
    if (entry.path().extension() == ".ckpt") ckpt = entry.path().string();
  ASSERT_FALSE(ckpt.empty());

  json top = python_load(ckpt)["value"];
  json callbacks = python_dict_get(top, "callbacks");
  json ft = python_dict_get(callbacks, "BackboneFinetuning");
  EXPECT_EQ(python_dict_keys(ft), (std::vector<std::string>{"internal_optimizer_metadata", "previous_backbone_lr"}));
  json metadata = python_dict_get(ft, "internal_optimizer_metadata");
  EXPECT_EQ(python_dict_keys(metadata), std::vector<std::string>{"0"});  // an int key, as Lightning writes it
  json records = python_dict_get(metadata, "0");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(python_dict_keys(records[0]),
            (std::vector<std::string>{"lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize", "foreach",
                                      "differentiable", "params"}));
  EXPECT_EQ(python_dict_get(records[0], "params"), (json{"head.weight", "head.bias"}));
  EXPECT_EQ(python_dict_get(records[1], "params"), (json{"backbone.0.weight", "backbone.0.bias"}));
  EXPECT_DOUBLE_EQ(python_dict_get(records[1], "lr").get<double>(), 0.01);
  EXPECT_DOUBLE_EQ(python_dict_get(ft, "previous_backbone_lr").get<double>(), 0.02);

  json swa = python_dict_get(callbacks, "StochasticWeightAveraging");
  EXPECT_EQ(python_dict_keys(swa), (std::vector<std::string>{"n_averaged", "latest_update_epoch", "scheduler_state",
                                                 "average_model_state"}));
  EXPECT_EQ(python_dict_get(swa, "n_averaged"), 2);  // epochs 1 and 2
  EXPECT_EQ(python_dict_get(swa, "latest_update_epoch"), 2);
  EXPECT_EQ(python_dict_keys(python_dict_get(swa, "scheduler_state")),
            (std::vector<std::string>{"anneal_epochs", "base_lrs", "last_epoch", "verbose", "_step_count",
                                      "_get_lr_called_within_step", "_last_lr"}));
  EXPECT_EQ(python_dict_get(python_dict_get(swa, "scheduler_state"), "base_lrs"), (json{0.05, 0.05}));  // both groups
  EXPECT_EQ(python_dict_keys(python_dict_get(swa, "average_model_state")),
            (std::vector<std::string>{"backbone.0.weight", "backbone.0.bias", "head.weight", "head.bias"}));
  EXPECT_EQ(python_dict_get(python_dict_get(swa, "average_model_state"), "head.weight")["shape"], (json{1, 8}));
  // the optimizer state has both groups, SWALR's extras included
  json groups = python_dict_get(python_dict_get(top, "optimizer_states")[0], "param_groups");
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_DOUBLE_EQ(python_dict_get(groups[1], "swa_lr").get<double>(), 0.05);
}

}  // namespace volt_test_builtins2_interop_test
}  // namespace
