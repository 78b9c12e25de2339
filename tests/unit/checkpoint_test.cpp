// Checkpoints: volt's files have Lightning's layout (compared with files real Lightning wrote for the same
// runs), Python's torch.load reads them, resume is bit-identical, and bad files give CheckpointError.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/boring.hpp"
#include "support/python.hpp"
#include "support/messages.hpp"
#include "volt/serialization/pickle_reader.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_checkpoint_test {

using namespace volt;
using namespace volt::testing;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Mirrors tools/gen_golden.py's describe(): dicts as ordered [key, description] pairs, scalars typed, tensors by
// dtype and shape; the version becomes "<version>" and paths under `root` become "<path>".
json describe(const IValue& v, const std::string& root, const std::string& key = "") {
  auto is_path = [&](const std::string& s) { return s.rfind(root, 0) == 0; };
  if (v.isGenericDict()) {
    json out = json::array();
    for (const auto& item : v.toGenericDict()) {
      std::string k = item.key().isString() ? item.key().toStringRef() : std::to_string(item.key().toInt());
      if (item.key().isString() && is_path(k)) k = "<path>";
      out.push_back(json::array({k, describe(item.value(), root, k)}));
    }
    return out;
  }
  if (v.isList() || v.isTuple()) {
    json out = json::array();
    const auto& items = v.isList() ? v.toListRef().vec() : v.toTupleRef().elements().vec();
    for (const auto& e : items) out.push_back(describe(e, root));
    return out;
  }
  if (v.isTensor()) {
    const auto& t = v.toTensor();
    std::string dtype = c10::toString(t.scalar_type());
    static const std::map<std::string, std::string> names = {{"Float", "float32"}, {"Double", "float64"},
                                                             {"Long", "int64"}, {"Int", "int32"}, {"Bool", "bool"}};
    return {{"type", "tensor"}, {"dtype", names.count(dtype) ? names.at(dtype) : dtype}, {"shape", t.sizes().vec()}};
  }
  if (v.isNone()) return {{"type", "NoneType"}, {"value", nullptr}};
  if (v.isBool()) return {{"type", "bool"}, {"value", v.toBool()}};
  if (v.isInt()) return {{"type", "int"}, {"value", v.toInt()}};
  if (v.isDouble()) {
    double d = v.toDouble();
    if (std::isinf(d) || std::isnan(d)) return {{"type", "float"}, {"value", d > 0 ? "inf" : d < 0 ? "-inf" : "nan"}};
    return {{"type", "float"}, {"value", d}};
  }
  if (v.isString()) {
    if (key == "pytorch-lightning_version") return {{"type", "str"}, {"value", "<version>"}};
    return {{"type", "str"}, {"value", is_path(v.toStringRef()) ? "<path>" : v.toStringRef()}};
  }
  return {{"type", "unknown"}};
}

json golden_layout(const std::string& name) {
  std::ifstream in(std::string(VOLT_SOURCE_DIR) + "/tests/golden/checkpoints/" + name + ".layout.json");
  if (!in) throw std::runtime_error("missing golden layout " + name);
  return json::parse(in);
}

IValue load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return torch::pickle_load(bytes);
}

// Describes volt's checkpoint without the keys Lightning does not write.
json describe_checkpoint(const std::string& file, const std::string& root) {
  auto dict = load(file).toGenericDict();
  (void)dict.erase("volt_version");
  (void)dict.erase("volt_resume");  // random states and loader position for exact resume (docs/reliability.md)
  return describe(dict, root);
}

// Reports the first path where two descriptions differ.
void expect_same_layout(const json& actual, const json& expected, const std::string& where = "") {
  if (actual == expected) return;
  if (actual.is_array() && expected.is_array()) {
    for (size_t i = 0; i < std::min(actual.size(), expected.size()); ++i)
      if (actual[i] != expected[i]) {
        std::string label = actual[i].is_array() && actual[i].size() == 2 && actual[i][0].is_string()
                                ? actual[i][0].get<std::string>()
                                : std::to_string(i);
        return expect_same_layout(actual[i], expected[i], where + "/" + label);
      }
  }
  ADD_FAILURE() << "layout differs at " << where << "\n volt:      " << actual.dump().substr(0, 600)
                << "\n lightning: " << expected.dump().substr(0, 600);
}

