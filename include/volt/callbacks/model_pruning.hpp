// ModelPruning (Lightning 2.2.5's callbacks/pruning.py) and the parts of torch.nn.utils.prune it relies on.
//
// PyTorch prunes a parameter `X` of a module by re-registering the same Parameter as `X_orig`, adding a buffer
// `X_mask` and a forward pre-hook that sets the plain attribute `X = X_mask * X_orig` before every forward.
// Repeated pruning of one tensor combines masks like PyTorch's PruningContainer: the new pruning only looks at
// the entries (unstructured) or channels (structured) that are still unpruned, and a float amount is a fraction
// of those.
//
// How volt does it without forward pre-hooks (libtorch modules have none):
// - `X` is erased from the module's registered parameters and the same tensor is registered again as `X_orig`
//   at the end (so the optimizer, which holds that tensor, keeps training it, and named_parameters/state_dict
//   order match PyTorch: e.g. Linear → bias, weight_orig, then the buffer weight_mask).
// - The layer's member tensor that its forward reads (LinearImpl::weight, ConvNdImpl::weight, ...) is set to
//   `X_mask * X_orig`, a non-leaf tensor, so gradients reach `X_orig` masked exactly as in PyTorch.
// - The product is recomputed where PyTorch's hook would run: ModelPruning does it in on_train_batch_start,
//   on_validation_batch_start, on_test_batch_start and on_predict_batch_start, and right after every pruning.
//
// Limits of this approach (document them to users):
// - Only the member tensors of known layer types are found: Linear, Bilinear, Conv1d/2d/3d,
//   ConvTranspose1d/2d/3d, BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, LayerNorm, GroupNorm, Embedding, PReLU.
//   Other modules need `pruning::add_tensor_slot_resolver` (returning a pointer to the member their forward
//   reads), otherwise pruning them is a MisconfigurationError.
// - A forward outside the trainer's batch hooks (a callback calling forward in on_train_epoch_start, several
//   forwards per batch such as an LBFGS closure, calling the model by hand after fit) sees the product computed
//   at the last refresh; call `pruning::refresh(module)` first. A second backward through the same product
//   (two backward calls on one batch) fails as "backward through the graph a second time".
// - `module.to(device)` does not move the product; the next refresh does.
// - Registered parameters and buffers are edited through torch::nn::Module's protected/private dictionaries
//   (there is no public way to unregister a parameter or buffer in libtorch 1.13).
//
// Where volt deliberately differs from Lightning 2.2.5:
// - Resuming from a checkpoint that holds `X_orig`/`X_mask` (make_pruning_permanent=false) works: before the
//   strict weight load, the trainer lets ModelPruning re-create the reparametrisation for those keys, so the
//   masks and weights are restored. Lightning fails that load (unexpected `X_orig`/`X_mask`, missing `X`).
// - A fixed `amount` out of torch's range is reported when the callback is built (MisconfigurationError with
//   torch's message); Lightning reports it as torch's ValueError at the first pruning. A callable amount is
//   checked when it is used, also as MisconfigurationError.
// - Custom pruning methods are a `PruningMethod` value (a mask function with a type) rather than a Python class.
//
// Lightning behaviour kept on purpose: the lottery-ticket reset copies the setup-time values into the module's
// effective tensor `X` (Lightning's `getattr(module, name).data = ...`), not into `X_orig`; the next refresh
// (the next forward) recomputes `X = X_mask * X_orig`, so the reset lasts until then. The importance scores of a
// repeated pruning are that effective tensor (the product of the last forward), as in PyTorch.
#pragma once
#include <torch/nn/module.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "volt/callback.hpp"

