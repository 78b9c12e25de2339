// ModelPruning (Lightning 2.2.5's callbacks/pruning.py) and volt::pruning (torch.nn.utils.prune) against
// tests/golden/callbacks/pruning.json (tools/gen_pruning_golden.py): masks of fixed-weight layers step by step,
// and small deterministic Lightning fits (per-epoch masks and weights, log lines, saved checkpoints).
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/boring.hpp"
#include "support/ivalue_json.hpp"
#include "support/messages.hpp"
#include "volt/callbacks/model_checkpoint.hpp"
#include "volt/callbacks/model_pruning.hpp"
#include "volt/config.hpp"
#include "volt/registry.hpp"
#include "volt/serialization/pickle_reader.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_model_pruning_test {

using namespace volt;
using namespace volt::testing;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

json golden() {
  static const json g = test::golden_json("callbacks/pruning.json");
  return g;
}

torch::Tensor det(std::vector<int64_t> shape, double scale, double phase) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return (torch::sin(torch::arange(n, torch::kFloat) * 0.7 + phase) * scale).reshape(shape);
}

std::vector<double> flat(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kDouble).flatten().contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// PyTorch's Module.state_dict order: own parameters, own buffers, then children.
void state_of(const torch::nn::Module& m, const std::string& prefix, std::vector<std::pair<std::string, torch::Tensor>>& out) {
  for (const auto& p : m.named_parameters(false)) out.emplace_back(prefix + p.key(), p.value());
  for (const auto& b : m.named_buffers(false)) out.emplace_back(prefix + b.key(), b.value());
  for (const auto& c : m.named_children()) state_of(*c.value(), prefix + c.key() + ".", out);
}
std::vector<std::pair<std::string, torch::Tensor>> state_of(const torch::nn::Module& m) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  state_of(m, "", out);
  return out;
}
std::vector<std::string> keys_of(const torch::nn::Module& m) {
  std::vector<std::string> keys;
  for (const auto& kv : state_of(m)) keys.push_back(kv.first);
  return keys;
}

void expect_close(const std::vector<double>& actual, const json& expected, const std::string& what) {
  auto e = expected.get<std::vector<double>>();
  ASSERT_EQ(actual.size(), e.size()) << what;
  for (size_t i = 0; i < e.size(); ++i)
    EXPECT_NEAR(actual[i], e[i], 1e-6 + 1e-6 * std::abs(e[i])) << what << "[" << i << "]";
}

// tools/gen_pruning_golden.py's Layers, with the weights from the file.
class Layers : public Module {
 public:
  Layers() {
    fc1 = register_module("fc1", torch::nn::Linear(5, 6));
    fc2 = register_module("fc2", torch::nn::Linear(6, 3));
    conv = register_module("conv", torch::nn::Conv2d(2, 4, 3));
    torch::NoGradGuard no_grad;
    const json w = golden()["masks"]["weights"];
    for (auto& kv : named_parameters()) {
      const json& e = w.at(kv.key());
      kv.value().copy_(torch::tensor(e["values"].get<std::vector<float>>()).reshape(e["shape"].get<std::vector<int64_t>>()));
    }
  }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  torch::nn::Conv2d conv{nullptr};
};

std::map<std::string, std::vector<double>> masks_of(const torch::nn::Module& m) {
  std::map<std::string, std::vector<double>> out;
  for (const auto& [k, v] : state_of(m))
    if (k.size() > 5 && k.compare(k.size() - 5, 5, "_mask") == 0) out[k] = flat(v);
  return out;
}

void expect_masks(const torch::nn::Module& m, const json& expected, const std::string& what) {
  auto actual = masks_of(m);
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (const auto& [k, v] : expected.items()) {
    ASSERT_TRUE(actual.count(k)) << what << " " << k;
    EXPECT_EQ(actual[k], v.get<std::vector<double>>()) << what << " " << k;
  }
}

using Step = std::function<void(Layers&)>;

