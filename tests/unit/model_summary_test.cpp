// ModelSummary and RichModelSummary: the table byte for byte against real Lightning 2.2.5 for libtorch twins of
// the models in tools/gen_callbacks_golden.py (tests/golden/callbacks/model_summary.json), the number formatting,
// when the callback prints (fit start, rank zero, max_depth > 0) and the trainer's default summary.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "support/ivalue_json.hpp"
#include "support/boring.hpp"
#include "support/loggers.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_model_summary_test {

using namespace volt;
using namespace volt::testing;
using json = nlohmann::json;
namespace nn = torch::nn;

namespace {

json golden() { return test::golden_json("callbacks/model_summary.json"); }

struct ConvNet : Module {
  ConvNet() {
    register_module("features", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(3, 16, 3)), nn::BatchNorm2d(16),
                                               nn::ReLU(), nn::Conv2d(nn::Conv2dOptions(16, 32, 3).bias(false))));
    register_module("head", nn::Sequential(nn::Linear(512, 1000), nn::ReLU(), nn::Linear(1000, 10)));
    auto frozen = register_module("frozen", nn::Linear(10, 10));
    for (auto& p : frozen->parameters()) p.requires_grad_(false);
    register_parameter("scale", torch::ones({7}));
  }
};

struct Big : Module {
  Big() {
    register_module("encoder", nn::Linear(2000, 2000));
    register_module("decoder", nn::Linear(2000, 2000));
    register_module("embedding", nn::Embedding(100000, 64));
  }
};

namespace py {
// Python's nn.Sequential where libtorch's cannot go (a Sequential inside a Sequential): children "0", "1", ...
struct Sequential : nn::Module {
  explicit Sequential(std::vector<std::shared_ptr<nn::Module>> children) {
    for (size_t i = 0; i < children.size(); ++i) register_module(std::to_string(i), children[i]);
  }
};
}  // namespace py

struct Shared : Module {
  Shared() {
    nn::Linear a(4, 4);
    register_module("a", a);
    register_module("b", a);
    auto inner = std::make_shared<py::Sequential>(
        std::vector<std::shared_ptr<nn::Module>>{nn::Linear(8, 8).ptr(), nn::Tanh().ptr()});
    register_module("block", std::make_shared<py::Sequential>(
                                 std::vector<std::shared_ptr<nn::Module>>{nn::Linear(4, 8).ptr(), inner}));
  }
};

std::shared_ptr<Module> make(const std::string& name) {
  if (name == "boring") return std::make_shared<BoringModel>();
  if (name == "convnet") return std::make_shared<ConvNet>();
  if (name == "big") return std::make_shared<Big>();
  if (name == "shared") return std::make_shared<Shared>();
  throw std::runtime_error("unknown model " + name);
}

class ModelSummaryGolden : public ::testing::TestWithParam<std::string> {};

std::vector<std::string> cases() {
  std::vector<std::string> names;
  const json all = golden();
  for (const auto& item : all.items()) names.push_back(item.key());
  return names;
}

TrainerOptions options(const std::string& name, std::vector<CallbackPtr> callbacks) {
  TrainerOptions o = golden_options(fresh_dir(name), std::move(callbacks));
  o.enable_checkpointing = false, o.max_epochs = 1, o.limit_train_batches = 1, o.limit_val_batches = 1;
  o.limit_test_batches = 1, o.limit_predict_batches = 1;
  return o;
}

const char* kBoringTable =
    "  | Name  | Type   | Params\n"
    "---------------------------------\n"
    "0 | layer | Linear | 66    \n"
    "---------------------------------\n"
    "66        Trainable params\n"
    "0         Non-trainable params\n"
    "66        Total params\n"
    "0.000     Total estimated model params size (MB)";

}  // namespace