namespace volt {

/// A pruning amount as torch takes it: a float fraction in [0, 1] or a non-negative int count of entries.
struct PruningAmount {
  PruningAmount(double fraction) : is_count(false), fraction(fraction) {}      // NOLINT: Python float
  PruningAmount(float fraction) : is_count(false), fraction(fraction) {}       // NOLINT
  PruningAmount(int count) : is_count(true), count(count) {}                   // NOLINT: Python int
  PruningAmount(int64_t count) : is_count(true), count(count) {}               // NOLINT
  bool is_count;
  double fraction = 0.0;
  int64_t count = 0;
  /// Python's truthiness (0 and 0.0 are "no pruning").
  bool truthy() const { return is_count ? count != 0 : fraction != 0.0; }
  /// Python's repr: "0.5", "3".
  std::string repr() const;
};

/// A custom pruning method (Lightning: a BasePruningMethod subclass, usable only with global unstructured).
struct PruningMethod {
  /// compute_mask(t, default_mask, amount): the mask for `t` (same shape), as BasePruningMethod.compute_mask.
  std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&, const PruningAmount&)> compute_mask;
  /// PyTorch's PRUNING_TYPE: "unstructured", "structured" or "global".
  std::string pruning_type = "unstructured";
  /// What Python's repr of the class would show in error messages.
  std::string repr = "<class 'PruningMethod'>";
};

using PruningParameter = std::pair<std::shared_ptr<torch::nn::Module>, std::string>;

struct ModelPruningOptions {
  /// "l1_unstructured", "random_unstructured", "ln_structured", "random_structured" (case-insensitive). Leave
  /// empty and set `pruning_method` for a custom method.
  std::string pruning_fn;
  std::optional<PruningMethod> pruning_method;
  /// (module, parameter name) pairs; empty: every `parameter_names` parameter of every non-container module.
  std::vector<PruningParameter> parameters_to_prune;
  /// Unset: ("weight", "bias").
  std::optional<std::vector<std::string>> parameter_names;
  bool use_global_unstructured = true;
  /// A fixed amount, or `amount_fn(epoch)` when set.
  PruningAmount amount = 0.5;
  std::function<PruningAmount(int64_t)> amount_fn;
  /// Whether to prune, or `apply_pruning_fn(epoch)` when set.
  bool apply_pruning = true;
  std::function<bool(int64_t)> apply_pruning_fn;
  /// Remove the reparametrisation at train end and write merged weights into saved checkpoints.
  bool make_pruning_permanent = true;
  /// Lottery ticket reset after pruning, or `use_lottery_ticket_hypothesis_fn(epoch)` when set.
  bool use_lottery_ticket_hypothesis = true;
  std::function<bool(int64_t)> use_lottery_ticket_hypothesis_fn;
  /// With the lottery ticket: reset to a fresh initialisation instead of the setup-time values.
  bool resample_parameters = false;
  std::optional<int64_t> pruning_dim;
  std::optional<double> pruning_norm;
  /// 0 silent, 1 overall sparsity, 2 also per tensor.
  int verbose = 0;
  /// Prune in on_train_epoch_end (true) or on_validation_epoch_end (false).
  bool prune_on_train_epoch_end = true;
};

namespace pruning {

/// Returns a pointer to the member tensor the forward of `module` reads for `name`, or nullptr if unknown.
using TensorSlotResolver = std::function<torch::Tensor*(torch::nn::Module&, const std::string&)>;
/// Teaches pruning where a custom module keeps the tensor its forward uses (process-wide, tried first).
void add_tensor_slot_resolver(TensorSlotResolver resolver);

/// PyTorch's `hasattr(module, name + "_mask")`.
bool is_pruned(const torch::nn::Module& module, const std::string& name);
/// The effective tensor `getattr(module, name)`: the product when pruned, the parameter otherwise.
torch::Tensor effective(torch::nn::Module& module, const std::string& name);

/// torch.nn.utils.prune's functions; each combines with an existing mask as a PruningContainer does.
void l1_unstructured(torch::nn::Module& module, const std::string& name, PruningAmount amount);
void random_unstructured(torch::nn::Module& module, const std::string& name, PruningAmount amount);
void ln_structured(torch::nn::Module& module, const std::string& name, PruningAmount amount, double n, int64_t dim);
void random_structured(torch::nn::Module& module, const std::string& name, PruningAmount amount, int64_t dim);
/// Applies `mask` (combined with an existing one by multiplication), as prune.custom_from_mask.
void custom_from_mask(torch::nn::Module& module, const std::string& name, const torch::Tensor& mask);
/// prune.global_unstructured with L1Unstructured ("l1_unstructured"), RandomUnstructured ("random_unstructured")
/// or a custom unstructured method.
void global_unstructured(const std::vector<std::pair<torch::nn::Module*, std::string>>& parameters,
                         const PruningMethod& method, PruningAmount amount);
PruningMethod l1_unstructured_method();
PruningMethod random_unstructured_method();
/// prune.remove: `X` becomes a plain parameter holding X_mask * X_orig; X_orig and X_mask are dropped.
void remove(torch::nn::Module& module, const std::string& name);
/// Recomputes X = X_mask * X_orig (the forward pre-hook) for every pruned tensor of `module` and its children.
void refresh(torch::nn::Module& module);

}  // namespace pruning

