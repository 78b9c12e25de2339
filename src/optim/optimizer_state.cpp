// Optimizer state in PyTorch 1.13's Python layout. The one place that maps each libtorch optimizer type to
// Python's names is the Traits structs below; everything else is generic over them.
#include "volt/optim/optimizer_state.hpp"

#include <c10/util/Type.h>
#include <c10/util/string_utils.h>
#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>

#include <cmath>
#include <set>
#include <typeinfo>
#include <unordered_map>

#include "ivalue_util.hpp"
#include "param_groups.hpp"
#include "volt/error.hpp"

namespace volt {
namespace {

using c10::IValue;
using detail::concat;
namespace optim = torch::optim;

// ---- values -------------------------------------------------------------------------------------------------

/// Python writes hyper-parameters whose default is the int 0 (SGD's momentum, weight_decay, ...) as ints; volt
/// writes a zero as that int, so an untouched default has Python's type. Non-zero values are floats.
IValue int_if_zero(double value) { return value == 0.0 ? IValue(int64_t{0}) : IValue(value); }

/// Python's `step` in Adam/AdamW/Adagrad state: a float32 scalar tensor (torch 1.13).
IValue step_tensor(int64_t step) { return torch::full({}, static_cast<double>(step), torch::kFloat32); }

/// `step` as saved by any torch version: a scalar tensor or a number, a non-negative integer either way.
int64_t read_step(const IValue& v, const std::string& where) {
  double step;
  if (v.isTensor()) {
    const auto& t = v.toTensor();
    if (t.numel() != 1) throw CheckpointError(concat(where, ": expected a scalar tensor, found shape ", t.sizes()));
    step = t.item<double>();
  } else {
    step = detail::to_double(v, where);
  }
  if (!(step >= 0) || step != std::floor(step) || step > 9e15)
    throw CheckpointError(concat(where, ": expected a non-negative whole number of steps, found ", step));
  return static_cast<int64_t>(step);
}

/// A per-parameter tensor from the checkpoint, checked against the parameter's shape and copied to its device and
/// (floating) dtype, as Python's load_state_dict does (it deep-copies the dict first, so the optimizer never shares
/// tensors with the checkpoint).
torch::Tensor read_tensor(const StateDict& s, const std::string& key, const torch::Tensor& param,
                          const std::string& where) {
  const std::string at = concat(where, ".", key);
  IValue v = detail::required(s, key, where);
  if (!v.isTensor()) detail::bad_value(at, "a tensor", v);
  const auto& t = v.toTensor();
  if (t.sizes() != param.sizes())
    throw CheckpointError(concat(at, ": shape ", t.sizes(), " in the checkpoint, but the parameter has shape ",
                                 param.sizes()));
  auto dtype = param.is_floating_point() ? param.scalar_type() : t.scalar_type();
  return t.detach().to(param.device(), dtype, /*non_blocking=*/false, /*copy=*/true);
}

/// A param group being read: hands out known keys and remembers them, so the rest become extras.
struct GroupReader {
  const StateDict& dict;
  std::string where;
  std::set<std::string> used{"params"};