class CheckpointLayout : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(0); }
  Calls calls;
  std::string dir = fresh_dir(std::string("layout_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  TrainerOptions options() { return golden_options(dir, {std::make_shared<Recorder>(calls)}); }
  std::string ckpt(const std::string& name) { return dir + "/checkpoints/" + name; }
};

}  // namespace

TEST_F(CheckpointLayout, FitWithValidationMatchesLightning) {
  auto o = options();
  o.max_epochs = 2, o.limit_train_batches = 2, o.limit_val_batches = 1, o.num_sanity_val_steps = 1;
  RecordingModel model(calls);
  Trainer(o).fit(model);
  expect_same_layout(describe_checkpoint(ckpt("epoch=1-step=4.ckpt"), dir), golden_layout("fit_sanity.epoch=1-step=4"));
}

TEST_F(CheckpointLayout, MaxStepsCheckpointsBeforeAndAfterResumeMatchLightning) {
  auto o = options();
  o.max_steps = 1, o.limit_train_batches = 4, o.limit_val_batches = 0;
  {
    RecordingModel model(calls);
    Trainer(o).fit(model);
  }
  expect_same_layout(describe_checkpoint(ckpt("epoch=0-step=1.ckpt"), dir),
                     golden_layout("resume_max_steps.epoch=0-step=1"));
  o = options();
  o.max_steps = 3, o.limit_train_batches = 4, o.limit_val_batches = 0;
  RecordingModel model(calls);
  Trainer(o).fit(model, nullptr, ckpt("epoch=0-step=1.ckpt"));
  expect_same_layout(describe_checkpoint(ckpt("epoch=0-step=3.ckpt"), dir),
                     golden_layout("resume_max_steps.epoch=0-step=3"));
}

TEST_F(CheckpointLayout, StopAndMinusOneAndValCheckIntervalMatchLightning) {
  {
    struct Stop : Callback {
      void on_train_batch_end(Trainer& t, Module&, const StepOutput&, const Batch&, int64_t i) override {
        if (t.current_epoch() == 0 && i == 0) t.should_stop = true;
      }
    };
    auto o = golden_options(dir, {std::make_shared<Recorder>(calls), std::make_shared<Stop>()});
    o.max_epochs = 3, o.limit_train_batches = 3, o.limit_val_batches = 1, o.num_sanity_val_steps = 0;
    RecordingModel model(calls);
    Trainer(o).fit(model);
    expect_same_layout(describe_checkpoint(ckpt("epoch=0-step=1.ckpt"), dir),
                       golden_layout("stop_in_batch_end.epoch=0-step=1"));
  }
  {
    fs::remove_all(dir + "/checkpoints");
    auto o = options();
    o.max_epochs = 2, o.limit_train_batches = 3, o.limit_val_batches = 1, o.num_sanity_val_steps = 0;
    RecordingModel model(calls);
    model.minus_one_at_batch = 1;
    Trainer(o).fit(model);
    expect_same_layout(describe_checkpoint(ckpt("epoch=1-step=2.ckpt"), dir),
                       golden_layout("batch_start_minus_one.epoch=1-step=2"));
  }
  {
    fs::remove_all(dir + "/checkpoints");
    auto o = options();
    o.max_epochs = 1, o.limit_train_batches = 4, o.val_check_interval = 2, o.limit_val_batches = 1;
    o.num_sanity_val_steps = 0;
    RecordingModel model(calls);
    Trainer(o).fit(model);
    expect_same_layout(describe_checkpoint(ckpt("epoch=0-step=4.ckpt"), dir),
                       golden_layout("val_check_interval.epoch=0-step=4"));
  }
}

TEST_F(CheckpointLayout, AccumulationAndClippingMatchLightning) {
  auto o = options();
  o.max_epochs = 1, o.limit_train_batches = 4, o.limit_val_batches = 1, o.num_sanity_val_steps = 0;
  o.accumulate_grad_batches = 2, o.gradient_clip_val = 0.5;
  RecordingModel model(calls);
  Trainer(o).fit(model);
  expect_same_layout(describe_checkpoint(ckpt("epoch=0-step=2.ckpt"), dir), golden_layout("accum2_clip.epoch=0-step=2"));
}

