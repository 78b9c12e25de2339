// Optimizer state against PyTorch 1.13 in both directions. For each optimizer, C++ and Python run the same steps
// (same initial weights and gradients, from a formula rather than an RNG):
//  - C++ -> Python: volt's optimizer_state_dict, written with torch::pickle_save, equals Python's own state_dict
//    (keys, order, types; floats exactly, tensors within 1e-6), and Python resumes from it
//    (checked by tests/python/optimizer_roundtrip.py, which exits non-zero with the difference);
//  - Python -> C++: Python's state after N steps (written so that torch::pickle_load reads it) loads with
//    load_optimizer_state_dict, and N+M steps in C++ end at Python's weights.
// Plus load errors, which name the offending key.
#include <gtest/gtest.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "support/ivalue_json.hpp"
#include "support/python.hpp"
#include "volt/error.hpp"
#include "volt/optim.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_optimizer_state_test {

namespace {

namespace fs = std::filesystem;
using c10::IValue;
using volt::test::expect_same;
using volt::test::ordered_json;
using volt::testing::python_has_torch;

const char* kPython = "/usr/bin/python3";
const std::string kScript = VOLT_SOURCE_DIR "/tests/python/optimizer_roundtrip.py";

// ---- the shared set-up: the same formulas as optimizer_roundtrip.py ---------------------------------------------

const std::vector<std::vector<std::vector<int64_t>>> kShapes = {{{3, 2}, {4}}, {{5}}};

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

/// Computed in double and rounded to float32, as Python does, so both sides start from identical bits.
torch::Tensor from_doubles(const std::vector<double>& values, const std::vector<int64_t>& shape) {
  return torch::tensor(values, torch::kFloat64).to(torch::kFloat32).reshape(shape);
}

torch::Tensor initial_weight(int64_t index, const std::vector<int64_t>& shape) {
  std::vector<double> v;
  for (int64_t i = 0; i < numel(shape); ++i) v.push_back(0.5 * std::sin(1.0 + 0.37 * i + 1.1 * index));
  return from_doubles(v, shape);
}

torch::Tensor gradient(int64_t index, const std::vector<int64_t>& shape, int64_t step) {
  std::vector<double> v;
  for (int64_t i = 0; i < numel(shape); ++i) v.push_back(std::cos(0.3 * step + 0.11 * i + 0.7 * index) + 0.05 * step);
  return from_doubles(v, shape);
}

/// libtorch options from the config's Python keyword arguments.
template <class Options>
void apply(Options& o, const ordered_json& kw);

template <>
void apply(torch::optim::SGDOptions& o, const ordered_json& kw) {
  if (kw.contains("lr")) o.lr(kw.at("lr"));
  if (kw.contains("momentum")) o.momentum(kw.at("momentum"));
  if (kw.contains("dampening")) o.dampening(kw.at("dampening"));
  if (kw.contains("weight_decay")) o.weight_decay(kw.at("weight_decay"));
  if (kw.contains("nesterov")) o.nesterov(kw.at("nesterov"));
}

template <class AdamOptions>
void apply_adam(AdamOptions& o, const ordered_json& kw) {
  if (kw.contains("lr")) o.lr(kw.at("lr"));
  if (kw.contains("betas")) o.betas({kw.at("betas").at(0), kw.at("betas").at(1)});
  if (kw.contains("eps")) o.eps(kw.at("eps"));
  if (kw.contains("weight_decay")) o.weight_decay(kw.at("weight_decay"));
  if (kw.contains("amsgrad")) o.amsgrad(kw.at("amsgrad"));
}
template <>
void apply(torch::optim::AdamOptions& o, const ordered_json& kw) {
  apply_adam(o, kw);
}
template <>
void apply(torch::optim::AdamWOptions& o, const ordered_json& kw) {
  apply_adam(o, kw);
}

template <>
void apply(torch::optim::RMSpropOptions& o, const ordered_json& kw) {
  if (kw.contains("lr")) o.lr(kw.at("lr"));
  if (kw.contains("alpha")) o.alpha(kw.at("alpha"));
  if (kw.contains("eps")) o.eps(kw.at("eps"));
  if (kw.contains("weight_decay")) o.weight_decay(kw.at("weight_decay"));
  if (kw.contains("momentum")) o.momentum(kw.at("momentum"));
  if (kw.contains("centered")) o.centered(kw.at("centered"));
}

template <>
void apply(torch::optim::AdagradOptions& o, const ordered_json& kw) {
  if (kw.contains("lr")) o.lr(kw.at("lr"));
  if (kw.contains("lr_decay")) o.lr_decay(kw.at("lr_decay"));
  if (kw.contains("weight_decay")) o.weight_decay(kw.at("weight_decay"));
  if (kw.contains("initial_accumulator_value")) o.initial_accumulator_value(kw.at("initial_accumulator_value"));
  if (kw.contains("eps")) o.eps(kw.at("eps"));
}

struct Rig {
  std::vector<torch::Tensor> params;  // global parameter order (Python's indices)
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::unique_ptr<volt::LRScheduler> scheduler;

