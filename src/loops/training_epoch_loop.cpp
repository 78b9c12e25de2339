// One training epoch: Lightning's _TrainingEpochLoop with automatic and manual optimization
// (loops/training_epoch_loop.py and loops/optimization/*.py, 2.2). Each batch follows spec §2.3.
#include <torch/torch.h>

#include <cmath>

#include "volt/detail/loops.hpp"
#include "volt/error.hpp"
#include "volt/messages.hpp"
#include "volt/serialization/python_repr.hpp"

namespace volt::detail {
namespace {

// Splits what training_step returned into the loss to optimize and the extra outputs (Lightning's ClosureResult).
struct ClosureResult {
  torch::Tensor closure_loss;  // divided by accumulate_grad_batches, with its graph
  torch::Tensor loss;          // detached copy for on_train_batch_end
  c10::impl::GenericDict extra{c10::StringType::get(), c10::AnyType::get()};

  static ClosureResult from_step_output(const StepOutput& output, int64_t normalize, bool automatic) {
    ClosureResult r;
    torch::Tensor loss;
    if (output.isGenericDict()) {
      for (const auto& item : output.toGenericDict()) {
        if (!item.key().isString()) continue;
        if (item.key().toStringRef() == "loss") loss = item.value().isTensor() ? item.value().toTensor() : loss;
        else r.extra.insert(item.key(), item.value());
      }
      if (automatic && !loss.defined())
        throw MisconfigurationError(
            "In automatic_optimization, when `training_step` returns a dict, the 'loss' key needs to be present");
    } else if (output.isTensor()) {
      loss = output.toTensor();
    } else if (!output.isNone()) {
      throw MisconfigurationError(
          "In automatic optimization, `training_step` must return a Tensor, a dict, or None (where the step will be "
          "skipped).");
    }
    if (loss.defined()) {
      r.closure_loss = normalize == 1 ? loss : loss / static_cast<double>(normalize);
      r.loss = r.closure_loss.detach().clone();
    }
    return r;
  }

