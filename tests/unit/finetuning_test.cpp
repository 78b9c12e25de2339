// BaseFinetuning / BackboneFinetuning (Lightning 2.2.5's callbacks/finetuning.py): the static helpers, the
// per-epoch learning rates and param-group records against real Lightning (tests/golden/callbacks/finetuning.json,
// tools/gen_finetuning_golden.py), and resuming with the recorded groups.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/ivalue_json.hpp"
#include "support/boring.hpp"
#include "support/messages.hpp"
#include "volt/callbacks/finetuning.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_finetuning_test {

using namespace volt;
using namespace volt::testing;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

json golden() { return test::golden_json("callbacks/finetuning.json"); }

// The model of tools/gen_finetuning_golden.py: backbone = Linear(32, 32, no bias), BatchNorm1d, ReLU; head =
// Linear(32, 2); SGD(lr 0.1) over the trainable parameters, StepLR(1, gamma) if gamma is set.
class BackboneModel : public Module {
 public:
  explicit BackboneModel(std::optional<double> gamma = std::nullopt) : gamma_(gamma) {
    backbone = register_module("backbone", torch::nn::Sequential(
        torch::nn::Linear(torch::nn::LinearOptions(32, 32).bias(false)), torch::nn::BatchNorm1d(32),
        torch::nn::ReLU()));
    head = register_module("head", torch::nn::Linear(32, 2));
  }
  StepOutput training_step(const Batch& batch, int64_t) override {
    auto out = head->forward(backbone->forward(batch.toTensor()));
    return torch::mse_loss(out, torch::ones_like(out));
  }
  OptimizerConfig configure_optimizers() override {
    std::vector<torch::Tensor> trainable;
    for (const auto& p : parameters())
      if (p.requires_grad()) trainable.push_back(p);
    auto opt = std::make_shared<torch::optim::SGD>(trainable, torch::optim::SGDOptions(0.1));
    if (!gamma_) return OptimizerConfig(opt);
    LRSchedulerConfig s;
    s.scheduler = std::make_shared<StepLR>(*opt, 1, *gamma_);
    return OptimizerConfig(opt, s);
  }
  std::shared_ptr<DataLoader> train_dataloader() override {
    DataLoaderOptions o;
    o.batch_size = 8;
    return std::make_shared<TensorDataLoader>(std::vector<torch::Tensor>{data_}, o);
  }
  torch::nn::Sequential backbone{nullptr};
  torch::nn::Linear head{nullptr};

 private:
  std::optional<double> gamma_;
  // fixed data (not from the generator), so runs with different seeds see the same batches
  torch::Tensor data_ = torch::sin(torch::arange(16 * 32, torch::kFloat)).reshape({16, 32});
};

// Records every group's lr right after the finetuning callback's on_train_epoch_start.
struct LrProbe : Callback {
  std::vector<std::vector<double>> lrs;
  void on_train_epoch_start(Trainer& trainer, Module&) override {
    std::vector<double> row;
    for (const auto& g : trainer.optimizers()[0]->param_groups()) row.push_back(g.options().get_lr());
    lrs.push_back(row);
  }
};

BackboneFinetuningOptions setup_options(const std::string& name) {
  BackboneFinetuningOptions o;
  if (name == "steplr_u3") o.unfreeze_backbone_at_epoch = 3;
  if (name == "constant_u2") o.unfreeze_backbone_at_epoch = 2;
  if (name == "initial_lr_no_align") {
    o.unfreeze_backbone_at_epoch = 1;
    o.backbone_initial_lr = 0.03;
    o.should_align = false;
    o.lambda_func = [](int64_t) { return 1.5; };
  }
  if (name == "ratio_steplr_u0") {
    o.unfreeze_backbone_at_epoch = 0;
    o.backbone_initial_ratio_lr = 0.5;
    o.train_bn = false;
  }
  return o;
}

std::optional<double> setup_gamma(const std::string& name) {
  if (name == "steplr_u3") return 0.7;
  if (name == "ratio_steplr_u0") return 0.9;
  return std::nullopt;
}