std::vector<Step> case_steps(const std::string& name) {
  using namespace volt::pruning;
  auto params = [](Layers& m) {
    return std::vector<std::pair<torch::nn::Module*, std::string>>{
        {m.fc1.get(), "weight"}, {m.fc1.get(), "bias"}, {m.fc2.get(), "weight"}};
  };
  if (name == "l1_repeated")
    return {[](Layers& m) { l1_unstructured(*m.fc1, "weight", 0.3); },
            [](Layers& m) { l1_unstructured(*m.fc1, "weight", 0.5); },
            [](Layers& m) { l1_unstructured(*m.fc1, "weight", 3); },
            [](Layers& m) { l1_unstructured(*m.fc2, "bias", 1); }};
  if (name == "ln_dim0")
    return {[](Layers& m) { ln_structured(*m.fc1, "weight", 0.34, 2, 0); },
            [](Layers& m) { ln_structured(*m.fc1, "weight", 1, 2, 1); }};
  if (name == "ln_dim1")
    return {[](Layers& m) { ln_structured(*m.fc1, "weight", 0.5, 2, 1); },
            [](Layers& m) { ln_structured(*m.fc1, "weight", 0.5, 2, 1); }};
  if (name == "ln_conv")
    return {[](Layers& m) { ln_structured(*m.conv, "weight", 0.5, 1, 1); },
            [](Layers& m) { ln_structured(*m.conv, "weight", 2, 2, 0); },
            [](Layers& m) { ln_structured(*m.conv, "weight", 0.5, 2, -1); }};
  if (name == "l1_then_ln")
    return {[](Layers& m) { l1_unstructured(*m.fc1, "weight", 0.4); },
            [](Layers& m) { ln_structured(*m.fc1, "weight", 0.5, 2, 0); }};
  if (name == "global")
    return {[=](Layers& m) { global_unstructured(params(m), l1_unstructured_method(), 0.4); },
            [=](Layers& m) { global_unstructured(params(m), l1_unstructured_method(), 0.5); },
            [=](Layers& m) { global_unstructured(params(m), l1_unstructured_method(), 4); }};
  if (name == "random")
    return {[](Layers& m) { random_unstructured(*m.fc2, "weight", 0.5); },
            [](Layers& m) { random_structured(*m.fc1, "weight", 0.5, 0); },
            [](Layers& m) {
              global_unstructured({{m.fc1.get(), "bias"}, {m.fc2.get(), "weight"}}, random_unstructured_method(), 0.3);
            }};
  return {};
}

// ---- fits ----------------------------------------------------------------------------------------------------------

// tools/gen_pruning_golden.py's Model.
class FitModel : public Module {
 public:
  explicit FitModel(bool val) : val_(val) {
    net = register_module("net", torch::nn::Sequential(torch::nn::Linear(4, 6), torch::nn::ReLU(),
                                                       torch::nn::Linear(6, 1)));
    torch::NoGradGuard no_grad;
    int i = 0;
    for (auto& kv : net->named_parameters()) kv.value().copy_(det(kv.value().sizes().vec(), 0.5, i++));
  }
  StepOutput training_step(const Batch& batch, int64_t) override {
    auto xy = batch.toTupleRef().elements();
    return torch::mse_loss(net->forward(xy[0].toTensor()), xy[1].toTensor());
  }
  StepOutput validation_step(const Batch& batch, int64_t, int64_t) override {
    auto xy = batch.toTupleRef().elements();
    return torch::mse_loss(net->forward(xy[0].toTensor()), xy[1].toTensor());
  }
  OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
  }
  std::shared_ptr<DataLoader> loader(int64_t batch_size) {
    auto x = det({32, 4}, 1.0, 0.0);
    DataLoaderOptions o;
    o.batch_size = batch_size;
    return std::make_shared<TensorDataLoader>(std::vector<torch::Tensor>{x, x.sum(1, true) * 0.5}, o);
  }
  std::shared_ptr<DataLoader> train_dataloader() override { return loader(8); }
  std::shared_ptr<DataLoader> val_dataloader() override { return val_? loader(16) : Module::val_dataloader(); }
  torch::nn::Sequential net{nullptr};

 private:
  bool val_;
};

// What the generator's tensors_of records: the state_dict and the effective tensor of every pruned parameter.
json tensors_of(Module& m) {
  json out;
  out["state_dict"] = json::array();
  for (const auto& [k, v] : state_of(m)) out["state_dict"].push_back({k, flat(v)});
  out["effective"] = json::array();
  for (const auto& item : m.named_modules("", /*include_self=*/false))  // the root has no pruned tensors
    for (const char* p : {"weight", "bias"})
      if (pruning::is_pruned(*item.value(), p))
        out["effective"].push_back({item.key() + "." + p, flat(pruning::effective(*item.value(), p))});
  return out;
}

