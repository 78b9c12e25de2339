// volt's LR schedulers against PyTorch 1.13's own numbers (tests/golden/optim_vectors.json, written by
// tools/gen_optim_vectors.py): every lr and momentum bit for bit, state dicts with the same keys, order, types and
// float bits, resuming from Python's state and from volt's own pickled state, and argument errors.
#include <gtest/gtest.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "support/ivalue_json.hpp"
#include "volt/error.hpp"
#include "volt/optim.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_lr_scheduler_test {

namespace {

using c10::IValue;
using volt::test::decode;
using volt::test::expect_same;
using volt::test::from_hex;
using volt::test::ordered_json;
using volt::test::to_hex;

const std::string kVectors = VOLT_SOURCE_DIR "/tests/golden/optim_vectors.json";

const ordered_json& vectors() {
  static const ordered_json doc = volt::test::read_json(kVectors);
  return doc;
}

const ordered_json& find_case(const std::string& name) {
  for (const auto& c : vectors().at("cases"))
    if (c.at("name") == name) return c;
  throw std::runtime_error("no case " + name + " in " + kVectors);
}

// ---- building what the generator builds -------------------------------------------------------------------------

/// The lr_lambdas named in the vectors; the same expressions as tools/gen_optim_vectors.py (Python's `x ** n` on
/// floats is C's pow, and int / int is a correctly rounded division).
volt::LambdaLR::Lambda named_lambda(const std::string& name) {
  if (name == "pow095") return [](int64_t e) { return std::pow(0.95, static_cast<double>(e)); };
  if (name == "inv") return [](int64_t e) { return 1.0 / static_cast<double>(e + 1); };
  if (name == "piecewise") return [](int64_t e) { return e < 10 ? 0.5 : 0.25; };
  throw std::runtime_error("unknown lambda " + name);
}

c10::Scalar json_scalar(const ordered_json& j) {
  return j.is_number_integer() ? c10::Scalar(j.get<int64_t>()) : c10::Scalar(j.get<double>());
}

template <class Opt, class Options>
std::unique_ptr<torch::optim::Optimizer> with_groups(const std::vector<double>& lrs, Options proto) {
  // Two groups with one parameter each, like the generator's {"params": [p], "lr": lr}.
  std::vector<torch::optim::OptimizerParamGroup> groups;
  std::vector<int64_t> sizes = {2, 3};
  for (size_t i = 0; i < lrs.size(); ++i) {
    Options options = proto;
    options.lr(lrs[i]);
    groups.emplace_back(std::vector<torch::Tensor>{torch::ones({sizes[i]}).requires_grad_()},
                        std::make_unique<Options>(options));
  }
  return std::make_unique<Opt>(std::move(groups), proto);
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const ordered_json& c) {
  const auto lrs = c.at("group_lrs").get<std::vector<double>>();
  const auto kind = c.at("optimizer").get<std::string>();
  const auto& kw = c.at("optimizer_kwargs");
  if (kind == "SGD")
    return with_groups<torch::optim::SGD>(lrs, torch::optim::SGDOptions(lrs[0]).momentum(kw.value("momentum", 0.0)));
  if (kind == "Adam") return with_groups<torch::optim::Adam>(lrs, torch::optim::AdamOptions());
  if (kind == "RMSprop") return with_groups<torch::optim::RMSprop>(lrs, torch::optim::RMSpropOptions());
  throw std::runtime_error("unknown optimizer " + kind);
}

std::unique_ptr<volt::LRScheduler> make_scheduler(const ordered_json& c, torch::optim::Optimizer& opt) {
  const auto kind = c.at("scheduler").get<std::string>();
  const auto& kw = c.at("kwargs");
  if (kind == "StepLR") return std::make_unique<volt::StepLR>(opt, kw.at("step_size"), kw.value("gamma", 0.1));
  if (kind == "MultiStepLR")
    return std::make_unique<volt::MultiStepLR>(opt, kw.at("milestones").get<std::vector<int64_t>>(),
                                               kw.value("gamma", 0.1));
  if (kind == "ExponentialLR") return std::make_unique<volt::ExponentialLR>(opt, kw.at("gamma"));
  if (kind == "CosineAnnealingLR")
    return std::make_unique<volt::CosineAnnealingLR>(
        opt, kw.at("T_max"), kw.contains("eta_min") ? json_scalar(kw.at("eta_min")) : c10::Scalar(0));
  if (kind == "LinearLR")
    return std::make_unique<volt::LinearLR>(opt, kw.value("start_factor", 1.0 / 3), kw.value("end_factor", 1.0),
                                            kw.value("total_iters", 5));
  if (kind == "ConstantLR")
    return std::make_unique<volt::ConstantLR>(opt, kw.value("factor", 1.0 / 3), kw.value("total_iters", 5));
  if (kind == "LambdaLR") {
    const auto& names = kw.at("lr_lambda");
    if (names.is_string()) return std::make_unique<volt::LambdaLR>(opt, named_lambda(names));
    std::vector<volt::LambdaLR::Lambda> fns;
    for (const auto& n : names) fns.push_back(named_lambda(n));
    return std::make_unique<volt::LambdaLR>(opt, fns);
  }
  if (kind == "OneCycleLR") {
    volt::OneCycleLROptions o(0.0);
    if (kw.at("max_lr").is_array())
      o.max_lrs(kw.at("max_lr").get<std::vector<double>>());
    else
      o.max_lr(kw.at("max_lr"));
    if (kw.contains("total_steps")) o.total_steps(kw.at("total_steps").get<int64_t>());
    if (kw.contains("epochs")) o.epochs(kw.at("epochs").get<int64_t>());
    if (kw.contains("steps_per_epoch")) o.steps_per_epoch(kw.at("steps_per_epoch").get<int64_t>());
    o.pct_start(kw.value("pct_start", 0.3)).anneal_strategy(kw.value("anneal_strategy", "cos"));
    o.cycle_momentum(kw.value("cycle_momentum", true)).three_phase(kw.value("three_phase", false));
    o.div_factor(kw.value("div_factor", 25.)).final_div_factor(kw.value("final_div_factor", 1e4));
    return std::make_unique<volt::OneCycleLR>(opt, o);
  }
  if (kind == "ReduceLROnPlateau") {
    volt::ReduceLROnPlateauOptions o;
    o.mode(kw.value("mode", "min")).factor(kw.value("factor", 0.1)).patience(kw.value("patience", 10));
    o.threshold(kw.value("threshold", 1e-4)).threshold_mode(kw.value("threshold_mode", "rel"));
    o.cooldown(kw.value("cooldown", 0)).eps(kw.value("eps", 1e-8));
    if (kw.contains("min_lr")) {
      if (kw.at("min_lr").is_array()) {
        std::vector<c10::Scalar> m;
        for (const auto& x : kw.at("min_lr")) m.push_back(json_scalar(x));
        o.min_lrs(m);
      } else {
        o.min_lr(json_scalar(kw.at("min_lr")));
      }
    }
    return std::make_unique<volt::ReduceLROnPlateau>(opt, o);
  }
  throw std::runtime_error("unknown scheduler " + kind);
}

struct Rig {
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::unique_ptr<volt::LRScheduler> scheduler;
};

Rig make_rig(const ordered_json& c) {
  Rig r;
  r.optimizer = make_optimizer(c);
  r.scheduler = make_scheduler(c, *r.optimizer);
  return r;
}

/// Step `k` (1-based) of the recorded run.
void step(Rig& r, const ordered_json& c, int k) {
  if (c.contains("metrics"))
    r.scheduler->step(from_hex(c.at("metrics").at(k - 1)));
  else
    r.scheduler->step();
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

/// The lrs (and momentum) after step `k` must be Python's, bit for bit.
void expect_lrs(const Rig& r, const ordered_json& c, int k) {
  const auto& groups = r.optimizer->param_groups();
  const auto& last = r.scheduler->get_last_lr();
  ASSERT_EQ(last.size(), groups.size());
  for (size_t i = 0; i < groups.size(); ++i) {
    const double want = from_hex(c.at("lrs").at(k).at(i));
    const double lr = groups[i].options().get_lr();
    EXPECT_TRUE(same_bits(lr, want)) << c.at("name") << " step " << k << " group " << i << ": lr " << to_hex(lr)
                                     << " (" << lr << "), PyTorch " << to_hex(want) << " (" << want << ")";
    EXPECT_TRUE(same_bits(last[i], lr)) << c.at("name") << " step " << k << ": get_last_lr() differs from the group";
    const double want_m = from_hex(c.at("momentum").at(k).at(i));
    const double m = volt::group_momentum(groups[i]).value_or(0.0);
    EXPECT_TRUE(same_bits(m, want_m)) << c.at("name") << " step " << k << " group " << i << ": momentum "
                                      << to_hex(m) << ", PyTorch " << to_hex(want_m);
  }
}

/// Python's recorded state, with the one documented difference applied: torch 1.13 saves OneCycleLR's
/// `anneal_func` as a bound method, which libtorch cannot pickle; volt writes `_anneal_func_type` in its place
/// (the key torch >= 2.1 uses).
IValue python_state(const ordered_json& j) {
  IValue state = decode(j);
  auto dict = state.toGenericDict();
  if (!dict.contains("anneal_func")) return state;
  c10::impl::GenericDict out(c10::StringType::get(), c10::AnyType::get());
  for (const auto& kv : dict) {
    if (kv.key().toStringRef() != "anneal_func") {
      out.insert(kv.key(), kv.value());
      continue;
    }
    const auto& method = kv.value().toStringRef();
    out.insert("_anneal_func_type", method == "<method _annealing_cos>" ? "cos" : "linear");
  }
  return out;
}

volt::StateDict roundtrip(const volt::StateDict& state) {
  return volt::as_state(torch::pickle_load(torch::pickle_save(state.ivalue())), "pickled state");
}

// ---- one test per recorded case -----------------------------------------------------------------------------------

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  std::ifstream in(kVectors);
  if (!in) return {"<missing " + kVectors + ">"};
  const ordered_json doc = ordered_json::parse(in);
  for (const auto& c : doc.at("cases")) names.push_back(c.at("name"));
  return names;
}

/// Construction, every step and the final state dicts (scheduler and optimizer) match PyTorch's exactly.
void check_full_run(const ordered_json& c) {
  Rig r = make_rig(c);
  expect_lrs(r, c, 0);
  EXPECT_EQ(r.scheduler->last_epoch(), 0);
  const int steps = c.at("steps");
  for (int k = 1; k <= steps; ++k) {
    step(r, c, k);
    expect_lrs(r, c, k);
  }
  expect_same(python_state(c.at("final_state")), r.scheduler->state_dict(), "scheduler.state_dict()");
  expect_same(decode(c.at("final_optimizer")), volt::optimizer_state_dict(*r.optimizer), "optimizer.state_dict()");
}

/// Python's state halfway (optimizer first, as Lightning restores it), loaded into a freshly built optimizer and
/// scheduler, continues exactly as Python did.
void check_resume_from_python(const ordered_json& c) {
  Rig r = make_rig(c);
  const int mid = c.at("mid_step"), steps = c.at("steps");
  volt::load_optimizer_state_dict(*r.optimizer, volt::as_state(decode(c.at("mid_optimizer")), "mid_optimizer"));
  r.scheduler->load_state_dict(volt::as_state(decode(c.at("mid_state")), "mid_state"));
  expect_lrs(r, c, mid);
  for (int k = mid + 1; k <= steps; ++k) {
    step(r, c, k);
    expect_lrs(r, c, k);
  }
  expect_same(python_state(c.at("final_state")), r.scheduler->state_dict(), "scheduler.state_dict()");
  expect_same(decode(c.at("final_optimizer")), volt::optimizer_state_dict(*r.optimizer), "optimizer.state_dict()");
}

/// volt's own state, through torch::pickle_save/pickle_load (as in a checkpoint), resumes to the same sequence.
void check_save_load_continue(const ordered_json& c) {
  Rig a = make_rig(c);
  const int mid = c.at("mid_step"), steps = c.at("steps");
  for (int k = 1; k <= mid; ++k) step(a, c, k);
  auto opt_state = roundtrip(volt::optimizer_state_dict(*a.optimizer));
  auto sched_state = roundtrip(a.scheduler->state_dict());
  expect_same(python_state(c.at("mid_state")), sched_state.ivalue(), "pickled mid state");

  Rig b = make_rig(c);
  volt::load_optimizer_state_dict(*b.optimizer, opt_state);
  b.scheduler->load_state_dict(sched_state);
  expect_same(a.scheduler->state_dict().ivalue(), b.scheduler->state_dict().ivalue(), "reloaded state");
  for (int k = mid + 1; k <= steps; ++k) {
    step(b, c, k);
    expect_lrs(b, c, k);
  }
  expect_same(python_state(c.at("final_state")), b.scheduler->state_dict(), "scheduler.state_dict()");
}

// One test per recorded case (each ctest test is a process that loads libtorch, so the three checks share one).
class GoldenSchedule : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenSchedule, MatchesPyTorch) {
  const auto& c = find_case(GetParam());
  {
    SCOPED_TRACE("full run from construction");
    check_full_run(c);
  }
  {
    SCOPED_TRACE("resumed from PyTorch's state at mid_step");
    check_resume_from_python(c);
  }
  {
    SCOPED_TRACE("resumed from volt's pickled state at mid_step");
    check_save_load_continue(c);
  }
}