  void run(int64_t first, int64_t last) {
    for (int64_t step = first; step <= last; ++step) {
      for (size_t i = 0; i < params.size(); ++i)
        params[i].mutable_grad() = gradient(static_cast<int64_t>(i), params[i].sizes().vec(), step);
      optimizer->step();
      if (scheduler) scheduler->step();
    }
  }
};

/// Options before the config's keyword arguments (SGDOptions has no default lr; the config always gives one).
template <class Options>
Options blank_options() {
  return Options();
}
template <>
torch::optim::SGDOptions blank_options() {
  return torch::optim::SGDOptions(0.0);
}

template <class Opt, class Options>
Rig build_with(const ordered_json& config, const std::vector<torch::Tensor>* weights) {
  Rig r;
  Options defaults = blank_options<Options>();
  apply(defaults, config.at("defaults"));
  std::vector<torch::optim::OptimizerParamGroup> groups;
  int64_t index = 0;
  for (size_t g = 0; g < kShapes.size(); ++g) {
    std::vector<torch::Tensor> group;
    for (const auto& shape : kShapes[g]) {
      auto w = weights ? weights->at(index).clone() : initial_weight(index, shape);
      r.params.push_back(w.set_requires_grad(true));
      group.push_back(r.params.back());
      ++index;
    }
    Options options = defaults;
    apply(options, config.at("groups").at(g));
    groups.emplace_back(std::move(group), std::make_unique<Options>(options));
  }
  r.optimizer = std::make_unique<Opt>(std::move(groups), defaults);
  return r;
}

/// The optimizer (and scheduler) the config describes, with the formula's weights or the given ones.
Rig build(const ordered_json& config, const std::vector<torch::Tensor>* weights = nullptr) {
  namespace o = torch::optim;
  const std::string kind = config.at("optimizer");
  Rig r = kind == "SGD"       ? build_with<o::SGD, o::SGDOptions>(config, weights)
          : kind == "Adam"    ? build_with<o::Adam, o::AdamOptions>(config, weights)
          : kind == "AdamW"   ? build_with<o::AdamW, o::AdamWOptions>(config, weights)
          : kind == "RMSprop" ? build_with<o::RMSprop, o::RMSpropOptions>(config, weights)
                              : build_with<o::Adagrad, o::AdagradOptions>(config, weights);
  if (config.contains("scheduler")) {
    const auto& s = config.at("scheduler");
    EXPECT_EQ(s.at("type"), "StepLR");
    r.scheduler = std::make_unique<volt::StepLR>(*r.optimizer, s.at("step_size"), s.value("gamma", 0.1));
  }
  return r;
}

std::vector<char> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// The tensors of a list IValue.
std::vector<torch::Tensor> tensors(const IValue& list) {
  std::vector<torch::Tensor> out;
  for (const auto& t : list.toListRef()) out.push_back(t.toTensor());
  return out;
}

/// Python's SGD without momentum keeps {"momentum_buffer": None} per parameter; libtorch keeps nothing (documented).
IValue without_empty_sgd_buffers(const IValue& state) {
  auto out = state.toGenericDict().copy();
  c10::impl::GenericDict per_param(c10::IntType::get(), c10::AnyType::get());
  for (const auto& kv : out.at("state").toGenericDict()) {
    auto s = kv.value().toGenericDict();
    if (s.size() == 1 && s.contains("momentum_buffer") && s.at("momentum_buffer").isNone()) continue;
    per_param.insert(kv.key(), kv.value());
  }
  out.insert_or_assign("state", per_param);
  return out;
}

// ---- the round trip ------------------------------------------------------------------------------------------------

struct Case {
  const char* name;
  const char* config;  // JSON: optimizer, defaults, groups (Python kwargs), optional scheduler, n, m
};

std::ostream& operator<<(std::ostream& out, const Case& c) { return out << c.name; }

class PythonRoundTrip : public ::testing::TestWithParam<Case> {};

TEST_P(PythonRoundTrip, StateMovesBothWays) {
  if (!python_has_torch()) GTEST_SKIP() << kPython << " cannot import torch; the Python round trip needs torch 1.13";
  const Case& c = GetParam();
  ordered_json config = ordered_json::parse(c.config);
  config["name"] = c.name;
  const int64_t n = config.at("n"), m = config.at("m");

  std::string tmpl = (fs::temp_directory_path() / "volt_optim_XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const fs::path dir = tmpl;
  std::ofstream(dir / "config.json") << config.dump();

  // C++ -> Python: N steps here; Python compares with its own N steps and resumes from our state.
  Rig cpp = build(config);
  cpp.run(1, n);
  volt::StateDict out{{"optimizer", volt::optimizer_state_dict(*cpp.optimizer)},
                      {"scheduler", cpp.scheduler ? cpp.scheduler->state_dict().ivalue() : IValue()}};
  c10::impl::GenericList weights(c10::AnyType::get());
  for (const auto& p : cpp.params) weights.push_back(p.detach());
  out.set("weights", weights);
  write_bytes(dir / "cpp.pt", torch::pickle_save(out.ivalue()));

  const std::string cmd = std::string(kPython) + " " + kScript + " " + (dir / "config.json").string() + " " +
                          dir.string() + " > " + (dir / "python.log").string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  ASSERT_EQ(rc, 0) << "the Python check failed:\n" << read_text(dir / "python.log");

  // Python -> C++: load Python's state after N steps into a fresh optimizer and continue M steps.
  IValue py = torch::pickle_load(read_bytes(dir / "python.pt"));
  auto py_dict = py.toGenericDict();
  auto weights_n = tensors(py_dict.at("weights_n"));
  for (size_t i = 0; i < weights_n.size(); ++i)  // both sides took the same N steps
    EXPECT_TRUE(torch::allclose(weights_n[i], cpp.params[i].detach(), 1e-6, 1e-6)) << "weights[" << i << "]";

  Rig resumed = build(config, &weights_n);
  volt::load_optimizer_state_dict(*resumed.optimizer, volt::as_state(py_dict.at("optimizer"), "python.pt"),
                                  "optimizer_states[0]");
  if (resumed.scheduler)
    resumed.scheduler->load_state_dict(volt::as_state(py_dict.at("scheduler"), "python.pt scheduler"));
  IValue expected = py_dict.at("optimizer");
  if (config.at("optimizer") == "SGD") expected = without_empty_sgd_buffers(expected);
  expect_same(expected, volt::optimizer_state_dict(*resumed.optimizer).ivalue(), "loaded optimizer state", 0.0);
  resumed.run(n + 1, n + m);
  auto weights_final = tensors(py_dict.at("weights_final"));
  for (size_t i = 0; i < weights_final.size(); ++i) {
    auto got = resumed.params[i].detach();
    EXPECT_TRUE(torch::allclose(got, weights_final[i], 1e-6, 1e-6))
        << c.name << " weights[" << i << "] after " << n + m << " steps: max difference "
        << (got - weights_final[i]).abs().max().item<double>() << "\nC++:\n" << got << "\nPyTorch:\n" << weights_final[i];
  }
  if (!HasFailure()) fs::remove_all(dir);
}

const Case kCases[] = {
    {"SGD_plain", R"({"optimizer": "SGD", "defaults": {"lr": 0.1}, "groups": [{}, {"lr": 0.05}], "n": 3, "m": 3})"},
    {"SGD_momentum_nesterov_steplr",
     R"({"optimizer": "SGD", "defaults": {"lr": 0.1, "momentum": 0.9, "nesterov": true, "weight_decay": 0.01},
         "groups": [{}, {"lr": 0.05}], "scheduler": {"type": "StepLR", "step_size": 2, "gamma": 0.5},
         "n": 5, "m": 4})"},
    {"SGD_dampening",
     R"({"optimizer": "SGD", "defaults": {"lr": 0.05, "momentum": 0.5, "dampening": 0.1},
         "groups": [{}, {"momentum": 0.8}], "n": 4, "m": 3})"},
    {"Adam", R"({"optimizer": "Adam", "defaults": {"lr": 0.01}, "groups": [{}, {"lr": 0.02}], "n": 4, "m": 4})"},
    {"Adam_amsgrad",
     R"({"optimizer": "Adam", "defaults": {"lr": 0.01, "betas": [0.8, 0.99], "weight_decay": 0.1, "amsgrad": true},
         "groups": [{}, {"eps": 1e-6}], "n": 4, "m": 4})"},
    {"AdamW", R"({"optimizer": "AdamW", "defaults": {"lr": 0.01}, "groups": [{}, {"weight_decay": 0.1}],
                  "n": 4, "m": 4})"},
    {"AdamW_amsgrad", R"({"optimizer": "AdamW", "defaults": {"lr": 0.01, "amsgrad": true}, "groups": [{}, {}],
                          "n": 3, "m": 5})"},
    {"RMSprop", R"({"optimizer": "RMSprop", "defaults": {"lr": 0.01}, "groups": [{}, {"alpha": 0.9}],
                    "n": 4, "m": 4})"},
    {"RMSprop_centered_momentum",
     R"({"optimizer": "RMSprop", "defaults": {"lr": 0.01, "momentum": 0.9, "centered": true, "weight_decay": 0.01},
         "groups": [{}, {"lr": 0.005}], "n": 4, "m": 4})"},
    {"Adagrad", R"({"optimizer": "Adagrad", "defaults": {"lr": 0.1}, "groups": [{}, {"lr": 0.05}], "n": 4, "m": 4})"},
    {"Adagrad_decay",
     R"({"optimizer": "Adagrad", "defaults": {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.05,
         "initial_accumulator_value": 0.1}, "groups": [{}, {}], "n": 4, "m": 4})"},
};