int64_t setup_epochs(const std::string& name) {
  return name == "steplr_u3" ? 8 : name == "constant_u2" ? 7 : name == "initial_lr_no_align" ? 6 : 5;
}

TrainerOptions quiet(const std::string& root, std::vector<CallbackPtr> callbacks, int64_t max_epochs) {
  TrainerOptions o = golden_options(root, std::move(callbacks));
  o.max_epochs = max_epochs;
  o.enable_checkpointing = false;
  return o;
}

// A record as a list of (key, value) pairs, compared in order with the golden JSON.
void expect_record(const StateDict& record, const json& expected, const std::string& where) {
  ASSERT_EQ(record.size(), expected.size()) << where;
  size_t i = 0;
  for (const auto& kv : record) {
    const json& pair = expected[i++];
    const std::string key = kv.key().toStringRef();
    EXPECT_EQ(key, pair[0].get<std::string>()) << where;
    const IValue& v = kv.value();
    const json& e = pair[1];
    if (e.is_null()) EXPECT_TRUE(v.isNone()) << where << " " << key;
    else if (e.is_boolean()) EXPECT_TRUE(v.isBool() && v.toBool() == e.get<bool>()) << where << " " << key;
    else if (e.is_number_integer()) EXPECT_TRUE(v.isInt() && v.toInt() == e.get<int64_t>()) << where << " " << key;
    else if (e.is_number_float()) EXPECT_TRUE(v.isDouble() && v.toDouble() == e.get<double>()) << where << " " << key;
    else if (e.is_array()) {
      ASSERT_TRUE(v.isList()) << where << " " << key;
      std::vector<std::string> names;
      for (const auto& n : v.toListRef()) names.push_back(n.toStringRef());
      EXPECT_EQ(names, e.get<std::vector<std::string>>()) << where << " " << key;
    } else {
      ADD_FAILURE() << "unexpected golden value for " << key;
    }
  }
}

class FinetuningTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(0); }
  std::string root = fs::weakly_canonical(fresh_dir(
      std::string("ft_") + ::testing::UnitTest::GetInstance()->current_test_info()->name())).string();
};

}  // namespace

// ---- static helpers (test_freeze_unfreeze_function, test_unfreeze_and_add_param_group_function,
//      test_complex_nested_model) ---------------------------------------------------------------------------------

TEST(FinetuningHelpers, FreezeKeepsBatchNormTrainableUnlessTrainBnIsFalse) {
  torch::nn::Sequential model(torch::nn::Linear(4, 4), torch::nn::BatchNorm1d(4), torch::nn::Linear(4, 2));
  auto bn = model[1]->as<torch::nn::BatchNorm1d>();
  auto linear = model[0]->as<torch::nn::Linear>();
  BaseFinetuning::freeze(model, /*train_bn=*/true);
  EXPECT_FALSE(linear->weight.requires_grad());
  EXPECT_TRUE(bn->weight.requires_grad());
  EXPECT_TRUE(bn->options.track_running_stats());
  BaseFinetuning::freeze(model, /*train_bn=*/false);
  EXPECT_FALSE(linear->weight.requires_grad());
  EXPECT_FALSE(bn->weight.requires_grad());
  EXPECT_FALSE(bn->options.track_running_stats());
  EXPECT_TRUE(model->is_training());  // freezing never changes train/eval mode
  BaseFinetuning::make_trainable(model);
  for (const auto& p : model->parameters()) EXPECT_TRUE(p.requires_grad());
  EXPECT_TRUE(bn->options.track_running_stats());
  // nested lists
  BaseFinetuning::freeze({model[1], {model[0]}}, /*train_bn=*/true);
  EXPECT_FALSE(linear->weight.requires_grad());
  EXPECT_TRUE(bn->weight.requires_grad());
  EXPECT_TRUE(model[2]->as<torch::nn::Linear>()->weight.requires_grad());
}

