// Every hook volt fires, in Lightning's order (spec §1.3, §2). Read top to bottom next to the spec's sequence.
#include "volt/detail/hook_caller.hpp"

#include "volt/detail/loops.hpp"
#include "volt/detail/overrides.hpp"
#include "volt/error.hpp"
#include "volt/ksuit/resume_hook.hpp"
#include "volt/messages.hpp"
#include "volt/serialization/python_repr.hpp"

namespace volt::detail {
namespace {

// Sets the module's current hook for the duration of a call (it drives log() validation) and restores it.
class CurrentHook {
 public:
  CurrentHook(std::string& slot, const char* hook) : slot_(slot), saved_(slot) { slot_ = hook; }
  ~CurrentHook() { slot_ = saved_; }

 private:
  std::string& slot_;
  std::string saved_;
};

}  // namespace

Module& HookCaller::lm() { return *trainer_.module_; }

// ---- profiling and the slow-callback warning ------------------------------------------------------------------------

namespace {
constexpr int64_t kSampleEvery = 4;      // measure training batches 1, 5, 9, ... of each run
constexpr int64_t kFirstCheck = 2;       // judge after this many measured batches
constexpr int64_t kCheckEvery = 8;       // and again every this many

bool is_training_batch_hook(const std::string& hook) {
  static const std::set<std::string> hooks = {"on_train_batch_start", "on_train_batch_end", "on_before_backward",
                                              "on_after_backward",    "on_before_zero_grad", "on_before_optimizer_step"};
  return hooks.count(hook) > 0;
}

std::string format_ms(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", seconds * 1e3);
  return buf;
}
}  // namespace

void HookCaller::reset_profiling() {
  Profiler& profiler = trainer_.profiler();
  profiler_ = profiler.enabled() ? &profiler : nullptr;
  sampling_ = false;
  instrumented_ = profiler_ != nullptr;
  batch_counter_ = sampled_ = 0;
  sampled_seconds_ = 0;
  callback_hooks_.clear();
  module_actions_.clear();
  strategy_actions_.clear();
  datamodule_actions_.clear();
  if (!profiler_) return;
  module_prefix_ = "[LightningModule]" + detail::python_style_class_name(typeid(lm())) + ".";
  const Strategy& strategy = trainer_.strategy();
  strategy_prefix_ = "[Strategy]" + detail::python_style_class_name(typeid(strategy)) + ".";
  datamodule_prefix_ =
      trainer_.datamodule_ ? "[LightningDataModule]" + trainer_.datamodule_->class_name() + "." : std::string();
}

HookCaller::CallbackHook& HookCaller::callback_hook(const char* hook) {
  const auto& cbs = trainer_.callbacks_;
  CallbackHook& info = callback_hooks_[hook];
  if (info.actions.size() == cbs.size() && !info.hook.empty()) return info;
  info.hook = hook;
  info.batch_level = is_training_batch_hook(info.hook);
  info.actions.clear();
  for (const auto& cb : cbs) info.actions.push_back("[Callback]" + cb->state_key() + "." + info.hook);
  info.seconds.assign(cbs.size(), 0.0);
  return info;
}

const std::string& HookCaller::cached_action(std::unordered_map<const char*, std::string>& cache,
                                             const std::string& prefix, const char* hook) {
  auto it = cache.find(hook);
  if (it == cache.end()) it = cache.emplace(hook, prefix + hook).first;
  return it->second;
}

void HookCaller::train_batch_timing_begin() {
  if (trainer_.options_.slow_callback_warning <= 0) return;
  if (batch_counter_++ % kSampleEvery != 1) return;
  sampling_ = instrumented_ = true;
  batch_start_ = Clock::now();
}

void HookCaller::train_batch_timing_end() {
  if (!sampling_) return;
  sampled_seconds_ += std::chrono::duration<double>(Clock::now() - batch_start_).count();
  ++sampled_;
  sampling_ = false;
  instrumented_ = profiler_ != nullptr;
  if (sampled_ == kFirstCheck || (sampled_ > kFirstCheck && (sampled_ - kFirstCheck) % kCheckEvery == 0))
    check_slow_callbacks();
}

void HookCaller::check_slow_callbacks() {
  const double share = trainer_.options_.slow_callback_warning;
  const double batch_mean = sampled_seconds_ / static_cast<double>(sampled_);
  const auto& cbs = trainer_.callbacks_;
  for (auto& entry : callback_hooks_) {
    CallbackHook& info = entry.second;
    if (!info.batch_level || info.seconds.size() != cbs.size()) continue;
    for (size_t i = 0; i < cbs.size(); ++i) {
      double mean = info.seconds[i] / static_cast<double>(sampled_);
      if (!(mean > share * batch_mean)) continue;
      if (!slow_warned_.emplace(cbs[i]->state_key(), info.hook).second) continue;
      char pct[32], limit[32];
      std::snprintf(pct, sizeof pct, "%.0f", 100.0 * mean / batch_mean);
      std::snprintf(limit, sizeof limit, "%g", share);
      rank_zero_warn(concat("The callback `", cbs[i]->state_key(), "` spends ", format_ms(mean),
                            " ms per training batch in `", info.hook, "`, ", pct,
                            "% of the training batch time (", format_ms(batch_mean), " ms per batch; means over ",
                            sampled_, " measured batches), more than Trainer(slow_callback_warning=", limit,
                            "). Make the hook cheaper or do its work every n batches."));
    }
  }
}

template <class F>
void HookCaller::callbacks(const char* hook, F&& call, Which which) {
  CurrentHook current(lm().current_fx_, hook);
  const auto& cbs = trainer_.callbacks_;
  if (!instrumented_) {
    for (const auto& cb : cbs) {
      if (which == Which::kMonitoring && !cb->is_monitoring()) continue;
      if (which == Which::kNonMonitoring && cb->is_monitoring()) continue;
      call(*cb);
    }
    return;
  }
  CallbackHook& info = callback_hook(hook);
  for (size_t i = 0; i < cbs.size(); ++i) {
    Callback& cb = *cbs[i];
    if (which == Which::kMonitoring && !cb.is_monitoring()) continue;
    if (which == Which::kNonMonitoring && cb.is_monitoring()) continue;
    ActionScope scope(profiler_, info.actions[i]);
    if (sampling_ && info.batch_level) {
      auto start = Clock::now();
      call(cb);
      info.seconds[i] += std::chrono::duration<double>(Clock::now() - start).count();
    } else {
      call(cb);
    }
  }
}

template <class F>
auto HookCaller::module(const char* hook, F&& call) {
  CurrentHook current(lm().current_fx_, hook);
  if (!profiler_) return call(lm());
  ActionScope scope(profiler_, cached_action(module_actions_, module_prefix_, hook));
  return call(lm());
}

template <class F>
auto HookCaller::module_unprofiled(const char* hook, F&& call) {
  CurrentHook current(lm().current_fx_, hook);
  return call(lm());
}

template <class F>
auto HookCaller::strategy(const char* hook, F&& call) {
  if (!profiler_) return call();
  ActionScope scope(profiler_, cached_action(strategy_actions_, strategy_prefix_, hook));
  return call();
}

template <class F>
auto HookCaller::datamodule(const char* hook, F&& call) {
  if (!profiler_) return call();
  ActionScope scope(profiler_, cached_action(datamodule_actions_, datamodule_prefix_, hook));
  return call();
}

#define VOLT_CALLBACKS(hook, ...) callbacks(#hook, [&](Callback& cb) { cb.hook(trainer_, lm(), ##__VA_ARGS__); })
#define VOLT_MODULE(hook, ...) module(#hook, [&](Module& m) { return m.hook(__VA_ARGS__); })
#define VOLT_MODULE_UNPROFILED(hook, ...) module_unprofiled(#hook, [&](Module& m) { return m.hook(__VA_ARGS__); })
#define VOLT_DATAMODULE(dm, hook, ...) datamodule(#hook, [&]() { return dm->hook(__VA_ARGS__); })
// A strategy hook volt's Strategy does not have (Lightning's are no-ops on one device): recorded, nothing run.
#define VOLT_STRATEGY_EMPTY(hook) strategy(#hook, [] {})

// ---- run set-up and tear-down ---------------------------------------------------------------------------------

std::vector<CallbackPtr> HookCaller::configure_callbacks() { return VOLT_MODULE(configure_callbacks); }

void HookCaller::prepare_data() {
  if (trainer_.local_rank() != 0) return;  // Lightning's prepare_data_per_node: local rank 0 of each node
  if (auto* dm = trainer_.datamodule_) VOLT_DATAMODULE(dm, prepare_data);
  VOLT_MODULE(prepare_data);
}

void HookCaller::setup(const std::string& stage) {
  trainer_.barrier("pre_setup");
  if (auto* dm = trainer_.datamodule_) VOLT_DATAMODULE(dm, setup, stage);
  VOLT_CALLBACKS(setup, stage);
  VOLT_MODULE(setup, stage);
  trainer_.barrier("post_setup");
}

void HookCaller::configure_model() {
  // Lightning calls it only if overridden (the default does nothing), so only then is it profiled
  if (is_overridden(lm(), &Module::configure_model)) VOLT_MODULE(configure_model);
}

OptimizerConfig HookCaller::configure_optimizers() { return VOLT_MODULE(configure_optimizers); }

void HookCaller::fit_start() {
  VOLT_CALLBACKS(on_fit_start);
  VOLT_MODULE(on_fit_start);
}

void HookCaller::fit_end() {
  VOLT_CALLBACKS(on_fit_end);
  VOLT_MODULE(on_fit_end);
}

void HookCaller::teardown(const std::string& stage) {
  if (auto* dm = trainer_.datamodule_) VOLT_DATAMODULE(dm, teardown, stage);
  VOLT_CALLBACKS(teardown, stage);
  VOLT_MODULE(teardown, stage);
  for (const auto& logger : trainer_.loggers()) logger->finalize("success");
}

void HookCaller::exception(const std::exception& error) {
  VOLT_CALLBACKS(on_exception, error);
  if (auto* dm = trainer_.datamodule_) dm->on_exception(error);
  for (const auto& logger : trainer_.loggers()) logger->finalize("failed");
}

// ---- data -----------------------------------------------------------------------------------------------------

std::shared_ptr<DataLoader> HookCaller::request_dataloader(const std::string& kind) {
  auto* dm = trainer_.datamodule_;
  if (kind == "train") return dm ? VOLT_DATAMODULE(dm, train_dataloader) : VOLT_MODULE(train_dataloader);
  if (kind == "val") return dm ? VOLT_DATAMODULE(dm, val_dataloader) : VOLT_MODULE(val_dataloader);
  if (kind == "test") return dm ? VOLT_DATAMODULE(dm, test_dataloader) : VOLT_MODULE(test_dataloader);
  return dm ? VOLT_DATAMODULE(dm, predict_dataloader) : VOLT_MODULE(predict_dataloader);
}

Batch HookCaller::transfer_batch(Batch batch, int64_t dataloader_idx) {
  return strategy("batch_to_device", [&]() {
    batch = VOLT_MODULE(on_before_batch_transfer, std::move(batch), dataloader_idx);
    batch = VOLT_MODULE(transfer_batch_to_device, std::move(batch), trainer_.device(), dataloader_idx);
    return VOLT_MODULE(on_after_batch_transfer, std::move(batch), dataloader_idx);
  });
}

// ---- fit ------------------------------------------------------------------------------------------------------

void HookCaller::sanity_check_start() { VOLT_CALLBACKS(on_sanity_check_start); }
void HookCaller::sanity_check_end() { VOLT_CALLBACKS(on_sanity_check_end); }

void HookCaller::train_start() {
  VOLT_CALLBACKS(on_train_start);
  VOLT_MODULE(on_train_start);
  VOLT_STRATEGY_EMPTY(on_train_start);
}

void HookCaller::train_end() {
  VOLT_CALLBACKS(on_train_end);
  VOLT_MODULE(on_train_end);
  VOLT_STRATEGY_EMPTY(on_train_end);
}

void HookCaller::train_epoch_start() {
  VOLT_CALLBACKS(on_train_epoch_start);
  VOLT_MODULE(on_train_epoch_start);
}

void HookCaller::train_epoch_end() {
  // Monitoring callbacks last, so they see metrics logged in the module's on_train_epoch_end (Lightning #16567).
  callbacks("on_train_epoch_end", [&](Callback& cb) { cb.on_train_epoch_end(trainer_, lm()); }, Which::kNonMonitoring);
  VOLT_MODULE(on_train_epoch_end);
  callbacks("on_train_epoch_end", [&](Callback& cb) { cb.on_train_epoch_end(trainer_, lm()); }, Which::kMonitoring);
}

int HookCaller::train_batch_start(const Batch& batch, int64_t batch_idx) {
  VOLT_CALLBACKS(on_train_batch_start, batch, batch_idx);
  int response = VOLT_MODULE(on_train_batch_start, batch, batch_idx);
  VOLT_STRATEGY_EMPTY(on_train_batch_start);
  return response;
}

void HookCaller::train_batch_end(const StepOutput& outputs, const Batch& batch, int64_t batch_idx) {
  VOLT_CALLBACKS(on_train_batch_end, outputs, batch, batch_idx);
  VOLT_MODULE(on_train_batch_end, outputs, batch, batch_idx);
}

StepOutput HookCaller::training_step(const Batch& batch, int64_t batch_idx) {
  return strategy("training_step", [&]() { return VOLT_MODULE_UNPROFILED(training_step, batch, batch_idx); });
}

void HookCaller::before_zero_grad(torch::optim::Optimizer& optimizer) {
  VOLT_CALLBACKS(on_before_zero_grad, optimizer);
  VOLT_MODULE(on_before_zero_grad, optimizer);
}

void HookCaller::optimizer_zero_grad(int64_t epoch, int64_t batch_idx, torch::optim::Optimizer& optimizer) {
  VOLT_MODULE(optimizer_zero_grad, epoch, batch_idx, optimizer);
}

void HookCaller::backward(const torch::Tensor& loss) {
  strategy("backward", [&]() {
    VOLT_CALLBACKS(on_before_backward, loss);
    VOLT_MODULE(on_before_backward, loss);
    // DDP averages the gradients (during the backward, bucket by bucket) before on_after_backward sees them,
    // except inside an accumulation window
    const bool sync = !lm().automatic_optimization || !trainer_.fit_loop_->epoch_loop.should_accumulate();
    trainer_.strategy_->pre_backward(lm(), sync);
    VOLT_MODULE_UNPROFILED(backward, loss);  // Lightning's precision plugin calls it directly
    // with several processes, the wait for the gradient all-reduce the backward started: recorded on its own
    // (a volt action, Lightning has none) so that a profile shows what communication costs a step
    if (trainer_.world_size() > 1)
      strategy("post_backward", [&]() { trainer_.strategy_->post_backward(lm()); });
    else
      trainer_.strategy_->post_backward(lm());
    VOLT_CALLBACKS(on_after_backward);
    VOLT_MODULE(on_after_backward);
  });
}

void HookCaller::after_closure(torch::optim::Optimizer& optimizer, bool clip) {
  VOLT_CALLBACKS(on_before_optimizer_step, optimizer);
  VOLT_MODULE(on_before_optimizer_step, optimizer);
  if (!clip) return;
  const auto& o = trainer_.options();
  VOLT_MODULE(configure_gradient_clipping, optimizer, o.gradient_clip_val, o.gradient_clip_algorithm);
}

void HookCaller::optimizer_step(int64_t epoch, int64_t batch_idx, torch::optim::Optimizer& optimizer,
                                const StepClosure& closure) {
  VOLT_MODULE(optimizer_step, epoch, batch_idx, optimizer, closure);
}

void HookCaller::lr_scheduler_step(LRScheduler& scheduler, std::optional<double> metric) {
  VOLT_MODULE(lr_scheduler_step, scheduler, metric);
}

void HookCaller::validation_model_zero_grad() { VOLT_MODULE(on_validation_model_zero_grad); }

// ---- validation and test --------------------------------------------------------------------------------------

#define VOLT_EVAL_CALLBACKS(stage, val_hook, test_hook, ...) \
  (stage == EvalStage::kTest ? VOLT_CALLBACKS(test_hook, ##__VA_ARGS__) : VOLT_CALLBACKS(val_hook, ##__VA_ARGS__))
#define VOLT_EVAL_MODULE(stage, val_hook, test_hook, ...) \
  (stage == EvalStage::kTest ? VOLT_MODULE(test_hook, ##__VA_ARGS__) : VOLT_MODULE(val_hook, ##__VA_ARGS__))

void HookCaller::eval_model_eval(EvalStage stage) {
  VOLT_EVAL_MODULE(stage, on_validation_model_eval, on_test_model_eval);
}

void HookCaller::eval_model_train(EvalStage stage) {
  VOLT_EVAL_MODULE(stage, on_validation_model_train, on_test_model_train);
}

void HookCaller::eval_start(EvalStage stage) {
  VOLT_EVAL_CALLBACKS(stage, on_validation_start, on_test_start);
  VOLT_EVAL_MODULE(stage, on_validation_start, on_test_start);
  stage == EvalStage::kTest ? VOLT_STRATEGY_EMPTY(on_test_start) : VOLT_STRATEGY_EMPTY(on_validation_start);
}

void HookCaller::eval_epoch_start(EvalStage stage) {
  VOLT_EVAL_CALLBACKS(stage, on_validation_epoch_start, on_test_epoch_start);
  VOLT_EVAL_MODULE(stage, on_validation_epoch_start, on_test_epoch_start);
}

void HookCaller::eval_batch_start(EvalStage stage, const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {
  VOLT_EVAL_CALLBACKS(stage, on_validation_batch_start, on_test_batch_start, batch, batch_idx, dataloader_idx);
  VOLT_EVAL_MODULE(stage, on_validation_batch_start, on_test_batch_start, batch, batch_idx, dataloader_idx);
}

StepOutput HookCaller::eval_step(EvalStage stage, const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {
  if (stage == EvalStage::kTest)
    return strategy("test_step", [&]() { return VOLT_MODULE_UNPROFILED(test_step, batch, batch_idx, dataloader_idx); });
  return strategy("validation_step",
                  [&]() { return VOLT_MODULE_UNPROFILED(validation_step, batch, batch_idx, dataloader_idx); });
}

void HookCaller::eval_batch_end(EvalStage stage, const StepOutput& outputs, const Batch& batch, int64_t batch_idx,
                                int64_t dataloader_idx) {
  VOLT_EVAL_CALLBACKS(stage, on_validation_batch_end, on_test_batch_end, outputs, batch, batch_idx, dataloader_idx);
  VOLT_EVAL_MODULE(stage, on_validation_batch_end, on_test_batch_end, outputs, batch, batch_idx, dataloader_idx);
}

void HookCaller::eval_epoch_end(EvalStage stage) {
  VOLT_EVAL_CALLBACKS(stage, on_validation_epoch_end, on_test_epoch_end);
  VOLT_EVAL_MODULE(stage, on_validation_epoch_end, on_test_epoch_end);
}

void HookCaller::eval_end(EvalStage stage) {
  VOLT_EVAL_CALLBACKS(stage, on_validation_end, on_test_end);
  VOLT_EVAL_MODULE(stage, on_validation_end, on_test_end);
  stage == EvalStage::kTest ? VOLT_STRATEGY_EMPTY(on_test_end) : VOLT_STRATEGY_EMPTY(on_validation_end);
}

// ---- predict --------------------------------------------------------------------------------------------------

void HookCaller::predict_model_eval() { VOLT_MODULE(on_predict_model_eval); }

void HookCaller::predict_start() {
  VOLT_CALLBACKS(on_predict_start);
  VOLT_MODULE(on_predict_start);
  VOLT_STRATEGY_EMPTY(on_predict_start);
}

void HookCaller::predict_epoch_start() {
  VOLT_CALLBACKS(on_predict_epoch_start);
  VOLT_MODULE(on_predict_epoch_start);
}

void HookCaller::predict_batch_start(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {
  VOLT_CALLBACKS(on_predict_batch_start, batch, batch_idx, dataloader_idx);
  VOLT_MODULE(on_predict_batch_start, batch, batch_idx, dataloader_idx);
}

StepOutput HookCaller::predict_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {
  return strategy("predict_step",
                  [&]() { return VOLT_MODULE_UNPROFILED(predict_step, batch, batch_idx, dataloader_idx); });
}

void HookCaller::predict_batch_end(const StepOutput& outputs, const Batch& batch, int64_t batch_idx,
                                   int64_t dataloader_idx) {
  VOLT_CALLBACKS(on_predict_batch_end, outputs, batch, batch_idx, dataloader_idx);
  VOLT_MODULE(on_predict_batch_end, outputs, batch, batch_idx, dataloader_idx);
}

void HookCaller::predict_epoch_end() {
  VOLT_CALLBACKS(on_predict_epoch_end);
  VOLT_MODULE(on_predict_epoch_end);
}

void HookCaller::predict_end() {
  VOLT_CALLBACKS(on_predict_end);
  VOLT_MODULE(on_predict_end);
  VOLT_STRATEGY_EMPTY(on_predict_end);
}

// ---- checkpoints ----------------------------------------------------------------------------------------------

StateDict HookCaller::callback_states() {
  // Lightning does not set the current hook for state_dict, so log() inside it is rejected as outside a hook.
  StateDict states;
  for (const auto& cb : trainer_.callbacks_) {
    StateDict state = cb->state_dict();
    if (!state.empty()) states.set(cb->state_key(), state);
  }
  return states;
}

void HookCaller::callbacks_save_checkpoint(StateDict& checkpoint) { VOLT_CALLBACKS(on_save_checkpoint, checkpoint); }
void HookCaller::module_save_checkpoint(StateDict& checkpoint) { VOLT_MODULE(on_save_checkpoint, checkpoint); }

void HookCaller::module_load_checkpoint(StateDict& checkpoint) { VOLT_MODULE(on_load_checkpoint, checkpoint); }

void HookCaller::callbacks_load_checkpoint(StateDict& checkpoint, const StateDict& states) {
  std::vector<std::string> unclaimed;
  for (const auto& item : states) {
    bool claimed = false;
    for (const auto& cb : trainer_.callbacks_) claimed |= cb->state_key() == item.key().toStringRef();
    if (!claimed) unclaimed.push_back(python_str_repr(item.key().toStringRef()));
  }
  if (!unclaimed.empty()) {
    std::string list;
    for (const auto& k : unclaimed) list += (list.empty() ? "" : ", ") + k;
    rank_zero_warn("Be aware that when using `ckpt_path`, callbacks used to create the checkpoint need to be provided "
                   "during `Trainer` instantiation. Please add the following callbacks: [" + list + "].");
  }
  VOLT_CALLBACKS(on_load_checkpoint, checkpoint);
  for (const auto& cb : trainer_.callbacks_) {
    IValue state = states.get(cb->state_key());
    if (state.isNone()) continue;
    StateDict copy = as_state(state, "checkpoint['callbacks']['" + cb->state_key() + "']").copy();
    if (!copy.empty()) cb->load_state_dict(copy);
  }
}

void HookCaller::callbacks_resume_from_checkpoint(const std::string& ckpt_path) {
  CurrentHook current(lm().current_fx_, "resume_from_checkpoint");
  for (const auto& cb : trainer_.callbacks_)
    if (auto* hook = dynamic_cast<ksuit::ResumeFromCheckpointHook*>(cb.get()))
      hook->on_resume_from_checkpoint(trainer_, lm(), ckpt_path);
}

}  // namespace volt::detail
