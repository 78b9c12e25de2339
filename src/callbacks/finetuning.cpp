// BaseFinetuning and BackboneFinetuning, following Lightning 2.2.5's callbacks/finetuning.py step by step.
#include "volt/callbacks/finetuning.hpp"

#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <unordered_map>

#include "volt/error.hpp"
#include "volt/messages.hpp"
#include "volt/optim/optimizer_state.hpp"
#include "volt/serialization/python_repr.hpp"
#include "volt/trainer.hpp"

namespace volt {
namespace {

using detail::concat;

bool is_batch_norm(torch::nn::Module& m) {
  return dynamic_cast<torch::nn::BatchNorm1dImpl*>(&m) || dynamic_cast<torch::nn::BatchNorm2dImpl*>(&m) ||
         dynamic_cast<torch::nn::BatchNorm3dImpl*>(&m);
}

void set_track_running_stats(torch::nn::Module& m, bool value) {
  if (auto* bn = dynamic_cast<torch::nn::BatchNorm1dImpl*>(&m)) bn->options.track_running_stats(value);
  if (auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(&m)) bn->options.track_running_stats(value);
  if (auto* bn = dynamic_cast<torch::nn::BatchNorm3dImpl*>(&m)) bn->options.track_running_stats(value);
}

// Python's round(x, digits) for the verbose message: correctly rounded decimal, then back to a float.
double python_round(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits < 0 ? 0 : digits, x);
  return std::strtod(buf, nullptr);
}

std::unordered_map<const c10::TensorImpl*, std::string> parameter_names(Module& module) {
  std::unordered_map<const c10::TensorImpl*, std::string> names;
  for (const auto& kv : module.named_parameters()) names.emplace(kv.value().unsafeGetTensorImpl(), kv.key());
  return names;
}

torch::nn::Module* backbone_of(Module& module) {
  for (const auto& child : module.named_children())
    if (child.key() == "backbone") return child.value().get();
  return nullptr;
}

}  // namespace

torch::nn::Module* Modules::checked(torch::nn::Module* m) {
  VOLT_CHECK(m != nullptr, "BaseFinetuning: a null module was passed where modules were expected");
  return m;
}

// ---- static helpers -------------------------------------------------------------------------------------------------

std::vector<torch::nn::Module*> BaseFinetuning::flatten_modules(const Modules& modules) {
  std::vector<torch::nn::Module*> out;
  for (torch::nn::Module* root : modules.items()) {
    // module.modules(): itself, then every descendant pre-order, each module once
    std::vector<torch::nn::Module*> walk{root};
    std::set<torch::nn::Module*> seen{root};
    for (const auto& m : root->modules(/*include_self=*/false))
      if (seen.insert(m.get()).second) walk.push_back(m.get());
    for (torch::nn::Module* m : walk)
      if (m->children().empty() || !m->named_parameters(/*recurse=*/false).is_empty()) out.push_back(m);
  }
  return out;
}

std::vector<torch::Tensor> BaseFinetuning::filter_params(const Modules& modules, bool train_bn, bool requires_grad) {
  std::vector<torch::Tensor> out;
  for (torch::nn::Module* m : flatten_modules(modules)) {
    if (!train_bn && is_batch_norm(*m)) continue;
    for (const auto& p : m->parameters(/*recurse=*/false))
      if (p.requires_grad() == requires_grad) out.push_back(p);
  }
  return out;
}

void BaseFinetuning::make_trainable(const Modules& modules) {
  for (torch::nn::Module* m : flatten_modules(modules)) {
    if (is_batch_norm(*m)) set_track_running_stats(*m, true);
    for (auto& p : m->parameters(/*recurse=*/false)) p.set_requires_grad(true);
  }
}

void BaseFinetuning::freeze_module(torch::nn::Module& module) {
  if (is_batch_norm(module)) set_track_running_stats(module, false);
  for (auto& p : module.parameters(/*recurse=*/false)) p.set_requires_grad(false);
}

void BaseFinetuning::freeze(const Modules& modules, bool train_bn) {
  for (torch::nn::Module* m : flatten_modules(modules)) {
    if (is_batch_norm(*m) && train_bn) make_trainable(*m);
    else freeze_module(*m);
  }
}