namespace {
// test_complex_nested_model: a block that owns a parameter directly besides its children.
struct ConvBlockParam : torch::nn::Module {
  ConvBlockParam() {
    register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3)));
    register_module("act", torch::nn::ReLU());
    register_parameter("parent_param", torch::zeros({1}));
    register_module("bn", torch::nn::BatchNorm2d(4));
  }
  torch::Tensor forward(torch::Tensor x) { return x; }  // Sequential needs one
};
struct ConvBlock : torch::nn::Module {
  ConvBlock() {
    register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(4, 4, 3)));
    register_module("act", torch::nn::ReLU());
    register_module("bn", torch::nn::BatchNorm2d(4));
  }
  torch::Tensor forward(torch::Tensor x) { return x; }
};
}  // namespace

TEST(FinetuningHelpers, FlattenModulesKeepsLeavesAndParameterOwners) {
  torch::nn::Sequential encoder;
  encoder->push_back(std::make_shared<ConvBlockParam>());
  encoder->push_back(std::make_shared<ConvBlock>());
  torch::nn::Sequential decoder;
  decoder->push_back(std::make_shared<ConvBlock>());
  EXPECT_EQ(BaseFinetuning::flatten_modules({encoder, decoder}).size(), 10u);
  BaseFinetuning::freeze(encoder, false);
  EXPECT_TRUE(BaseFinetuning::filter_params(encoder).empty());
  BaseFinetuning::make_trainable(encoder);
  // conv w+b, parent_param, bn w+b, conv w+b, bn w+b: the parent's own parameter is yielded once
  EXPECT_EQ(BaseFinetuning::filter_params(encoder).size(), 9u);
  EXPECT_EQ(BaseFinetuning::filter_params(encoder, /*train_bn=*/false).size(), 5u);
}

TEST(FinetuningHelpers, UnfreezeAndAddParamGroupMatchesLightning) {
  const json g = golden()["helpers"];
  torch::manual_seed(0);
  auto lin = [](int64_t out) { return torch::nn::Linear(torch::nn::LinearOptions(32, out).bias(false)); };
  torch::nn::Sequential model(lin(32), lin(32), lin(32), lin(32), lin(2), torch::nn::BatchNorm1d(2));
  BaseFinetuning::freeze(model, /*train_bn=*/false);
  torch::optim::SGD opt(model[0]->parameters(), torch::optim::SGDOptions(0.01));
  CapturedMessages messages;
  auto check = [&](size_t step) {
    const json& expected = g["unfreeze_steps"][step];
    ASSERT_EQ(opt.param_groups().size(), expected["groups"].size()) << "step " << step;
    for (size_t i = 0; i < opt.param_groups().size(); ++i) {
      EXPECT_EQ(opt.param_groups()[i].options().get_lr(), expected["groups"][i][0].get<double>()) << step;
      EXPECT_EQ(static_cast<int64_t>(opt.param_groups()[i].params().size()), expected["groups"][i][1].get<int64_t>());
    }
    EXPECT_EQ(messages.warnings.size(), expected["warnings"].get<size_t>()) << "step " << step;
  };
  BaseFinetuning::unfreeze_and_add_param_group(model[0], opt);
  check(0);
  BaseFinetuning::unfreeze_and_add_param_group(model[1], opt);
  check(1);
  EXPECT_TRUE(model[1]->as<torch::nn::Linear>()->weight.requires_grad());
  BaseFinetuning::unfreeze_and_add_param_group(model, opt, 100.0, 10.0, /*train_bn=*/false);
  check(2);
  ASSERT_FALSE(messages.warnings.empty());
  EXPECT_EQ(messages.warnings[0], g["warning"].get<std::string>());
}

