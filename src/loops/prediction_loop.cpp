// Lightning's _PredictionLoop (loops/prediction_loop.py, 2.2).
#include <torch/torch.h>

#include "volt/callbacks/prediction_writer.hpp"
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
  epoch_batch_indices.assign(max_batches_.size(), {});
  predictions.clear();
  current_batch_indices.clear();
  HookCaller& hooks = *trainer_.hooks_;
  ModuleMode mode;
  mode.capture(*trainer_.module_);
  hooks.predict_model_eval();
  hooks.predict_start();
  hooks.predict_epoch_start();

  for (int64_t batch_idx = 0; batch_idx < max_batches_[0]; ++batch_idx) {
    batch_progress.is_last_batch = batch_idx + 1 == max_batches_[0];
    Batch batch;
    {
      ActionScope profile(hooks.profiler(), actions::kPredictNext);
      batch = loader->batch(batch_idx);
    }
    batch = hooks.transfer_batch(std::move(batch), 0);
    batch_progress.increment_ready();
    store_data_for_prediction_writer(*loader, batch_idx, 0);
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
  epoch_batch_indices.clear();  // Lightning's _on_predict_end drops them before the hook
  hooks.predict_end();
  // there is no on_predict_model_train hook: the captured modes come back silently
  mode.restore(*trainer_.module_);
  return predictions;
}

void PredictionLoop::store_data_for_prediction_writer(DataLoader& loader, int64_t batch_idx, int64_t dataloader_idx) {
  bool any_on_batch = false, any_on_epoch = false;
  for (const auto& cb : trainer_.callbacks()) {
    if (auto* writer = dynamic_cast<const BasePredictionWriter*>(cb.get())) {
      any_on_batch |= writer->interval().on_batch();
      any_on_epoch |= writer->interval().on_epoch();
    }
  }
  if (!any_on_batch && !any_on_epoch) return;
  auto indices = loader.batch_indices(batch_idx);
  if (!indices) {
    if (!warned_batch_indices_)
      rank_zero_warn("Couldn't infer the batch indices fetched from your dataloader: `" +
                     python_style_class_name(typeid(loader)) + "`");
    warned_batch_indices_ = true;
    return;
  }
  if (any_on_epoch) epoch_batch_indices.at(static_cast<size_t>(dataloader_idx)).push_back(*indices);
  if (any_on_batch) current_batch_indices = std::move(*indices);
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