std::vector<torch::Tensor> BaseFinetuning::filter_on_optimizer(const torch::optim::Optimizer& optimizer,
                                                               const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> out;
  for (const auto& param : params) {
    bool present = false;
    for (const auto& group : optimizer.param_groups()) {
      for (const auto& p : group.params()) {
        // Lightning's quirk, kept: torch.equal (same shape and values), not identity
        if (p.sizes() == param.sizes() && p.dtype() == param.dtype() && torch::equal(p, param)) {
          present = true;
          break;
        }
      }
      if (present) break;
    }
    if (!present) out.push_back(param);
  }
  if (out.size() != params.size()) {
    std::string type = optimizer_class_name(optimizer).value_or("Optimizer");
    rank_zero_warn(concat("The provided params to be frozen already exist within another group of this optimizer. "
                          "Those parameters will be skipped.\nHINT: Did you init your optimizer in "
                          "`configure_optimizer` as such:\n <class 'torch.optim.",
                          type == "AdamW" ? "adamw" : type == "RMSprop" ? "rmsprop" : type == "Adagrad" ? "adagrad"
                                                      : type == "Adam" ? "adam" : "sgd",
                          ".", type, "'>(filter(lambda p: p.requires_grad, self.parameters()), ...) "));
  }
  return out;
}

void BaseFinetuning::unfreeze_and_add_param_group(const Modules& modules, torch::optim::Optimizer& optimizer,
                                                  std::optional<double> lr, double initial_denom_lr, bool train_bn) {
  make_trainable(modules);
  VOLT_CHECK(!optimizer.param_groups().empty(),
             "unfreeze_and_add_param_group: the optimizer has no param group to take the learning rate from");
  const double params_lr = lr ? *lr : optimizer.param_groups()[0].options().get_lr();
  const double denom = lr ? 1.0 : initial_denom_lr;
  auto params = filter_on_optimizer(optimizer, filter_params(modules, train_bn, /*requires_grad=*/true));
  if (params.empty()) return;
  auto options = optimizer.defaults().clone();
  options->set_lr(params_lr / denom);
  optimizer.add_param_group(torch::optim::OptimizerParamGroup(params, std::move(options)));
}

// ---- hooks ----------------------------------------------------------------------------------------------------------

void BaseFinetuning::freeze_before_training(Module&) {
  throw Error(concat(class_name(), ".freeze_before_training is not implemented: override it to freeze the modules "
                     "to be finetuned later (BaseFinetuning is abstract)"));
}

void BaseFinetuning::finetune_function(Module&, int64_t, torch::optim::Optimizer&) {
  throw Error(concat(class_name(), ".finetune_function is not implemented: override it to unfreeze modules at the "
                     "epochs you choose (BaseFinetuning is abstract)"));
}

void BaseFinetuning::setup(Trainer&, Module& module, const std::string&) { freeze_before_training(module); }

void BaseFinetuning::on_fit_start(Trainer& trainer, Module& module) {
  if (!restarting_) return;
  if (!metadata_.empty()) {
    std::unordered_map<std::string, torch::Tensor> by_name;
    for (const auto& kv : module.named_parameters()) by_name.emplace(kv.key(), kv.value());
    const auto& optimizers = trainer.optimizers();
    for (size_t opt_idx = 0; opt_idx < optimizers.size(); ++opt_idx) {
      auto it = metadata_.find(static_cast<int64_t>(opt_idx));
      if (it == metadata_.end()) continue;
      auto& optimizer = *optimizers[opt_idx];
      // Replace the groups wholesale, then give them the recorded hyper-parameters by loading a state dict without
      // per-parameter state; the checkpoint's optimizer state is loaded right after and overrides them.
      optimizer.param_groups().clear();
      c10::impl::GenericList groups(c10::AnyType::get());
      int64_t index = 0;
      for (const StateDict& record : it->second) {
        const std::string where = concat(class_name(), " state: internal_optimizer_metadata[", opt_idx, "]");
        VOLT_CHECK_T(CheckpointError, record.contains("params") && record.at("params").isList(), where,
                     ": a param group record has no 'params' list of names");
        std::vector<torch::Tensor> params;
        c10::impl::GenericList indices(c10::IntType::get());
        for (const auto& name : record.at("params").toListRef()) {
          VOLT_CHECK_T(CheckpointError, name.isString(), where, ": param names must be strings, found ",
                       name.tagKind());
          auto found = by_name.find(name.toStringRef());
          VOLT_CHECK_T(CheckpointError, found != by_name.end(), where, ": the module has no parameter named '",
                       name.toStringRef(), "'; resume with the model the checkpoint was written from");
          params.push_back(found->second);
          indices.push_back(index++);
        }
        optimizer.add_param_group(torch::optim::OptimizerParamGroup(params, optimizer.defaults().clone()));
        StateDict group = record.copy();
        group.set("params", indices);
        groups.push_back(group.ivalue());
      }
      StateDict hyper{{"state", c10::impl::GenericDict(c10::IntType::get(), c10::AnyType::get())},
                      {"param_groups", groups}};
      load_optimizer_state_dict(optimizer, hyper, concat(class_name(), " internal_optimizer_metadata[", opt_idx, "]"));
    }
  }
  restarting_ = false;
}