TEST(FinetuningHelpers, FilterOnOptimizerComparesValuesNotIdentity) {
  // Lightning's quirk: two fresh BatchNorm weights (all ones) count as the same parameter
  torch::nn::BatchNorm1d a(3), b(3);
  torch::optim::SGD opt({a->weight}, torch::optim::SGDOptions(0.1));
  CapturedMessages messages;
  EXPECT_TRUE(BaseFinetuning::filter_on_optimizer(opt, {b->weight}).empty());
  EXPECT_EQ(messages.warnings.size(), 1u);
  EXPECT_EQ(BaseFinetuning::filter_on_optimizer(opt, {b->bias}).size(), 1u);  // zeros vs ones: kept
}

TEST(FinetuningHelpers, AbstractHooksAndMissingBackboneAreClearErrors) {
  BaseFinetuning base;
  BoringModel model;
  EXPECT_THROW(base.freeze_before_training(model), Error);
  torch::optim::SGD opt(model.parameters(), torch::optim::SGDOptions(0.1));
  EXPECT_THROW(base.finetune_function(model, 0, opt), Error);
  BackboneFinetuning backbone;
  try {
    backbone.freeze_before_training(model);
    ADD_FAILURE() << "expected MisconfigurationError";
  } catch (const MisconfigurationError& e) {
    EXPECT_NE(std::string(e.what()).find("should have a nn.Module `backbone` attribute"), std::string::npos);
  }
  BackboneFinetuningOptions no_fn;
  no_fn.lambda_func = nullptr;
  EXPECT_THROW(BackboneFinetuning{no_fn}, MisconfigurationError);
}

// ---- BackboneFinetuning against Lightning --------------------------------------------------------------------------

TEST_F(FinetuningTest, BackboneLearningRatesAndRecordsMatchLightning) {
  const json g = golden()["backbone"];
  for (const auto& item : g.items()) {
    const std::string name = item.key();
    SCOPED_TRACE(name);
    const json& expected = item.value();
    auto cb = std::make_shared<BackboneFinetuning>(setup_options(name));
    auto probe = std::make_shared<LrProbe>();
    BackboneModel model(setup_gamma(name));
    Trainer trainer(quiet(root + "/" + name, {cb, probe}, setup_epochs(name)));
    trainer.fit(model);
    ASSERT_EQ(probe->lrs.size(), expected["lrs"].size());
    for (size_t e = 0; e < probe->lrs.size(); ++e)
      EXPECT_EQ(probe->lrs[e], expected["lrs"][e].get<std::vector<double>>()) << "epoch " << e;
    EXPECT_EQ(cb->previous_backbone_lr().value(), expected["previous_backbone_lr"].get<double>());
    const auto& groups = trainer.optimizers()[0]->param_groups();
    ASSERT_EQ(groups.size(), expected["group_sizes"].size());
    for (size_t i = 0; i < groups.size(); ++i)
      EXPECT_EQ(groups[i].params().size(), expected["group_sizes"][i].get<size_t>());
    const auto& records = cb->internal_optimizer_metadata().at(0);
    ASSERT_EQ(records.size(), expected["metadata"]["0"].size());
    for (size_t r = 0; r < records.size(); ++r)
      expect_record(records[r], expected["metadata"]["0"][r], name + " record " + std::to_string(r));
    // the backbone's BatchNorm stayed trainable while the rest of the backbone was frozen
    EXPECT_TRUE(model.backbone[1]->as<torch::nn::BatchNorm1d>()->weight.requires_grad());
  }
}

TEST_F(FinetuningTest, VerboseLogsCurrentAndBackboneLr) {
  BackboneFinetuningOptions o;
  o.unfreeze_backbone_at_epoch = 1;
  o.verbose = true;
  o.rounding = 3;
  auto cb = std::make_shared<BackboneFinetuning>(o);
  BackboneModel model;
  CapturedMessages messages;
  Trainer trainer(quiet(root, {cb}, 3));
  trainer.fit(model);
  EXPECT_EQ(messages.containing("Backbone lr"),
            (std::vector<std::string>{"Current lr: 0.1, Backbone lr: 0.01", "Current lr: 0.1, Backbone lr: 0.02"}));
}