void expect_same_tensors(const json& actual, const json& expected, const std::string& what) {
  for (const char* part : {"state_dict", "effective"}) {
    ASSERT_EQ(actual[part].size(), expected[part].size()) << what << " " << part;
    for (size_t i = 0; i < expected[part].size(); ++i) {
      EXPECT_EQ(actual[part][i][0], expected[part][i][0]) << what << " " << part << "[" << i << "]";
      expect_close(actual[part][i][1].get<std::vector<double>>(), expected[part][i][1],
                   what + " " + part + " " + expected[part][i][0].get<std::string>());
    }
  }
}

struct Probe : Callback {
  std::vector<json> epochs;
  void on_train_epoch_end(Trainer&, Module& module) override { epochs.push_back(tensors_of(module)); }
};

ModelPruningOptions setup_options(const std::string& name) {
  ModelPruningOptions o;
  o.pruning_fn = name == "ln_structured_on_validation" ? "ln_structured" : "l1_unstructured";
  if (name == "global_l1_float") {
    o.amount = 0.3;
    o.verbose = 2;
    o.make_pruning_permanent = false;
    o.use_lottery_ticket_hypothesis = false;
  } else if (name == "local_int_schedule_lth") {
    o.use_global_unstructured = false;
    o.amount_fn = [](int64_t e) { return PruningAmount(std::vector<int>{2, 0, 3, 1}.at(static_cast<size_t>(e))); };
    o.apply_pruning_fn = [](int64_t e) { return e != 2; };
    o.parameter_names = std::vector<std::string>{"weight"};
    o.use_lottery_ticket_hypothesis = true;
    o.verbose = 1;
    o.make_pruning_permanent = true;
  } else if (name == "ln_structured_on_validation") {
    o.use_global_unstructured = false;
    o.pruning_dim = 0;
    o.pruning_norm = 2;
    o.amount = 0.25;
    o.verbose = 2;
    o.prune_on_train_epoch_end = false;
    o.parameter_names = std::vector<std::string>{"weight"};
    o.use_lottery_ticket_hypothesis_fn = [](int64_t e) { return e % 2 == 1; };
    o.make_pruning_permanent = false;
  } else {  // checkpoint_permanent
    o.amount = 0.5;
    o.use_lottery_ticket_hypothesis = false;
    o.make_pruning_permanent = true;
  }
  return o;
}

struct FitResult {
  std::shared_ptr<Probe> probe;
  std::vector<std::string> logs;
  json final;
  std::map<std::string, json> checkpoints;
};

FitResult run_setup(const std::string& name, const std::string& dir) {
  const json g = golden()["fits"][name];
  FitModel model(name == "ln_structured_on_validation");
  FitResult r;
  r.probe = std::make_shared<Probe>();
  std::vector<CallbackPtr> callbacks{std::make_shared<ModelPruning>(setup_options(name)), r.probe};
  const bool checkpoint = name == "checkpoint_permanent";
  if (checkpoint) {
    ModelCheckpointOptions c;
    c.dirpath = dir;
    c.filename = "{epoch}";
    c.save_top_k = -1;
    callbacks.push_back(std::make_shared<ModelCheckpoint>(c));
  }
  TrainerOptions o = golden_options(dir, callbacks);
  o.max_epochs = static_cast<int64_t>(g["epochs"].size());
  o.enable_checkpointing = checkpoint;
  o.num_sanity_val_steps = name == "ln_structured_on_validation" ? 2 : 0;
  CapturedMessages messages;
  Trainer trainer(o);
  trainer.fit(model);
  r.logs = messages.containing("Applied `");
  r.final = tensors_of(model);
  if (checkpoint)
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.path().extension() == ".ckpt") {
        StateDict ckpt = as_state(read_checkpoint_file(entry.path().string()), "ckpt");
        json sd = json::array();
        for (const auto& kv : as_state(ckpt.at("state_dict"), "state_dict"))
          sd.push_back({kv.key().toStringRef(), flat(kv.value().toTensor())});
        r.checkpoints[entry.path().filename().string()] = sd;
      }
  return r;
}

std::string test_dir() {
  return fs::weakly_canonical(fresh_dir(std::string("pruning_") +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name()))
      .string();
}

int64_t zeros(const torch::Tensor& t) { return (t == 0).sum().item<int64_t>(); }

}  // namespace

// ---- masks against torch.nn.utils.prune ---------------------------------------------------------------------------