// ---- Python reads volt's checkpoints --------------------------------------------------------------------------

TEST(PythonInterop, CounterExampleCheckpointReadsInPythonWithLightningKeys) {
  if (!python_has_torch()) GTEST_SKIP() << "/usr/bin/python3 has no torch (apt install python3-torch)";
  std::string dir = fresh_dir("counter_example");
  std::string cmd = std::string(VOLT_EXAMPLES_DIR) + "/counter '" + dir + "' > '" + dir + "/out.txt'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  json ckpt = python_load(dir + "/counter.ckpt");
  ASSERT_EQ(ckpt["type"], "dict");
  const json& top = ckpt["value"];
  EXPECT_EQ(python_dict_keys(top),
            (std::vector<std::string>{"epoch", "global_step", "pytorch-lightning_version", "volt_version", "volt_resume",
                                      "state_dict", "loops", "callbacks", "optimizer_states", "lr_schedulers"}));
  EXPECT_EQ(python_dict_get(top, "epoch"), 1);  // saved in the last epoch's on_train_epoch_end
  EXPECT_EQ(python_dict_get(top, "global_step"), 32);
  json callbacks = python_dict_get(top, "callbacks");
  json batches = python_dict_get(callbacks, "Counter{'what': 'batches'}");
  json epochs = python_dict_get(callbacks, "Counter{'what': 'epochs'}");
  // Lightning's docs: {"batches": 32, "epochs": 0} and {"batches": 0, "epochs": 2}
  EXPECT_EQ(python_dict_get(batches, "batches"), 32);
  EXPECT_EQ(python_dict_get(batches, "epochs"), 0);
  EXPECT_EQ(python_dict_get(epochs, "batches"), 0);
  EXPECT_EQ(python_dict_get(epochs, "epochs"), 2);
  json weight = python_dict_get(python_dict_get(top, "state_dict"), "layer.weight");
  EXPECT_EQ(weight["tensor"], "float32");
  EXPECT_EQ(weight["shape"], (std::vector<int>{2, 32}));
  json fit_loop = python_dict_get(python_dict_get(top, "loops"), "fit_loop");
  EXPECT_EQ(python_dict_get(python_dict_get(python_dict_get(fit_loop, "epoch_progress"), "total"), "processed"), 2);

  // Resuming restores both states, then one more epoch counts on from them.
  std::string resume = dir + "/resumed";
  cmd = std::string(VOLT_EXAMPLES_DIR) + "/counter '" + resume + "' '" + dir + "/counter.ckpt' > '" + dir + "/resumed.txt'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream in(dir + "/resumed.txt");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("Counter{'what': 'batches'} restored: epochs=0 batches=32"), std::string::npos) << text;
  EXPECT_NE(text.find("Counter{'what': 'epochs'}: epochs=3 batches=0"), std::string::npos) << text;
  EXPECT_NE(text.find("Counter{'what': 'batches'}: epochs=0 batches=48"), std::string::npos) << text;
}

// ---- bit-identical resume -------------------------------------------------------------------------------------

namespace {
class ShuffledMomentumModel : public BoringModel {
 public:
  ShuffledMomentumModel() {
    // the same data whatever the global seed (the seed only decides the initial weights)
    data_ = torch::randn({64, 32}, at::detail::createCPUGenerator(42));
  }
  OptimizerConfig configure_optimizers() override {
    auto opt = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
    LRSchedulerConfig s;
    s.scheduler = std::make_shared<StepLR>(*opt, 1, 0.5);
    return OptimizerConfig(opt, s);
  }
  std::shared_ptr<DataLoader> train_dataloader() override {
    DataLoaderOptions o;
    o.batch_size = 8;
    o.shuffle = true;
    o.seed = 3;
    return std::make_shared<TensorDataLoader>(std::vector<torch::Tensor>{data_}, o);
  }
  std::shared_ptr<DataLoader> val_dataloader() override { return nullptr; }
};

TrainerOptions resume_options(const std::string& dir, int64_t max_epochs) {
  TrainerOptions o;
  o.default_root_dir = dir;
  o.max_epochs = max_epochs;
  o.enable_progress_bar = false;
  o.enable_model_summary = false;
  return o;
}

std::vector<torch::Tensor> weights(const Module& m) {
  std::vector<torch::Tensor> out;
  for (const auto& p : m.parameters()) out.push_back(p.detach().clone());
  return out;
}

void expect_bit_identical(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i << " differs";
}
}  // namespace