TEST_P(ModelSummaryGolden, TableMatchesLightning) {
  const json g = golden().at(GetParam());
  auto model = make(g["model"].get<std::string>());
  ModelSummaryData data = summarize(*model, g["max_depth"].get<int>());
  EXPECT_EQ(data.str(), g["table"].get<std::string>());
  ASSERT_EQ(data.columns.size(), g["columns"].size());
  for (size_t i = 0; i < data.columns.size(); ++i) {
    EXPECT_EQ(data.columns[i].first, g["columns"][i][0].get<std::string>());
    EXPECT_EQ(data.columns[i].second, g["columns"][i][1].get<std::vector<std::string>>());
  }
  EXPECT_EQ(data.total_parameters, g["total_parameters"].get<int64_t>());
  EXPECT_EQ(data.trainable_parameters, g["trainable_parameters"].get<int64_t>());
  EXPECT_DOUBLE_EQ(data.model_size, g["model_size"].get<double>());
}

INSTANTIATE_TEST_SUITE_P(Lightning, ModelSummaryGolden, ::testing::ValuesIn(cases()), [](const auto& info) {
  std::string name = info.param;
  for (auto& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
});

TEST(ModelSummary, HumanReadableCounts) {
  EXPECT_EQ(get_human_readable_count(0), "0  ");
  EXPECT_EQ(get_human_readable_count(123), "123  ");
  EXPECT_EQ(get_human_readable_count(1234), "1.2 K");
  EXPECT_EQ(get_human_readable_count(2000000), "2.0 M");
  EXPECT_EQ(get_human_readable_count(3000000000), "3.0 B");
  EXPECT_EQ(get_human_readable_count(400000000000000), "400 T");
  EXPECT_EQ(get_human_readable_count(5000000000000000), "5,000 T");
  EXPECT_EQ(get_human_readable_count(99999), "100.0 K");  // as Lightning 2.2.5 prints it
  EXPECT_EQ(get_human_readable_count(99949), "99.9 K");
  EXPECT_EQ(get_human_readable_count(999999), "999 K");
  EXPECT_EQ(get_human_readable_count(100000), "100 K");
  EXPECT_EQ(get_formatted_model_size(5500.0), "5,500.000");
  EXPECT_EQ(get_formatted_model_size(0.52998), "0.530");
  EXPECT_EQ(get_formatted_model_size(1234567.0), "1,234,567.000");
}

TEST(ModelSummary, LayerTypesArePythonNames) {
  EXPECT_EQ(python_layer_type(*nn::Conv2d(nn::Conv2dOptions(1, 1, 1)).ptr()), "Conv2d");
  EXPECT_EQ(python_layer_type(*nn::BatchNorm2d(2).ptr()), "BatchNorm2d");
  EXPECT_EQ(python_layer_type(*nn::Sequential().ptr()), "Sequential");
  EXPECT_EQ(python_layer_type(ConvNet()), "ConvNet");
}

TEST(ModelSummary, RejectsNegativeDepths) {
  BoringModel model;
  try {
    summarize(model, -2);
    FAIL();
  } catch (const MisconfigurationError& e) {
    EXPECT_STREQ(e.what(), "`max_depth` can be -1, 0 or > 0, got -2.");
  }
  EXPECT_THROW(Trainer(options("summary_bad_depth", {std::make_shared<ModelSummary>(-2)})).fit(model),
               MisconfigurationError);
}

TEST(ModelSummary, PrintsOnceAtFitStartOnly) {
  CapturedMessages messages;
  BoringModel model;
  Trainer trainer(options("summary_fit", {std::make_shared<ModelSummary>()}));
  trainer.fit(model);
  trainer.validate(model);
  trainer.test(model);
  trainer.predict(model);
  EXPECT_EQ(std::count(messages.infos.begin(), messages.infos.end(), std::string("\n") + kBoringTable), 1);
}

TEST(ModelSummary, DepthZeroPrintsNothing) {
  CapturedMessages messages;
  BoringModel model;
  Trainer(options("summary_zero", {std::make_shared<ModelSummary>(0)})).fit(model);
  for (const auto& m : messages.infos) EXPECT_EQ(m.find("Trainable params"), std::string::npos);
}

TEST(ModelSummary, SubclassesChooseThePresentation) {
  struct Custom : ModelSummary {
    std::vector<SummaryColumn> data;
    int64_t total = -1, trainable = -1;
    void summarize(const std::vector<SummaryColumn>& d, int64_t t, int64_t tr, double) override {
      data = d, total = t, trainable = tr;
    }
  };
  auto custom = std::make_shared<Custom>();
  BoringModel model;
  Trainer(options("summary_custom", {custom})).fit(model);
  ASSERT_EQ(custom->data.size(), 4u);
  EXPECT_EQ(custom->data[1], (SummaryColumn{"Name", {"layer"}}));
  EXPECT_EQ(custom->data[2], (SummaryColumn{"Type", {"Linear"}}));
  EXPECT_EQ(custom->total, 66);
  EXPECT_EQ(custom->trainable, 66);
}

TEST(ModelSummary, TrainerDefaults) {
  auto find_summary = [](const Trainer& t) -> ModelSummary* {
    for (const auto& cb : t.callbacks())
      if (auto* s = dynamic_cast<ModelSummary*>(cb.get())) return s;
    return nullptr;
  };
  TrainerOptions o;
  o.default_root_dir = fresh_dir("summary_defaults");
  Trainer plain(o);
  ASSERT_NE(find_summary(plain), nullptr);
  EXPECT_EQ(find_summary(plain)->max_depth(), 1);
  EXPECT_EQ(find_summary(plain)->class_name(), "ModelSummary");
  EXPECT_NE(dynamic_cast<TQDMProgressBar*>(plain.progress_bar_callback()), nullptr);

  o.callbacks = {std::make_shared<RichProgressBar>()};
  Trainer rich(o);
  ASSERT_NE(find_summary(rich), nullptr);
  EXPECT_EQ(find_summary(rich)->class_name(), "RichModelSummary");

  o.callbacks.clear();
  o.enable_model_summary = false;
  EXPECT_EQ(find_summary(Trainer(o)), nullptr);
}

TEST(RichModelSummary, DrawsABoxTableAndTotals) {
  RichModelSummary rich;
  BoringModel model;
  auto data = summarize(model, 1);
  EXPECT_EQ(rich.render(data.columns, data.total_parameters, data.trainable_parameters, data.model_size, false),
            "┏━━━┳━━━━━━━┳━━━━━━━━┳━━━━━━━━┓\n"
            "┃   ┃ Name  ┃ Type   ┃ Params ┃\n"
            "┡━━━╇━━━━━━━╇━━━━━━━━╇━━━━━━━━┩\n"
            "│ 0 │ layer │ Linear │     66 │\n"
            "└───┴───────┴────────┴────────┘\n"
            "Trainable params: 66\n"
            "Non-trainable params: 0\n"
            "Total params: 66\n"
            "Total estimated model params size (MB): 0\n");
  std::string styled = rich.render(data.columns, 66, 66, data.model_size, true);
  EXPECT_NE(styled.find("\x1b[1;35mName "), std::string::npos);  // header_style "bold magenta"
  EXPECT_NE(styled.find("\x1b[1mTrainable params\x1b[0m: 66"), std::string::npos);
}

TEST(RichModelSummary, WritesToItsStreamAtFitStart) {
  std::FILE* file = std::tmpfile();
  RichModelSummaryOptions ro;
  ro.stream = file;
  BoringModel model;
  Trainer(options("rich_summary_fit", {std::make_shared<RichModelSummary>(ro)})).fit(model);
  std::rewind(file);
  std::string text;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, file)) text.append(buf, n);
  std::fclose(file);
  EXPECT_EQ(text.find("\x1b["), std::string::npos) << "no styles when the stream is not a terminal";
  EXPECT_NE(text.find("│ 0 │ layer │ Linear │     66 │"), std::string::npos) << text;
}

}  // namespace volt_test_model_summary_test
}  // namespace
