// ksuit's CallbackBase and PeriodicCallback on volt's Lightning hooks, and the shared Context that keeps the
// UpdateCounter in step with the trainer (spec ksuit.md §1–§3).
#include "volt/ksuit/callback_base.hpp"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>

#include "volt/error.hpp"
#include "volt/ksuit/periodic.hpp"
#include "volt/module.hpp"
#include "volt/trainer.hpp"

namespace volt::ksuit {

double monotonic_seconds_now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// ---- DataContainer / Context ------------------------------------------------------------------------------------

std::shared_ptr<DataLoader> DataContainer::get(const std::string& key) const {
  auto it = loaders_.find(key);
  if (it != loaders_.end()) return it->second;
  std::string keys;
  for (const auto& kv : loaders_) keys += (keys.empty() ? "" : ", ") + kv.first;
  throw MisconfigurationError("DataContainer: no dataset '" + key + "' (known: " + (keys.empty() ? "none" : keys) +
                              "); add it with data_container.add(\"" + key + "\", loader)");
}

int64_t DataContainer::length_of(DataLoader& loader) {
  if (auto* tensors = dynamic_cast<TensorDataLoader*>(&loader)) return tensors->num_samples();
  if (loader.size() == 0) return 0;
  return loader.size() * loader.batch_size_of(loader.batch(0));
}

Context::Context(ContextOptions options)
    : options_(std::move(options)), data_container_(std::make_shared<DataContainer>()),
      tracker_(std::make_shared<Tracker>()), metric_properties_(std::make_shared<MetricPropertyProvider>()),
      log_writer_(std::make_shared<LogWriter>(tracker_, metric_properties_)),
      checkpoint_writer_(std::make_shared<CheckpointWriter>(options_.checkpoint_dir)) {
  if (options_.end)
    VOLT_CHECK(options_.end->is_minimally_specified(), "ksuit::ContextOptions::end must set exactly one of "
               "epoch/update/sample, got '", options_.end->str(), "'");
  if (options_.batch_size)
    VOLT_CHECK(*options_.batch_size > 0, "ksuit::ContextOptions::batch_size must be > 0, got ", *options_.batch_size);
}

void Context::set_metric_property_provider(std::shared_ptr<MetricPropertyProvider> provider) {
  VOLT_CHECK(provider != nullptr, "ksuit::Context::set_metric_property_provider: null provider");
  metric_properties_ = std::move(provider);
  metric_properties_given_ = true;
  log_writer_->set_metric_properties(metric_properties_);
}

const UpdateCounter& Context::update_counter() const {
  if (!counter_)
    throw MisconfigurationError("ksuit: the update counter exists only while fit is training (from on_train_start "
                                "to on_train_end)");
  return *counter_;
}

void Context::bind(Trainer& trainer, Module& model) {
  trainer_ = &trainer;
  model_ = &model;
  if (!metric_properties_given_) {
    metric_properties_ = trainer.metric_properties_ptr();
    log_writer_->set_metric_properties(metric_properties_);
  }
  tracker_->bind(&trainer);
}

void Context::start_training(Trainer& trainer) {
  if (counter_) return;
  auto loader = trainer.train_dataloader();
  VOLT_CHECK(loader != nullptr, "ksuit: fit has no training dataloader");
  int64_t batch_size = 0;
  if (options_.batch_size) batch_size = *options_.batch_size;
  else if (auto* tensors = dynamic_cast<TensorDataLoader*>(loader.get())) batch_size = tensors->options().batch_size;
  else if (loader->size() > 0) batch_size = loader->batch_size_of(loader->batch(0));
  VOLT_CHECK(batch_size > 0, "ksuit: cannot tell the training batch size; set ksuit::ContextOptions::batch_size");
  const int64_t accumulate = trainer.accumulate_grad_batches();
  const int64_t effective_batch_size = batch_size * accumulate * trainer.world_size();
  // Lightning steps on the last batch of an epoch even when the accumulation window is not full
  const int64_t updates_per_epoch = (trainer.num_training_batches() + accumulate - 1) / accumulate;
  const int64_t update = trainer.global_step();
  counter_.emplace(TrainingIteration::full(update / std::max<int64_t>(updates_per_epoch, 1), update,
                                           update * effective_batch_size),
                   options_.end, updates_per_epoch, effective_batch_size);
  log_writer_->reset();
  log_writer_->bind(&*counter_);
  checkpoint_writer_->bind(trainer, &*counter_);
  if (!data_container_->contains("train")) data_container_->add("train", loader);
  if (counter_->is_finished()) trainer.should_stop = true;
}

bool Context::sync(Trainer& trainer) {
  if (!counter_) return false;
  bool advanced = false;
  while (counter_->update() < trainer.global_step()) {
    counter_->add_samples(counter_->effective_batch_size());
    counter_->next_update();
    if (counter_->is_full_epoch()) counter_->next_epoch();
    advanced = true;
  }
  if (advanced && counter_->is_finished()) trainer.should_stop = true;
  return advanced;
}

// ---- CallbackBase -----------------------------------------------------------------------------------------------

CallbackBase::CallbackBase(std::shared_ptr<Context> context, std::string name)
    : context_(std::move(context)), name_(std::move(name)), given_context_(context_ != nullptr) {}

std::string CallbackBase::str() const { return name_.empty() ? class_name() : name_; }

const CallbackLogger& CallbackBase::logger() const {
  if (!logger_) logger_ = std::make_unique<CallbackLogger>(str());
  return *logger_;
}

namespace {
[[noreturn]] void unbound(const std::string& who, const char* what) {
  throw MisconfigurationError(who + ": `" + what + "` is available once the callback is in a Trainer that runs fit "
                              "(from setup on)");
}
}  // namespace

Trainer& CallbackBase::trainer() const {
  if (!context_ || !context_->trainer()) unbound(str(), "trainer");
  return *context_->trainer();
}
Module& CallbackBase::model() const {
  if (!context_ || !context_->model()) unbound(str(), "model");
  return *context_->model();
}
DataContainer& CallbackBase::data_container() const {
  if (!context_) unbound(str(), "data_container");
  return *context_->data_container();
}
Tracker& CallbackBase::tracker() const {
  if (!context_) unbound(str(), "tracker");
  return *context_->tracker();
}
LogWriter& CallbackBase::writer() const {
  if (!context_) unbound(str(), "writer");
  return *context_->log_writer();
}
CheckpointWriter& CallbackBase::checkpoint_writer() const {
  if (!context_) unbound(str(), "checkpoint_writer");
  return *context_->checkpoint_writer();
}
MetricPropertyProvider& CallbackBase::metric_property_provider() const {
  if (!context_) unbound(str(), "metric_property_provider");
  return *context_->metric_property_provider();
}

template <class F>
void CallbackBase::in_eval_no_grad(F&& body) {
  Module& m = model();
  // remember every submodule's flag: a user may keep parts in eval mode on purpose
  auto children = m.modules(/*include_self=*/false);
  std::vector<bool> flags;
  flags.reserve(children.size());
  for (const auto& child : children) flags.push_back(child->is_training());
  const bool root = m.is_training();
  struct Restore {
    Module& m;
    bool root;
    const std::vector<std::shared_ptr<torch::nn::Module>>& children;
    const std::vector<bool>& flags;
    ~Restore() {
      m.train(root);
      for (size_t i = 0; i < children.size(); ++i) children[i]->train(flags[i]);
    }
  } restore{m, root, children, flags};
  m.eval();
  torch::NoGradGuard no_grad;
  body();
}

void CallbackBase::before_training(const UpdateCounter& update_counter) {
  if (not_overridden_ & kBeforeTraining) return;
  in_eval_no_grad([&] { _before_training(update_counter); });
}

void CallbackBase::after_training(const UpdateCounter& update_counter) {
  if (not_overridden_ & kAfterTraining) return;
  in_eval_no_grad([&] { _after_training(update_counter); });
}

void CallbackBase::resume_from_checkpoint(const ResumptionPaths& resumption_paths, Module& model) {
  torch::NoGradGuard no_grad;
  _resume_from_checkpoint(resumption_paths, model);
}

void CallbackBase::_before_training(const UpdateCounter&) { not_overridden_ |= kBeforeTraining; }
void CallbackBase::_after_training(const UpdateCounter&) { not_overridden_ |= kAfterTraining; }
void CallbackBase::_resume_from_checkpoint(const ResumptionPaths&, Module&) {}
void CallbackBase::dispatch_batch_end(const StepOutput&, const Batch&, int64_t, bool) {}
void CallbackBase::dispatch_epoch_end() {}

void CallbackBase::adopt_context(Trainer& trainer) {
  if (context_) return;
  // a context given to another ksuit callback of this trainer wins, then one already bound to this trainer
  std::shared_ptr<Context> bound;
  for (const auto& cb : trainer.callbacks()) {
    auto* other = dynamic_cast<CallbackBase*>(cb.get());
    if (other == nullptr || other == this || !other->context_) continue;
    if (other->given_context_) {
      context_ = other->context_;
      return;
    }
    if (!bound && other->context_->trainer() == &trainer) bound = other->context_;
  }
  context_ = bound ? bound : std::make_shared<Context>();
}

bool CallbackBase::is_last_of_context(Trainer& trainer, bool at_epoch_end) const {
  const CallbackBase* last = nullptr;
  for (int pass = 0; pass < (at_epoch_end ? 2 : 1); ++pass)
    for (const auto& cb : trainer.callbacks()) {
      auto* other = dynamic_cast<const CallbackBase*>(cb.get());
      if (other == nullptr || other->context_ != context_) continue;
      if (at_epoch_end && other->is_monitoring() != (pass == 1)) continue;
      last = other;
    }
  return last == this;
}

void CallbackBase::setup(Trainer& trainer, Module& module, const std::string& stage) {
  if (stage != "fit") return;
  adopt_context(trainer);
  context_->bind(trainer, module);
}

void CallbackBase::on_resume_from_checkpoint(Trainer&, Module& module, const std::string& ckpt_path) {
  ResumptionPaths paths;
  paths.checkpoint_path = ckpt_path;
  paths.checkpoint_dir = std::filesystem::path(ckpt_path).parent_path().string();
  if (paths.checkpoint_dir.empty()) paths.checkpoint_dir = ".";
  resume_from_checkpoint(paths, module);
}

void CallbackBase::on_train_start(Trainer& trainer, Module&) {
  context_->start_training(trainer);
  last_update_end_ = monotonic_seconds_now();
  last_batch_end_ = -1;
  data_wait_sum_ = 0;
  last_seen_update_ = context_->update_counter().update();
  before_training(context_->update_counter());
}

void CallbackBase::on_train_batch_start(Trainer&, Module&, const Batch&, int64_t) {
  // the time since the previous batch ended is what fetching and transferring this batch took
  if (last_batch_end_ >= 0) data_wait_sum_ += monotonic_seconds_now() - last_batch_end_;
}

void CallbackBase::on_train_batch_end(Trainer& trainer, Module&, const StepOutput& outputs, const Batch& batch,
                                      int64_t batch_idx) {
  context_->sync(trainer);
  const UpdateCounter& counter = context_->update_counter();
  const bool updated = counter.update() != last_seen_update_;
  last_seen_update_ = counter.update();
  if (updated) {
    const double now = monotonic_seconds_now();
    times_ = {{"data_wait", data_wait_sum_}, {"update", now - last_update_end_}};
    last_update_end_ = now;
    data_wait_sum_ = 0;
  }
  dispatch_batch_end(outputs, batch, batch_idx, updated);
  // one entry per update; an update that closes an epoch waits for the epoch callbacks (ksuit)
  if (updated && !counter.is_full_epoch() && is_last_of_context(trainer, false)) writer().flush();
  last_batch_end_ = monotonic_seconds_now();
}

void CallbackBase::on_train_epoch_end(Trainer& trainer, Module&) {
  context_->sync(trainer);
  dispatch_epoch_end();
  if (is_last_of_context(trainer, true)) writer().flush();
  last_batch_end_ = -1;
}

void CallbackBase::on_train_end(Trainer& trainer, Module&) {
  context_->sync(trainer);
  after_training(context_->update_counter());
  if (is_last_of_context(trainer, false)) {
    writer().finish();
    context_->end_training();
  }
}

void CallbackBase::on_exception(Trainer& trainer, Module&, const std::exception&) {
  if (!context_ || !context_->training_started() || !is_last_of_context(trainer, false)) return;
  context_->end_training();
}

// ---- PeriodicCallback -------------------------------------------------------------------------------------------

const char* interval_name(IntervalType type) {
  switch (type) {
    case IntervalType::kEpoch: return "epoch";
    case IntervalType::kUpdate: return "update";
    case IntervalType::kSample: return "sample";
  }
  return "epoch";
}

std::string Interval::verbose_string() const {
  std::string out;
  auto add = [&](const char* name, const std::optional<int64_t>& v) {
    if (v) out += (out.empty() ? "" : ",") + std::string(name) + "=" + std::to_string(*v);
  };
  add("every_n_epochs", every_n_epochs);
  add("every_n_updates", every_n_updates);
  add("every_n_samples", every_n_samples);
  return out;
}

std::string Interval::short_string() const {
  std::string out;
  auto add = [&](const char* prefix, const std::optional<int64_t>& v) {
    if (v) out += (out.empty() ? "" : "_") + std::string(prefix) + std::to_string(*v);
  };
  add("E", every_n_epochs);
  add("U", every_n_updates);
  add("S", every_n_samples);
  return out;
}

PeriodicCallback::PeriodicCallback(Interval interval, std::shared_ptr<Context> context, std::string name)
    : CallbackBase(std::move(context), std::move(name)), interval_(interval) {
  auto check = [](const char* what, const std::optional<int64_t>& v) {
    if (v) VOLT_CHECK(*v > 0, "PeriodicCallback: ", what, " must be > 0, got ", *v);
  };
  check("every_n_epochs", interval_.every_n_epochs);
  check("every_n_updates", interval_.every_n_updates);
  check("every_n_samples", interval_.every_n_samples);
}

std::string PeriodicCallback::str() const {
  if (!name().empty()) return name();
  if (interval_.empty()) return class_name();
  return class_name() + "(" + interval_.verbose_string() + ")";
}

bool PeriodicCallback::should_log_after_epoch(const UpdateCounter& c) const {
  return interval_.every_n_epochs && c.epoch() % *interval_.every_n_epochs == 0;
}

bool PeriodicCallback::should_log_after_update(const UpdateCounter& c) const {
  return interval_.every_n_updates && c.update() % *interval_.every_n_updates == 0;
}

bool PeriodicCallback::should_log_after_sample(const UpdateCounter& c) const {
  if (!interval_.every_n_samples) return false;
  const int64_t n = *interval_.every_n_samples;
  const int64_t previous = c.sample() - c.effective_batch_size();
  // floor division; `previous` is >= 0 after the first update
  return c.sample() / n > (previous < 0 ? -1 : previous / n);
}

int64_t PeriodicCallback::updates_per_log_interval(const UpdateCounter& c) const {
  const int set = interval_.every_n_epochs.has_value() + interval_.every_n_updates.has_value() +
                  interval_.every_n_samples.has_value();
  VOLT_CHECK(set == 1, str(), ": updates_per_log_interval needs exactly one of every_n_epochs/every_n_updates/"
             "every_n_samples, got '", interval_.verbose_string(), "'");
  if (interval_.every_n_epochs) return c.updates_per_epoch() * *interval_.every_n_epochs;
  if (interval_.every_n_updates) return *interval_.every_n_updates;
  VOLT_CHECK(*interval_.every_n_samples % c.effective_batch_size() == 0, str(), ": every_n_samples=",
             *interval_.every_n_samples, " is not divisible by the effective batch size ", c.effective_batch_size());
  return *interval_.every_n_samples / c.effective_batch_size();
}

int64_t PeriodicCallback::updates_till_next_log(const UpdateCounter& c) const {
  const int64_t per = updates_per_log_interval(c);
  return per - c.update() % per;
}

void PeriodicCallback::track_after_accumulation_step(const UpdateCounter& update_counter, const Batch& batch,
                                                     const LossMap& losses, const StepOutput& update_outputs,
                                                     int64_t accumulation_steps, int64_t accumulation_step) {
  if (not_overridden_ & kTrackAccumulation) return;
  torch::NoGradGuard no_grad;
  _track_after_accumulation_step(update_counter, batch, losses, update_outputs, accumulation_steps, accumulation_step);
}

void PeriodicCallback::track_after_update_step(const UpdateCounter& update_counter,
                                               const std::map<std::string, double>& times) {
  if (not_overridden_ & kTrackUpdate) return;
  torch::NoGradGuard no_grad;
  _track_after_update_step(update_counter, times);
}

void PeriodicCallback::after_update(const UpdateCounter& update_counter) {
  if (not_overridden_ & kPeriodic) return;
  torch::NoGradGuard no_grad;
  if (should_log_after_update(update_counter)) _periodic_callback(IntervalType::kUpdate, update_counter);
  if (not_overridden_ & kPeriodic) return;
  if (should_log_after_sample(update_counter)) _periodic_callback(IntervalType::kSample, update_counter);
}

void PeriodicCallback::after_epoch(const UpdateCounter& update_counter) {
  if (not_overridden_ & kPeriodic) return;
  torch::NoGradGuard no_grad;
  if (should_log_after_epoch(update_counter)) _periodic_callback(IntervalType::kEpoch, update_counter);
}

void PeriodicCallback::_track_after_accumulation_step(const UpdateCounter&, const Batch&, const LossMap&,
                                                      const StepOutput&, int64_t, int64_t) {
  not_overridden_ |= kTrackAccumulation;
}
void PeriodicCallback::_track_after_update_step(const UpdateCounter&, const std::map<std::string, double>&) {
  not_overridden_ |= kTrackUpdate;
}
void PeriodicCallback::_periodic_callback(IntervalType, const UpdateCounter&) { not_overridden_ |= kPeriodic; }

namespace {
LossMap losses_of(const StepOutput& outputs, int64_t accumulate) {
  LossMap losses;
  auto add = [&](const std::string& key, const IValue& v) {
    if (v.isTensor() && v.toTensor().numel() == 1) losses[key] = v.toTensor().detach();
  };
  if (outputs.isTensor()) add("total", outputs);
  if (outputs.isGenericDict())
    for (const auto& kv : outputs.toGenericDict()) {
      if (!kv.key().isString()) continue;
      const std::string& key = kv.key().toStringRef();
      add(key == "loss" ? "total" : key, kv.value());
    }
  // Lightning hands on_train_batch_end the loss divided by accumulate_grad_batches; ksuit tracks the step's loss
  if (losses.count("total") && accumulate > 1) losses["total"] = losses["total"] * accumulate;
  return losses;
}
}  // namespace

void PeriodicCallback::dispatch_batch_end(const StepOutput& outputs, const Batch& batch, int64_t batch_idx,
                                          bool updated) {
  const UpdateCounter& counter = context()->update_counter();
  if (!(not_overridden_ & kTrackAccumulation)) {
    const int64_t accumulate = trainer().accumulate_grad_batches();
    track_after_accumulation_step(counter, batch, losses_of(outputs, accumulate), outputs, accumulate, batch_idx);
  }
  if (!updated) return;
  track_after_update_step(counter, times_);
  after_update(counter);
}

void PeriodicCallback::dispatch_epoch_end() {
  const UpdateCounter& counter = context()->update_counter();
  // ksuit checks epoch intervals only at a full-epoch boundary, once per update
  if (!counter.is_full_epoch() || counter.update() == last_epoch_fired_update_) return;
  last_epoch_fired_update_ = counter.update();
  after_epoch(counter);
}

}  // namespace volt::ksuit