TEST(ModelPruningMasks, EveryStepMatchesTorchPrune) {
  const json cases = golden()["masks"]["cases"];
  ASSERT_EQ(cases.size(), 7u);
  for (const auto& [name, steps] : cases.items()) {
    auto fns = case_steps(name);
    ASSERT_EQ(fns.size(), steps.size()) << name;
    Layers m;
    if (name == "random") torch::manual_seed(7);
    for (size_t i = 0; i < fns.size(); ++i) {
      fns[i](m);
      expect_masks(m, steps[i], name + " step " + std::to_string(i));
    }
  }
}

TEST(ModelPruningMasks, ReparametrisationNamesOrderAndRemove) {
  const json g = golden()["masks"]["remove"];
  Layers m;
  pruning::l1_unstructured(*m.fc1, "weight", 0.5);
  pruning::l1_unstructured(*m.fc1, "bias", 0.5);
  EXPECT_EQ(keys_of(m), g["state_dict_keys_pruned"].get<std::vector<std::string>>());
  std::vector<std::string> params, buffers;
  for (const auto& p : m.named_parameters()) params.push_back(p.key());
  for (const auto& b : m.named_buffers()) buffers.push_back(b.key());
  EXPECT_EQ(params, g["named_parameters_pruned"].get<std::vector<std::string>>());
  EXPECT_EQ(buffers, g["named_buffers_pruned"].get<std::vector<std::string>>());
  // the layer's forward uses weight_orig * weight_mask
  auto x = det({2, 5}, 1.0, 0.2);
  auto expected = torch::nn::functional::linear(x, m.fc1->named_parameters(false)["weight_orig"] *
                                                       m.fc1->named_buffers(false)["weight_mask"],
                                                m.fc1->named_parameters(false)["bias_orig"] *
                                                    m.fc1->named_buffers(false)["bias_mask"]);
  EXPECT_TRUE(torch::equal(m.fc1->forward(x), expected));
  pruning::remove(*m.fc1, "weight");
  pruning::remove(*m.fc1, "bias");
  EXPECT_EQ(keys_of(m), g["state_dict_keys_removed"].get<std::vector<std::string>>());
  EXPECT_EQ(flat(m.fc1->weight), g["fc1_weight_removed"].get<std::vector<double>>());
  EXPECT_EQ(flat(m.fc1->bias), g["fc1_bias_removed"].get<std::vector<double>>());
  EXPECT_TRUE(m.fc1->weight.is_leaf());
  EXPECT_THROW(pruning::remove(*m.fc1, "weight"), MisconfigurationError);
}

TEST(ModelPruningMasks, GradientsReachOrigThroughTheMask) {
  Layers m;
  torch::Tensor w = m.fc1->weight;  // the tensor an optimizer holds
  pruning::l1_unstructured(*m.fc1, "weight", 0.5);
  torch::Tensor orig = m.fc1->named_parameters(false)["weight_orig"];
  EXPECT_TRUE(orig.is_same(w));
  torch::Tensor mask = m.fc1->named_buffers(false)["weight_mask"];
  auto x = det({3, 5}, 1.0, 0.4);
  m.fc1->forward(x).sum().backward();
  ASSERT_TRUE(orig.grad().defined());
  // d/dW sum(x W^T) = column sums of x per input, masked
  auto full = x.sum(0).unsqueeze(0).expand({6, 5});
  EXPECT_TRUE(torch::allclose(orig.grad(), full * mask));
  EXPECT_EQ(zeros(orig.grad()), zeros(mask));
}

TEST(ModelPruningMasks, AmountErrorsUseTorchMessages) {
  Layers m;
  try {
    pruning::l1_unstructured(*m.fc2, "bias", 4);
    ADD_FAILURE();
  } catch (const MisconfigurationError& e) {
    EXPECT_STREQ(e.what(), "amount=4 should be smaller than the number of parameters to prune=3");
  }
  try {
    pruning::l1_unstructured(*m.fc2, "bias", 1.5);
    ADD_FAILURE();
  } catch (const MisconfigurationError& e) {
    EXPECT_STREQ(e.what(), "amount=1.5 should either be a float in the range [0, 1] or a non-negative integer");
  }
  EXPECT_THROW(pruning::ln_structured(*m.fc2, "bias", 0.5, 2, 0), MisconfigurationError);  // 1-D
  EXPECT_THROW(pruning::ln_structured(*m.fc2, "weight", 0.5, 2, 2), MisconfigurationError);  // dim
  EXPECT_FALSE(pruning::is_pruned(*m.fc2, "bias"));  // a failed pruning leaves the module alone
  EXPECT_EQ(keys_of(m).size(), 6u);
}