// ---- state and resume (test_base_finetuning_internal_optimizer_metadata, test_callbacks_restore_backbone) ------------

namespace {
// Unfreezes layer[epoch + 1] each epoch, as Lightning's test callback does.
class LayerByLayer : public BaseFinetuning {
 public:
  void freeze_before_training(Module& module) override {
    auto layer = module.named_children()[0].value();  // "layer"
    for (size_t i = 1; i < layer->children().size(); ++i) freeze(layer->children()[i]);
  }
  void finetune_function(Module& module, int64_t epoch, torch::optim::Optimizer& optimizer) override {
    auto layer = module.named_children()[0].value();
    unfreeze_and_add_param_group(layer->children().at(static_cast<size_t>(epoch) + 1), optimizer);
  }
};

class LayersModel : public Module {
 public:
  LayersModel() {
    seq = register_module("layer", torch::nn::Sequential(
        torch::nn::Linear(torch::nn::LinearOptions(32, 32).bias(false)), torch::nn::Linear(32, 32),
        torch::nn::Linear(32, 32), torch::nn::Linear(32, 32), torch::nn::Linear(32, 32), torch::nn::Linear(32, 2)));
  }
  std::shared_ptr<DataLoader> train_dataloader() override {
    return std::make_shared<TensorDataLoader>(std::vector<torch::Tensor>{torch::randn({4, 32})});
  }
  StepOutput training_step(const Batch& batch, int64_t) override {
    auto out = seq->forward(batch.toTensor());
    return torch::mse_loss(out, torch::ones_like(out));
  }
  OptimizerConfig configure_optimizers() override {
    std::vector<torch::Tensor> trainable;
    for (const auto& p : parameters())
      if (p.requires_grad()) trainable.push_back(p);
    return OptimizerConfig(std::make_shared<torch::optim::SGD>(trainable, torch::optim::SGDOptions(0.1)));
  }
  torch::nn::Sequential seq{nullptr};
};
}  // namespace

TEST_F(FinetuningTest, RecordsEveryAddedGroupByNameAndResumeRestoresThem) {
  auto cb = std::make_shared<LayerByLayer>();
  LayersModel model;
  TrainerOptions o = quiet(root, {cb}, 5);
  o.enable_checkpointing = true;
  o.limit_train_batches = 2;
  o.limit_val_batches = 0;
  Trainer trainer(o);
  trainer.fit(model);
  const auto& records = cb->internal_optimizer_metadata().at(0);
  ASSERT_EQ(records.size(), 6u);
  auto names = [&](size_t r) {
    std::vector<std::string> out;
    for (const auto& n : records[r].at("params").toListRef()) out.push_back(n.toStringRef());
    return out;
  };
  EXPECT_EQ(names(0), std::vector<std::string>{"layer.0.weight"});
  for (size_t r = 1; r < 6; ++r)
    EXPECT_EQ(names(r), (std::vector<std::string>{"layer." + std::to_string(r) + ".weight",
                                                  "layer." + std::to_string(r) + ".bias"}));
  EXPECT_DOUBLE_EQ(records[1].at("lr").toDouble(), 0.01);

  // Resume with max_epochs 10: the 6 groups are rebuilt before the optimizer state is loaded, training continues
  // at epoch 5 and then fails because there is no layer[6] (as Lightning's test expects).
  std::string ckpt;
  for (const auto& entry : fs::recursive_directory_iterator(root))
    if (entry.path().extension() == ".ckpt") ckpt = entry.path().string();
  ASSERT_FALSE(ckpt.empty());
  auto resumed_cb = std::make_shared<LayerByLayer>();
  LayersModel resumed;
  TrainerOptions r = quiet(root + "/resume", {resumed_cb}, 10);
  r.limit_train_batches = 2;
  r.limit_val_batches = 0;
  Trainer again(r);
  EXPECT_THROW(again.fit(resumed, nullptr, ckpt), std::out_of_range);
  EXPECT_EQ(again.current_epoch(), 5);
  EXPECT_EQ(again.optimizers()[0]->param_groups().size(), 6u);
  EXPECT_FALSE(resumed_cb->restarting());
}