TEST(Resume, FromAnEpochEndCheckpointGivesBitIdenticalWeights) {
  std::string dir = fresh_dir("resume_epoch_end");
  torch::manual_seed(1);
  ShuffledMomentumModel straight;
  Trainer(resume_options(dir + "/straight", 3)).fit(straight);

  torch::manual_seed(1);
  ShuffledMomentumModel first;
  Trainer(resume_options(dir + "/first", 1)).fit(first);
  torch::manual_seed(2);  // different initial weights: everything must come from the checkpoint
  ShuffledMomentumModel resumed;
  auto o = resume_options(dir + "/resumed", 3);
  Trainer trainer(o);
  trainer.fit(resumed, nullptr, dir + "/first/checkpoints/epoch=0-step=8.ckpt");
  EXPECT_EQ(trainer.global_step(), 24);
  expect_bit_identical(weights(resumed), weights(straight));
}

TEST(Resume, FromAMidEpochCheckpointGivesBitIdenticalWeights) {
  std::string dir = fresh_dir("resume_mid_epoch");
  torch::manual_seed(1);
  ShuffledMomentumModel straight;
  Trainer(resume_options(dir + "/straight", 2)).fit(straight);

  torch::manual_seed(1);
  ShuffledMomentumModel first;
  auto o = resume_options(dir + "/first", 2);
  ModelCheckpointOptions every3;
  every3.every_n_train_steps = 3;
  every3.save_top_k = -1;
  o.callbacks = {std::make_shared<ModelCheckpoint>(every3)};
  Trainer(o).fit(first);
  ASSERT_TRUE(fs::exists(dir + "/first/checkpoints/epoch=1-step=12.ckpt"));

  torch::manual_seed(2);
  ShuffledMomentumModel resumed;
  Trainer trainer(resume_options(dir + "/resumed", 2));
  trainer.fit(resumed, nullptr, dir + "/first/checkpoints/epoch=1-step=12.ckpt");  // batch 4 of 8 in epoch 1
  EXPECT_EQ(trainer.global_step(), 16);
  expect_bit_identical(weights(resumed), weights(straight));
}

// ---- bad files ------------------------------------------------------------------------------------------------

namespace {
void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// fit(ckpt_path=file) must fail with a CheckpointError whose message names the file.
void expect_checkpoint_error(const std::string& file, const std::string& fragment = "") {
  torch::manual_seed(0);
  BoringModel model;
  TrainerOptions o = resume_options(fresh_dir("bad_file_run"), 1);
  o.limit_train_batches = 1;
  try {
    Trainer(o).fit(model, nullptr, file);
    ADD_FAILURE() << "no error for " << file;
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
    if (!fragment.empty()) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  }
}
}  // namespace

