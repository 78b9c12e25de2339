// Timer, following Lightning 2.2.5's callbacks/timer.py.
#include "volt/callbacks/timer.hpp"

#include <chrono>

#include "volt/error.hpp"
#include "volt/messages.hpp"
#include "volt/serialization/python_repr.hpp"
#include "volt/trainer.hpp"

namespace volt {
namespace {

constexpr size_t kTrain = 0, kValidate = 2, kTest = 3;

double monotonic() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double number(const IValue& v) { return v.isInt() ? static_cast<double>(v.toInt()) : v.toDouble(); }

}  // namespace

Timer::Timer(TimerOptions options) : interval_(std::move(options.interval)), verbose_(options.verbose) {
  // the duration is parsed before the interval is checked, as in Lightning
  if (options.duration) duration_ = options.duration->resolve().total_seconds();
  if (interval_ != "step" && interval_ != "epoch")
    throw MisconfigurationError("Unsupported parameter value `Timer(interval=" + interval_ +
                                ")`. Possible choices are: step, epoch");
}

size_t Timer::stage_index(const std::string& stage) {
  for (size_t i = 0; i < kStages.size(); ++i)
    if (stage == kStages[i]) return i;
  throw MisconfigurationError(python_str_repr(stage) + " is not a valid RunningStage");
}

std::optional<double> Timer::start_time(const std::string& stage) const { return start_[stage_index(stage)]; }
std::optional<double> Timer::end_time(const std::string& stage) const { return end_[stage_index(stage)]; }

IValue Timer::elapsed_value(size_t stage) const {
  const IValue offset = stage == kTrain ? offset_ : IValue(int64_t{0});
  const auto& start = start_[stage];
  const auto& end = end_[stage];
  if (!start) return offset;
  const double stop = end ? *end : monotonic();
  return stop - *start + number(offset);
}

double Timer::time_elapsed(const std::string& stage) const { return number(elapsed_value(stage_index(stage))); }

std::optional<double> Timer::time_remaining(const std::string& stage) const {
  if (!duration_) return std::nullopt;
  return *duration_ - time_elapsed(stage);
}

StateDict Timer::state_dict() {
  StateDict elapsed;
  for (size_t i = 0; i < kStages.size(); ++i) elapsed.set(kStages[i], elapsed_value(i));
  return {{"time_elapsed", elapsed}};
}

void Timer::load_state_dict(const StateDict& state) {
  const IValue elapsed = state.get("time_elapsed", IValue());
  if (elapsed.isNone()) {
    offset_ = int64_t{0};
    return;
  }
  const StateDict times = as_state(elapsed, "Timer state 'time_elapsed'");
  const IValue train = times.get("train", int64_t{0});
  if (!train.isInt() && !train.isDouble())
    throw CheckpointError("Timer state 'time_elapsed.train': expected a number, found " + train.tagKind());
  offset_ = train;
}

void Timer::on_train_start(Trainer&, Module&) { start_[kTrain] = monotonic(); }
void Timer::on_train_end(Trainer&, Module&) { end_[kTrain] = monotonic(); }
void Timer::on_validation_start(Trainer&, Module&) { start_[kValidate] = monotonic(); }
void Timer::on_validation_end(Trainer&, Module&) { end_[kValidate] = monotonic(); }
void Timer::on_test_start(Trainer&, Module&) { start_[kTest] = monotonic(); }
void Timer::on_test_end(Trainer&, Module&) { end_[kTest] = monotonic(); }

void Timer::on_fit_start(Trainer& trainer, Module&) {
  if (duration_) check_time_remaining(trainer);
}

void Timer::on_train_batch_end(Trainer& trainer, Module&, const StepOutput&, const Batch&, int64_t) {
  if (interval_ == "step" && duration_) check_time_remaining(trainer);
}

void Timer::on_train_epoch_end(Trainer& trainer, Module&) {
  if (interval_ == "epoch" && duration_) check_time_remaining(trainer);
}

void Timer::check_time_remaining(Trainer& trainer) {
  // rank 0's clock decides for every rank (Lightning broadcasts it), so all ranks stop after the same batch
  const bool should_stop = trainer.strategy().broadcast(time_elapsed() >= *duration_, 0);
  trainer.should_stop = trainer.should_stop || should_stop;
  if (should_stop && verbose_) {
    const auto seconds = static_cast<int64_t>(time_elapsed("train"));  // int() truncates
    const std::string elapsed = TimeDelta::from_seconds(static_cast<double>(seconds)).str();
    rank_zero_info("Time limit reached. Elapsed time is " + elapsed + ". Signaling Trainer to stop.");
  }
}

}  // namespace volt
