// Lightning's _PredictionLoop (loops/prediction_loop.py, 2.2).
#include <torch/torch.h>

#include "volt/detail/loops.hpp"
#include "volt/error.hpp"
#include "volt/messages.hpp"

namespace volt::detail {

PredictionLoop::PredictionLoop(Trainer& trainer, bool inference_mode)
    : trainer_(trainer), inference_mode_(inference_mode) {
  batch_progress.has_last_batch_flag = false;  // Lightning's predict loop keeps a plain _Progress
}

std::vector<IValue> PredictionLoop::run() {
  std::optional<torch::NoGradGuard> no_grad;
  std::optional<c10::InferenceMode> inference;
  if (inference_mode_) inference.emplace();
  else no_grad.emplace();

  const auto& o = trainer_.options();
  if (o.limit_predict_batches.is_zero()) return {};
  auto loader = trainer_.request_dataloader("predict");
  trainer_.barrier("predict_dataloader()");
  max_batches_.clear();
  if (loader) max_batches_.push_back(limited_num_batches(loader->size(), o.limit_predict_batches, "limit_predict_batches"));
  if (max_batches_.empty() || max_batches_[0] == 0) return {};

  batch_progress.reset_on_run();
  HookCaller& hooks = *trainer_.hooks_;
  ModuleMode mode;
  mode.capture(*trainer_.module_);
  hooks.predict_model_eval();
  hooks.predict_start();
  hooks.predict_epoch_start();

  std::vector<IValue> predictions;
  for (int64_t batch_idx = 0; batch_idx < max_batches_[0]; ++batch_idx) {
    batch_progress.is_last_batch = batch_idx + 1 == max_batches_[0];
    Batch batch = hooks.transfer_batch(loader->batch(batch_idx), 0);
    batch_progress.increment_ready();
    hooks.predict_batch_start(batch, batch_idx, 0);
    batch_progress.increment_started();
    StepOutput prediction = hooks.predict_step(batch, batch_idx, 0);
    if (prediction.isNone()) rank_zero_warn("predict returned None if it was on purpose, ignore this warning...");
    batch_progress.increment_processed();
    hooks.predict_batch_end(prediction, batch, batch_idx, 0);
    batch_progress.increment_completed();
    predictions.push_back(prediction);
    if (!batch_progress.is_last_batch && trainer_.received_signal())
      throw SignalError(0, "volt: stopping at a safe point after a termination signal");
  }

  hooks.predict_epoch_end();
  hooks.predict_end();
  // there is no on_predict_model_train hook: the captured modes come back silently
  mode.restore(*trainer_.module_);
  return predictions;
}

StateDict PredictionLoop::state_dict() const {
  return {{"state_dict", StateDict()}, {"batch_progress", batch_progress.state_dict()}};
}

void PredictionLoop::load_state_dict(const StateDict& state, const std::string& where) {
  if (state.contains("batch_progress"))
    batch_progress.load_state_dict(as_state(state.at("batch_progress"), where + ".batch_progress"),
                                   where + ".batch_progress");
}

}  // namespace volt::detail