// ---- the callback's configuration --------------------------------------------------------------------------------

TEST(ModelPruningConfig, ConstructorErrorsMatchLightning) {
  auto message = [](ModelPruningOptions o) -> std::string {
    try {
      ModelPruning p(o);
    } catch (const MisconfigurationError& e) {
      return e.what();
    }
    return "no error";
  };
  ModelPruningOptions o;
  o.pruning_fn = "l1_unstructured";
  o.parameter_names = std::vector<std::string>{"chocolate"};
  EXPECT_EQ(message(o), "The provided `parameter_names` name: chocolate isn't in ('weight', 'bias')");
  o = {};
  o.pruning_fn = "bad";
  EXPECT_EQ(message(o), "The provided `pruning_fn` bad isn't available in PyTorch's built-in functions: "
                        "['ln_structured', 'l1_unstructured', 'random_structured', 'random_unstructured'] ");
  o = {};
  o.pruning_fn = "random_structured";
  EXPECT_EQ(message(o), "When requesting `structured` pruning, the `pruning_dim` should be provided.");
  o.pruning_fn = "LN_Structured";
  o.pruning_dim = 0;
  EXPECT_EQ(message(o), "When requesting `ln_structured` pruning, the `pruning_norm` should be provided.");
  o.pruning_norm = 2;
  EXPECT_EQ(message(o), "Only the \"unstructured\" PRUNING_TYPE is supported with `use_global_unstructured=True`. "
                        "Found method <class 'torch.nn.utils.prune.LnStructured'> of type structured. ");
  o.use_global_unstructured = false;
  EXPECT_EQ(message(o), "no error");
  o = {};
  o.pruning_method = pruning::l1_unstructured_method();
  o.use_global_unstructured = false;
  EXPECT_EQ(message(o), "PyTorch `BasePruningMethod` is currently only supported with `use_global_unstructured=True`.");
  o = {};
  o.pruning_fn = "l1_unstructured";
  o.verbose = 3;
  EXPECT_EQ(message(o), "`verbose` must be any of (0, 1, 2)");
  o.verbose = 0;
  o.amount = -1;
  EXPECT_EQ(message(o), "amount=-1 should either be a float in the range [0, 1] or a non-negative integer");
  o.amount = 1.5;
  EXPECT_EQ(message(o), "amount=1.5 should either be a float in the range [0, 1] or a non-negative integer");
  o.amount = 7;
  EXPECT_EQ(message(o), "no error");

  ModelPruning local([] {
    ModelPruningOptions x;
    x.pruning_fn = "l1_unstructured";
    x.use_global_unstructured = false;
    return x;
  }());
  EXPECT_EQ(local.pruning_method_name(), "l1_unstructured");
  ModelPruning global([] {
    ModelPruningOptions x;
    x.pruning_fn = "random_unstructured";
    return x;
  }());
  EXPECT_EQ(global.pruning_method_name(), "RandomUnstructured");
}

TEST(ModelPruningConfig, SanitizeDefaultsAndMissingEntries) {
  Layers m;
  auto all = ModelPruning::sanitize_parameters_to_prune(m, {}, {});
  std::vector<std::string> got;
  for (const auto& [mod, name] : all) got.push_back(mod->name() + "." + name);
  // by name first: every weight in module order, then every bias
  EXPECT_EQ(got, (std::vector<std::string>{"torch::nn::LinearImpl.weight", "torch::nn::LinearImpl.weight",
                                           "torch::nn::Conv2dImpl.weight", "torch::nn::LinearImpl.bias",
                                           "torch::nn::LinearImpl.bias", "torch::nn::Conv2dImpl.bias"}));
  EXPECT_EQ(all[1].first.get(), m.fc2.ptr().get());
  auto stray = std::make_shared<torch::nn::LinearImpl>(2, 2);
  try {
    ModelPruning::sanitize_parameters_to_prune(m, {{stray, "weight"}, {m.fc1.ptr(), "gamma"}}, {});
    ADD_FAILURE();
  } catch (const MisconfigurationError& e) {
    EXPECT_STREQ(e.what(), "Some provided `parameters_to_prune` don't exist in the model. Found missing modules: "
                           "[Linear(in_features=2, out_features=2, bias=True)] and missing parameters: ['gamma']");
  }
}