  IValue need(const std::string& key) {
    used.insert(key);
    return detail::required(dict, key, where);
  }
  double number(const std::string& key) { return detail::to_double(need(key), concat(where, ".", key)); }
  bool flag(const std::string& key) { return detail::to_bool(need(key), concat(where, ".", key)); }
  std::tuple<double, double> betas() {
    auto items = detail::to_items(need("betas"), where + ".betas");
    if (items.size() != 2)
      throw CheckpointError(concat(where, ".betas: expected 2 values, found ", items.size()));
    return {detail::to_double(items[0], where + ".betas[0]"), detail::to_double(items[1], where + ".betas[1]")};
  }
  /// Keys torch keeps that change nothing libtorch computes on CPU; their values are dropped.
  void ignore_harmless() {
    for (const char* key : {"foreach", "differentiable", "capturable", "fused"}) used.insert(key);
  }
  /// `maximize`: libtorch's optimizers only minimise, so True cannot be honoured.
  void reject_maximize(const char* optimizer) {
    used.insert("maximize");
    if (!dict.contains("maximize")) return;
    if (detail::to_bool(dict.at("maximize"), where + ".maximize"))
      throw CheckpointError(concat(where, ".maximize: True is not supported: libtorch's ", optimizer,
                                   " only minimises. Save the checkpoint with maximize=False (negate the loss "
                                   "instead)."));
  }
};

// ---- the type table: one Traits struct per optimizer ---------------------------------------------------------
// Each gives Python 1.13's param-group keys in order (write_group/read_group), its per-parameter state names
// (write_state/read_state), and where its momentum lives (for OneCycleLR).

struct SGDTraits {
  using Optimizer = optim::SGD;
  using Options = optim::SGDOptions;
  using State = optim::SGDParamState;
  static constexpr const char* name = "SGD";

  static void write_group(const Options& o, StateDict& g) {
    g.set("lr", o.lr());
    g.set("momentum", int_if_zero(o.momentum()));
    g.set("dampening", int_if_zero(o.dampening()));
    g.set("weight_decay", int_if_zero(o.weight_decay()));
    g.set("nesterov", o.nesterov());
    g.set("maximize", false);
    g.set("foreach", IValue());
    g.set("differentiable", false);
  }
  static void read_group(Options& o, GroupReader& r) {
    o.lr(r.number("lr")).momentum(r.number("momentum")).dampening(r.number("dampening"));
    o.weight_decay(r.number("weight_decay")).nesterov(r.flag("nesterov"));
    r.reject_maximize(name);
  }
  static void write_state(const State& s, StateDict& out) {
    if (s.momentum_buffer().defined()) out.set("momentum_buffer", s.momentum_buffer());
  }
  /// Python writes `momentum_buffer: None` for SGD without momentum; libtorch then keeps no state at all.
  static std::unique_ptr<optim::OptimizerParamState> read_state(const StateDict& s, const torch::Tensor& param,
                                                                const Options&, const std::string& where) {
    if (!s.contains("momentum_buffer") || s.at("momentum_buffer").isNone()) return nullptr;
    auto state = std::make_unique<State>();
    state->momentum_buffer(read_tensor(s, "momentum_buffer", param, where));
    return state;
  }
  static std::unique_ptr<optim::OptimizerParamState> fresh_state(const torch::Tensor&, const Options&) {
    return nullptr;
  }
  static c10::optional<double> momentum(const Options& o) { return o.momentum(); }
  static void set_momentum(Options& o, double m) { o.momentum(m); }
  static constexpr bool uses_betas = false;
};

/// Adam and AdamW share Python's state names; their group keys differ in order and in which keys exist.
template <class Opt, class Opts, class St>
struct AdamFamilyState {
  using Optimizer = Opt;
  using Options = Opts;
  using State = St;

