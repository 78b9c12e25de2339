// The epoch loop of fit: Lightning's _FitLoop (loops/fit_loop.py, 2.2).
#include <torch/torch.h>

#include "volt/detail/loops.hpp"
#include "volt/detail/overrides.hpp"
#include "volt/error.hpp"
#include "volt/messages.hpp"

namespace volt::detail {

FitLoop::FitLoop(Trainer& trainer) : epoch_loop(trainer), trainer_(trainer) {}

bool FitLoop::can_stop_early() const {
  bool met_min_epochs = trainer_.min_epochs_ <= 0 || epoch_progress.current.processed >= trainer_.min_epochs_;
  const auto& min_steps = trainer_.options().min_steps;
  bool met_min_steps = !min_steps || *min_steps <= 0 || epoch_loop.global_step() >= *min_steps;
  return met_min_epochs && met_min_steps;
}

bool FitLoop::done() const {
  if (trainer_.num_training_batches_ == 0) {
    rank_zero_info("`Trainer.fit` stopped: No training batches.");
    return true;
  }
  int64_t max_steps = trainer_.options().max_steps;
  if (max_steps != -1 && epoch_loop.global_step() >= max_steps) {
    rank_zero_info(concat("`Trainer.fit` stopped: `max_steps=", max_steps, "` reached."));
    return true;
  }
  int64_t max_epochs = trainer_.max_epochs_;
  // `processed` rises before on_train_epoch_end, where checkpoints are written, so a resumed run sees it
  if (max_epochs != -1 && epoch_progress.current.processed >= max_epochs) {
    const_cast<FitLoop*>(this)->epoch_progress.current.completed = epoch_progress.current.processed;
    rank_zero_info(concat("`Trainer.fit` stopped: `max_epochs=", max_epochs, "` reached."));
    return true;
  }
  return trainer_.should_stop && can_stop_early();
}

void FitLoop::setup_data() {
  if (data_ready_) return;
  const auto& o = trainer_.options();
  if (o.limit_train_batches.is_zero() || !is_overridden(*trainer_.module_, &Module::training_step)) return;
  train_loader = trainer_.request_dataloader("train");
  trainer_.barrier("train_dataloader()");
  if (!train_loader)
    throw MisconfigurationError(
        "No `train_dataloader()` method defined to run `Trainer.fit`: return a DataLoader from "
        "Module::train_dataloader or DataModule::train_dataloader, or pass one to fit()");
  data_ready_ = true;
  int64_t max_batches = limited_num_batches(train_loader->size(), o.limit_train_batches, "limit_train_batches");
  trainer_.num_training_batches_ = max_batches;
  if (max_batches == 0) return;
  const BatchLimit& interval = o.val_check_interval;
  if (interval.is_count) {
    trainer_.val_check_batch_ = interval.count;
    if (interval.count > max_batches && o.check_val_every_n_epoch)
      throw MisconfigurationError(concat(
          " `val_check_interval` (", interval.count, ") must be less than or equal to the number of the training "
          "batches (", max_batches, "). If you want to disable validation set `limit_val_batches` to 0.0 instead. If "
          "you want to validate based on the total training batches, set `check_val_every_n_epoch=None`."));
  } else {
    trainer_.val_check_batch_ = std::max<int64_t>(1, static_cast<int64_t>(max_batches * interval.fraction));
  }
  if (!trainer_.loggers().empty() && max_batches < o.log_every_n_steps && o.fast_dev_run == 0)
    rank_zero_warn(concat("The number of training batches (", max_batches,
                          ") is smaller than the logging interval Trainer(log_every_n_steps=", o.log_every_n_steps,
                          "). Set a lower value for log_every_n_steps if you want to see logs for the training epoch."));
}

void FitLoop::set_restarting(bool value) {
  const auto& c = epoch_progress.current;
  bool epoch_unfinished = c.ready != c.processed || c.started != c.processed;
  bool iteration_based = trainer_.options().max_steps != -1;
  restarting = (value && epoch_unfinished) || iteration_based;
  epoch_loop.restarting = restarting;
  epoch_loop.val_loop.restarting = restarting;
}

void FitLoop::reset() {
  if (restarting) epoch_progress.reset_on_restart();
}

void FitLoop::run() {
  setup_data();
  if (done() || trainer_.options().limit_train_batches.is_zero()) return;
  reset();
  on_run_start();
  while (!done()) {
    on_advance_start();
    {
      ActionScope profile(trainer_.hooks_->profiler(), actions::kRunTrainingEpoch);
      epoch_loop.run();
    }
    on_advance_end();
    restarting = false;
  }
  restarting = false;
  trainer_.hooks_->train_end();
}

void FitLoop::on_run_start() {
  // after an epoch-end checkpoint, `processed` is one ahead of `completed`
  if (trainer_.options().max_steps == -1) epoch_progress.current.completed = epoch_progress.current.processed;
  if (epoch_loop.should_check_val_epoch()) {
    trainer_.validating_ = true;
    epoch_loop.val_loop.setup_data();
    trainer_.validating_ = false;
  }
  trainer_.hooks_->train_start();
}

void FitLoop::on_advance_start() {
  setup_data();
  // A resumed fit continues either inside an epoch (the epoch loop restores the random state right before its next
  // batch) or at the start of one: then the random state is restored here, before set_epoch, as it was when the
  // checkpoint was written at the end of the previous epoch.
  const auto& batches = epoch_loop.batch_progress.current;
  const bool resumes_mid_epoch =
      epoch_loop.restarting && batches.ready > 0 && batches.ready < trainer_.num_training_batches_;
  if (!resumes_mid_epoch) trainer_.apply_pending_resume();
  train_loader->set_epoch(epoch_progress.current.processed);
  if (resumes_mid_epoch && trainer_.pending_resume_ && trainer_.pending_resume_->contains("train_loader"))
    train_loader->load_state_dict(as_state(trainer_.pending_resume_->at("train_loader"),
                                           "checkpoint '" + trainer_.ckpt_path_ + "' key 'volt_resume.train_loader'"));
  epoch_progress.increment_ready();
  trainer_.hooks_->train_epoch_start();
  epoch_progress.increment_started();
}

void FitLoop::on_advance_end() {
  trainer_.epoch_end_reached();
  epoch_progress.increment_processed();
  trainer_.hooks_->train_epoch_end();
  trainer_.on_epoch_end_logging();
  // Lightning 2.2 calls update_lr_schedulers("epoch", update_plateau_schedulers=not restarting) here. In an epoch
  // that was resumed (restarting) that steps the non-plateau schedulers a second time: the epoch loop already
  // stepped them after the epoch's last batch (in this process after a mid-epoch resume, or before the checkpoint
  // was written after an epoch-end one), so Lightning's resumed learning rates are off by one step. volt steps
  // only what has not been stepped: plateau schedulers when not restarting (their metric is not in the
  // checkpoint, as in Lightning), nothing when restarting, so that a resume is bit-identical.
  if (!restarting && epoch_loop.num_ready_batches_reached())
    epoch_loop.update_lr_schedulers("epoch", /*update_plateau_schedulers=*/true);
  // loggers expect epoch-end metrics at the step of the epoch's last batch
  --epoch_loop.batches_that_stepped;
  trainer_.update_train_epoch_metrics();
  ++epoch_loop.batches_that_stepped;
  epoch_progress.increment_completed();
  trainer_.handle_preemption_signal();
}

StateDict FitLoop::state_dict() const {
  const auto& e = epoch_loop;
  return {
      {"state_dict", StateDict()},
      {"epoch_loop.state_dict", StateDict{{"_batches_that_stepped", e.batches_that_stepped}}},
      {"epoch_loop.batch_progress", e.batch_progress.state_dict()},
      {"epoch_loop.scheduler_progress", e.scheduler_progress.state_dict()},
      {"epoch_loop.automatic_optimization.state_dict", StateDict()},
      {"epoch_loop.automatic_optimization.optim_progress", e.optim_progress.state_dict()},
      {"epoch_loop.manual_optimization.state_dict", StateDict()},
      {"epoch_loop.manual_optimization.optim_step_progress", e.manual_step_progress.state_dict()},
      {"epoch_loop.val_loop.state_dict", StateDict()},
      {"epoch_loop.val_loop.batch_progress", e.val_loop.batch_progress.state_dict()},
      {"epoch_progress", epoch_progress.state_dict()},
  };
}

void FitLoop::load_state_dict(const StateDict& state, const std::string& where) {
  auto part = [&](const char* key) -> std::optional<StateDict> {
    if (!state.contains(key)) return std::nullopt;
    return as_state(state.at(key), where + "." + key);
  };
  auto sub = [&](const char* key) { return where + "." + key; };
  auto& e = epoch_loop;
  if (auto s = part("epoch_loop.state_dict")) {
    auto v = s->get("_batches_that_stepped", IValue(int64_t(0)));
    if (!v.isInt()) throw CheckpointError(where + ".epoch_loop.state_dict._batches_that_stepped: expected an int");
    e.batches_that_stepped = v.toInt();
  }
  if (auto s = part("epoch_loop.batch_progress")) e.batch_progress.load_state_dict(*s, sub("epoch_loop.batch_progress"));
  if (auto s = part("epoch_loop.scheduler_progress"))
    e.scheduler_progress.load_state_dict(*s, sub("epoch_loop.scheduler_progress"));
  if (auto s = part("epoch_loop.automatic_optimization.optim_progress"))
    e.optim_progress.load_state_dict(*s, sub("epoch_loop.automatic_optimization.optim_progress"));
  if (auto s = part("epoch_loop.manual_optimization.optim_step_progress"))
    e.manual_step_progress.load_state_dict(*s, sub("epoch_loop.manual_optimization.optim_step_progress"));
  if (auto s = part("epoch_loop.val_loop.batch_progress"))
    e.val_loop.batch_progress.load_state_dict(*s, sub("epoch_loop.val_loop.batch_progress"));
  if (auto s = part("epoch_progress")) epoch_progress.load_state_dict(*s, sub("epoch_progress"));
  set_restarting(true);
}

}  // namespace volt::detail
