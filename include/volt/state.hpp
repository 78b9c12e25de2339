// The one state type: an insertion-ordered dict of IValues with string keys. torch::pickle_save writes it as a
// Python dict, so callbacks, loops, optimizers and the data module all speak what Python's torch.load reads.
#pragma once
#include <ATen/core/Dict.h>
#include <ATen/core/ivalue.h>

#include <initializer_list>
#include <string>
#include <utility>

namespace torch::nn {
class Module;
}

namespace volt {

using IValue = c10::IValue;

/// `Dict[str, Any]` in Python terms, keeping insertion order. Copies share storage like Python dict references;
/// `copy()` clones the top level.
class StateDict {
 public:
  StateDict() : dict_(c10::StringType::get(), c10::AnyType::get()) {}
  StateDict(std::initializer_list<std::pair<std::string, IValue>> items) : StateDict() {
    for (const auto& kv : items) set(kv.first, kv.second);
  }
  /// Wraps a dict IValue's dict (keys must be strings; see `as_state` for a checked conversion).
  explicit StateDict(c10::impl::GenericDict dict) : dict_(std::move(dict)) {}

  /// Sets `key` (kept at its first insertion position, as Python does).
  StateDict& set(const std::string& key, IValue value) {
    dict_.insert_or_assign(key, std::move(value));
    return *this;
  }
  bool contains(const std::string& key) const { return dict_.contains(key); }
  /// The value at `key`; throws std::out_of_range if absent.
  IValue at(const std::string& key) const { return dict_.at(key); }
  /// The value at `key`, or `fallback` if absent.
  IValue get(const std::string& key, IValue fallback = IValue()) const {
    auto it = dict_.find(key);
    return it == dict_.end() ? fallback : it->value();
  }
  bool erase(const std::string& key) { return dict_.erase(key) > 0; }
  size_t size() const { return dict_.size(); }
  bool empty() const { return dict_.empty(); }
  StateDict copy() const { return StateDict(dict_.copy()); }

  auto begin() const { return dict_.begin(); }
  auto end() const { return dict_.end(); }

  const c10::impl::GenericDict& generic() const { return dict_; }
  /// The dict as an IValue (what torch::pickle_save takes).
  IValue ivalue() const { return IValue(dict_); }
  operator IValue() const { return ivalue(); }  // NOLINT: a StateDict is a dict value wherever an IValue is.

 private:
  c10::impl::GenericDict dict_;
};

/// Reads a dict IValue as a StateDict. Throws CheckpointError naming `what` if it is not a dict with string keys.
StateDict as_state(const IValue& value, const std::string& what);

/// Appends `module`'s parameters and buffers (detached, sharing storage) under `prefix`, in PyTorch's
/// Module.state_dict order: each module's own parameters, then its own buffers, then its children.
void append_module_state(const torch::nn::Module& module, const std::string& prefix, StateDict& out);

}  // namespace volt
