// Lightning 2.2.5's callbacks/gradient_accumulation_scheduler.py. Python's TypeError, ValueError and RuntimeError
// are volt::MisconfigurationError here (each is a set-up that cannot work); the messages are Lightning's.
#include "volt/callbacks/gradient_accumulation_scheduler.hpp"

#include <algorithm>

#include "volt/detail/overrides.hpp"
#include "volt/error.hpp"
#include "volt/messages.hpp"
#include "volt/module.hpp"
#include "volt/trainer.hpp"

namespace volt {
namespace {

// Python's repr of a list of ints: "[1, -3]".
std::string int_list(const std::vector<int64_t>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + std::to_string(values[i]);
  return out + "]";
}

}  // namespace

GradientAccumulationScheduler::GradientAccumulationScheduler(std::vector<std::pair<int64_t, int64_t>> scheduling) {
  // a Python dict: a repeated key keeps its first position and takes the last value
  for (const auto& [epoch, factor] : scheduling) {
    auto it = std::find_if(scheduling_.begin(), scheduling_.end(), [&](const auto& kv) { return kv.first == epoch; });
    if (it != scheduling_.end()) it->second = factor;
    else scheduling_.emplace_back(epoch, factor);
  }
  if (scheduling_.empty()) throw MisconfigurationError("Empty dict cannot be interpreted correct");
  std::vector<int64_t> keys, values;
  for (const auto& kv : scheduling_) keys.push_back(kv.first), values.push_back(kv.second);
  if (std::any_of(keys.begin(), keys.end(), [](int64_t k) { return k < 0; }))
    throw MisconfigurationError("Epoch should be an int greater than or equal to 0. Got " + int_list(keys) + ".");
  if (std::any_of(values.begin(), values.end(), [](int64_t v) { return v < 1; }))
    throw MisconfigurationError("Accumulation factor should be an int greater than 0. Got " + int_list(values) + ".");
  if (*std::min_element(keys.begin(), keys.end()) != 0) scheduling_.emplace_back(0, 1);
  for (const auto& kv : scheduling_) epochs_.push_back(kv.first);
  std::sort(epochs_.begin(), epochs_.end());
}

bool GradientAccumulationScheduler::going_to_accumulate_grad_batches() const {
  return std::any_of(scheduling_.begin(), scheduling_.end(), [](const auto& kv) { return kv.second > 1; });
}

int64_t GradientAccumulationScheduler::get_accumulate_grad_batches(int64_t epoch) const {
  for (auto it = epochs_.rbegin(); it != epochs_.rend(); ++it) {
    if (epoch >= *it) {
      for (const auto& kv : scheduling_)
        if (kv.first == *it) return kv.second;
    }
  }
  return 1;
}

void GradientAccumulationScheduler::on_train_start(Trainer& trainer, Module& module) {
  if (!module.automatic_optimization)
    throw MisconfigurationError(
        "Automatic gradient accumulation and the `GradientAccumulationScheduler` is not supported for\n"
        "                manual optimization. Please remove the callback or switch to automatic optimization.");
  bool overridden = detail::is_overridden(module, &Module::optimizer_step) ||
                    detail::is_overridden(module, &Module::optimizer_zero_grad);
  if (overridden && going_to_accumulate_grad_batches())
    rank_zero_warn("When using `Trainer(accumulate_grad_batches != 1)` and overriding "
                   "`LightningModule.optimizer_{step,zero_grad}`, the hooks will not be called on every batch (rather, "
                   "they are called on every optimization step).");
  if (trainer.accumulate_grad_batches() != 1)
    throw MisconfigurationError(
        "You have set `accumulate_grad_batches` and are using the `GradientAccumulationScheduler` callback. Either "
        "remove `accumulate_grad_batches` from the Trainer or remove the callback.");
}

void GradientAccumulationScheduler::on_train_epoch_start(Trainer& trainer, Module&) {
  trainer.set_accumulate_grad_batches(get_accumulate_grad_batches(trainer.current_epoch()));
}

}  // namespace volt