class ModelPruning : public Callback {
 public:
  explicit ModelPruning(ModelPruningOptions options);
  const ModelPruningOptions& options() const { return options_; }

  /// Identity; override to choose which (module, name) pairs are pruned.
  virtual std::vector<PruningParameter> filter_parameters_to_prune(std::vector<PruningParameter> parameters) {
    return parameters;
  }
  /// Lightning's sanitize_parameters_to_prune.
  static std::vector<PruningParameter> sanitize_parameters_to_prune(
      torch::nn::Module& module, const std::vector<PruningParameter>& parameters_to_prune,
      const std::vector<std::string>& parameter_names);
  /// Prunes `parameters_to_prune()` once with `amount` (and logs when verbose).
  void apply_pruning(PruningAmount amount);
  /// Step 4 of the lottery ticket algorithm (see the file comment for what it writes to).
  void apply_lottery_ticket_hypothesis();
  /// Removes every pruning reparametrisation from `module` and its submodules.
  void make_pruning_permanent(torch::nn::Module& module);
  const std::vector<PruningParameter>& parameters_to_prune() const { return parameters_; }
  /// "L1Unstructured" (global), "l1_unstructured" (local), "None" (custom method).
  const std::string& pruning_method_name() const { return method_name_; }

  /// Re-creates X_orig/X_mask for the keys of `state_dict` that hold them, so a checkpoint saved while pruned
  /// loads strictly (called by the trainer before loading weights).
  void prepare_state_dict_load(torch::nn::Module& root, const StateDict& state_dict);

  void setup(Trainer& trainer, Module& module, const std::string& stage) override;
  void on_train_epoch_end(Trainer& trainer, Module& module) override;
  void on_validation_epoch_end(Trainer& trainer, Module& module) override;
  void on_train_end(Trainer& trainer, Module& module) override;
  void on_save_checkpoint(Trainer& trainer, Module& module, StateDict& checkpoint) override;
  void on_train_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx) override;
  void on_validation_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx,
                                 int64_t dataloader_idx) override;
  void on_test_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx,
                           int64_t dataloader_idx) override;
  void on_predict_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx,
                              int64_t dataloader_idx) override;

 private:
  void run_pruning(int64_t epoch);
  void log_sparsity_stats(const std::vector<std::pair<int64_t, int64_t>>& prev,
                          const std::vector<std::pair<int64_t, int64_t>>& curr, const PruningAmount& amount) const;

  struct LayerSnapshot {
    std::shared_ptr<torch::nn::Module> module;
    std::map<std::string, torch::Tensor> tensors;  // name → value of getattr(module, name) at setup
    std::vector<std::pair<size_t, std::string>> names;
  };

  ModelPruningOptions options_;
  std::string method_name_;
  std::vector<PruningParameter> parameters_;
  std::vector<std::string> parameter_names_;
  std::optional<std::vector<LayerSnapshot>> original_layers_;
};

}  // namespace volt
