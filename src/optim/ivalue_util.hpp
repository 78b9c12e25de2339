// Private: typed reads of checkpoint values, each throwing CheckpointError that names where the value came from,
// and writers for Python-typed values (plain lists rather than libtorch's specialised ones).
#pragma once
#include <ATen/core/Dict.h>
#include <ATen/core/List.h>
#include <ATen/core/ivalue.h>

#include <string>
#include <vector>

#include "volt/error.hpp"
#include "volt/state.hpp"

namespace volt {
namespace detail {

[[noreturn]] inline void bad_value(const std::string& where, const std::string& expected, const c10::IValue& v) {
  throw CheckpointError(concat(where, ": expected ", expected, ", found ", v.tagKind()));
}

/// A Python number (int or float) as a double: Python writes e.g. `weight_decay: 0` as an int.
inline double to_double(const c10::IValue& v, const std::string& where) {
  if (v.isDouble()) return v.toDouble();
  if (v.isInt()) return static_cast<double>(v.toInt());
  bad_value(where, "a number", v);
}

/// A Python number, keeping whether it was an int or a float.
inline c10::Scalar to_scalar(const c10::IValue& v, const std::string& where) {
  if (v.isDouble() || v.isInt()) return v.toScalar();
  bad_value(where, "a number", v);
}

inline int64_t to_int(const c10::IValue& v, const std::string& where) {
  if (v.isInt()) return v.toInt();
  bad_value(where, "an int", v);
}

inline bool to_bool(const c10::IValue& v, const std::string& where) {
  if (v.isBool()) return v.toBool();
  bad_value(where, "a bool", v);
}

inline std::string to_str(const c10::IValue& v, const std::string& where) {
  if (v.isString()) return v.toStringRef();
  bad_value(where, "a str", v);
}

/// The elements of a list or tuple.
inline std::vector<c10::IValue> to_items(const c10::IValue& v, const std::string& where) {
  if (v.isList()) return v.toListRef().vec();
  if (v.isTuple()) return v.toTupleRef().elements().vec();
  bad_value(where, "a list", v);
}

/// A list of numbers; `expected_size` (one per param group) is checked unless it is kAnySize.
constexpr size_t kAnySize = static_cast<size_t>(-1);
inline std::vector<double> to_double_list(const c10::IValue& v, const std::string& where, size_t expected_size) {
  auto items = to_items(v, where);
  if (expected_size != kAnySize && items.size() != expected_size)
    throw CheckpointError(concat(where, ": expected ", expected_size, " values (one per param group), found ",
                                 items.size()));
  std::vector<double> out;
  for (size_t i = 0; i < items.size(); ++i) out.push_back(to_double(items[i], concat(where, "[", i, "]")));
  return out;
}

/// A Python list: written as a plain list of Any, which torch.load reads as a list.
template <class T>
c10::IValue py_list(const std::vector<T>& values) {
  c10::impl::GenericList out(c10::AnyType::get());
  for (const auto& v : values) out.push_back(c10::IValue(v));
  return out;
}

/// The value at `key`, or throws CheckpointError saying it is missing.
inline c10::IValue required(const StateDict& d, const std::string& key, const std::string& where) {
  if (!d.contains(key)) throw CheckpointError(concat(where, ": missing key '", key, "'"));
  return d.at(key);
}

}  // namespace detail
}  // namespace volt
