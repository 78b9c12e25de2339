#include "volt/state.hpp"

#include "volt/error.hpp"

namespace volt {

StateDict as_state(const IValue& value, const std::string& what) {
  if (!value.isGenericDict())
    throw CheckpointError(detail::concat(what, ": expected a dict, found ", value.tagKind()));
  auto generic = value.toGenericDict();
  StateDict out;
  for (const auto& item : generic) {
    if (!item.key().isString())
      throw CheckpointError(detail::concat(what, ": expected string keys, found a key of type ", item.key().tagKind()));
    out.set(item.key().toStringRef(), item.value());
  }
  return out;
}

}  // namespace volt
