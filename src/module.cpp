// Module's defaults (Lightning's LightningModule and ModelHooks/DataHooks/CheckpointHooks bodies) and log().
#include "volt/module.hpp"

#include <torch/torch.h>

#include "volt/detail/hook_caller.hpp"
#include "volt/detail/loops.hpp"
#include "volt/error.hpp"
#include "volt/trainer.hpp"

namespace volt {

Module::Module() = default;
Module::Module(const std::string& name) : torch::nn::Module(name) {}
Module::~Module() = default;

StepOutput Module::training_step(const Batch&, int64_t) {
  throw MisconfigurationError("`training_step` must be implemented to be used with the volt Trainer: override "
                              "Module::training_step(batch, batch_idx)");
}
StepOutput Module::validation_step(const Batch&, int64_t, int64_t) { return IValue(); }
StepOutput Module::test_step(const Batch&, int64_t, int64_t) { return IValue(); }
StepOutput Module::predict_step(const Batch&, int64_t, int64_t) {
  throw MisconfigurationError("`predict_step` must be implemented to be used with `Trainer::predict`: override "
                              "Module::predict_step(batch, batch_idx, dataloader_idx)");
}
OptimizerConfig Module::configure_optimizers() {
  throw MisconfigurationError("`configure_optimizers` must be implemented to be used with the volt Trainer: "
                              "override Module::configure_optimizers() and return an optimizer");
}
std::vector<CallbackPtr> Module::configure_callbacks() { return {}; }
void Module::configure_model() {}

void Module::prepare_data() {}
void Module::setup(const std::string&) {}
void Module::teardown(const std::string&) {}
std::shared_ptr<DataLoader> Module::train_dataloader() { return nullptr; }
std::shared_ptr<DataLoader> Module::val_dataloader() { return nullptr; }
std::shared_ptr<DataLoader> Module::test_dataloader() { return nullptr; }
std::shared_ptr<DataLoader> Module::predict_dataloader() { return nullptr; }
Batch Module::on_before_batch_transfer(Batch batch, int64_t) { return batch; }
Batch Module::on_after_batch_transfer(Batch batch, int64_t) { return batch; }

namespace {
IValue move_to(const IValue& v, const torch::Device& device) {
  if (v.isTensor()) return v.toTensor().to(device);
  if (v.isTuple()) {
    std::vector<IValue> items;
    for (const auto& e : v.toTupleRef().elements()) items.push_back(move_to(e, device));
    return c10::ivalue::Tuple::create(std::move(items));
  }
  if (v.isList()) {
    c10::impl::GenericList out(v.toList().elementType());
    for (const auto& e : v.toListRef()) out.push_back(move_to(e, device));
    return out;
  }
  if (v.isGenericDict()) {
    auto in = v.toGenericDict();
    c10::impl::GenericDict out(in.keyType(), in.valueType());
    for (const auto& e : in) out.insert(e.key(), move_to(e.value(), device));
    return out;
  }
  return v;
}
}  // namespace

Batch Module::transfer_batch_to_device(Batch batch, const torch::Device& device, int64_t) {
  if (device.is_cpu() && !batch.isTuple() && !batch.isList() && !batch.isGenericDict() &&
      !(batch.isTensor() && !batch.toTensor().device().is_cpu()))
    return batch;  // nothing to move
  return move_to(batch, device);
}

void Module::on_fit_start() {}
void Module::on_fit_end() {}
void Module::on_train_start() {}
void Module::on_train_end() {}
void Module::on_train_epoch_start() {}
void Module::on_train_epoch_end() {}
int Module::on_train_batch_start(const Batch&, int64_t) { return 0; }
void Module::on_train_batch_end(const StepOutput&, const Batch&, int64_t) {}
void Module::on_validation_start() {}
void Module::on_validation_end() {}
void Module::on_validation_epoch_start() {}
void Module::on_validation_epoch_end() {}
void Module::on_validation_batch_start(const Batch&, int64_t, int64_t) {}
void Module::on_validation_batch_end(const StepOutput&, const Batch&, int64_t, int64_t) {}
void Module::on_test_start() {}
void Module::on_test_end() {}
void Module::on_test_epoch_start() {}
void Module::on_test_epoch_end() {}
void Module::on_test_batch_start(const Batch&, int64_t, int64_t) {}
void Module::on_test_batch_end(const StepOutput&, const Batch&, int64_t, int64_t) {}
void Module::on_predict_start() {}
void Module::on_predict_end() {}
void Module::on_predict_epoch_start() {}
void Module::on_predict_epoch_end() {}
void Module::on_predict_batch_start(const Batch&, int64_t, int64_t) {}
void Module::on_predict_batch_end(const StepOutput&, const Batch&, int64_t, int64_t) {}
void Module::on_validation_model_zero_grad() { zero_grad(); }
void Module::on_validation_model_eval() { eval(); }
void Module::on_test_model_eval() { eval(); }
void Module::on_predict_model_eval() { eval(); }
void Module::on_validation_model_train() { train(); }
void Module::on_test_model_train() { train(); }

void Module::on_before_zero_grad(torch::optim::Optimizer&) {}
void Module::on_before_backward(const torch::Tensor&) {}
void Module::on_after_backward() {}
void Module::on_before_optimizer_step(torch::optim::Optimizer&) {}
void Module::optimizer_step(int64_t, int64_t, torch::optim::Optimizer& optimizer, const StepClosure& closure) {
  optimizer.step(closure);
}
void Module::optimizer_zero_grad(int64_t, int64_t, torch::optim::Optimizer& optimizer) { optimizer.zero_grad(); }
void Module::backward(const torch::Tensor& loss) { loss.backward(); }
void Module::configure_gradient_clipping(torch::optim::Optimizer& optimizer, std::optional<double> gradient_clip_val,
                                         std::optional<std::string> gradient_clip_algorithm) {
  clip_gradients(optimizer, gradient_clip_val, std::move(gradient_clip_algorithm));
}
void Module::lr_scheduler_step(LRScheduler& scheduler, std::optional<double> metric) {
  if (scheduler.needs_metric()) {
    VOLT_CHECK(metric.has_value(), "lr_scheduler_step: ", scheduler.class_name(), " needs a monitored metric");
    scheduler.step(*metric);
  } else {
    scheduler.step();
  }
}
void Module::on_save_checkpoint(StateDict&) {}
void Module::on_load_checkpoint(StateDict&) {}

void Module::clip_gradients(torch::optim::Optimizer& optimizer, std::optional<double> gradient_clip_val,
                            std::optional<std::string> gradient_clip_algorithm) {
  if (!gradient_clip_val || *gradient_clip_val == 0.0) return;
  VOLT_CHECK(*gradient_clip_val > 0, "`gradient_clip_val` should be >= 0, got ", *gradient_clip_val);
  std::string algorithm = gradient_clip_algorithm.value_or("norm");
  std::vector<torch::Tensor> params;
  for (const auto& group : optimizer.param_groups())
    for (const auto& p : group.params()) params.push_back(p);
  torch::NoGradGuard no_grad;
  if (algorithm == "norm") torch::nn::utils::clip_grad_norm_(params, *gradient_clip_val);
  else if (algorithm == "value") torch::nn::utils::clip_grad_value_(params, *gradient_clip_val);
  else throw MisconfigurationError("`gradient_clip_algorithm` " + algorithm + " is invalid. Allowed algorithms: "
                                   "['value', 'norm'].");
}

// ---- logging --------------------------------------------------------------------------------------------------

void Module::log(const std::string& name, const torch::Tensor& value, const LogOptions& options) {
  VOLT_CHECK(trainer_ != nullptr, "You are trying to `self.log()` but the module is not attached to a `Trainer`: "
             "call log() from hooks while fit/validate/test runs");
  VOLT_CHECK(value.numel() == 1, "`self.log(", name, ", ", "value)` was called, but the tensor must have a single "
             "element. You can try doing `self.log(", name, ", value.mean())`");
  LogOptions resolved = options;
  detail::check_log_allowed(current_fx_, resolved);
  auto* results = trainer_->active_results();
  VOLT_CHECK(results != nullptr, "You are trying to `self.log()` but the loop's result collection is not registered "
             "yet. This is most likely because you are trying to log in a `predict` hook, but it doesn't support "
             "logging");
  int64_t batch_size = 1;
  if (resolved.batch_size) batch_size = *resolved.batch_size;
  else if (resolved.reduce_fx == "mean" && *resolved.on_epoch) batch_size = trainer_->current_batch_size();
  results->log(current_fx_, name, value.reshape({}), resolved, batch_size);
}

void Module::log(const std::string& name, double value, const LogOptions& options) {
  log(name, torch::tensor(value, torch::kFloat), options);
}

void Module::log_dict(const std::vector<std::pair<std::string, torch::Tensor>>& values, const LogOptions& options) {
  for (const auto& kv : values) log(kv.first, kv.second, options);
}

// ---- manual optimization --------------------------------------------------------------------------------------

void Module::manual_backward(const torch::Tensor& loss) {
  VOLT_CHECK(!automatic_optimization, "to use manual_backward, please disable automatic optimization: set "
             "`automatic_optimization = false` in your Module");
  trainer().hooks_->backward(loss);
}

const std::vector<std::shared_ptr<torch::optim::Optimizer>>& Module::optimizers() const {
  return trainer().optimizers();
}

const std::vector<LRSchedulerConfig>& Module::lr_schedulers() const { return trainer().lr_scheduler_configs(); }

void Module::manual_optimizer_step(torch::optim::Optimizer& optimizer, const StepClosure& closure) {
  VOLT_CHECK(!automatic_optimization, "manual_optimizer_step is for manual optimization: set "
             "`automatic_optimization = false` in your Module");
  Trainer& t = trainer();
  auto& progress = t.fit_loop_->epoch_loop.manual_step_progress;
  progress.increment_ready();
  if (closure) {
    optimizer.step([&]() {
      torch::Tensor loss = closure();
      t.hooks_->after_closure(optimizer, /*clip=*/false);
      return loss;
    });
  } else {
    t.hooks_->after_closure(optimizer, /*clip=*/false);
    optimizer.step();
  }
  progress.increment_completed();
}

// ---- context --------------------------------------------------------------------------------------------------

void Module::save_hyperparameters(const StateDict& hparams) { hparams_ = hparams.copy(); }

Trainer& Module::trainer() const {
  VOLT_CHECK(trainer_ != nullptr, "Module `", name(), "` is not attached to a `Trainer`.");
  return *trainer_;
}

int64_t Module::current_epoch() const { return trainer_ ? trainer_->current_epoch() : 0; }
int64_t Module::global_step() const { return trainer_ ? trainer_->global_step() : 0; }
torch::Device Module::device() const { return trainer_ ? trainer_->device() : torch::Device(torch::kCPU); }

}  // namespace volt