  StepOutput as_output() const {
    c10::impl::GenericDict out(c10::StringType::get(), c10::AnyType::get());
    if (!loss.defined()) return out;  // Lightning passes {} when the step was skipped
    out.insert("loss", loss);
    for (const auto& item : extra) out.insert(item.key(), item.value());
    return out;
  }
};

}  // namespace

TrainingEpochLoop::TrainingEpochLoop(Trainer& trainer)
    : val_loop(trainer, TrainerFn::kFitting, EvalStage::kValidation, /*inference_mode=*/false), trainer_(trainer) {}

int64_t TrainingEpochLoop::global_step() const {
  const Module* m = trainer_.module_;
  if (m == nullptr || m->automatic_optimization) return optim_progress.optimizer_steps();
  return manual_step_progress.total.completed;
}

bool TrainingEpochLoop::num_ready_batches_reached() const {
  return batch_progress.current.ready == trainer_.num_training_batches_ || batch_progress.is_last_batch;
}

bool TrainingEpochLoop::accumulated_batches_reached() const {
  return batch_progress.current.ready % trainer_.accumulate_grad_batches() == 0;
}

bool TrainingEpochLoop::batch_only_accumulated(int64_t ready) const {
  bool window_end = ready % trainer_.accumulate_grad_batches() == 0;
  bool last = ready == trainer_.num_training_batches_;
  return !window_end && !last;
}

bool TrainingEpochLoop::should_accumulate() const {
  // Lightning always steps on the last batch of the epoch.
  return !accumulated_batches_reached() && !num_ready_batches_reached();
}

bool TrainingEpochLoop::is_training_done() const {
  int64_t max_steps = trainer_.options().max_steps;
  bool max_steps_reached = max_steps != -1 && global_step() >= max_steps;
  return max_steps_reached || num_ready_batches_reached();
}

bool TrainingEpochLoop::done() const {
  bool validation_done = !restarting || val_loop.has_run;
  if (is_training_done() && validation_done) return true;
  if (trainer_.should_stop) {
    bool can_stop = trainer_.fit_loop_->can_stop_early();
    if (!can_stop) {
      const auto& o = trainer_.options();
      std::string message = concat("Trainer was signaled to stop but the required `min_epochs=", trainer_.min_epochs_,
                                   "` or `min_steps=", o.min_steps ? std::to_string(*o.min_steps) : "None",
                                   "` has not been met. Training will continue...");
      if (info_cache_.insert(message).second) rank_zero_info(message);
    }
    return can_stop;
  }
  return false;
}

bool TrainingEpochLoop::should_check_val_epoch() const {
  const auto& every = trainer_.options().check_val_every_n_epoch;
  return trainer_.enable_validation() && (!every || (trainer_.current_epoch() + 1) % *every == 0);
}

bool TrainingEpochLoop::should_check_val_fx() const {
  if (!should_check_val_epoch()) return false;
  // a stop request (e.g. early stopping) validates before stopping, once the minimums are met
  if (trainer_.should_stop && trainer_.fit_loop_->can_stop_early()) return true;
  int64_t current = trainer_.options().check_val_every_n_epoch ? batch_idx() : batch_progress.total.ready - 1;
  return (current + 1) % trainer_.val_check_batch_ == 0;
}

void TrainingEpochLoop::reset() {
  if (restarting) {
    // A checkpoint written in on_train_batch_end has its batch processed (the optimizer stepped, the weights in
    // the file include it) but not completed. Lightning 2.2 rewinds to `completed` and trains that batch a second
    // time; volt counts it as done so that resuming gives exactly the weights of an uninterrupted run.
    auto& c = batch_progress.current;
    if (c.processed > c.completed) {
      bool stepped = !batch_only_accumulated(c.ready);
      batch_progress.total.completed += c.processed - c.completed;
      c.completed = c.processed;
      if (stepped && trainer_.module_->automatic_optimization) ++batches_that_stepped;
    }
    batch_progress.reset_on_restart();
    scheduler_progress.reset_on_restart();
    optim_progress.reset_on_restart();
  } else {
    batch_progress.reset_on_run();
    scheduler_progress.reset_on_run();
    optim_progress.reset_on_run();
    // counts validation batches per epoch, for validation that runs several times an epoch
    val_loop.batch_progress.total.reset();
  }
}

void TrainingEpochLoop::run() {
  reset();
  while (!done()) {
    if (!advance()) break;  // the data ran out, or on_train_batch_start returned -1
    on_advance_end();
    restarting = false;
  }
  restarting = false;
}

bool TrainingEpochLoop::advance() {
  if (restarting && should_check_val_fx()) return true;  // resumed right before a validation: run it first
  val_loop.restarting = false;

  int64_t batch_idx = batch_progress.current.ready;
  if (batch_idx >= trainer_.num_training_batches_) return false;
  trainer_.apply_pending_resume();  // a resumed fit: the random state and gradients of the checkpoint
  HookCaller& hooks = *trainer_.hooks_;
  hooks.train_batch_timing_begin();  // the slow-callback warning's batch time: fetch to on_train_batch_end
  Batch batch;
  {
    ActionScope profile(hooks.profiler(), actions::kTrainNext);
    batch = trainer_.fit_loop_->train_loader->batch(batch_idx);
  }
  batch_progress.is_last_batch = batch_idx + 1 >= trainer_.num_training_batches_;

  batch = hooks.transfer_batch(std::move(batch), 0);
  batch_progress.increment_ready();
  trainer_.on_batch_start_logging(batch, std::nullopt);

  StepOutput batch_output;
  int response = hooks.train_batch_start(batch, batch_idx);
  if (response == -1) {
    batch_progress.increment_processed();
    hooks.train_batch_timing_end();
    return false;
  }
  batch_progress.increment_started();
  {
    ActionScope profile(hooks.profiler(), actions::kRunTrainingBatch);
    batch_output = trainer_.module_->automatic_optimization ? run_automatic_optimization(batch, batch_idx)
                                                            : run_manual_optimization(batch, batch_idx);
  }
  batch_progress.increment_processed();

  update_lr_schedulers("step", /*update_plateau_schedulers=*/false);
  if (num_ready_batches_reached()) update_lr_schedulers("epoch", /*update_plateau_schedulers=*/false);

  hooks.train_batch_end(batch_output, batch, batch_idx);
  hooks.train_batch_timing_end();
  trainer_.on_batch_end_logging();
  batch_progress.increment_completed();
  trainer_.update_train_step_metrics();
  return true;
}

void TrainingEpochLoop::on_advance_end() {
  if (should_check_val_fx()) {
    trainer_.validating_ = true;
    auto first_loop_iter = trainer_.first_loop_iter_;
    if (!should_accumulate()) trainer_.hooks_->validation_model_zero_grad();
    val_loop.run();
    trainer_.validating_ = false;
    trainer_.first_loop_iter_ = first_loop_iter;
  }
  update_lr_schedulers("step", /*update_plateau_schedulers=*/true);
  if (!should_accumulate()) ++batches_that_stepped;
  if (trainer_.should_update_logs())
    for (const auto& logger : trainer_.loggers()) logger->save();
  if (!is_training_done()) trainer_.handle_preemption_signal();
}

StepOutput TrainingEpochLoop::run_automatic_optimization(const Batch& batch, int64_t batch_idx) {
  HookCaller& hooks = *trainer_.hooks_;
  torch::optim::Optimizer& optimizer = *trainer_.optimizers_.at(0);
  const int64_t accumulate = trainer_.accumulate_grad_batches();
  const int64_t epoch = trainer_.current_epoch();
  ClosureResult result;

  // training_step → zero_grad (first batch of an accumulation window) → backward
  auto closure = [&]() -> torch::Tensor {
    result = ClosureResult::from_step_output(hooks.training_step(batch, batch_idx), accumulate, true);
    check_loss(result.closure_loss, batch_idx);
    if (!result.closure_loss.defined())
      rank_zero_warn("`training_step` returned `None`. If this was on purpose, ignore this warning...");
    if (batch_idx % accumulate == 0 && !trainer_.skip_backward) {  // Lightning skips both under _skip_backward
      optim_progress.zero_grad.increment_ready();
      hooks.before_zero_grad(optimizer);
      optim_progress.zero_grad.increment_started();
      hooks.optimizer_zero_grad(epoch, batch_idx, optimizer);
      optim_progress.zero_grad.increment_completed();
    }
    if (result.closure_loss.defined() && !trainer_.skip_backward) hooks.backward(result.closure_loss);
    return result.closure_loss;
  };

  if (should_accumulate()) {
    closure();
  } else {
    StepClosure wrapped = [&]() {
      torch::Tensor loss = closure();
      hooks.after_closure(optimizer, /*clip=*/true);
      return loss;
    };
    optim_progress.step.increment_ready();
    hooks.optimizer_step(epoch, batch_idx, optimizer, wrapped);
    optim_progress.step.increment_completed();
  }
  return result.as_output();
}

StepOutput TrainingEpochLoop::run_manual_optimization(const Batch& batch, int64_t batch_idx) {
  StepOutput output = trainer_.hooks_->training_step(batch, batch_idx);
  if (output.isTensor()) check_loss(output.toTensor(), batch_idx);
  c10::impl::GenericDict out(c10::StringType::get(), c10::AnyType::get());
  if (output.isTensor()) {
    out.insert("loss", output.toTensor().detach());
  } else if (output.isGenericDict()) {
    for (const auto& item : output.toGenericDict())
      out.insert(item.key(), item.value().isTensor() ? IValue(item.value().toTensor().detach()) : item.value());
  } else if (!output.isNone()) {
    throw MisconfigurationError(
        "In manual optimization, `training_step` must either return a Tensor, a dict, or None. Found another type.");
  }
  return out;
}

void TrainingEpochLoop::check_loss(const torch::Tensor& loss, int64_t batch_idx) {
  const std::string& action = trainer_.options_.non_finite_loss;
  if (action == "ignore" || !loss.defined()) return;
  // "warn" never synchronises an accelerator (a host read per step would serialise it); "raise" was asked for.
  if (!loss.is_cpu() && action == "warn") return;
  // One host read of the loss per batch; a scalar loss (the usual case) needs no reduction kernel.
  const bool finite = loss.numel() == 1 ? std::isfinite(loss.item<double>()) : torch::isfinite(loss).all().item<bool>();
  const bool starts_run = !finite && last_loss_finite_;
  last_loss_finite_ = finite;
  if (!starts_run) return;  // a run of NaNs (the weights are NaN by then) is reported once, where it starts
  std::string value = loss.numel() == 1 ? python_repr(IValue(loss.item<double>())) : "not finite";
  std::string where = concat("The training loss is ", value, " at epoch ", trainer_.current_epoch(), ", batch ",
                             batch_idx, " (global step ", trainer_.global_step(), ").");
  if (action == "raise") throw NonFiniteLossError(where);
  rank_zero_warn(where + " Lower the learning rate, clip the gradients (gradient_clip_val) or check the inputs; "
                         "Trainer(non_finite_loss='raise') stops the run at this point.");
}

void TrainingEpochLoop::update_lr_schedulers(const std::string& interval, bool update_plateau_schedulers) {
  if (interval == "step" && should_accumulate()) return;
  if (trainer_.lr_scheduler_configs_.empty() || !trainer_.module_->automatic_optimization) return;
  for (const auto& config : trainer_.lr_scheduler_configs_) {
    bool plateau = config.scheduler->needs_metric();
    if (update_plateau_schedulers != plateau) continue;
    int64_t current_idx = (interval == "step" ? batch_idx() : trainer_.current_epoch()) + 1;
    if (config.interval != interval || current_idx % config.frequency != 0) continue;
    std::optional<double> metric;
    if (plateau) {
      auto metrics = trainer_.callback_metrics();
      auto it = metrics.find(config.monitor);
      if (it == metrics.end()) {
        if (config.strict) {
          std::string available;
          for (const auto& kv : metrics) available += (available.empty() ? "'" : ", '") + kv.first + "'";
          throw MisconfigurationError(concat("ReduceLROnPlateau conditioned on metric ", config.monitor,
                                             " which is not available. Available metrics are: [", available,
                                             "]. Condition can be set using `monitor` key in lr scheduler dict"));
        }
        rank_zero_warn(concat("ReduceLROnPlateau conditioned on metric ", config.monitor,
                              " which is not available but strict is set to `False`. Skipping learning rate update."));
        continue;
      }
      metric = it->second.item<double>();
    }
    scheduler_progress.increment_ready();
    trainer_.hooks_->lr_scheduler_step(*config.scheduler, metric);
    scheduler_progress.increment_completed();
  }
}

}  // namespace volt::detail