TEST(ModelPruningConfig, RegistryBuildsFromYaml) {
  YAML::Node node = YAML::Load("{pruning_fn: ln_structured, amount: 2, pruning_dim: 1, pruning_norm: 2, "
                               "use_global_unstructured: false, verbose: 1}");
  InitArgs args(node, "trainer.callbacks[0].init_args");
  auto cb = Registry::global().make_callback("lightning.pytorch.callbacks.ModelPruning", args, "trainer.callbacks[0]");
  auto* p = dynamic_cast<ModelPruning*>(cb.get());
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->options().amount.is_count);
  EXPECT_EQ(p->options().amount.count, 2);
  EXPECT_EQ(*p->options().pruning_dim, 1);
  EXPECT_EQ(p->pruning_method_name(), "ln_structured");
  YAML::Node fraction = YAML::Load("{pruning_fn: l1_unstructured, amount: 0.25}");
  InitArgs args2(fraction, "x");
  auto cb2 = Registry::global().make_callback("ModelPruning", args2, "x");
  auto* p2 = dynamic_cast<ModelPruning*>(cb2.get());
  ASSERT_NE(p2, nullptr);
  EXPECT_FALSE(p2->options().amount.is_count);
  EXPECT_EQ(p2->options().amount.fraction, 0.25);
  YAML::Node bad = YAML::Load("{pruning_fn: l2_unstructured}");
  InitArgs args3(bad, "x");
  EXPECT_THROW(Registry::global().make_callback("ModelPruning", args3, "x"), Error);
}

// ---- fits against Lightning --------------------------------------------------------------------------------------

TEST(ModelPruningFit, EveryEpochMatchesLightning) {
  const json fits = golden()["fits"];
  for (const auto& [name, g] : fits.items()) {
    SCOPED_TRACE(name);
    FitResult r = run_setup(name, fresh_dir("pruning_fit_" + name));
    ASSERT_EQ(r.probe->epochs.size(), g["epochs"].size());
    for (size_t e = 0; e < g["epochs"].size(); ++e)
      expect_same_tensors(r.probe->epochs[e], g["epochs"][e], name + " epoch " + std::to_string(e));
    EXPECT_EQ(r.logs, g["logs"].get<std::vector<std::string>>());
    expect_same_tensors(r.final, g["final"], name + " final");
    ASSERT_EQ(r.checkpoints.size(), g["checkpoints"].size());
    for (const auto& [file, sd] : g["checkpoints"].items()) {
      ASSERT_TRUE(r.checkpoints.count(file)) << file;
      // Lightning appends the merged keys in the iteration order of a Python set (string hashes: differs from
      // run to run); volt appends them in mask order. Compare by key.
      auto sorted = [](json list) {
        std::sort(list.begin(), list.end(), [](const json& x, const json& y) { return x[0] < y[0]; });
        return list;
      };
      const json actual = sorted(r.checkpoints[file]), expected = sorted(sd);
      ASSERT_EQ(actual.size(), expected.size()) << file;
      for (size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(actual[i][0], expected[i][0]) << file;
        expect_close(actual[i][1].get<std::vector<double>>(), expected[i][1],
                     file + " " + expected[i][0].get<std::string>());
      }
    }
  }
}