void BaseFinetuning::on_train_epoch_start(Trainer& trainer, Module& module) {
  const auto& optimizers = trainer.optimizers();
  for (size_t opt_idx = 0; opt_idx < optimizers.size(); ++opt_idx) {
    auto& optimizer = *optimizers[opt_idx];
    const size_t num_param_groups = optimizer.param_groups().size();
    finetune_function(module, trainer.current_epoch(), optimizer);
    store(module, static_cast<int64_t>(opt_idx), num_param_groups, optimizer);
  }
}

void BaseFinetuning::store(Module& module, int64_t opt_idx, size_t num_param_groups,
                           const torch::optim::Optimizer& optimizer) {
  const size_t current = optimizer.param_groups().size();
  size_t first;
  auto it = metadata_.find(opt_idx);
  if (it == metadata_.end()) first = 0;                         // first time: every group
  else if (current != num_param_groups) first = num_param_groups;  // only the groups just added
  else return;
  auto names = parameter_names(module);
  StateDict python = optimizer_state_dict(optimizer);
  const auto& packed = python.at("param_groups").toListRef();
  GroupRecords& records = metadata_[opt_idx];
  const auto& groups = optimizer.param_groups();
  for (size_t g = first; g < current; ++g) {
    StateDict record = as_state(packed[g], "param_groups").copy();
    c10::impl::GenericList param_names(c10::StringType::get());
    for (const auto& p : groups[g].params()) {
      auto found = names.find(p.unsafeGetTensorImpl());
      VOLT_CHECK(found != names.end(), class_name(), ": param group ", g, " of optimizer ", opt_idx,
                 " holds a tensor that is not a parameter of the module; finetuning callbacks can only record the "
                 "module's own parameters");
      param_names.push_back(found->second);
    }
    record.set("params", param_names);
    records.push_back(record);
  }
}

StateDict BaseFinetuning::state_dict() {
  c10::impl::GenericDict metadata(c10::IntType::get(), c10::AnyType::get());
  for (const auto& kv : metadata_) {
    c10::impl::GenericList list(c10::AnyType::get());
    for (const auto& record : kv.second) list.push_back(record.ivalue());
    metadata.insert(kv.first, list);
  }
  return {{"internal_optimizer_metadata", metadata}};
}

void BaseFinetuning::load_state_dict(const StateDict& state) {
  restarting_ = true;
  const std::string where = class_name() + " state";
  // Before Lightning 1.6 the state was the metadata dict itself.
  IValue metadata = state.contains("internal_optimizer_metadata") ? state.at("internal_optimizer_metadata")
                                                                  : state.ivalue();
  VOLT_CHECK_T(CheckpointError, metadata.isGenericDict(), where,
               ": 'internal_optimizer_metadata' must be a dict {optimizer index: [param groups]}, found ",
               metadata.tagKind());
  metadata_.clear();
  for (const auto& kv : metadata.toGenericDict()) {
    int64_t idx;
    if (kv.key().isInt()) idx = kv.key().toInt();
    else if (kv.key().isString() && !kv.key().toStringRef().empty() &&
             kv.key().toStringRef().find_first_not_of("0123456789") == std::string::npos)
      idx = std::stoll(kv.key().toStringRef());
    else if (state.contains("internal_optimizer_metadata") || !kv.key().isString())
      throw CheckpointError(concat(where, ": optimizer index keys must be ints, found ", python_repr(kv.key())));
    else continue;  // a string key of a newer layout in the pre-1.6 fallback (e.g. previous_backbone_lr)
    VOLT_CHECK_T(CheckpointError, kv.value().isList(), where, ": internal_optimizer_metadata[", idx,
                 "] must be a list of param groups, found ", kv.value().tagKind());
    GroupRecords records;
    for (const auto& g : kv.value().toListRef()) records.push_back(as_state(g, where + " param group").copy());
    metadata_[idx] = std::move(records);
  }
}

