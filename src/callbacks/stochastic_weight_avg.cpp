// StochasticWeightAveraging, following Lightning 2.2.5's callbacks/stochastic_weight_avg.py hook by hook.
#include "volt/callbacks/stochastic_weight_avg.hpp"

#include <torch/torch.h>

#include "volt/error.hpp"
#include "volt/messages.hpp"
#include "volt/optim/optimizer_state.hpp"
#include "volt/optim/swa_utils.hpp"
#include "volt/serialization/python_repr.hpp"
#include "volt/trainer.hpp"

namespace volt {
namespace {

using detail::concat;

// Every BatchNorm's options, in named_modules() order (Python's `pl_module.modules()`).
std::vector<torch::nn::BatchNormOptions*> batch_norm_options(Module& module) {
  std::vector<torch::nn::BatchNormOptions*> out;
  for (const auto& m : module.modules(/*include_self=*/false)) {
    if (auto* bn = dynamic_cast<torch::nn::BatchNorm1dImpl*>(m.get())) out.push_back(&bn->options);
    else if (auto* bn2 = dynamic_cast<torch::nn::BatchNorm2dImpl*>(m.get())) out.push_back(&bn2->options);
    else if (auto* bn3 = dynamic_cast<torch::nn::BatchNorm3dImpl*>(m.get())) out.push_back(&bn3->options);
  }
  return out;
}

template <class F>
void for_each_batch_norm(Module& module, F f) {
  for (const auto& m : module.modules(/*include_self=*/false)) {
    if (auto* bn = dynamic_cast<torch::nn::BatchNorm1dImpl*>(m.get())) f(*bn);
    else if (auto* bn2 = dynamic_cast<torch::nn::BatchNorm2dImpl*>(m.get())) f(*bn2);
    else if (auto* bn3 = dynamic_cast<torch::nn::BatchNorm3dImpl*>(m.get())) f(*bn3);
  }
}

}  // namespace

StochasticWeightAveraging::StochasticWeightAveraging(StochasticWeightAveragingOptions options)
    : options_(std::move(options)) {
  const auto& start = options_.swa_epoch_start;
  VOLT_CHECK(start.is_epoch ? start.epoch >= 1 : (start.fraction >= 0 && start.fraction <= 1),
             "swa_epoch_start should be a >0 integer or a float between 0 and 1.");
  bool positive = !options_.swa_lrs.empty();
  for (double lr : options_.swa_lrs) positive = positive && lr > 0;
  VOLT_CHECK(positive, "The `swa_lrs` should a positive float, or a list of positive floats");
  if (start.is_epoch) swa_epoch_start_ = start.epoch;
}

torch::Tensor StochasticWeightAveraging::average(const torch::Tensor& averaged, const torch::Tensor& param,
                                                 const torch::Tensor& n_averaged) {
  return averaged + (param - averaged) / (n_averaged + 1);
}

std::optional<int64_t> StochasticWeightAveraging::n_averaged() const {
  if (!n_averaged_.defined()) return std::nullopt;
  return n_averaged_.item<int64_t>();
}

void StochasticWeightAveraging::setup(Trainer&, Module& module, const std::string&) {
  // Lightning's deepcopy(pl_module), before the module moves to the device: its parameters and buffers
  torch::NoGradGuard no_grad;
  StateDict live;
  append_module_state(module, "", live);
  average_state_ = StateDict();
  for (const auto& kv : live) average_state_.set(kv.key().toStringRef(), kv.value().toTensor().clone());
  parameter_names_.clear();
  for (const auto& kv : module.named_parameters()) parameter_names_.push_back(kv.key());
}

void StochasticWeightAveraging::on_fit_start(Trainer& trainer, Module& module) {
  VOLT_CHECK(trainer.optimizers().size() == 1, "SWA currently works with 1 `optimizer`.");
  VOLT_CHECK(trainer.lr_scheduler_configs().size() <= 1, "SWA currently not supported for more than 1 `lr_scheduler`.");
  const auto& start = options_.swa_epoch_start;
  if (!start.is_epoch) {
    VOLT_CHECK(trainer.max_epochs() != -1, "SWA with `swa_epoch_start` as a float is not supported when "
               "`max_epochs=-1`. Please provide `swa_epoch_start` as an integer.");
    swa_epoch_start_ = static_cast<int64_t>(static_cast<double>(trainer.max_epochs()) * start.fraction);
  }
  model_contains_batch_norm_ = !batch_norm_options(module).empty();
  max_epochs_ = trainer.max_epochs();
  // one extra epoch to recompute the BatchNorm statistics of the averaged weights
  if (model_contains_batch_norm_ && max_epochs_ != -1) trainer.set_max_epochs(trainer.max_epochs() + 1);
  // resuming: the checkpoint's scheduler state is SWALR's, restored in on_train_epoch_start, not the user's
  if (scheduler_state_) trainer.mutable_lr_scheduler_configs().clear();
}

void StochasticWeightAveraging::on_train_epoch_start(Trainer& trainer, Module& module) {
  const int64_t epoch = trainer.current_epoch();
  const bool in_swa = swa_start() <= epoch && epoch <= swa_end();
  if (!initialized_ && in_swa) {
    initialized_ = true;
    torch::Device device = options_.device ? *options_.device : trainer.device();
    for (const auto& kv : average_state_)
      average_state_.set(kv.key().toStringRef(), kv.value().toTensor().to(device));
    auto& optimizer = *trainer.optimizers()[0];
    std::vector<double> lrs = options_.swa_lrs;
    if (lrs.size() == 1) lrs.assign(optimizer.param_groups().size(), lrs[0]);
    for (size_t i = 0; i < lrs.size() && i < optimizer.param_groups().size(); ++i)
      param_group_extras(optimizer.param_groups()[i]).set("initial_lr", lrs[i]);
    swa_scheduler_ = std::make_shared<SWALR>(optimizer, lrs, options_.annealing_epochs, options_.annealing_strategy,
                                             options_.annealing_strategy == "cos" ? trainer.max_epochs() : -1);
    if (scheduler_state_) {
      swa_scheduler_->load_state_dict(*scheduler_state_);
    } else if (epoch != swa_start()) {
      rank_zero_warn("SWA is initializing after swa_start without any checkpoint data. This may be caused by "
                     "loading a checkpoint from an older version of PyTorch Lightning.");
    }
    LRSchedulerConfig config;  // interval "epoch", frequency 1
    config.scheduler = swa_scheduler_;
    auto& configs = trainer.mutable_lr_scheduler_configs();
    if (!configs.empty()) {
      const auto& user = configs[0];
      if (user.interval != "epoch" || user.frequency != 1)
        rank_zero_warn(concat("SWA is currently only supported every epoch. Found LRSchedulerConfig(scheduler=",
                              user.scheduler->class_name(), ", interval='", user.interval,
                              "', frequency=", user.frequency, ")"));
      rank_zero_info(concat("Swapping scheduler `", user.scheduler->class_name(), "` for `SWALR`"));
      configs[0] = config;
    } else {
      configs.push_back(config);
    }
    if (!n_averaged_.defined())
      n_averaged_ = torch::tensor(init_n_averaged_, torch::TensorOptions().dtype(torch::kLong).device(trainer.device()));
  }
  if (in_swa && epoch > latest_update_epoch_) {
    update_parameters(module);
    latest_update_epoch_ = epoch;
  }
  if (max_epochs_ != -1 && epoch == swa_end() + 1) {
    transfer_weights(module);
    reset_batch_norm_and_save_momenta(module);
    // Forward passes only: no backward, and with accumulation over the whole epoch plus one batch the optimizer
    // steps only on the last batch, with the gradients left from the previous epoch (Lightning skips zero_grad too).
    trainer.skip_backward = true;
    accumulate_grad_batches_ = trainer.accumulate_grad_batches();
    trainer.set_accumulate_grad_batches(trainer.num_training_batches() + 1);
  }
}

void StochasticWeightAveraging::on_train_epoch_end(Trainer& trainer, Module&) { trainer.skip_backward = false; }

void StochasticWeightAveraging::on_train_end(Trainer& trainer, Module& module) {
  // the trainer has already advanced current_epoch past the last epoch
  if (model_contains_batch_norm_ && max_epochs_ != -1 && trainer.current_epoch() - 1 == swa_end() + 1) {
    trainer.set_accumulate_grad_batches(accumulate_grad_batches_);
    trainer.set_max_epochs(trainer.max_epochs() - 1);
    restore_momenta(module);
  } else if (trainer.current_epoch() - 1 == swa_end() || max_epochs_ == -1) {
    transfer_weights(module);
  }
}

void StochasticWeightAveraging::update_parameters(Module& module) {
  torch::NoGradGuard no_grad;
  auto params = module.parameters();
  VOLT_CHECK(params.size() == parameter_names_.size(), "StochasticWeightAveraging: the module has ", params.size(),
             " parameters but had ", parameter_names_.size(), " at setup; SWA needs a fixed set of parameters");
  const bool first = n_averaged_.item<int64_t>() == 0;
  for (size_t i = 0; i < params.size(); ++i) {
    torch::Tensor averaged = average_state_.at(parameter_names_[i]).toTensor();
    torch::Tensor p = params[i].detach().to(averaged.device());
    torch::Tensor src = first ? p
                        : options_.avg_fn ? options_.avg_fn(averaged, p, n_averaged_.to(averaged.device()))
                                          : average(averaged, p, n_averaged_.to(averaged.device()));
    averaged.copy_(src);
  }
  n_averaged_ += 1;
}

void StochasticWeightAveraging::transfer_weights(Module& module) const {
  torch::NoGradGuard no_grad;
  auto params = module.parameters();
  for (size_t i = 0; i < params.size() && i < parameter_names_.size(); ++i)
    params[i].detach().copy_(average_state_.at(parameter_names_[i]).toTensor().to(params[i].device()));
}

void StochasticWeightAveraging::reset_batch_norm_and_save_momenta(Module& module) {
  torch::NoGradGuard no_grad;
  momenta_.clear();
  for_each_batch_norm(module, [&](auto& bn) {
    if (bn.running_mean.defined()) bn.running_mean.zero_();
    if (bn.running_var.defined()) bn.running_var.fill_(1);
    momenta_.push_back(bn.options.momentum());
    bn.options.momentum(c10::nullopt);  // cumulative average over the epoch
    if (bn.num_batches_tracked.defined()) bn.num_batches_tracked.mul_(0);
  });
}

void StochasticWeightAveraging::restore_momenta(Module& module) {
  size_t i = 0;
  for_each_batch_norm(module, [&](auto& bn) {
    if (i < momenta_.size()) bn.options.momentum(momenta_[i]);
    ++i;
  });
}

StateDict StochasticWeightAveraging::state_dict() {
  return {{"n_averaged", n_averaged_.defined() ? n_averaged_.item<int64_t>() : int64_t{0}},
          {"latest_update_epoch", latest_update_epoch_},
          {"scheduler_state", swa_scheduler_ ? swa_scheduler_->state_dict().ivalue() : IValue()},
          {"average_model_state", average_state_.empty() ? IValue() : average_state_.copy().ivalue()}};
}

void StochasticWeightAveraging::load_state_dict(const StateDict& state) {
  const std::string where = "StochasticWeightAveraging state";
  for (const char* key : {"n_averaged", "latest_update_epoch", "scheduler_state", "average_model_state"})
    VOLT_CHECK_T(CheckpointError, state.contains(key), where, " has no '", key, "' key");
  VOLT_CHECK_T(CheckpointError, state.at("n_averaged").isInt(), where, " 'n_averaged': expected an int");
  VOLT_CHECK_T(CheckpointError, state.at("latest_update_epoch").isInt(), where,
               " 'latest_update_epoch': expected an int");
  init_n_averaged_ = state.at("n_averaged").toInt();
  latest_update_epoch_ = state.at("latest_update_epoch").toInt();
  IValue scheduler = state.at("scheduler_state");
  scheduler_state_ = scheduler.isNone() ? std::nullopt : std::optional<StateDict>(as_state(scheduler, where));
  IValue average = state.at("average_model_state");
  if (average.isNone() || average_state_.empty()) return;
  StateDict saved = as_state(average, where + " 'average_model_state'");
  torch::NoGradGuard no_grad;
  for (const auto& kv : average_state_) {  // load_state_dict(strict=True)
    const std::string name = kv.key().toStringRef();
    VOLT_CHECK_T(CheckpointError, saved.contains(name) && saved.at(name).isTensor(), where,
                 " 'average_model_state' has no tensor '", name, "'");
    torch::Tensor target = kv.value().toTensor();
    torch::Tensor value = saved.at(name).toTensor();
    VOLT_CHECK_T(CheckpointError, value.sizes() == target.sizes(), where, " 'average_model_state' '", name,
                 "': size mismatch");
    target.copy_(value);
  }
  VOLT_CHECK_T(CheckpointError, saved.size() == average_state_.size(), where,
               " 'average_model_state' has unexpected keys");
}

}  // namespace volt
