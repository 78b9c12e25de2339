// ksuit's default callbacks (noether core/callbacks/default/*) on volt.
#include "volt/ksuit/default_callbacks.hpp"

#include <torch/torch.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>

#include "volt/error.hpp"
#include "volt/messages.hpp"
#include "volt/module.hpp"
#include "volt/serialization/python_format.hpp"
#include "volt/trainer.hpp"

namespace volt::ksuit {

std::string short_number_str(double value) {
  const double a = std::fabs(value);
  if (a < 1000) return python_format_float(value, value == std::floor(value) ? ".0f" : ".2f");
  const char* suffixes[] = {"K", "M", "G", "T"};
  int i = -1;
  double v = value;
  while (std::fabs(v) >= 1000 && i < 3) v /= 1000, ++i;
  return python_format_float(v, ".1f") + suffixes[i];
}

namespace {
std::string duration_str(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  auto s = static_cast<int64_t>(seconds);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return buf;
}

// The number of updates the run will do: the ksuit end, else max_steps, else max_epochs × updates per epoch.
std::optional<int64_t> total_updates(Trainer& trainer, const UpdateCounter& c) {
  if (c.end_iteration()) return *c.end_iteration()->update;
  if (trainer.max_steps() != -1) return trainer.max_steps();
  if (trainer.max_epochs() != -1) return trainer.max_epochs() * c.updates_per_epoch();
  return std::nullopt;
}
}  // namespace

// ---- DatasetStats / ParamCount -------------------------------------------------------------------------------------

void DatasetStatsCallback::_before_training(const UpdateCounter&) {
  std::string line;
  for (const auto& [key, loader] : data_container().loaders()) {
    const int64_t length = DataContainer::length_of(*loader);
    tracker().set_summary("ds_stats/" + key + "/len", static_cast<double>(length));
    line += (line.empty() ? "" : ", ") + key + "=" + std::to_string(length);
  }
  logger().info("Dataset lengths: " + line);
}

namespace {
std::pair<int64_t, int64_t> count_params(const torch::nn::Module& module) {
  int64_t trainable = 0, frozen = 0;
  for (const auto& p : module.parameters()) (p.requires_grad() ? trainable : frozen) += p.numel();
  return {trainable, frozen};
}
}  // namespace

void ParamCountCallback::_before_training(const UpdateCounter&) {
  auto report = [&](const std::string& name, const torch::nn::Module& module) {
    auto [trainable, frozen] = count_params(module);
    tracker().set_summary("param_count/" + name + "/trainable", static_cast<double>(trainable));
    tracker().set_summary("param_count/" + name + "/frozen", static_cast<double>(frozen));
    tracker().set_summary("param_count/" + name, static_cast<double>(trainable + frozen));
    logger().info("Parameter count of " + name + ": trainable=" + short_number_str(static_cast<double>(trainable)) +
                  " frozen=" + short_number_str(static_cast<double>(frozen)));
  };
  report("total", model());
  for (const auto& child : model().named_children()) report(child.key(), *child.value());
}

// ---- Progress / TrainTime / PeakMemory / Eta ------------------------------------------------------------------------

void ProgressCallback::_before_training(const UpdateCounter& c) {
  start_ = last_log_ = monotonic_seconds_now();
  start_update_ = last_log_update_ = c.update();
  warmed_up_ = false;
}

void ProgressCallback::_periodic_callback(IntervalType type, const UpdateCounter& c) {
  const auto total = total_updates(trainer(), c);
  const std::string where = c.cur_iteration().str();
  std::string line;
  switch (type) {
    case IntervalType::kEpoch:
      line = "Epoch " + std::to_string(c.epoch()) +
             (total ? "/" + std::to_string(*total / c.updates_per_epoch()) : std::string());
      break;
    case IntervalType::kUpdate:
      line = "Update " + std::to_string(c.update()) + (total ? "/" + std::to_string(*total) : std::string());
      break;
    case IntervalType::kSample:
      line = "Sample " + std::to_string(c.sample()) +
             (total ? "/" + std::to_string(*total * c.effective_batch_size()) : std::string());
      break;
  }
  logger().info(line + " (" + where + ")");
  const double now = monotonic_seconds_now();
  const double since_last = now - last_log_;
  const int64_t updates_done = c.update() - start_update_;
  const double per_update = updates_done > 0 ? (now - start_) / static_cast<double>(updates_done) : 0.0;
  if (total) {
    const double remaining = per_update * static_cast<double>(*total - c.update());
    std::time_t eta = std::time(nullptr) + static_cast<std::time_t>(remaining);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&eta));
    logger().info(std::string("ETA: ") + buf + " estimated_duration: " +
                  duration_str(per_update * static_cast<double>(*total - start_update_)) + " time_since_last_log: " +
                  duration_str(since_last) + " time_per_update: " + python_format_float(per_update, ".4f") + "s");
  }
  last_log_ = now;
  last_log_update_ = c.update();
  if (!warmed_up_) {  // the first interval includes warm-up: estimate from the second on
    warmed_up_ = true;
    start_ = now;
    start_update_ = c.update();
  }
}