TEST_F(FinetuningTest, BackboneResumeContinuesFromRestoredLrAndOptimizerState) {
  // Uninterrupted: 4 epochs with StepLR, backbone unfrozen at 1; vs 2 epochs then a resume to 4.
  auto run = [&](const std::string& dir, int64_t epochs, const std::string& ckpt, BackboneModel& model) {
    BackboneFinetuningOptions bo;
    bo.unfreeze_backbone_at_epoch = 1;
    auto cb = std::make_shared<BackboneFinetuning>(bo);
    auto probe = std::make_shared<LrProbe>();
    TrainerOptions o = quiet(root + "/" + dir, {cb, probe}, epochs);
    o.enable_checkpointing = true;
    Trainer trainer(o);
    trainer.fit(model, nullptr, ckpt);
    return std::make_pair(probe->lrs, cb->previous_backbone_lr());
  };
  torch::manual_seed(1);
  BackboneModel full(0.7);
  auto full_run = run("full", 4, "", full);
  torch::manual_seed(1);
  BackboneModel first(0.7);
  run("first", 2, "", first);
  std::string ckpt;
  for (const auto& entry : fs::recursive_directory_iterator(root + "/first"))
    if (entry.path().extension() == ".ckpt") ckpt = entry.path().string();
  ASSERT_FALSE(ckpt.empty());
  torch::manual_seed(2);  // different init: everything must come from the checkpoint
  BackboneModel second(0.7);
  auto resumed = run("second", 4, ckpt, second);
  ASSERT_EQ(resumed.first.size(), 2u);
  EXPECT_EQ(resumed.first[0], full_run.first[2]);
  EXPECT_EQ(resumed.first[1], full_run.first[3]);
  EXPECT_EQ(resumed.second, full_run.second);
  // As in Lightning 2.2.5 (checked with the oracle), the resumed run rebuilds the backbone's group but leaves the
  // backbone frozen (setup froze it, on_fit_start only restores the groups), so it keeps its checkpointed weights.
  EXPECT_FALSE(second.backbone[0]->as<torch::nn::Linear>()->weight.requires_grad());
  EXPECT_TRUE(torch::equal(second.backbone[0]->as<torch::nn::Linear>()->weight,
                           first.backbone[0]->as<torch::nn::Linear>()->weight));
  EXPECT_FALSE(torch::equal(second.head->weight, first.head->weight));  // the head did train on
}

TEST_F(FinetuningTest, StateDictLayoutAndBadState) {
  BackboneFinetuning cb;
  StateDict sd = cb.state_dict();
  EXPECT_EQ(sd.size(), 2u);
  EXPECT_TRUE(sd.at("internal_optimizer_metadata").isGenericDict());
  EXPECT_TRUE(sd.at("previous_backbone_lr").isNone());
  EXPECT_THROW(cb.load_state_dict(StateDict{{"internal_optimizer_metadata", sd.at("internal_optimizer_metadata")}}),
               CheckpointError);
  EXPECT_THROW(cb.load_state_dict(StateDict{{"previous_backbone_lr", 0.1}, {"internal_optimizer_metadata", 3}}),
               CheckpointError);
  // the pre-1.6 layout: the metadata dict itself
  BaseFinetuning base;
  c10::impl::GenericDict old(c10::IntType::get(), c10::AnyType::get());
  c10::impl::GenericList groups(c10::AnyType::get());
  groups.push_back(StateDict{{"lr", 0.1}, {"params", c10::List<std::string>({"layer.weight"})}}.ivalue());
  old.insert(int64_t{0}, groups);
  base.load_state_dict(StateDict(old));
  EXPECT_TRUE(base.restarting());
  ASSERT_EQ(base.internal_optimizer_metadata().at(0).size(), 1u);
}

}  // namespace volt_test_finetuning_test
}  // namespace