TEST(BadCheckpoint, MissingEmptyTruncatedAndForeignFilesAreCheckpointErrors) {
  std::string dir = fresh_dir("bad_files");
  expect_checkpoint_error(dir + "/does_not_exist.ckpt");
  write_bytes(dir + "/empty.ckpt", {});
  expect_checkpoint_error(dir + "/empty.ckpt");
  write_bytes(dir + "/garbage.ckpt", std::vector<char>(1000, 'x'));
  expect_checkpoint_error(dir + "/garbage.ckpt");

  torch::manual_seed(0);
  BoringModel model;
  Trainer trainer(resume_options(dir + "/good", 1));
  auto o = resume_options(dir + "/good", 1);
  o.limit_train_batches = 2;
  Trainer(o).fit(model);
  std::string good = dir + "/good/checkpoints/epoch=0-step=2.ckpt";
  std::ifstream in(good, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (size_t cut : {size_t(10), bytes.size() / 3, bytes.size() / 2, bytes.size() - 30}) {
    std::string file = dir + "/truncated_" + std::to_string(cut) + ".ckpt";
    write_bytes(file, std::vector<char>(bytes.begin(), bytes.begin() + static_cast<long>(cut)));
    expect_checkpoint_error(file);
  }
}

TEST(BadCheckpoint, MissingAndMistypedKeysNameTheKey) {
  std::string dir = fresh_dir("bad_keys");
  auto save = [&](const std::string& name, const StateDict& d) {
    write_bytes(dir + "/" + name, torch::pickle_save(d.ivalue()));
    return dir + "/" + name;
  };
  c10::impl::GenericList list(c10::AnyType::get());
  write_bytes(dir + "/list.ckpt", torch::pickle_save(list));
  expect_checkpoint_error(dir + "/list.ckpt", "expected a dict");
  expect_checkpoint_error(save("no_state_dict.ckpt", {{"epoch", 0}, {"pytorch-lightning_version", "2.2.5"}}),
                          "'state_dict'");

  torch::manual_seed(0);
  BoringModel other;
  StateDict wrong_shape{{"layer.weight", torch::zeros({3, 32})}, {"layer.bias", torch::zeros({2})}};
  expect_checkpoint_error(save("wrong_shape.ckpt", {{"pytorch-lightning_version", "2.2.5"}, {"state_dict", wrong_shape}}),
                          "size mismatch for layer.weight");
  StateDict missing{{"layer.weight", torch::zeros({2, 32})}};
  expect_checkpoint_error(save("missing_weight.ckpt", {{"pytorch-lightning_version", "2.2.5"}, {"state_dict", missing}}),
                          "Missing key(s) in state_dict: \"layer.bias\"");
  StateDict ok{{"layer.weight", torch::zeros({2, 32})}, {"layer.bias", torch::zeros({2})}};
  expect_checkpoint_error(save("bad_loops.ckpt", {{"pytorch-lightning_version", "2.2.5"},
                                                   {"state_dict", ok},
                                                   {"loops", StateDict{{"fit_loop", 3}}}}),
                          "fit_loop");
  expect_checkpoint_error(save("no_fit_loop.ckpt", {{"pytorch-lightning_version", "2.2.5"},
                                                     {"state_dict", ok},
                                                     {"loops", StateDict()}}),
                          "has no 'fit_loop' key");
  expect_checkpoint_error(save("no_optimizer.ckpt", {{"pytorch-lightning_version", "2.2.5"}, {"state_dict", ok}}),
                          "contains only the model");
}

// ---- a checkpoint written by real Lightning -------------------------------------------------------------------

namespace {
class DocsCounter : public Callback {
 public:
  explicit DocsCounter(std::string what) : what(std::move(what)) {}
  std::string class_name() const override { return "Counter"; }
  std::string state_key() const override { return generate_state_key({{"what", what}}); }
  void on_train_epoch_end(Trainer&, Module&) override { epochs += what == "epochs"; }
  void on_train_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t) override {
    batches += what == "batches";
  }
  StateDict state_dict() override { return {{"epochs", epochs}, {"batches", batches}}; }
  void load_state_dict(const StateDict& s) override {
    epochs = s.at("epochs").toInt();
    batches = s.at("batches").toInt();
    loaded = true;
  }
  std::string what;
  int64_t epochs = 0, batches = 0;
  bool loaded = false;
};

// Sees the restored weights and optimizer when training starts.
struct Inspect : Callback {
  torch::Tensor bias;
  double lr = 0;
  int64_t step_at_start = -1, epoch_at_start = -1;
  void on_train_start(Trainer& t, Module& m) override {
    bias = m.named_parameters()["layer.bias"].detach().clone();
    lr = t.optimizers().at(0)->param_groups().at(0).options().get_lr();
    step_at_start = t.global_step();
    epoch_at_start = t.current_epoch();
  }
};

class BoringFitModel : public BoringModel {
 public:
  OptimizerConfig configure_optimizers() override {
    auto opt = std::make_shared<torch::optim::SGD>(layer->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
    LRSchedulerConfig s;
    s.scheduler = std::make_shared<StepLR>(*opt, 1);
    return OptimizerConfig(opt, s);
  }
};

double from_hex(const std::string& hex) { return std::strtod(hex.c_str(), nullptr); }
}  // namespace

TEST(LightningInterop, ResumesFromARealLightningCheckpoint) {
  const std::string file = std::string(VOLT_SOURCE_DIR) + "/tests/golden/lightning/boring_fit.ckpt";
  std::ifstream in(std::string(VOLT_SOURCE_DIR) + "/tests/golden/lightning/boring_fit.expected.json");
  json expected = json::parse(in);

  auto epochs = std::make_shared<DocsCounter>("epochs"), batches = std::make_shared<DocsCounter>("batches");
  auto inspect = std::make_shared<Inspect>();
  torch::manual_seed(5);
  BoringFitModel model;
  TrainerOptions o = resume_options(fresh_dir("lightning_resume"), 3);
  o.limit_train_batches = 3;
  o.limit_val_batches = 1;
  o.callbacks = {epochs, batches, inspect};
  std::vector<std::string> warnings;
  auto previous = set_message_handler([&](MessageLevel, const std::string& m) { warnings.push_back(m); });
  Trainer trainer(o);
  trainer.fit(model, nullptr, file);
  set_message_handler(previous);

  // the callback states Lightning saved, under the docs' keys
  EXPECT_TRUE(epochs->loaded && batches->loaded);
  EXPECT_EQ(epochs->epochs, 3);  // 2 from Lightning + 1 here
  EXPECT_EQ(batches->batches, 9);
  // the weights, the optimizer's lr (StepLR stepped twice) and the loop progress
  ASSERT_TRUE(inspect->bias.defined());
  EXPECT_EQ(inspect->bias[0].item<float>(), static_cast<float>(from_hex(expected["layer.bias_hex"][0])));
  EXPECT_EQ(inspect->bias[1].item<float>(), static_cast<float>(from_hex(expected["layer.bias_hex"][1])));
  EXPECT_DOUBLE_EQ(inspect->lr, 0.0010000000000000002);
  EXPECT_EQ(inspect->step_at_start, 6);
  EXPECT_EQ(inspect->epoch_at_start, 2);
  EXPECT_EQ(trainer.global_step(), 9);
}

TEST(LightningInterop, LightningCheckpointReadsWithItsKeysAndTypes) {
  IValue loaded = read_checkpoint_file(std::string(VOLT_SOURCE_DIR) + "/tests/golden/lightning/boring_fit.ckpt");
  StateDict ckpt = as_state(loaded, "boring_fit.ckpt");
  std::ifstream in(std::string(VOLT_SOURCE_DIR) + "/tests/golden/lightning/boring_fit.expected.json");
  json expected = json::parse(in);
  std::vector<std::string> keys;
  for (const auto& item : ckpt) keys.push_back(item.key().toStringRef());
  EXPECT_EQ(keys, expected["top_level_keys"].get<std::vector<std::string>>());
  auto hparams = as_state(ckpt.at("hyper_parameters"), "hyper_parameters");
  EXPECT_EQ(hparams.at("name").toStringRef(), "boring");
  EXPECT_DOUBLE_EQ(hparams.at("momentum").toDouble(), 0.9);
  EXPECT_EQ(hparams.at("dims").toListRef().size(), 2u);
  auto optimizer = as_state(ckpt.at("optimizer_states").toListRef().at(0), "optimizer_states[0]");
  EXPECT_TRUE(optimizer.at("state").isGenericDict());
  EXPECT_TRUE(optimizer.at("state").toGenericDict().at(0).toGenericDict().at("momentum_buffer").isTensor());
}

// ---- hooks that shape the checkpoint ----------------------------------------------------------------------------

TEST(CheckpointHooks, OnSaveCheckpointChangesAreSavedAndUnclaimedStatesAreReported) {
  struct AddsKey : Callback {
    void on_save_checkpoint(Trainer&, Module&, StateDict& checkpoint) override { checkpoint.set("extra", 42); }
    StateDict state_dict() override { return {{"n", 7}}; }
    std::string class_name() const override { return "AddsKey"; }
  };
  std::string dir = fresh_dir("on_save_hook");
  torch::manual_seed(0);
  BoringModel model;
  auto o = resume_options(dir, 1);
  o.limit_train_batches = 2;
  o.limit_val_batches = 0;
  o.callbacks = {std::make_shared<AddsKey>()};
  Trainer(o).fit(model);
  std::string file = dir + "/checkpoints/epoch=0-step=2.ckpt";
  StateDict saved = as_state(read_checkpoint_file(file), file);
  EXPECT_EQ(saved.at("extra").toInt(), 42);
  EXPECT_EQ(as_state(saved.at("callbacks"), "callbacks").at("AddsKey").toGenericDict().at("n").toInt(), 7);

  // Resuming without that callback: Lightning's warning names the state nobody claimed.
  BoringModel again;
  auto o2 = resume_options(dir + "/again", 2);
  o2.limit_train_batches = 2;
  o2.limit_val_batches = 0;
  CapturedMessages messages;
  Trainer(o2).fit(again, nullptr, file);
  EXPECT_EQ(messages.containing("Please add the following callbacks: ['AddsKey']").size(), 1u);
}

TEST(CheckpointHooks, SaveOnExceptionWritesACheckpointBeforeTheErrorLeavesFit) {
  struct Boom : Callback {
    void on_train_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t i) override {
      if (i == 2) throw std::runtime_error("boom");
    }
  };
  std::string dir = fresh_dir("save_on_exception");
  torch::manual_seed(0);
  BoringModel model;
  auto o = resume_options(dir, 1);
  o.limit_train_batches = 4;
  o.limit_val_batches = 0;
  ModelCheckpointOptions mc;
  mc.save_on_exception = true;
  o.callbacks = {std::make_shared<Boom>(), std::make_shared<ModelCheckpoint>(mc)};
  CapturedMessages messages;
  EXPECT_THROW(Trainer(o).fit(model), std::runtime_error);
  EXPECT_TRUE(fs::exists(dir + "/checkpoints/epoch=0-step=3.ckpt"));
  EXPECT_EQ(messages.containing("was raised with message:             boom, saved checkpoint to").size(), 1u);
}