  static void write_state(const State& s, StateDict& out) {
    out.set("step", step_tensor(s.step()));
    out.set("exp_avg", s.exp_avg());
    out.set("exp_avg_sq", s.exp_avg_sq());
    if (s.max_exp_avg_sq().defined()) out.set("max_exp_avg_sq", s.max_exp_avg_sq());
  }
  static std::unique_ptr<optim::OptimizerParamState> read_state(const StateDict& s, const torch::Tensor& param,
                                                                const Options& o, const std::string& where) {
    auto state = std::make_unique<State>();
    state->step(read_step(detail::required(s, "step", where), where + ".step"));
    state->exp_avg(read_tensor(s, "exp_avg", param, where));
    state->exp_avg_sq(read_tensor(s, "exp_avg_sq", param, where));
    // libtorch (like Python) needs the buffer whenever amsgrad is on.
    if (o.amsgrad() || s.contains("max_exp_avg_sq"))
      state->max_exp_avg_sq(read_tensor(s, "max_exp_avg_sq", param, where));
    return state;
  }
  static std::unique_ptr<optim::OptimizerParamState> fresh_state(const torch::Tensor&, const Options&) {
    return nullptr;
  }
  static c10::optional<double> momentum(const Options& o) { return std::get<0>(o.betas()); }
  static void set_momentum(Options& o, double m) { o.betas({m, std::get<1>(o.betas())}); }
  static constexpr bool uses_betas = true;
};

struct AdamTraits : AdamFamilyState<optim::Adam, optim::AdamOptions, optim::AdamParamState> {
  static constexpr const char* name = "Adam";
  static void write_group(const Options& o, StateDict& g) {
    g.set("lr", o.lr());
    g.set("betas", c10::ivalue::Tuple::create(std::get<0>(o.betas()), std::get<1>(o.betas())));
    g.set("eps", o.eps());
    g.set("weight_decay", int_if_zero(o.weight_decay()));
    g.set("amsgrad", o.amsgrad());
    g.set("maximize", false);
    g.set("foreach", IValue());
    g.set("capturable", false);
    g.set("differentiable", false);
    g.set("fused", false);
  }
  static void read_group(Options& o, GroupReader& r) {
    o.lr(r.number("lr")).betas(r.betas()).eps(r.number("eps"));
    o.weight_decay(r.number("weight_decay")).amsgrad(r.flag("amsgrad"));
    r.reject_maximize(name);
  }
};

struct AdamWTraits : AdamFamilyState<optim::AdamW, optim::AdamWOptions, optim::AdamWParamState> {
  static constexpr const char* name = "AdamW";
  static void write_group(const Options& o, StateDict& g) {
    g.set("lr", o.lr());
    g.set("betas", c10::ivalue::Tuple::create(std::get<0>(o.betas()), std::get<1>(o.betas())));
    g.set("eps", o.eps());
    g.set("weight_decay", o.weight_decay());  // AdamW's default (1e-2) is a float
    g.set("amsgrad", o.amsgrad());
    g.set("foreach", IValue());
    g.set("maximize", false);
    g.set("capturable", false);
  }
  static void read_group(Options& o, GroupReader& r) {
    o.lr(r.number("lr")).betas(r.betas()).eps(r.number("eps"));
    o.weight_decay(r.number("weight_decay")).amsgrad(r.flag("amsgrad"));
    r.reject_maximize(name);
  }
};

struct RMSpropTraits {
  using Optimizer = optim::RMSprop;
  using Options = optim::RMSpropOptions;
  using State = optim::RMSpropParamState;
  static constexpr const char* name = "RMSprop";