std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string out;
  for (char ch : info.param) out += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return out;
}

INSTANTIATE_TEST_SUITE_P(PyTorch113, GoldenSchedule, ::testing::ValuesIn(case_names()), param_name);

// ---- everything else --------------------------------------------------------------------------------------------

std::unique_ptr<torch::optim::SGD> two_group_sgd() {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{torch::ones({2}).requires_grad_()},
                      std::make_unique<torch::optim::SGDOptions>(0.1));
  groups.emplace_back(std::vector<torch::Tensor>{torch::ones({3}).requires_grad_()},
                      std::make_unique<torch::optim::SGDOptions>(0.5));
  return std::make_unique<torch::optim::SGD>(std::move(groups), torch::optim::SGDOptions(0.1));
}

/// Runs `fn`, which must throw E with a message containing every one of `parts`.
template <class E>
void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no exception; expected one mentioning '" << parts.front() << "'";
  } catch (const E& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

// volt's pickled state at mid_step loads into PyTorch's own optimizer and scheduler (including the two forms
// volt writes in place of what libtorch cannot pickle: MultiStepLR's Counter, OneCycleLR's anneal_func), and
// PyTorch then continues with exactly the recorded lrs. One Python process checks every case.
TEST(LRScheduler, PythonResumesFromVoltState) {
  const std::string python = "/usr/bin/python3";
  if (std::system((python + " -c 'import torch' >/dev/null 2>&1").c_str()) != 0)
    GTEST_SKIP() << python << " cannot import torch; this check needs torch 1.13";
  std::string tmpl = (std::filesystem::temp_directory_path() / "volt_sched_XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::filesystem::path dir = tmpl;
  size_t index = 0;
  for (const auto& c : vectors().at("cases")) {
    Rig r = make_rig(c);
    const int mid = c.at("mid_step");
    for (int k = 1; k <= mid; ++k) step(r, c, k);
    volt::StateDict out{{"optimizer", volt::optimizer_state_dict(*r.optimizer)},
                        {"scheduler", r.scheduler->state_dict()}};
    auto bytes = torch::pickle_save(out.ivalue());
    std::ofstream(dir / (std::to_string(index++) + ".pt"), std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  const auto log = dir / "python.log";
  const std::string cmd = python + " " VOLT_SOURCE_DIR "/tests/python/scheduler_resume.py " VOLT_SOURCE_DIR " " +
                          dir.string() + " > " + log.string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(rc, 0) << "PyTorch could not resume from volt's scheduler state:\n" << text;
  std::filesystem::remove_all(dir);
}

TEST(LRScheduler, ConstructionDoesPyTorchsInitialStep) {
  auto opt = two_group_sgd();
  volt::StepLR s(*opt, 3);
  EXPECT_EQ(s.last_epoch(), 0);
  EXPECT_EQ(s.state_dict().at("_step_count").toInt(), 1);
  EXPECT_EQ(s.base_lrs(), (std::vector<double>{0.1, 0.5}));
  IValue groups = volt::optimizer_state_dict(*opt).at("param_groups");
  EXPECT_EQ(groups.toListRef()[1].toGenericDict().at("initial_lr").toDouble(), 0.5);
  EXPECT_EQ(s.class_name(), "StepLR");
  EXPECT_FALSE(s.needs_metric());
}

TEST(LRScheduler, StateDictKeysInPyTorchOrder) {
  auto opt = two_group_sgd();
  volt::StepLR s(*opt, 3);
  std::vector<std::string> keys;
  for (const auto& kv : s.state_dict()) keys.push_back(kv.key().toStringRef());
  EXPECT_EQ(keys, (std::vector<std::string>{"step_size", "gamma", "base_lrs", "last_epoch", "verbose", "_step_count",
                                            "_get_lr_called_within_step", "_last_lr"}));
}

TEST(LRScheduler, SecondSchedulerKeepsTheFirstsInitialLr) {
  // group.setdefault('initial_lr', ...): a scheduler built after another one keeps the original base lrs.
  auto opt = two_group_sgd();
  volt::LinearLR warmup(*opt);  // lr is now 0.1 / 3
  volt::ExponentialLR decay(*opt, 0.9);
  EXPECT_EQ(decay.base_lrs(), (std::vector<double>{0.1, 0.5}));
}

TEST(LRScheduler, BadArgumentsNameSchedulerAndParameter) {
  auto opt = two_group_sgd();
  using E = volt::MisconfigurationError;
  expect_error<E>([&] { volt::StepLR(*opt, 0); }, {"StepLR", "step_size", "0"});
  expect_error<E>([&] { volt::CosineAnnealingLR(*opt, 0); }, {"CosineAnnealingLR", "T_max"});
  expect_error<E>([&] { volt::LinearLR(*opt, 1.5); }, {"LinearLR", "start_factor=1.5"});
  expect_error<E>([&] { volt::LinearLR(*opt, 0.0); }, {"LinearLR", "start_factor=0"});
  expect_error<E>([&] { volt::LinearLR(*opt, 0.5, -0.1); }, {"LinearLR", "end_factor=-0.1"});
  expect_error<E>([&] { volt::ConstantLR(*opt, 1.5); }, {"ConstantLR", "factor=1.5"});
  expect_error<E>([&] { volt::ConstantLR(*opt, 0.0); }, {"ConstantLR", "factor=0"});
  expect_error<E>(
      [&] {
        volt::LambdaLR(*opt, std::vector<volt::LambdaLR::Lambda>(3, [](int64_t) { return 1.0; }));
      },
      {"LambdaLR", "Expected 2 lr_lambdas", "got 3"});
  expect_error<E>([&] { volt::LambdaLR(*opt, volt::LambdaLR::Lambda()); }, {"LambdaLR", "lr_lambdas[0]"});

  using O = volt::OneCycleLROptions;
  expect_error<E>([&] { volt::OneCycleLR(*opt, O(1.0)); }, {"OneCycleLR", "total_steps OR (epochs AND"});
  expect_error<E>([&] { volt::OneCycleLR(*opt, O(1.0).total_steps(0)); }, {"OneCycleLR", "total_steps, but got 0"});
  expect_error<E>([&] { volt::OneCycleLR(*opt, O(1.0).epochs(0).steps_per_epoch(3)); }, {"OneCycleLR", "epochs"});
  expect_error<E>([&] { volt::OneCycleLR(*opt, O(1.0).epochs(2).steps_per_epoch(-1)); },
                  {"OneCycleLR", "steps_per_epoch"});
  expect_error<E>([&] { volt::OneCycleLR(*opt, O(1.0).total_steps(10).pct_start(1.5)); },
                  {"OneCycleLR", "pct_start", "1.5"});
  expect_error<E>([&] { volt::OneCycleLR(*opt, O(1.0).total_steps(10).anneal_strategy("sin")); },
                  {"OneCycleLR", "anneal_strategy", "sin"});
  expect_error<E>([&] { volt::OneCycleLR(*opt, O(1.0).total_steps(10).max_lrs({1, 2, 3})); },
                  {"OneCycleLR", "expected 2 values for max_lr, got 3"});
  torch::optim::Adagrad adagrad({torch::ones({2}).requires_grad_()}, torch::optim::AdagradOptions(0.1));
  expect_error<E>([&] { volt::OneCycleLR(adagrad, O(1.0).total_steps(10)); }, {"OneCycleLR", "cycle_momentum"});
  volt::OneCycleLR(adagrad, O(1.0).total_steps(10).cycle_momentum(false));  // fine without momentum

  using P = volt::ReduceLROnPlateauOptions;
  expect_error<E>([&] { volt::ReduceLROnPlateau(*opt, P().factor(1.0)); }, {"ReduceLROnPlateau", "Factor"});
  expect_error<E>([&] { volt::ReduceLROnPlateau(*opt, P().mode("mid")); }, {"ReduceLROnPlateau", "mode mid"});
  expect_error<E>([&] { volt::ReduceLROnPlateau(*opt, P().threshold_mode("relative")); },
                  {"ReduceLROnPlateau", "threshold mode relative"});
  expect_error<E>([&] { volt::ReduceLROnPlateau(*opt, P().min_lrs({0.1, 0.2, 0.3})); },
                  {"ReduceLROnPlateau", "expected 2 min_lrs, got 3"});
}

TEST(LRScheduler, FailedConstructionLeavesGroupsAlone) {
  auto opt = two_group_sgd();
  EXPECT_THROW(volt::StepLR(*opt, 0), volt::MisconfigurationError);
  EXPECT_FALSE(volt::param_group_extras(static_cast<const torch::optim::OptimizerParamGroup&>(
                                            opt->param_groups()[0]))
                   .contains("initial_lr"));
}

TEST(LRScheduler, MetricAndStepMismatch) {
  auto opt = two_group_sgd();
  volt::StepLR s(*opt, 3);
  expect_error<volt::MisconfigurationError>([&] { s.step(0.5); }, {"StepLR", "does not take a metric"});
  volt::ReduceLROnPlateau p(*opt);
  EXPECT_TRUE(p.needs_metric());
  expect_error<volt::MisconfigurationError>([&] { p.step(); }, {"ReduceLROnPlateau", "step(metric)"});
}

TEST(LRScheduler, OneCycleRefusesToStepPastTotalSteps) {
  auto opt = two_group_sgd();
  volt::OneCycleLR s(*opt, volt::OneCycleLROptions(1.0).total_steps(3));
  for (int i = 0; i < 3; ++i) s.step();  // last_epoch == total_steps is still allowed, as in PyTorch
  expect_error<volt::MisconfigurationError>([&] { s.step(); },
                                            {"OneCycleLR", "Tried to step 5 times", "total steps is 3"});
}

TEST(LRScheduler, LoadRejectsMistypedState) {
  auto opt = two_group_sgd();
  volt::StepLR s(*opt, 3);
  using E = volt::CheckpointError;
  auto state = s.state_dict();
  auto bad = state.copy();
  bad.set("base_lrs", volt::StateDict{}.ivalue());
  expect_error<E>([&] { s.load_state_dict(bad); }, {"StepLR state_dict['base_lrs']", "expected a list"});
  bad = state.copy();
  c10::impl::GenericList words(c10::AnyType::get());
  for (const char* x : {"fast", "slow"}) words.push_back(x);
  bad.set("base_lrs", words);
  expect_error<E>([&] { s.load_state_dict(bad); }, {"StepLR state_dict['base_lrs'][0]", "expected a number"});
  bad = state.copy();
  bad.set("last_epoch", 1.5);
  expect_error<E>([&] { s.load_state_dict(bad); }, {"StepLR state_dict['last_epoch']", "expected an int"});
  bad = state.copy();
  bad.erase("last_epoch");
  expect_error<E>([&] { s.load_state_dict(bad); }, {"StepLR state_dict['last_epoch']", "missing key"});
  bad = state.copy();
  bad.set("step_size", 0);
  expect_error<E>([&] { s.load_state_dict(bad); }, {"step_size", "positive"});
  EXPECT_EQ(s.state_dict().at("step_size").toInt(), 3);  // unchanged by the failed loads

  volt::ReduceLROnPlateau p(*opt);
  auto pstate = p.state_dict();
  pstate.set("mode", "sideways");
  expect_error<E>([&] { p.load_state_dict(pstate); }, {"ReduceLROnPlateau", "mode sideways is unknown"});
  EXPECT_EQ(p.state_dict().at("mode").toStringRef(), "min");
}

TEST(LRScheduler, GroupsAddedLaterAreZippedAsInPyTorch) {
  // Lightning's BaseFinetuning adds param groups after the scheduler exists. PyTorch zips base_lrs (and
  // lr_lambdas) with the groups, so a new group keeps its lr under LambdaLR and follows StepLR's decay.
  auto opt = two_group_sgd();
  volt::LambdaLR lambda(*opt, [](int64_t e) { return 1.0 / static_cast<double>(e + 1); });
  volt::StepLR step(*opt, 1, 0.5);
  opt->add_param_group(torch::optim::OptimizerParamGroup({torch::ones({1}).requires_grad_()},
                                                         std::make_unique<torch::optim::SGDOptions>(0.2)));
  lambda.step();
  EXPECT_EQ(opt->param_groups()[2].options().get_lr(), 0.2);
  step.step();
  EXPECT_EQ(opt->param_groups()[2].options().get_lr(), 0.1);
  EXPECT_EQ(step.get_last_lr().size(), 3u);
  volt::StepLR restored(*opt, 1, 0.5);
  restored.load_state_dict(step.state_dict());  // base_lrs has 2 entries for 3 groups, as PyTorch would save it
  EXPECT_EQ(restored.base_lrs().size(), 2u);

  auto opt2 = two_group_sgd();
  volt::ReduceLROnPlateau p2(*opt2, volt::ReduceLROnPlateauOptions().patience(0));
  opt2->add_param_group(torch::optim::OptimizerParamGroup({torch::ones({1}).requires_grad_()},
                                                          std::make_unique<torch::optim::SGDOptions>(0.2)));
  p2.step(1.0);
  expect_error<volt::MisconfigurationError>([&] { p2.step(2.0); },
                                            {"ReduceLROnPlateau", "3 param groups but min_lrs has 2"});
}

TEST(LRScheduler, PlateauHasNoLastLrKeyBeforeItsFirstStep) {
  auto opt = two_group_sgd();
  volt::ReduceLROnPlateau p(*opt);
  EXPECT_FALSE(p.state_dict().contains("_last_lr"));
  EXPECT_EQ(p.get_last_lr(), (std::vector<double>{0.1, 0.5}));
  p.step(1.0);
  EXPECT_TRUE(p.state_dict().contains("_last_lr"));
  EXPECT_FALSE(volt::param_group_extras(static_cast<const torch::optim::OptimizerParamGroup&>(
                                            opt->param_groups()[0]))
                   .contains("initial_lr"));  // not an _LRScheduler in PyTorch
}

}  // namespace

}  // namespace volt_test_lr_scheduler_test
}  // namespace
