// Optimizer state in PyTorch 1.13's Python layout, for SGD, Adam, AdamW, RMSprop and Adagrad:
//   {"state": {param_index: {per-parameter values, Python's names and types}},
//    "param_groups": [{hyper-parameters in Python's order, extras such as initial_lr, "params": [indices]}]}
// so optimizer checkpoints move between volt and Python in both directions.
#pragma once
#include <c10/util/Optional.h>
#include <torch/optim/optimizer.h>

#include <string>

#include "volt/state.hpp"

namespace volt {

/// The optimizer's state in PyTorch's Python layout (`torch.optim.Optimizer.state_dict()`), for SGD, Adam, AdamW,
/// RMSprop and Adagrad. "state" is a dict with int keys (parameter indices, counted across groups in order).
/// Like Python's, the tensors are the optimizer's own, not copies. Throws CheckpointError for other optimizer types.
///
/// Where libtorch keeps less than Python:
///  - keys libtorch's options cannot hold are written with Python's defaults (maximize False, foreach None,
///    differentiable/capturable/fused False);
///  - a param group's key order and int-vs-float types come from the checkpoint it was loaded from; otherwise keys
///    that differ from the optimizer's defaults come first (Python puts a group's own keys first) and zeros whose
///    Python default is the int 0 are ints unless the group overrides them;
///  - SGD without momentum: libtorch keeps no per-parameter state, so volt writes `{"momentum_buffer": None}` for
///    every parameter that has a gradient, as Python's SGD does for the parameters it stepped.
StateDict optimizer_state_dict(const torch::optim::Optimizer& optimizer);

/// Loads a dict in PyTorch's Python layout into `optimizer` (hyper-parameters, extras and per-parameter state),
/// as `torch.optim.Optimizer.load_state_dict` does: group and parameter counts must match, saved indices map to the
/// optimizer's parameters in order, and tensors are copied to each parameter's dtype and device.
/// Accepts int keys in "state" and, leniently, strings of digits. Values libtorch cannot honour (maximize=True)
/// are rejected; harmless ones (foreach, differentiable, capturable, fused) are ignored.
/// Throws CheckpointError naming the key, prefixed by `where` (e.g. "optimizer_states[0]").
void load_optimizer_state_dict(torch::optim::Optimizer& optimizer, const StateDict& state,
                               const std::string& where = "optimizer_state");

/// The Python class name of a supported optimizer ("SGD", "Adam", ...), or nullopt.
c10::optional<std::string> optimizer_class_name(const torch::optim::Optimizer& optimizer);

/// Keys Python keeps in a param group that libtorch's options have no field for: `initial_lr` (set by schedulers),
/// OneCycleLR's `max_lr`, `min_lr`, `max_momentum`, `base_momentum`, and unknown keys loaded from a checkpoint.
/// They are saved after the hyper-parameters, in insertion order, as in Python.
/// The returned dict shares storage with the group: writes to it are writes to the group.
/// The first call on a group replaces its options with a copy of the same type that also carries this dict, so
/// references to the old `group.options()` dangle afterwards. Throws MisconfigurationError for unsupported
/// optimizer types.
StateDict param_group_extras(torch::optim::OptimizerParamGroup& group);
/// Read-only view: a copy of the group's extras (empty if it has none yet).
StateDict param_group_extras(const torch::optim::OptimizerParamGroup& group);

/// The group's momentum as Python's schedulers see it: SGD/RMSprop `momentum`, Adam/AdamW `betas[0]`;
/// nullopt for optimizers without one (Adagrad).
c10::optional<double> group_momentum(const torch::optim::OptimizerParamGroup& group);
/// Sets what group_momentum reads. Throws MisconfigurationError if the optimizer has no momentum.
void set_group_momentum(torch::optim::OptimizerParamGroup& group, double momentum);
/// True if the group's momentum is Adam-style `betas[0]` (PyTorch's `'betas' in optimizer.defaults`).
bool group_uses_betas(const torch::optim::OptimizerParamGroup& group);

}  // namespace volt