TEST(ModelPruningFit, PrunedFractionPerEpochForFloatIntAndSchedule) {
  // float, global: 30% of the still-unpruned weights and biases of both layers each epoch (37 entries)
  {
    FitModel model(false);
    ModelPruningOptions o = setup_options("global_l1_float");
    o.verbose = 0;
    auto probe = std::make_shared<Probe>();
    TrainerOptions t = golden_options(test_dir(), {std::make_shared<ModelPruning>(o), probe});
    t.max_epochs = 3;
    t.enable_checkpointing = false;
    Trainer trainer(t);
    trainer.fit(model);
    int64_t total = 0;
    for (const auto& m : {model.net[0], model.net[2]})
      for (const char* n : {"weight", "bias"})
        total += zeros(m->named_buffers(false)[std::string(n) + "_mask"]);
    // round(0.3*37)=11, round(0.3*26)=8, round(0.3*18)=5
    EXPECT_EQ(total, 11 + 8 + 5);
  }
  // int schedule, local: [2, 0, 3, 1] per tensor, epoch 2 skipped by apply_pruning → 2 + 1 per weight
  {
    FitModel model(false);
    ModelPruningOptions o = setup_options("local_int_schedule_lth");
    o.make_pruning_permanent = false;
    std::vector<std::vector<int64_t>> per_epoch;
    struct Count : Callback {
      FitModel* model;
      std::vector<std::vector<int64_t>>* out;
      void on_train_epoch_end(Trainer&, Module&) override {
        std::vector<int64_t> z;
        for (const auto& m : {model->net[0], model->net[2]})
          z.push_back(pruning::is_pruned(*m, "weight") ? zeros(m->named_buffers(false)["weight_mask"]) : 0);
        out->push_back(z);
      }
    };
    auto count = std::make_shared<Count>();
    count->model = &model;
    count->out = &per_epoch;
    TrainerOptions t = golden_options(test_dir(), {std::make_shared<ModelPruning>(o), count});
    t.max_epochs = 4;
    t.enable_checkpointing = false;
    CapturedMessages messages;
    Trainer trainer(t);
    trainer.fit(model);
    EXPECT_EQ(per_epoch, (std::vector<std::vector<int64_t>>{{2, 2}, {2, 2}, {2, 2}, {3, 3}}));
    // verbose=1: one overall line per pruning; the total counts every parameter of the listed layers (30+7)
    EXPECT_EQ(messages.containing("Applied `"),
              (std::vector<std::string>{"Applied `l1_unstructured`. Pruned: 0/37 (0.00%) -> 4/37 (10.81%)",
                                        "Applied `l1_unstructured`. Pruned: 4/37 (10.81%) -> 6/37 (16.22%)"}));
  }
}

TEST(ModelPruningFit, LotteryTicketResetsTheEffectiveWeightsToTheOriginals) {
  FitModel model(false);
  const torch::Tensor original = model.net[0]->named_parameters(false)["weight"].detach().clone();
  ModelPruningOptions o;
  o.pruning_fn = "l1_unstructured";
  o.amount = 0.5;
  o.make_pruning_permanent = false;
  struct Check : Callback {
    std::vector<torch::Tensor> effective;
    void on_train_epoch_end(Trainer&, Module& m) override {
      auto& fm = dynamic_cast<FitModel&>(m);
      effective.push_back(pruning::effective(*fm.net[0], "weight").detach().clone());
    }
  };
  auto check = std::make_shared<Check>();
  TrainerOptions t = golden_options(test_dir(), {std::make_shared<ModelPruning>(o), check});
  t.max_epochs = 2;
  t.enable_checkpointing = false;
  Trainer trainer(t);
  trainer.fit(model);
  ASSERT_EQ(check->effective.size(), 2u);
  // Lightning writes the setup-time values into `weight` (the effective tensor) right after pruning
  for (const auto& e : check->effective) EXPECT_TRUE(torch::equal(e, original));
  // weight_orig keeps training; the next forward recomputes weight = weight_orig * weight_mask
  auto& lin = *model.net[0];
  EXPECT_FALSE(torch::equal(lin.named_parameters(false)["weight_orig"], original));
  pruning::refresh(model);
  EXPECT_TRUE(torch::equal(pruning::effective(lin, "weight"),
                           lin.named_parameters(false)["weight_orig"] * lin.named_buffers(false)["weight_mask"]));
}

