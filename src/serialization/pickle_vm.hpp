// Internal: a pickle virtual machine for the programs torch.save (protocol 2) and torch::pickle_save write.
// It builds a graph of Python-like objects rather than IValues, so that the conversion to IValues
// (pickle_reader.cpp) can name the key path of anything volt cannot represent.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace volt::detail::pickle {

/// An object's index in its Graph. The same Ref twice means the same Python object (the memo shares objects).
using Ref = uint32_t;

enum class Kind : uint8_t {
  None,
  Bool,       // integer: 0 or 1
  Int,        // integer
  BigInt,     // an int beyond 64 bits (kept only to report it)
  Float,      // number
  Str,        // text: UTF-8
  Bytes,      // text: the raw bytes
  List,       // items
  Tuple,      // items
  Dict,       // items: key0, value0, key1, value1, ... in insertion order (duplicates resolved on conversion)
  Global,     // text: "module.name" of a class or function named by GLOBAL / STACK_GLOBAL
  Storage,    // tensor: a 1-D tensor over the whole storage (its dtype and numel are the storage's)
  Tensor,     // tensor
  Device,     // text: "cpu", "cuda:0", ...
  Timedelta,  // number: total seconds
  Opaque,     // text: the Python type (or callable) of an object volt cannot represent
  Invalid,    // text: why volt could not build a value it recognised (bad tensor arguments, ...)
};

const char* kind_name(Kind kind);
/// The kind's name with its article, for messages: "a list", "an int".
std::string a_kind(Kind kind);

/// One Python object. Only the fields its Kind names are used.
struct Object {
  Kind kind = Kind::None;
  int64_t integer = 0;
  double number = 0.0;
  std::string text;
  std::vector<Ref> items;
  at::Tensor tensor;

  static Object of(Kind kind, std::string text = {}) {
    Object o;
    o.kind = kind;
    o.text = std::move(text);
    return o;
  }
};

/// Owns every object of one unpickling. Objects refer to each other by Ref, so cycles and deep nesting cost
/// nothing to build or destroy.
class Graph {
 public:
  Ref add(Object object);
  Object& operator[](Ref ref) { return objects_[ref]; }
  const Object& operator[](Ref ref) const { return objects_[ref]; }
  size_t size() const { return objects_.size(); }

 private:
  std::vector<Object> objects_;
};

/// A structurally broken pickle program (stack underflow, bad memo index, unknown opcode, truncation...).
class PickleError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Resolves a persistent id (BINPERSID) to an object; torch uses it for storages. May throw.
using PersistentLoader = std::function<Ref(Graph&, Ref pid)>;

/// Runs the pickle program in `data` and returns the object STOP left. Throws PickleError if the program is
/// malformed; objects volt cannot represent become Opaque or Invalid objects instead of errors.
Ref run_pickle(std::string_view data, Graph& graph, const PersistentLoader& persistent_load);

// ---- the Python callables volt understands (pickle_globals.cpp) ------------------------------------------------

/// REDUCE: calls the global `name` with `args` (e.g. torch._utils._rebuild_tensor_v2, datetime.timedelta).
Ref call_global(Graph& g, const std::string& name, const std::vector<Ref>& args);
/// NEWOBJ: `cls.__new__(cls, *args)`.
Ref new_object(Graph& g, const std::string& cls);
/// BUILD: sets the state of `target` (drops the `_metadata` a state dict's OrderedDict carries).
void build_object(Graph& g, Ref target, Ref state);

}  // namespace volt::detail::pickle