void TrainTimeCallback::_track_after_update_step(const UpdateCounter&, const std::map<std::string, double>& times) {
  auto it = times.find("data_wait");
  const double wait = it == times.end() ? 0.0 : it->second;
  since_log_ += wait;
  total_ += wait;
  ++updates_since_log_;
}

void TrainTimeCallback::_periodic_callback(IntervalType, const UpdateCounter&) {
  const double mean = updates_since_log_ > 0 ? since_log_ / static_cast<double>(updates_since_log_) : 0.0;
  logger().info("Waited " + python_format_float(since_log_, ".2f") + " [sec] for dataloading (" +
                python_format_float(mean, ".4f") + " [sec] per update)");
  since_log_ = 0;
  updates_since_log_ = 0;
}

void TrainTimeCallback::_after_training(const UpdateCounter&) {
  logger().info("Waited " + python_format_float(total_, ".2f") + " [sec] for dataloading in total");
}

std::optional<int64_t> PeakMemoryCallback::peak_resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "VmHWM:   12345 kB"
  return std::nullopt;
}

void PeakMemoryCallback::_periodic_callback(IntervalType, const UpdateCounter&) {
  if (auto peak = peak_resident_bytes())
    logger().info("Peak memory (resident): " +
                  python_format_float(static_cast<double>(*peak) / (1024.0 * 1024.0 * 1024.0), ".3f") + " GB");
}

void EtaCallback::_track_after_update_step(const UpdateCounter& c, const std::map<std::string, double>& times) {
  auto it = times.find("update");
  if (it != times.end()) update_time_sum_ += it->second;
  ++updates_;
  const auto total = total_updates(trainer(), c);
  const int64_t per = updates_per_log_interval(c);
  line_ = "E " + std::to_string(c.epoch()) +
          (total ? "/" + std::to_string(*total / c.updates_per_epoch()) : std::string()) + " | U " +
          std::to_string(c.update()) + (total ? "/" + std::to_string(*total) : std::string()) + " | S " +
          short_number_str(static_cast<double>(c.sample())) + " | next_log " +
          std::to_string(updates_till_next_log(c)) + "/" + std::to_string(per) + " | avg_update " +
          python_format_float(update_time_sum_ / static_cast<double>(updates_), ".3f") + "s";
  if (trainer().is_global_zero()) std::cerr << "\r" << line_ << std::flush;
}

void EtaCallback::_periodic_callback(IntervalType, const UpdateCounter&) {
  if (trainer().is_global_zero()) std::cerr << "\n";
}

void EtaCallback::_after_training(const UpdateCounter&) {
  if (trainer().is_global_zero() && !line_.empty()) std::cerr << "\n";
}

// ---- OnlineLoss / Lr ---------------------------------------------------------------------------------------------------

namespace {
Interval interval_or_epoch(std::optional<int64_t> e, std::optional<int64_t> u, std::optional<int64_t> s) {
  Interval i{e, u, s};
  if (i.empty()) i.every_n_epochs = 1;
  return i;
}
}  // namespace

