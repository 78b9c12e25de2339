// volt's reader for checkpoints written by Python's torch.save and by libtorch's torch::pickle_save.
// libtorch 1.13's own torch::pickle_load rejects what Python usually writes (SETITEM, OrderedDict state dicts).
#pragma once
#include <ATen/core/ivalue.h>

#include <string>

namespace volt {

/// Reads a checkpoint file in torch's zip format (Python's torch.save since torch 1.6, and libtorch's
/// torch::pickle_save), and returns its object as IValues:
///
/// | Python                                  | IValue                                                     |
/// |-----------------------------------------|------------------------------------------------------------|
/// | dict, collections.OrderedDict           | GenericDict, insertion order kept; keys str or int; the   |
/// |                                         | `_metadata` attribute of module state dicts is dropped      |
/// | list / tuple                            | GenericList (element type Any) / Tuple                     |
/// | str, bytes                              | string (bytes as the raw bytes)                             |
/// | int (64-bit), float, bool, None         | int, double, bool, None                                     |
/// | torch.Tensor, nn.Parameter              | CPU tensor, requires_grad kept; views keep sharing storage |
/// | torch.device / torch.Size               | string ("cpu", "cuda:0") / tuple of ints                    |
/// | datetime.timedelta                      | double, total seconds                                       |
///
/// Tensors saved from another device are loaded on the CPU. Throws CheckpointError naming the file and the
/// problem if the file is missing, is not such a checkpoint, is truncated or corrupt, or holds anything else
/// (for instance an instance of a Python class: the message names its type and its key path, such as
/// `hyper_parameters.model_cfg`).
///
/// Example:
///   auto ckpt = volt::as_state(volt::read_checkpoint_file("epoch=1.ckpt"), "epoch=1.ckpt");
///   int64_t step = ckpt.at("global_step").toInt();
c10::IValue read_checkpoint_file(const std::string& path);

/// Same as read_checkpoint_file, for the bytes of a checkpoint; `name_for_errors` names it in error messages.
c10::IValue read_checkpoint_bytes(const std::string& bytes, const std::string& name_for_errors);

}  // namespace volt