  static void write_group(const Options& o, StateDict& g) {
    g.set("lr", o.lr());
    g.set("momentum", int_if_zero(o.momentum()));
    g.set("alpha", o.alpha());
    g.set("eps", o.eps());
    g.set("centered", o.centered());
    g.set("weight_decay", int_if_zero(o.weight_decay()));
    g.set("foreach", IValue());
    g.set("maximize", false);
    g.set("differentiable", false);
  }
  static void read_group(Options& o, GroupReader& r) {
    o.lr(r.number("lr")).momentum(r.number("momentum")).alpha(r.number("alpha")).eps(r.number("eps"));
    o.centered(r.flag("centered")).weight_decay(r.number("weight_decay"));
    r.reject_maximize(name);
  }
  static void write_state(const State& s, StateDict& out) {
    out.set("step", s.step());  // an int in torch 1.13's RMSprop, not a tensor
    out.set("square_avg", s.square_avg());
    if (s.momentum_buffer().defined()) out.set("momentum_buffer", s.momentum_buffer());
    if (s.grad_avg().defined()) out.set("grad_avg", s.grad_avg());
  }
  static std::unique_ptr<optim::OptimizerParamState> read_state(const StateDict& s, const torch::Tensor& param,
                                                                const Options& o, const std::string& where) {
    auto state = std::make_unique<State>();
    state->step(read_step(detail::required(s, "step", where), where + ".step"));
    state->square_avg(read_tensor(s, "square_avg", param, where));
    if (o.momentum() > 0 || s.contains("momentum_buffer"))
      state->momentum_buffer(read_tensor(s, "momentum_buffer", param, where));
    if (o.centered() || s.contains("grad_avg")) state->grad_avg(read_tensor(s, "grad_avg", param, where));
    return state;
  }
  static std::unique_ptr<optim::OptimizerParamState> fresh_state(const torch::Tensor&, const Options&) {
    return nullptr;
  }
  static c10::optional<double> momentum(const Options& o) { return o.momentum(); }
  static void set_momentum(Options& o, double m) { o.momentum(m); }
  static constexpr bool uses_betas = false;
};

struct AdagradTraits {
  using Optimizer = optim::Adagrad;
  using Options = optim::AdagradOptions;
  using State = optim::AdagradParamState;
  static constexpr const char* name = "Adagrad";