// ---- BackboneFinetuning ---------------------------------------------------------------------------------------------

double multiplicative(int64_t) { return 2.0; }

BackboneFinetuning::BackboneFinetuning(BackboneFinetuningOptions options) : options_(std::move(options)) {
  VOLT_CHECK(static_cast<bool>(options_.lambda_func),
             "BackboneFinetuning: `lambda_func` is empty; leave the default (multiplicative) or pass a function");
}

void BackboneFinetuning::freeze_before_training(Module& module) {
  torch::nn::Module* backbone = backbone_of(module);
  VOLT_CHECK(backbone != nullptr, "The LightningModule should have a nn.Module `backbone` attribute (register a "
             "child module named \"backbone\")");
  freeze(*backbone);
}

void BackboneFinetuning::on_fit_start(Trainer& trainer, Module& module) {
  VOLT_CHECK(backbone_of(module) != nullptr, "The LightningModule should have a nn.Module `backbone` attribute "
             "(register a child module named \"backbone\")");
  BaseFinetuning::on_fit_start(trainer, module);
}

void BackboneFinetuning::finetune_function(Module& module, int64_t epoch, torch::optim::Optimizer& optimizer) {
  const int64_t at = options_.unfreeze_backbone_at_epoch;
  if (epoch < at) return;
  auto& groups = optimizer.param_groups();
  const double current_lr = groups.at(0).options().get_lr();
  double backbone_lr;
  if (epoch == at) {
    backbone_lr = options_.backbone_initial_lr ? *options_.backbone_initial_lr
                                               : current_lr * options_.backbone_initial_ratio_lr;
    previous_backbone_lr_ = backbone_lr;
    unfreeze_and_add_param_group(*backbone_of(module), optimizer, backbone_lr, options_.initial_denom_lr,
                                 options_.train_bn);
  } else {
    VOLT_CHECK(previous_backbone_lr_.has_value(), "BackboneFinetuning: epoch ", epoch, " is after the unfreeze "
               "epoch ", at, " but the backbone lr was never set; resume from a checkpoint written by this callback");
    backbone_lr = options_.lambda_func(epoch + 1) * *previous_backbone_lr_;
    if (options_.should_align && backbone_lr > current_lr) backbone_lr = current_lr;
    groups.back().options().set_lr(backbone_lr);  // the last group is the backbone's
    previous_backbone_lr_ = backbone_lr;
  }
  if (options_.verbose)
    rank_zero_info(concat("Current lr: ", python_float_repr(python_round(current_lr, options_.rounding)),
                          ", Backbone lr: ", python_float_repr(python_round(backbone_lr, options_.rounding))));
}

StateDict BackboneFinetuning::state_dict() {
  StateDict out = BaseFinetuning::state_dict();
  out.set("previous_backbone_lr", previous_backbone_lr_ ? IValue(*previous_backbone_lr_) : IValue());
  return out;
}

void BackboneFinetuning::load_state_dict(const StateDict& state) {
  VOLT_CHECK_T(CheckpointError, state.contains("previous_backbone_lr"),
               "BackboneFinetuning state has no 'previous_backbone_lr' key");
  IValue lr = state.at("previous_backbone_lr");
  VOLT_CHECK_T(CheckpointError, lr.isNone() || lr.isDouble() || lr.isInt(),
               "BackboneFinetuning state 'previous_backbone_lr': expected a float or None, found ", lr.tagKind());
  previous_backbone_lr_ = lr.isNone() ? std::nullopt : std::optional<double>(lr.isInt() ? lr.toInt() : lr.toDouble());
  BaseFinetuning::load_state_dict(state);
}

}  // namespace volt
