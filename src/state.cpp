#include "volt/state.hpp"

#include <torch/nn/module.h>

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

void append_module_state(const torch::nn::Module& module, const std::string& prefix, StateDict& out) {
  for (const auto& p : module.named_parameters(/*recurse=*/false)) out.set(prefix + p.key(), p.value().detach());
  for (const auto& b : module.named_buffers(/*recurse=*/false)) out.set(prefix + b.key(), b.value().detach());
  for (const auto& child : module.named_children())
    append_module_state(*child.value(), prefix + child.key() + ".", out);
}

}  // namespace volt