  static void write_group(const Options& o, StateDict& g) {
    g.set("lr", o.lr());
    g.set("lr_decay", int_if_zero(o.lr_decay()));
    g.set("eps", o.eps());
    g.set("weight_decay", int_if_zero(o.weight_decay()));
    g.set("initial_accumulator_value", int_if_zero(o.initial_accumulator_value()));
    g.set("foreach", IValue());
    g.set("maximize", false);
  }
  static void read_group(Options& o, GroupReader& r) {
    o.lr(r.number("lr")).lr_decay(r.number("lr_decay")).eps(r.number("eps"));
    o.weight_decay(r.number("weight_decay")).initial_accumulator_value(r.number("initial_accumulator_value"));
    r.reject_maximize(name);
  }
  static void write_state(const State& s, StateDict& out) {
    out.set("step", step_tensor(s.step()));
    out.set("sum", s.sum());
  }
  static std::unique_ptr<optim::OptimizerParamState> read_state(const StateDict& s, const torch::Tensor& param,
                                                                const Options&, const std::string& where) {
    auto state = std::make_unique<State>();
    state->step(read_step(detail::required(s, "step", where), where + ".step"));
    state->sum(read_tensor(s, "sum", param, where));
    return state;
  }
  /// libtorch's Adagrad::step expects state for every parameter (its constructor creates it), so a parameter
  /// without saved state gets the constructor's initial state.
  static std::unique_ptr<optim::OptimizerParamState> fresh_state(const torch::Tensor& param, const Options& o) {
    auto state = std::make_unique<State>();
    state->step(0);
    state->sum(torch::full_like(param.detach(), o.initial_accumulator_value(), at::MemoryFormat::Preserve));
    return state;
  }
  static c10::optional<double> momentum(const Options&) { return c10::nullopt; }
  static void set_momentum(Options&, double) {
    throw MisconfigurationError("Adagrad has no momentum (PyTorch: 'optimizer must support momentum')");
  }
  static constexpr bool uses_betas = false;
};

/// Calls `f(Traits{})` for the optimizer's type; returns false if it is none of them.
template <class F>
bool visit_optimizer(const optim::Optimizer& o, F&& f) {
  if (dynamic_cast<const optim::SGD*>(&o)) return f(SGDTraits{}), true;
  if (dynamic_cast<const optim::Adam*>(&o)) return f(AdamTraits{}), true;
  if (dynamic_cast<const optim::AdamW*>(&o)) return f(AdamWTraits{}), true;
  if (dynamic_cast<const optim::RMSprop*>(&o)) return f(RMSpropTraits{}), true;
  if (dynamic_cast<const optim::Adagrad*>(&o)) return f(AdagradTraits{}), true;
  return false;
}

/// Same, keyed by a param group's options (what schedulers see).
template <class F>
bool visit_options(const optim::OptimizerOptions& o, F&& f) {
  if (dynamic_cast<const optim::SGDOptions*>(&o)) return f(SGDTraits{}), true;
  if (dynamic_cast<const optim::AdamOptions*>(&o)) return f(AdamTraits{}), true;
  if (dynamic_cast<const optim::AdamWOptions*>(&o)) return f(AdamWTraits{}), true;
  if (dynamic_cast<const optim::RMSpropOptions*>(&o)) return f(RMSpropTraits{}), true;
  if (dynamic_cast<const optim::AdagradOptions*>(&o)) return f(AdagradTraits{}), true;
  return false;
}

std::string type_name(const optim::Optimizer& o) { return c10::demangle(typeid(o).name()); }

[[noreturn]] void unsupported(const std::string& api, const std::string& type) {
  throw CheckpointError(concat(api, ": ", type, " is not supported; volt reads and writes the state of SGD, Adam, "
                               "AdamW, RMSprop and Adagrad"));
}

// ---- param-group extras and layout ---------------------------------------------------------------------------

/// How Python lays out a group's dict: key order, and which numbers are ints. Python puts the keys a group was
/// created with first and then fills in the optimizer's defaults; libtorch keeps only the values. So the layout
/// comes from the checkpoint the group was loaded from (Python -> volt -> Python is then exact), or else is
/// guessed once, the first time volt sees the group (schedulers look before they change anything): keys whose
/// value differs from the optimizer's defaults were the group's own and come first; a zero where Python's default
/// is the int 0 stays an int unless the group set it (Python code writes `weight_decay=0.0`).
struct GroupLayout {
  bool known = false;
  std::vector<std::string> order;                // hyper-parameters and extras, without "params"
  std::unordered_map<std::string, bool> is_int;  // numeric keys: written as an int when the value is whole
};

/// The group's own options type plus what Python keeps that libtorch cannot, so both live and die with the group
/// and follow it through libtorch's clone() of options. libtorch's step() static_casts to the base options type,
/// which this still is.
template <class Options>
struct WithExtras final : Options {
  explicit WithExtras(const Options& options) : Options(options) {}
  WithExtras(const WithExtras& other) : Options(other), extras(other.extras.copy()), layout(other.layout) {}
  std::unique_ptr<optim::OptimizerOptions> clone() const override { return std::make_unique<WithExtras>(*this); }
  StateDict extras;
  GroupLayout layout;
};

template <class Options>
WithExtras<Options>& wrapped(optim::OptimizerParamGroup& group) {
  if (auto* w = dynamic_cast<WithExtras<Options>*>(&group.options())) return *w;
  auto fresh = std::make_unique<WithExtras<Options>>(static_cast<const Options&>(group.options()));
  auto& ref = *fresh;
  group.set_options(std::move(fresh));
  return ref;
}

template <class Options>
const WithExtras<Options>* find_wrapped(const optim::OptimizerParamGroup& group) {
  return group.has_options() ? dynamic_cast<const WithExtras<Options>*>(&group.options()) : nullptr;
}

/// The extras of a group, or nullptr if its options do not carry any yet.
const StateDict* find_extras(const optim::OptimizerParamGroup& group) {
  if (!group.has_options()) return nullptr;
  const StateDict* found = nullptr;
  visit_options(group.options(), [&](auto traits) {
    if (auto* w = find_wrapped<typename decltype(traits)::Options>(group)) found = &w->extras;
  });
  return found;
}

bool is_number(const IValue& v) { return v.isInt() || v.isDouble(); }

template <class T>
GroupLayout guess_layout(const typename T::Options& group, const typename T::Options& defaults) {
  StateDict mine, theirs;
  T::write_group(group, mine);
  T::write_group(defaults, theirs);
  GroupLayout layout;
  layout.known = true;
  std::vector<std::string> rest;
  for (const auto& kv : mine) {
    const std::string& key = kv.key().toStringRef();
    const bool own = !(kv.value() == theirs.at(key));  // IValue == follows Python: 0 == 0.0
    (own ? layout.order : rest).push_back(key);
    if (is_number(kv.value())) layout.is_int[key] = kv.value().isInt() && !own;
  }
  layout.order.insert(layout.order.end(), rest.begin(), rest.end());
  return layout;
}

GroupLayout layout_of_checkpoint(const StateDict& saved) {
  GroupLayout layout;
  layout.known = true;
  for (const auto& kv : saved) {
    const std::string& key = kv.key().toStringRef();
    if (key == "params") continue;
    layout.order.push_back(key);
    if (is_number(kv.value())) layout.is_int[key] = kv.value().isInt();
  }
  return layout;
}

/// The group dict in `layout`'s order and number types; keys it does not know follow (hyper-parameters, then
/// extras in insertion order), and "params" is added last by the caller, as in Python.
StateDict lay_out(const StateDict& hyper, const StateDict* extras, const GroupLayout& layout) {
  auto typed = [&](const std::string& key, const IValue& v) -> IValue {
    auto it = layout.is_int.find(key);
    if (it == layout.is_int.end() || !is_number(v)) return v;
    const double x = v.isInt() ? static_cast<double>(v.toInt()) : v.toDouble();
    if (it->second && x == std::floor(x) && std::abs(x) < 9e15) return IValue(static_cast<int64_t>(x));
    return IValue(x);
  };
  StateDict out;
  auto put = [&](const std::string& key) {
    if (out.contains(key)) return;
    if (hyper.contains(key))
      out.set(key, typed(key, hyper.at(key)));
    else if (extras && extras->contains(key))
      out.set(key, typed(key, extras->at(key)));
  };
  for (const auto& key : layout.order) put(key);
  for (const auto& kv : hyper) put(kv.key().toStringRef());
  if (extras)
    for (const auto& kv : *extras) put(kv.key().toStringRef());
  return out;
}

/// libtorch's key for a parameter's state (optimizer.state()).
std::string param_key(const torch::Tensor& p) { return c10::guts::to_string(p.unsafeGetTensorImpl()); }

// ---- save / load ----------------------------------------------------------------------------------------------

template <class T>
StateDict save(const optim::Optimizer& optimizer) {
  c10::impl::GenericDict state(c10::IntType::get(), c10::AnyType::get());
  c10::impl::GenericList groups(c10::AnyType::get());
  int64_t index = 0;  // Python numbers parameters across groups, in order
  using Options = typename T::Options;
  const auto& defaults = static_cast<const Options&>(optimizer.defaults());
  for (const auto& group : optimizer.param_groups()) {
    const auto& options = static_cast<const Options&>(group.options());
    StateDict hyper;
    T::write_group(options, hyper);
    const auto* w = find_wrapped<Options>(group);
    StateDict g = lay_out(hyper, w ? &w->extras : nullptr,
                          w && w->layout.known ? w->layout : guess_layout<T>(options, defaults));
    std::vector<int64_t> ids;
    for (const auto& p : group.params()) {
      auto it = optimizer.state().find(param_key(p));
      if (it != optimizer.state().end() && it->second) {
        StateDict s;
        T::write_state(static_cast<const typename T::State&>(*it->second), s);
        if (!s.empty()) state.insert(index, s.ivalue());
      } else if constexpr (std::is_same_v<T, SGDTraits>) {
        // Python's SGD records {"momentum_buffer": None} for every parameter it stepped, even without momentum;
        // libtorch keeps nothing, so a parameter with a gradient stands for "stepped".
        if (p.grad().defined()) state.insert(index, StateDict{{"momentum_buffer", IValue()}}.ivalue());
      }
      ids.push_back(index++);
    }
    g.set("params", detail::py_list(ids));
    groups.push_back(g.ivalue());
  }
  return StateDict{{"state", state}, {"param_groups", groups}};
}

/// A "state" key: Python's int, or leniently a string of digits (e.g. from a JSON round trip).
int64_t state_index(const IValue& key, const std::string& where) {
  if (key.isInt()) return key.toInt();
  if (key.isString()) {
    const auto& s = key.toStringRef();
    if (!s.empty() && s.size() < 18 && s.find_first_not_of("0123456789") == std::string::npos) return std::stoll(s);
  }
  throw CheckpointError(concat(where, ": expected int parameter indices as keys, found ",
                               key.isString() ? "'" + key.toStringRef() + "'" : std::string(key.tagKind())));
}

template <class T>
void load(optim::Optimizer& optimizer, const StateDict& state, const std::string& where) {
  using Options = typename T::Options;
  auto& groups = optimizer.param_groups();
  const std::string groups_where = where + ".param_groups";
  auto saved_groups = detail::to_items(detail::required(state, "param_groups", where), groups_where);
  if (saved_groups.size() != groups.size())
    throw CheckpointError(concat(groups_where, ": ", saved_groups.size(), " param groups in the checkpoint, ",
                                 groups.size(), " in the optimizer"));

  // Everything is parsed and checked before the optimizer changes, so a failed load leaves it as it was.
  std::vector<std::unique_ptr<WithExtras<Options>>> new_options;
  std::unordered_map<int64_t, torch::Tensor> param_of;  // saved index -> parameter (Python's id_map)
  for (size_t i = 0; i < groups.size(); ++i) {
    const std::string gw = concat(groups_where, "[", i, "]");
    StateDict saved = as_state(saved_groups[i], gw);
    auto ids = detail::to_items(detail::required(saved, "params", gw), gw + ".params");
    const auto& params = groups[i].params();
    if (ids.size() != params.size())
      throw CheckpointError(concat(gw, ".params: ", ids.size(), " parameters in the checkpoint, ", params.size(),
                                   " in the optimizer"));
    for (size_t j = 0; j < ids.size(); ++j) {
      int64_t id = detail::to_int(ids[j], concat(gw, ".params[", j, "]"));
      if (!param_of.emplace(id, params[j]).second)
        throw CheckpointError(concat(gw, ".params[", j, "]: parameter index ", id, " appears twice"));
    }
    // Python replaces the whole group dict, so the loaded group's extras replace the current ones.
    auto options = std::make_unique<WithExtras<Options>>(static_cast<const Options&>(groups[i].options()));
    GroupReader reader{saved, gw};
    T::read_group(*options, reader);
    reader.ignore_harmless();
    for (const auto& kv : saved)
      if (!reader.used.count(kv.key().toStringRef())) options->extras.set(kv.key().toStringRef(), kv.value());
    options->layout = layout_of_checkpoint(saved);
    new_options.push_back(std::move(options));
  }

  const std::string state_where = where + ".state";
  IValue saved_state = detail::required(state, "state", where);
  if (!saved_state.isGenericDict()) detail::bad_value(state_where, "a dict", saved_state);
  std::unordered_map<std::string, std::unique_ptr<optim::OptimizerParamState>> new_state;
  std::unordered_map<std::string, size_t> group_of;  // param key -> group index, for the group's options
  for (size_t i = 0; i < groups.size(); ++i)
    for (const auto& p : groups[i].params()) group_of[param_key(p)] = i;
  for (const auto& kv : saved_state.toGenericDict()) {
    int64_t id = state_index(kv.key(), state_where);
    const std::string sw = concat(state_where, "[", id, "]");
    auto it = param_of.find(id);
    if (it == param_of.end())
      throw CheckpointError(concat(sw, ": no parameter has index ", id, " in ", groups_where));
    const std::string key = param_key(it->second);
    auto loaded = T::read_state(as_state(kv.value(), sw), it->second, *new_options[group_of.at(key)], sw);
    if (loaded) new_state[key] = std::move(loaded);
  }

  // Commit: Python's state is replaced as a whole, so parameters without saved state start fresh.
  for (size_t i = 0; i < groups.size(); ++i) {
    for (const auto& p : groups[i].params()) {
      const std::string key = param_key(p);
      auto it = new_state.find(key);
      auto state_ptr = it != new_state.end() ? std::move(it->second) : T::fresh_state(p, *new_options[i]);
      if (state_ptr)
        optimizer.state()[key] = std::move(state_ptr);
      else
        optimizer.state().erase(key);
    }
    groups[i].set_options(std::move(new_options[i]));
  }
}

}  // namespace

StateDict optimizer_state_dict(const optim::Optimizer& optimizer) {
  StateDict out;
  if (!visit_optimizer(optimizer, [&](auto traits) { out = save<decltype(traits)>(optimizer); }))
    unsupported("optimizer_state_dict", type_name(optimizer));
  return out;
}

void load_optimizer_state_dict(optim::Optimizer& optimizer, const StateDict& state, const std::string& where) {
  if (!visit_optimizer(optimizer, [&](auto traits) { load<decltype(traits)>(optimizer, state, where); }))
    unsupported("load_optimizer_state_dict", type_name(optimizer));
}

c10::optional<std::string> optimizer_class_name(const optim::Optimizer& optimizer) {
  c10::optional<std::string> name;
  visit_optimizer(optimizer, [&](auto traits) { name = decltype(traits)::name; });
  return name;
}

StateDict param_group_extras(optim::OptimizerParamGroup& group) {
  VOLT_CHECK(group.has_options(), "param_group_extras: the param group has no options yet; add it to an optimizer");
  StateDict shared;  // a StateDict copy shares storage with the group's
  bool known = visit_options(group.options(), [&](auto traits) {
    shared = wrapped<typename decltype(traits)::Options>(group).extras;
  });
  VOLT_CHECK(known, "param_group_extras: unsupported optimizer options type ",
             c10::demangle(typeid(group.options()).name()), "; volt supports SGD, Adam, AdamW, RMSprop and Adagrad");
  return shared;
}

StateDict param_group_extras(const optim::OptimizerParamGroup& group) {
  const StateDict* extras = find_extras(group);
  return extras ? extras->copy() : StateDict();
}

c10::optional<double> group_momentum(const optim::OptimizerParamGroup& group) {
  c10::optional<double> m;
  visit_options(group.options(), [&](auto traits) {
    using T = decltype(traits);
    m = T::momentum(static_cast<const typename T::Options&>(group.options()));
  });
  return m;
}

void set_group_momentum(optim::OptimizerParamGroup& group, double momentum) {
  bool known = visit_options(group.options(), [&](auto traits) {
    using T = decltype(traits);
    T::set_momentum(static_cast<typename T::Options&>(group.options()), momentum);
  });
  VOLT_CHECK(known, "set_group_momentum: unsupported optimizer options type ",
             c10::demangle(typeid(group.options()).name()));
}

namespace detail {
void remember_group_layouts(optim::Optimizer& optimizer) {
  visit_optimizer(optimizer, [&](auto traits) {
    using T = decltype(traits);
    using Options = typename T::Options;
    const auto& defaults = static_cast<const Options&>(optimizer.defaults());
    for (auto& group : optimizer.param_groups()) {
      auto& w = wrapped<Options>(group);
      if (!w.layout.known) w.layout = guess_layout<T>(w, defaults);
    }
  });
}
}  // namespace detail

bool group_uses_betas(const optim::OptimizerParamGroup& group) {
  bool betas = false;
  visit_options(group.options(), [&](auto traits) { betas = decltype(traits)::uses_betas; });
  return betas;
}

}  // namespace volt
