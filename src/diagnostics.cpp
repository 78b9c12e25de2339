// The callback order-independence check (diagnostics.hpp): two seeded fits, callbacks in list order and reversed.
#include "volt/diagnostics.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "volt/error.hpp"
#include "volt/serialization/python_repr.hpp"

namespace volt {
namespace {

struct RunResult {
  std::vector<std::string> order;
  std::map<std::string, StateDict> states;  // by state_key
  std::map<std::string, double> metrics;    // callback_metrics, then logged_metrics as "logged/<name>"
  std::string error;
};

// Replaces every occurrence of `root` in `s` by "<root>".
std::string normalise(std::string s, const std::string& root) {
  if (root.empty()) return s;
  for (size_t pos = s.find(root); pos != std::string::npos; pos = s.find(root, pos + 6)) s.replace(pos, root.size(), "<root>");
  return s;
}

IValue normalise(const IValue& v, const std::string& root) {
  if (v.isString()) return IValue(normalise(v.toStringRef(), root));
  if (v.isGenericDict()) {
    c10::impl::GenericDict out(v.toGenericDict().keyType(), v.toGenericDict().valueType());
    for (const auto& item : v.toGenericDict()) out.insert(item.key(), normalise(item.value(), root));
    return out;
  }
  if (v.isList()) {
    c10::impl::GenericList out(v.toList().elementType());
    for (const auto& item : v.toList()) out.push_back(normalise(item, root));
    return out;
  }
  return v;
}

std::string repr(const IValue& v) {
  try {
    return python_repr(v);
  } catch (const std::exception&) {
    return "<" + std::string(v.tagKind()) + ">";
  }
}

// Appends "path: a != b" for every difference between a and b.
void compare(const IValue& a, const IValue& b, const std::string& path, double tolerance,
             std::vector<std::string>& out) {
  auto differ = [&]() { out.push_back(path + ": " + repr(a) + " != " + repr(b)); };
  if (a.isGenericDict() && b.isGenericDict()) {
    auto da = a.toGenericDict(), db = b.toGenericDict();
    for (const auto& item : da) {
      std::string key = item.key().isString() ? item.key().toStringRef() : repr(item.key());
      std::string sub = path.empty() ? key : path + "." + key;
      auto it = db.find(item.key());
      if (it == db.end()) out.push_back(sub + ": only in the forward run");
      else compare(item.value(), it->value(), sub, tolerance, out);
    }
    for (const auto& item : db)
      if (da.find(item.key()) == da.end()) {
        std::string key = item.key().isString() ? item.key().toStringRef() : repr(item.key());
        out.push_back((path.empty() ? key : path + "." + key) + ": only in the reversed run");
      }
    return;
  }
  if (a.isList() && b.isList()) {
    auto la = a.toList(), lb = b.toList();
    if (la.size() != lb.size()) return differ();
    for (size_t i = 0; i < la.size(); ++i)
      compare(la.get(i), lb.get(i), path + "[" + std::to_string(i) + "]", tolerance, out);
    return;
  }
  if (a.isTensor() && b.isTensor()) {
    const auto& ta = a.toTensor();
    const auto& tb = b.toTensor();
    bool same = ta.defined() == tb.defined();
    if (same && ta.defined()) {
      same = ta.sizes() == tb.sizes() && ta.scalar_type() == tb.scalar_type();
      if (same) {
        auto fa = ta.detach().cpu(), fb = tb.detach().cpu();
        if (fa.is_floating_point()) same = torch::allclose(fa, fb, /*rtol=*/0.0, /*atol=*/tolerance, /*equal_nan=*/true);
        else same = torch::equal(fa, fb);
      }
    }
    if (!same) differ();
    return;
  }
  if ((a.isDouble() || a.isInt()) && (b.isDouble() || b.isInt())) {
    double x = a.isDouble() ? a.toDouble() : static_cast<double>(a.toInt());
    double y = b.isDouble() ? b.toDouble() : static_cast<double>(b.toInt());
    bool same = (std::isnan(x) && std::isnan(y)) || std::abs(x - y) <= tolerance;
    if (!same || a.isDouble() != b.isDouble()) differ();
    return;
  }
  if (a.tagKind() != b.tagKind() || repr(a) != repr(b)) differ();
}

RunResult run_once(const std::function<OrderCheckRun(uint64_t)>& factory, uint64_t seed, bool reversed) {
  RunResult result;
  torch::manual_seed(seed);
  OrderCheckRun run = factory(seed);
  VOLT_CHECK(run.module != nullptr, "check_callback_order_independence: the factory returned no module");
  std::vector<CallbackPtr> callbacks = run.callbacks;
  if (reversed) std::reverse(callbacks.begin(), callbacks.end());
  for (const auto& cb : callbacks) {
    VOLT_CHECK(cb != nullptr, "check_callback_order_independence: the factory returned a null callback");
    result.order.push_back(cb->state_key());
  }
  TrainerOptions options = run.options;
  options.callbacks = callbacks;
  if (!options.seed) options.seed = seed;
  std::string root = (std::filesystem::path(options.default_root_dir) / "order_check" /
                      (reversed ? "reversed" : "forward")).string();
  std::filesystem::remove_all(root);
  options.default_root_dir = root;
  Trainer trainer(options);  // a bad configuration throws here: the same in both orders, so not a finding
  try {
    trainer.fit(*run.module, run.datamodule.get());
  } catch (const std::exception& e) {
    result.error = normalise(std::string(e.what()), root);
  }
  for (const auto& cb : run.callbacks) {
    IValue state = normalise(cb->state_dict().ivalue(), root);
    result.states[cb->state_key()] = StateDict(state.toGenericDict());
  }
  auto to_double = [](const torch::Tensor& t) {
    return t.defined() && t.numel() == 1 ? t.detach().cpu().to(torch::kDouble).item<double>() : std::nan("");
  };
  for (const auto& [name, value] : trainer.callback_metrics()) result.metrics[name] = to_double(value);
  for (const auto& [name, value] : trainer.logged_metrics()) result.metrics["logged/" + name] = to_double(value);
  return result;
}

}  // namespace

CallbackOrderReport check_callback_order_independence(const std::function<OrderCheckRun(uint64_t seed)>& factory,
                                                      uint64_t seed, double tolerance) {
  RunResult forward = run_once(factory, seed, /*reversed=*/false);
  RunResult reversed = run_once(factory, seed, /*reversed=*/true);
  CallbackOrderReport report;
  report.forward_order = forward.order;
  report.reversed_order = reversed.order;
  report.forward_error = forward.error;
  report.reversed_error = reversed.error;
  for (const auto& key : forward.order) {  // list order
    std::vector<std::string> details;
    auto a = forward.states.find(key), b = reversed.states.find(key);
    if (a == forward.states.end() || b == reversed.states.end()) continue;
    compare(a->second.ivalue(), b->second.ivalue(), "", tolerance, details);
    if (!details.empty()) report.callbacks.push_back({key, details});
  }
  std::set<std::string> names;
  for (const auto& kv : forward.metrics) names.insert(kv.first);
  for (const auto& kv : reversed.metrics) names.insert(kv.first);
  for (const auto& name : names) {
    auto a = forward.metrics.find(name), b = reversed.metrics.find(name);
    std::optional<double> x, y;
    if (a != forward.metrics.end()) x = a->second;
    if (b != reversed.metrics.end()) y = b->second;
    bool same = x && y && ((std::isnan(*x) && std::isnan(*y)) || std::abs(*x - *y) <= tolerance);
    if (!same) report.metrics.push_back({name, x, y});
  }
  return report;
}

std::string CallbackOrderReport::to_string() const {
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
  };
  std::string out = "Callback order check: [" + join(forward_order) + "] vs reversed [" + join(reversed_order) + "]\n";
  if (independent()) return out + "No differences: the callbacks' states and the logged metrics do not depend on "
                                  "their order.\n";
  if (forward_error != reversed_error)
    out += "The runs ended differently: forward " + (forward_error.empty() ? "finished" : "raised: " + forward_error) +
           "; reversed " + (reversed_error.empty() ? "finished" : "raised: " + reversed_error) + "\n";
  for (const auto& c : callbacks) {
    out += "Callback " + c.state_key + ": state_dict differs\n";
    for (const auto& d : c.details) out += "  " + d + "\n";
  }
  auto value = [](const std::optional<double>& v) { return v ? python_float_repr(*v) : std::string("(not logged)"); };
  for (const auto& m : metrics) out += "Metric " + m.name + ": " + value(m.forward) + " != " + value(m.reversed) + "\n";
  return out;
}

}  // namespace volt