INSTANTIATE_TEST_SUITE_P(PyTorch113, PythonRoundTrip, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

// ---- layout and errors without Python --------------------------------------------------------------------------------

ordered_json config_of(const char* json) { return ordered_json::parse(json); }

/// Runs `fn`, which must throw E with a message containing every one of `parts`.
template <class E, class F>
void expect_error(F&& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no exception; expected one mentioning '" << parts.front() << "'";
  } catch (const E& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

const char* kAdam = R"({"optimizer": "Adam", "defaults": {"lr": 0.01}, "groups": [{}, {}]})";

TEST(OptimizerState, StateIsKeyedByIntAcrossGroups) {
  Rig r = build(config_of(kAdam));
  r.run(1, 1);
  auto state = volt::optimizer_state_dict(*r.optimizer);
  auto per_param = state.at("state").toGenericDict();
  ASSERT_EQ(per_param.size(), 3u);
  int64_t expected = 0;
  for (const auto& kv : per_param) EXPECT_EQ(kv.key().toInt(), expected++);
  IValue groups = state.at("param_groups");
  auto g1 = groups.toListRef()[1].toGenericDict();
  EXPECT_EQ(g1.at("params").toListRef()[0].toInt(), 2);
  auto step = per_param.at(0).toGenericDict().at("step").toTensor();
  EXPECT_EQ(step.scalar_type(), torch::kFloat32);
  EXPECT_EQ(step.dim(), 0);
  EXPECT_EQ(volt::optimizer_class_name(*r.optimizer).value_or(""), "Adam");
}

TEST(OptimizerState, LoadAcceptsStringDigitKeys) {
  Rig a = build(config_of(kAdam));
  a.run(1, 2);
  auto state = volt::optimizer_state_dict(*a.optimizer);
  c10::impl::GenericDict by_string(c10::StringType::get(), c10::AnyType::get());
  for (const auto& kv : state.at("state").toGenericDict()) by_string.insert(std::to_string(kv.key().toInt()), kv.value());
  auto lenient = state.copy();
  lenient.set("state", by_string);
  Rig b = build(config_of(kAdam));
  volt::load_optimizer_state_dict(*b.optimizer, lenient);
  expect_same(state.ivalue(), volt::optimizer_state_dict(*b.optimizer).ivalue(), "reloaded");
}

TEST(OptimizerState, LoadedTensorsAreCopies) {
  Rig a = build(config_of(kAdam));
  a.run(1, 1);
  auto state = volt::optimizer_state_dict(*a.optimizer);
  Rig b = build(config_of(kAdam));
  volt::load_optimizer_state_dict(*b.optimizer, state);
  b.run(2, 2);  // must not move a's buffers (Python deep-copies the dict before loading)
  expect_same(state.ivalue(), volt::optimizer_state_dict(*a.optimizer).ivalue(), "a's state");
}

TEST(OptimizerState, MismatchesNameTheKey) {
  Rig a = build(config_of(kAdam));
  a.run(1, 1);
  const auto good = volt::optimizer_state_dict(*a.optimizer);
  using E = volt::CheckpointError;
  auto load = [&](const volt::StateDict& s) {
    Rig b = build(config_of(kAdam));
    volt::load_optimizer_state_dict(*b.optimizer, s, "optimizer_states[0]");
  };
  auto group = [&](const volt::StateDict& s, size_t i) {
    return volt::as_state(s.at("param_groups").toListRef()[i], "group");
  };
  auto with_groups = [&](std::vector<IValue> gs) {
    auto s = good.copy();
    c10::impl::GenericList list(c10::AnyType::get());
    for (auto& g : gs) list.push_back(g);
    s.set("param_groups", list);
    return s;
  };

  expect_error<E>([&] { load(with_groups({group(good, 0).ivalue()})); },
                  {"optimizer_states[0].param_groups: 1 param groups in the checkpoint, 2 in the optimizer"});

  auto g1 = group(good, 1).copy();
  c10::impl::GenericList three(c10::AnyType::get());
  for (int64_t i : {2, 3, 4}) three.push_back(i);
  g1.set("params", three);
  expect_error<E>([&] { load(with_groups({group(good, 0).ivalue(), g1.ivalue()})); },
                  {"optimizer_states[0].param_groups[1].params: 3 parameters in the checkpoint, 1 in the optimizer"});

  auto g0 = group(good, 0).copy();
  g0.erase("eps");
  expect_error<E>([&] { load(with_groups({g0.ivalue(), group(good, 1).ivalue()})); },
                  {"optimizer_states[0].param_groups[0]", "missing key 'eps'"});

  g0 = group(good, 0).copy();
  g0.set("lr", "fast");
  expect_error<E>([&] { load(with_groups({g0.ivalue(), group(good, 1).ivalue()})); },
                  {"optimizer_states[0].param_groups[0].lr: expected a number"});

  g0 = group(good, 0).copy();
  g0.set("maximize", true);
  expect_error<E>([&] { load(with_groups({g0.ivalue(), group(good, 1).ivalue()})); },
                  {"optimizer_states[0].param_groups[0].maximize", "not supported"});

  auto bad = good.copy();
  auto per_param = good.at("state").toGenericDict().copy();
  auto s0 = volt::as_state(per_param.at(0), "s0").copy();
  s0.set("exp_avg", torch::zeros({2, 3}));
  per_param.insert_or_assign(0, s0.ivalue());
  bad.set("state", per_param);
  expect_error<E>([&] { load(bad); }, {"optimizer_states[0].state[0].exp_avg: shape [2, 3] in the checkpoint",
                                       "parameter has shape [3, 2]"});

  per_param = good.at("state").toGenericDict().copy();
  per_param.insert(7, s0.ivalue());
  bad.set("state", per_param);
  expect_error<E>([&] { load(bad); }, {"optimizer_states[0].state[7]: no parameter has index 7"});

  bad = good.copy();
  bad.erase("state");
  expect_error<E>([&] { load(bad); }, {"optimizer_states[0]: missing key 'state'"});
}

TEST(OptimizerState, AmsgradNeedsItsBuffer) {
  const char* amsgrad = R"({"optimizer": "Adam", "defaults": {"lr": 0.01, "amsgrad": true}, "groups": [{}, {}]})";
  Rig plain = build(config_of(kAdam));
  plain.run(1, 1);
  Rig b = build(config_of(amsgrad));
  auto state = volt::optimizer_state_dict(*plain.optimizer);
  auto groups = state.at("param_groups").toList().copy();
  for (size_t i = 0; i < groups.size(); ++i) {
    auto g = volt::as_state(groups.get(i), "g").copy();
    g.set("amsgrad", true);
    groups.set(i, g.ivalue());
  }
  state.set("param_groups", groups);
  expect_error<volt::CheckpointError>([&] { volt::load_optimizer_state_dict(*b.optimizer, state); },
                                      {"state[0]", "missing key 'max_exp_avg_sq'"});
}

TEST(OptimizerState, FailedLoadLeavesOptimizerUnchanged) {
  Rig a = build(config_of(kAdam));
  a.run(1, 2);
  Rig b = build(config_of(kAdam));
  b.run(1, 1);
  const auto before = volt::optimizer_state_dict(*b.optimizer);
  auto bad = volt::optimizer_state_dict(*a.optimizer);
  auto per_param = bad.at("state").toGenericDict().copy();
  per_param.insert(9, per_param.at(0));
  bad.set("state", per_param);
  EXPECT_THROW(volt::load_optimizer_state_dict(*b.optimizer, bad), volt::CheckpointError);
  expect_same(before.ivalue(), volt::optimizer_state_dict(*b.optimizer).ivalue(), "after failed load");
}

TEST(OptimizerState, HarmlessKeysIgnoredUnknownKeysKept) {
  Rig a = build(config_of(kAdam));
  auto state = volt::optimizer_state_dict(*a.optimizer);
  auto groups = state.at("param_groups").toList().copy();
  auto g0 = volt::as_state(groups.get(0), "g").copy();
  g0.set("foreach", true);
  g0.set("capturable", true);
  g0.set("custom_note", "kept");
  groups.set(0, g0.ivalue());
  state.set("param_groups", groups);
  volt::load_optimizer_state_dict(*a.optimizer, state);
  IValue saved_groups = volt::optimizer_state_dict(*a.optimizer).at("param_groups");
  auto saved = saved_groups.toListRef()[0].toGenericDict();
  EXPECT_TRUE(saved.at("foreach").isNone());  // libtorch has no foreach: Python's default is written
  EXPECT_FALSE(saved.at("capturable").toBool());
  EXPECT_EQ(saved.at("custom_note").toStringRef(), "kept");
}

TEST(OptimizerState, SchedulerExtrasSurviveOptionsClone) {
  // libtorch clones options when a group is added; the extras must follow.
  Rig r = build(config_of(kAdam));
  volt::StepLR s(*r.optimizer, 2);
  torch::optim::OptimizerParamGroup copy(r.optimizer->param_groups()[0]);
  EXPECT_EQ(volt::param_group_extras(static_cast<const torch::optim::OptimizerParamGroup&>(copy))
                .at("initial_lr")
                .toDouble(),
            0.01);
  EXPECT_EQ(volt::group_momentum(copy).value_or(0), 0.9);
  EXPECT_TRUE(volt::group_uses_betas(copy));
}

TEST(OptimizerState, UnsupportedOptimizerIsNamed) {
  torch::optim::LBFGS lbfgs({torch::ones({2}).requires_grad_()});
  expect_error<volt::CheckpointError>([&] { volt::optimizer_state_dict(lbfgs); }, {"LBFGS", "not supported"});
  expect_error<volt::CheckpointError>([&] { volt::load_optimizer_state_dict(lbfgs, volt::StateDict{}); },
                                      {"LBFGS", "not supported"});
  EXPECT_FALSE(volt::optimizer_class_name(lbfgs).has_value());
}

}  // namespace

}  // namespace volt_test_optimizer_state_test
}  // namespace