TEST(ModelPruningFit, PermanentAtTrainEndAndInCheckpointsWhileTrainingStaysPruned) {
  FitModel model(false);
  ModelPruningOptions o;
  o.pruning_fn = "l1_unstructured";
  o.amount = 0.5;
  o.use_lottery_ticket_hypothesis = false;
  std::vector<std::vector<std::string>> live_keys;
  struct Keys : Callback {
    std::vector<std::vector<std::string>>* out;
    void on_train_epoch_end(Trainer&, Module& m) override { out->push_back(keys_of(m)); }
  };
  auto keys = std::make_shared<Keys>();
  keys->out = &live_keys;
  const std::string dir = test_dir();
  ModelCheckpointOptions c;
  c.dirpath = dir;
  c.filename = "{epoch}";
  c.save_top_k = -1;
  TrainerOptions t = golden_options(dir, {std::make_shared<ModelPruning>(o), keys, std::make_shared<ModelCheckpoint>(c)});
  t.max_epochs = 2;
  Trainer trainer(t);
  trainer.fit(model);
  // weights are pruned before biases: each `X_orig` is appended when X is first pruned, as in PyTorch
  const std::vector<std::string> pruned{"net.0.weight_orig", "net.0.bias_orig", "net.0.weight_mask",
                                        "net.0.bias_mask", "net.2.weight_orig", "net.2.bias_orig",
                                        "net.2.weight_mask", "net.2.bias_mask"};
  ASSERT_EQ(live_keys.size(), 2u);
  EXPECT_EQ(live_keys[1], pruned);
  // after on_train_end: plain parameters again (removed in first-pruned order: weight, then bias), with zeros
  EXPECT_EQ(keys_of(model), (std::vector<std::string>{"net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"}));
  EXPECT_TRUE(model.net[0]->named_parameters(false)["weight"].is_leaf());
  int64_t z = 0;
  for (const auto& p : model.parameters()) z += zeros(p);
  EXPECT_EQ(z, 18 + 10);  // round(0.5*37) and round(0.5*19), Python's round: ties to even
  for (const char* f : {"epoch=0.ckpt", "epoch=1.ckpt"}) {
    StateDict sd = as_state(as_state(read_checkpoint_file(dir + "/" + f), f).at("state_dict"), f);
    std::vector<std::string> saved;
    for (const auto& kv : sd) saved.push_back(kv.key().toStringRef());
    EXPECT_EQ(saved, (std::vector<std::string>{"net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"})) << f;
  }
  // the checkpoint loads into an unpruned model
  FitModel fresh(true);
  TrainerOptions t2 = golden_options(dir + "/validate", {});
  t2.max_epochs = 2;
  t2.enable_checkpointing = false;
  Trainer resumed(t2);
  EXPECT_NO_THROW(resumed.validate(fresh, nullptr, dir + "/epoch=1.ckpt", false));
}

TEST(ModelPruningFit, ResumeWithMasksMatchesAnUninterruptedRun) {
  auto options = [] {
    ModelPruningOptions o;
    o.pruning_fn = "l1_unstructured";
    o.amount = 0.3;
    o.make_pruning_permanent = false;
    o.use_lottery_ticket_hypothesis = false;
    return o;
  };
  const std::string dir = test_dir();
  // uninterrupted: 4 epochs
  FitModel full(false);
  {
    TrainerOptions t = golden_options(dir + "/full", {std::make_shared<ModelPruning>(options())});
    t.max_epochs = 4;
    t.enable_checkpointing = false;
    Trainer trainer(t);
    trainer.fit(full);
  }
  // 2 epochs with a checkpoint holding weight_orig/weight_mask, then resume to 4
  FitModel first(false);
  {
    ModelCheckpointOptions c;
    c.dirpath = dir + "/ckpt";
    c.filename = "{epoch}";
    c.save_top_k = -1;
    TrainerOptions t =
        golden_options(dir + "/first", {std::make_shared<ModelPruning>(options()), std::make_shared<ModelCheckpoint>(c)});
    t.max_epochs = 2;
    Trainer trainer(t);
    trainer.fit(first);
  }
  const std::string ckpt = dir + "/ckpt/epoch=1.ckpt";
  StateDict sd = as_state(as_state(read_checkpoint_file(ckpt), "c").at("state_dict"), "sd");
  ASSERT_TRUE(sd.contains("net.0.weight_orig"));
  ASSERT_TRUE(sd.contains("net.0.weight_mask"));
  {
    // Python's torch.load reads it, with PyTorch's names (one interpreter start: exit 77 when torch is missing)
    std::string cmd = "/usr/bin/python3 -c \"import sys\ntry:\n import torch\nexcept ImportError:\n sys.exit(77)\n"
                      "sd=torch.load(sys.argv[1])['state_dict']\n"
                      "assert 'net.0.weight_orig' in sd and 'net.0.weight_mask' in sd and 'net.0.weight' not in sd, "
                      "list(sd)\" '" + ckpt + "'";
    const int rc = std::system(cmd.c_str());
    if (!(WIFEXITED(rc) && WEXITSTATUS(rc) == 77)) {
      EXPECT_EQ(rc, 0) << cmd;
    }
  }
  FitModel resumed(false);
  {
    TrainerOptions t = golden_options(dir + "/resumed", {std::make_shared<ModelPruning>(options())});
    t.max_epochs = 4;
    t.enable_checkpointing = false;
    Trainer trainer(t);
    trainer.fit(resumed, nullptr, ckpt);
  }
  auto a = state_of(full), b = state_of(resumed);
  ASSERT_EQ(keys_of(full), keys_of(resumed));
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
}

}  // namespace volt_test_model_pruning_test
}  // namespace
