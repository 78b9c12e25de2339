// Validation and test loops: Lightning's _EvaluationLoop (loops/evaluation_loop.py, 2.2).
#include <torch/torch.h>

#include "volt/detail/loops.hpp"
#include "volt/detail/overrides.hpp"
#include "volt/error.hpp"

namespace volt::detail {

int64_t limited_num_batches(int64_t length, const BatchLimit& limit, const char* option) {
  return limit.resolve(length, option);
}

EvaluationLoop::EvaluationLoop(Trainer& trainer, TrainerFn fn, EvalStage stage, bool inference_mode)
    : trainer_(trainer), fn_(fn), stage_(stage), inference_mode_(inference_mode) {}

bool EvaluationLoop::enabled() const {
  const Module& m = *trainer_.module_;
  return stage_ == EvalStage::kTest ? is_overridden(m, &Module::test_step) : is_overridden(m, &Module::validation_step);
}

const std::vector<int64_t>& EvaluationLoop::max_batches() const {
  return trainer_.sanity_checking() ? sanity_batches : limited_batches;
}

void EvaluationLoop::setup_data() {
  if (data_ready_ && fn_ == TrainerFn::kFitting) return;  // fit requests the val loader once
  const auto& o = trainer_.options();
  const BatchLimit& limit = stage_ == EvalStage::kTest ? o.limit_test_batches : o.limit_val_batches;
  if (limit.is_zero() || !enabled()) return;
  const char* kind = stage_ == EvalStage::kTest ? "test" : "val";
  auto loader = trainer_.request_dataloader(kind);
  trainer_.barrier(std::string(kind) + "_dataloader()");
  loaders_.clear();
  if (loader) loaders_.push_back(loader);
  limited_batches.clear();
  sanity_batches.clear();
  const char* option = stage_ == EvalStage::kTest ? "limit_test_batches" : "limit_val_batches";
  for (const auto& dl : loaders_) {
    int64_t n = limited_num_batches(dl->size(), limit, option);
    limited_batches.push_back(n);
    int64_t sanity = o.num_sanity_val_steps < 0 ? n : std::min(o.num_sanity_val_steps, n);
    sanity_batches.push_back(sanity);
  }
  data_ready_ = true;
}

void EvaluationLoop::reset() {
  has_run = false;
  if (!restarting) batch_progress.reset_on_run();
  else batch_progress.reset_on_restart();
  // validate/test have no epochs: a new run always starts from the first batch
  if (trainer_.fn() != TrainerFn::kFitting) batch_progress.reset_on_run();
  if (trainer_.fn() == TrainerFn::kFitting)
    for (auto& dl : loaders_) dl->set_epoch(trainer_.fit_loop_->epoch_progress.current.processed);
  seen_batches_.assign(loaders_.size(), 0);
}

void ModuleMode::capture(const torch::nn::Module& root) {
  flags_.clear();
  flags_.push_back(root.is_training());
  for (const auto& m : root.modules(/*include_self=*/false)) flags_.push_back(m->is_training());
}

void ModuleMode::restore(torch::nn::Module& root) const {
  if (flags_.empty()) return;
  // Pre-order, so a parent's train(flag) is corrected by its children afterwards.
  root.train(flags_[0]);
  auto modules = root.modules(/*include_self=*/false);
  for (size_t i = 0; i < modules.size() && i + 1 < flags_.size(); ++i)
    if (modules[i]->is_training() != flags_[i + 1]) modules[i]->train(flags_[i + 1]);
}

std::vector<MetricMap> EvaluationLoop::run() {
  // Inside fit: no_grad; validate/test: inference mode unless the trainer turned it off.
  std::optional<torch::NoGradGuard> no_grad;
  std::optional<c10::InferenceMode> inference;
  if (inference_mode_) inference.emplace();
  else no_grad.emplace();

  setup_data();
  int64_t total = 0;
  for (auto n : max_batches()) total += n;
  if (total == 0) return {};
  reset();

  HookCaller& hooks = *trainer_.hooks_;
  module_mode_.capture(*trainer_.module_);
  hooks.eval_model_eval(stage_);
  hooks.eval_start(stage_);
  hooks.eval_epoch_start(stage_);

  std::vector<MetricMap> logged_outputs;
  const auto limits = max_batches();
  const bool several = loaders_.size() > 1;
  int64_t seen_before = batch_progress.current.ready;  // a restarted loop skips what it already ran
  for (size_t dl_idx = 0; dl_idx < loaders_.size(); ++dl_idx) {
    if (dl_idx > 0) logged_outputs.push_back(store_dataloader_outputs());
    for (int64_t batch_idx = 0; batch_idx < limits[dl_idx]; ++batch_idx) {
      if (seen_before > 0) {
        --seen_before;
        continue;
      }
      bool last_loader = dl_idx + 1 == loaders_.size();
      batch_progress.is_last_batch = last_loader && batch_idx + 1 == limits[dl_idx];
      Batch batch = loaders_[dl_idx]->batch(batch_idx);
      evaluation_step(batch, batch_idx, several ? static_cast<int64_t>(dl_idx) : 0);
    }
  }
  restarting = false;
  logged_outputs.push_back(store_dataloader_outputs());

  // on_run_end
  trainer_.epoch_end_reached();
  results.dataloader_idx.reset();
  hooks.eval_epoch_end(stage_);
  trainer_.on_epoch_end_logging();
  MetricMap epoch_end_logged = trainer_.update_eval_epoch_metrics();
  MetricMap all_logged;
  for (auto& outputs : logged_outputs) {
    for (const auto& kv : outputs) all_logged.insert(kv);
    for (const auto& kv : epoch_end_logged) outputs[kv.first] = kv.second;
  }
  for (const auto& kv : epoch_end_logged) all_logged[kv.first] = kv.second;
  if (!trainer_.sanity_checking()) trainer_.log_metrics(all_logged);
  hooks.eval_end(stage_);
  trainer_.reset_results();
  const Module& m = *trainer_.module_;
  bool custom_train = stage_ == EvalStage::kTest ? is_overridden(m, &Module::on_test_model_train)
                                                 : is_overridden(m, &Module::on_validation_model_train);
  if (custom_train) hooks.eval_model_train(stage_);
  else module_mode_.restore(*trainer_.module_);
  return logged_outputs;
}

void EvaluationLoop::evaluation_step(const Batch& raw, int64_t batch_idx, int64_t dataloader_idx) {
  HookCaller& hooks = *trainer_.hooks_;
  Batch batch = hooks.transfer_batch(raw, dataloader_idx);
  batch_progress.increment_ready();
  trainer_.on_batch_start_logging(batch, loaders_.size() > 1 ? std::optional<int64_t>(dataloader_idx) : std::nullopt);
  hooks.eval_batch_start(stage_, batch, batch_idx, dataloader_idx);
  batch_progress.increment_started();
  StepOutput output = hooks.eval_step(stage_, batch, batch_idx, dataloader_idx);
  batch_progress.increment_processed();
  hooks.eval_batch_end(stage_, output, batch, batch_idx, dataloader_idx);
  trainer_.on_batch_end_logging();
  batch_progress.increment_completed();
  if (!trainer_.sanity_checking()) {
    has_run = true;
    trainer_.log_metrics(trainer_.live_metrics().log, seen_batches_[dataloader_idx]);
    ++seen_batches_[dataloader_idx];
  }
  if (!batch_progress.is_last_batch && trainer_.received_signal())
    throw SignalError(0, "volt: stopping at a safe point after a termination signal");
}

MetricMap EvaluationLoop::store_dataloader_outputs() {
  trainer_.epoch_end_reached();
  return trainer_.update_eval_epoch_metrics();
}

StateDict EvaluationLoop::state_dict() const {
  return {{"state_dict", StateDict()}, {"batch_progress", batch_progress.state_dict()}};
}

void EvaluationLoop::load_state_dict(const StateDict& state, const std::string& where) {
  if (state.contains("batch_progress"))
    batch_progress.load_state_dict(as_state(state.at("batch_progress"), where + ".batch_progress"),
                                   where + ".batch_progress");
  restarting = true;
}

}  // namespace volt::detail