TEST(CheckpointHooks, FastDevRunRunsOneBatchOfEachAndWritesNothing) {
  std::string dir = fresh_dir("fast_dev_run");
  torch::manual_seed(0);
  BoringModel model;
  TrainerOptions o;
  o.default_root_dir = dir;
  o.fast_dev_run = 1;
  o.enable_progress_bar = false;
  o.enable_model_summary = false;
  Trainer trainer(o);
  trainer.fit(model);
  EXPECT_EQ(trainer.global_step(), 1);
  EXPECT_FALSE(fs::exists(dir + "/checkpoints"));
}

TEST(CheckpointHooks, DataModuleStateAndHyperParametersRoundTrip) {
  struct Data : DataModule {
    int64_t seen_epochs = 0;
    bool restored = false;
    torch::Tensor data = torch::randn({16, 32}, at::detail::createCPUGenerator(1));
    std::string class_name() const override { return "Data"; }
    std::shared_ptr<DataLoader> train_dataloader() override {
      return std::make_shared<TensorDataLoader>(std::vector<torch::Tensor>{data});
    }
    StateDict state_dict() override { return {{"seen_epochs", ++seen_epochs}}; }
    void load_state_dict(const StateDict& s) override {
      seen_epochs = s.at("seen_epochs").toInt();
      restored = true;
    }
  };
  std::string dir = fresh_dir("datamodule_state");
  Data dm;
  dm.save_hyperparameters({{"batch_size", 1}, {"root", "/data"}});
  torch::manual_seed(0);
  BoringModel model;
  model.save_hyperparameters({{"lr", 0.1}});
  auto o = resume_options(dir, 1);
  o.limit_train_batches = 2;
  Trainer(o).fit(model, &dm);
  std::string file = dir + "/checkpoints/epoch=0-step=2.ckpt";
  StateDict saved = as_state(read_checkpoint_file(file), file);
  std::vector<std::string> keys;
  for (const auto& item : saved) keys.push_back(item.key().toStringRef());
  EXPECT_EQ(std::vector<std::string>(keys.end() - 5, keys.end()),
            (std::vector<std::string>{"hparams_name", "hyper_parameters", "datamodule_hparams_name",
                                      "datamodule_hyper_parameters", "Data"}));
  EXPECT_EQ(as_state(saved.at("Data"), "Data").at("seen_epochs").toInt(), 1);

  Data dm2;
  BoringModel model2;
  auto o2 = resume_options(dir + "/resumed", 2);
  o2.limit_train_batches = 2;
  Trainer(o2).fit(model2, &dm2, file);
  EXPECT_TRUE(dm2.restored);
}

}  // namespace volt_test_checkpoint_test
}  // namespace