OnlineLossCallback::OnlineLossCallback(OnlineLossOptions options, std::shared_ptr<Context> context)
    : PeriodicCallback(interval_or_epoch(options.every_n_epochs, options.every_n_updates, options.every_n_samples),
                       std::move(context)),
      options_(options) {}

void OnlineLossCallback::_track_after_accumulation_step(const UpdateCounter&, const Batch&, const LossMap& losses,
                                                        const StepOutput&, int64_t, int64_t) {
  for (const auto& [name, loss] : losses) tracked_[name].push_back(loss.detach().reshape({}));
}

void OnlineLossCallback::_periodic_callback(IntervalType, const UpdateCounter& c) {
  for (auto& [name, values] : tracked_) {
    if (values.empty()) continue;
    const double mean = torch::stack(values).to(torch::kDouble).mean().item<double>();
    values.clear();
    if (std::isnan(mean)) {
      if (options_.skip_nan_loss) {
        logger().warning("NaN loss '" + name + "' at " + c.cur_iteration().str() + " (skipped: skip_nan_loss)");
        continue;
      }
      throw Error("OnlineLossCallback: the mean of loss '" + name + "' over the last interval is NaN at " +
                  c.cur_iteration().str() + " (set OnlineLossOptions::skip_nan_loss to go on)");
    }
    writer().add_scalar("loss/online/" + name + "/" + to_short_interval_string(), mean,
                        options_.verbose ? &logger() : nullptr, ".6f");
  }
}

bool LrCallback::should_log_after_update(const UpdateCounter& counter) const {
  return counter.update() == 1 || PeriodicCallback::should_log_after_update(counter);
}

void LrCallback::_periodic_callback(IntervalType, const UpdateCounter&) {
  const auto& optimizers = trainer().optimizers();
  for (size_t i = 0; i < optimizers.size(); ++i) {
    const auto& groups = optimizers[i]->param_groups();
    for (size_t g = 0; g < groups.size(); ++g) {
      std::string key = "optim/lr";
      if (optimizers.size() > 1) key += "/" + std::to_string(i);
      if (groups.size() > 1) key += "/" + std::to_string(g);
      writer().add_scalar(key, groups[g].options().get_lr());
    }
  }
}

// ---- the set ----------------------------------------------------------------------------------------------------------

std::vector<CallbackPtr> default_callbacks(const DefaultCallbacksOptions& o) {
  std::vector<CallbackPtr> out;
  const Interval log{o.log_every_n_epochs, o.log_every_n_updates, o.log_every_n_samples};
  const Interval track{o.track_every_n_epochs, o.track_every_n_updates, o.track_every_n_samples};
  auto ctx = o.context;
  if (!log.empty() && o.add_eta && ::isatty(STDOUT_FILENO) != 0) out.push_back(std::make_shared<EtaCallback>(log, ctx));
  out.push_back(std::make_shared<DatasetStatsCallback>(ctx));
  out.push_back(std::make_shared<ParamCountCallback>(ctx));
  if (log.empty()) {
    rank_zero_warn("ksuit::default_callbacks: no log interval (log_every_n_epochs/updates/samples): progress, train "
                   "time, peak memory and the verbose online loss are left out");
  } else {
    out.push_back(std::make_shared<ProgressCallback>(log, ctx));
    out.push_back(std::make_shared<TrainTimeCallback>(log, ctx));
    out.push_back(std::make_shared<PeakMemoryCallback>(log, ctx));
    out.push_back(std::make_shared<OnlineLossCallback>(
        OnlineLossOptions{log.every_n_epochs, log.every_n_updates, log.every_n_samples, true, o.skip_nan_loss}, ctx));
  }
  const bool same = track.every_n_epochs == log.every_n_epochs && track.every_n_updates == log.every_n_updates &&
                    track.every_n_samples == log.every_n_samples;
  if (!track.empty()) {
    out.push_back(std::make_shared<LrCallback>(track, ctx));
    // at the log interval already: a second instance would log the same key twice in one update
    if (!same) out.push_back(std::make_shared<OnlineLossCallback>(
        OnlineLossOptions{track.every_n_epochs, track.every_n_updates, track.every_n_samples, false,
                          o.skip_nan_loss},
        ctx));
  }
  return out;
}

}  // namespace volt::ksuit
