// ModelCheckpoint, following Lightning's callbacks/model_checkpoint.py (2.2) decision by decision.
#include "volt/callbacks/model_checkpoint.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <regex>

#include "volt/error.hpp"
#include "volt/messages.hpp"
#include "volt/serialization/python_repr.hpp"
#include "volt/trainer.hpp"

namespace fs = std::filesystem;

namespace volt {
namespace {

double monotonic_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Python's format(tensor.item(), spec) for the specs checkpoint names use ("", ".2f", "03d", ".4e", ...).
std::string format_metric(const torch::Tensor& value, const std::string& spec) {
  bool integral = !value.is_floating_point();
  if (spec.empty()) return integral ? std::to_string(value.item<int64_t>()) : python_float_repr(value.item<double>());
  char type = spec.back();
  std::string printf_spec = "%" + spec;
  char buf[128];
  if (type == 'd') {
    std::snprintf(buf, sizeof buf, (printf_spec.substr(0, printf_spec.size() - 1) + "lld").c_str(),
                  static_cast<long long>(value.item<int64_t>()));
  } else if (type == 'f' || type == 'e' || type == 'g' || type == 'F' || type == 'E' || type == 'G') {
    std::snprintf(buf, sizeof buf, printf_spec.c_str(), value.item<double>());
  } else {
    throw MisconfigurationError("ModelCheckpoint: unsupported format spec ':" + spec + "' in the filename template");
  }
  return buf;
}

bool tensor_less(const torch::Tensor& a, const torch::Tensor& b) { return a.item<double>() < b.item<double>(); }

}  // namespace

std::string timedelta_repr(double seconds) {
  // datetime.timedelta normalises to days, seconds, microseconds and prints only the non-zero fields
  auto total_us = static_cast<int64_t>(std::llround(seconds * 1e6));
  int64_t days = total_us / 86400000000LL, rest = total_us % 86400000000LL;
  if (rest < 0) rest += 86400000000LL, --days;
  int64_t secs = rest / 1000000, micros = rest % 1000000;
  std::string out = "datetime.timedelta(";
  std::string sep;
  if (days) out += "days=" + std::to_string(days), sep = ", ";
  if (secs) out += sep + "seconds=" + std::to_string(secs), sep = ", ";
  if (micros) out += sep + "microseconds=" + std::to_string(micros);
  if (!days && !secs && !micros) out += "0";
  return out + ")";
}

ModelCheckpoint::ModelCheckpoint(ModelCheckpointOptions options) : options_(std::move(options)) {
  auto& o = options_;
  if (o.mode != "min" && o.mode != "max")
    throw MisconfigurationError("`mode` can be min, max but got " + o.mode);
  kth_value_ = torch::tensor(o.mode == "min" ? INFINITY : -INFINITY);
  if (!o.dirpath.empty()) dirpath_ = fs::weakly_canonical(fs::absolute(o.dirpath)).string();
  if (!o.every_n_train_steps && !o.every_n_epochs && !o.train_time_interval_seconds) {
    every_n_epochs_ = 1;
    every_n_train_steps_ = 0;
  } else {
    every_n_epochs_ = o.every_n_epochs.value_or(0);
    every_n_train_steps_ = o.every_n_train_steps.value_or(0);
  }
  if (o.save_last != "" && o.save_last != "true" && o.save_last != "link")
    throw MisconfigurationError("ModelCheckpoint(save_last='" + o.save_last + "') must be '', 'true' or 'link'");
  if (o.save_top_k < -1)
    throw MisconfigurationError("Invalid value for save_top_k=" + std::to_string(o.save_top_k) + ". Must be >= -1");
  if (every_n_train_steps_ < 0)
    throw MisconfigurationError("Invalid value for every_n_train_steps=" + std::to_string(every_n_train_steps_) +
                                ". Must be >= 0");
  if (every_n_epochs_ < 0)
    throw MisconfigurationError("Invalid value for every_n_epochs=" + std::to_string(every_n_epochs_) +
                                ". Must be >= 0");
  int triggers = (every_n_train_steps_ >= 1) + (every_n_epochs_ >= 1) + (o.train_time_interval_seconds.has_value());
  if (triggers > 1)
    throw MisconfigurationError(detail::concat(
        "Combination of parameters every_n_train_steps=", every_n_train_steps_, ", every_n_epochs=", every_n_epochs_,
        " and train_time_interval=",
        o.train_time_interval_seconds ? timedelta_repr(*o.train_time_interval_seconds) : std::string("None"),
        " should be mutually exclusive."));
  if (!o.monitor && o.save_top_k != -1 && o.save_top_k != 0 && o.save_top_k != 1)
    throw MisconfigurationError("ModelCheckpoint(save_top_k=" + std::to_string(o.save_top_k) +
                                ", monitor=None) is not a valid configuration. No quantity for top_k to track.");
}

std::string ModelCheckpoint::state_key() const {
  IValue monitor = options_.monitor ? IValue(*options_.monitor) : IValue();
  std::string key = generate_state_key({{"monitor", monitor},
                                        {"mode", options_.mode},
                                        {"every_n_train_steps", every_n_train_steps_},
                                        {"every_n_epochs", every_n_epochs_},
                                        {"train_time_interval", IValue()}});
  if (options_.train_time_interval_seconds) {  // a timedelta is not an IValue: patch its repr in
    const std::string none = "'train_time_interval': None}";
    key.replace(key.size() - none.size(), none.size(),
                "'train_time_interval': " + timedelta_repr(*options_.train_time_interval_seconds) + "}");
  }
  return key;
}

StateDict ModelCheckpoint::state_dict() {
  c10::impl::GenericDict best_k(c10::StringType::get(), c10::AnyType::get());
  for (const auto& path : best_k_order_) best_k.insert(path, best_k_models_.at(path));
  auto optional_tensor = [](const std::optional<torch::Tensor>& t) { return t ? IValue(*t) : IValue(); };
  return {{"monitor", options_.monitor ? IValue(*options_.monitor) : IValue()},
          {"best_model_score", optional_tensor(best_model_score_)},
          {"best_model_path", best_model_path_},
          {"current_score", optional_tensor(current_score_)},
          {"dirpath", dirpath_.empty() ? IValue() : IValue(dirpath_)},
          {"best_k_models", best_k},
          {"kth_best_model_path", kth_best_model_path_},
          {"kth_value", kth_value_},
          {"last_model_path", last_model_path_}};
}

void ModelCheckpoint::load_state_dict(const StateDict& state) {
  auto str = [&](const char* key, const std::string& fallback) {
    IValue v = state.get(key);
    return v.isString() ? v.toStringRef() : fallback;
  };
  auto tensor = [&](const char* key) -> std::optional<torch::Tensor> {
    IValue v = state.get(key);
    if (v.isTensor()) return v.toTensor();
    if (v.isDouble()) return torch::tensor(v.toDouble());
    return std::nullopt;
  };
  std::string dirpath_from_ckpt = str("dirpath", dirpath_);
  if (dirpath_ == dirpath_from_ckpt) {
    best_model_score_ = tensor("best_model_score");
    kth_best_model_path_ = str("kth_best_model_path", kth_best_model_path_);
    if (auto t = tensor("kth_value")) kth_value_ = *t;
    if (state.contains("best_k_models") && state.at("best_k_models").isGenericDict()) {
      best_k_models_.clear();
      best_k_order_.clear();
      for (const auto& item : state.at("best_k_models").toGenericDict()) {
        if (!item.key().isString()) continue;
        auto value = item.value().isTensor() ? item.value().toTensor() : torch::tensor(item.value().toDouble());
        best_k_models_[item.key().toStringRef()] = value;
        best_k_order_.push_back(item.key().toStringRef());
      }
    }
    last_model_path_ = str("last_model_path", last_model_path_);
  } else {
    rank_zero_warn("The dirpath has changed from '" + dirpath_from_ckpt + "' to '" + dirpath_ +
                   "', therefore `best_model_score`, `kth_best_model_path`, `kth_value`, `last_model_path` and "
                   "`best_k_models` won't be reloaded. Only `best_model_path` will be reloaded.");
  }
  best_model_path_ = str("best_model_path", best_model_path_);
}

std::string ModelCheckpoint::resolve_dirpath(const Trainer& trainer) const {
  if (!dirpath_.empty()) return dirpath_;
  if (!trainer.loggers().empty() && !trainer.loggers().front()->log_dir().empty())
    return (fs::path(trainer.loggers().front()->log_dir()) / "checkpoints").string();
  return (fs::path(trainer.default_root_dir()) / "checkpoints").string();
}

void ModelCheckpoint::setup(Trainer& trainer, Module&, const std::string& stage) {
  dirpath_ = resolve_dirpath(trainer);
  if (trainer.is_global_zero() && stage == "fit" && options_.save_top_k != 0 && fs::is_directory(dirpath_) &&
      !fs::is_empty(dirpath_))
    rank_zero_warn("Checkpoint directory " + dirpath_ + " exists and is not empty.");
}

void ModelCheckpoint::on_train_start(Trainer&, Module&) { last_time_checked_ = monotonic_seconds(); }

bool ModelCheckpoint::should_skip_saving(Trainer& trainer) const {
  return trainer.options().fast_dev_run > 0 || trainer.fn() != TrainerFn::kFitting || trainer.sanity_checking() ||
         last_global_step_saved_ == trainer.global_step();
}

bool ModelCheckpoint::should_save_on_train_epoch_end(Trainer& trainer) const {
  if (options_.save_on_train_epoch_end) return *options_.save_on_train_epoch_end;
  const auto& every = trainer.options().check_val_every_n_epoch;
  if (!every || *every != 1) return false;
  int64_t val_batches = 0;
  for (auto n : trainer.num_val_batches()) val_batches += n;
  if (val_batches == 0) return true;
  const auto& interval = trainer.options().val_check_interval;
  return !interval.is_count && interval.fraction == 1.0;
}

void ModelCheckpoint::on_train_batch_end(Trainer& trainer, Module&, const StepOutput&, const Batch&, int64_t) {
  if (should_skip_saving(trainer)) return;
  bool skip_batch = every_n_train_steps_ < 1 || trainer.global_step() % every_n_train_steps_ != 0;
  bool skip_time = true;
  double now = monotonic_seconds();
  if (options_.train_time_interval_seconds)
    skip_time = last_time_checked_ < 0 || now - last_time_checked_ < *options_.train_time_interval_seconds;
  if (skip_batch && skip_time) return;
  if (!skip_time) last_time_checked_ = now;
  auto candidates = monitor_candidates(trainer);
  save_topk_checkpoint(trainer, candidates);
  save_last_checkpoint(trainer, candidates);
}

void ModelCheckpoint::save_epoch_checkpoints(Trainer& trainer) {
  auto candidates = monitor_candidates(trainer);
  if (every_n_epochs_ >= 1 && (trainer.current_epoch() + 1) % every_n_epochs_ == 0)
    save_topk_checkpoint(trainer, candidates);
  save_last_checkpoint(trainer, candidates);
}

void ModelCheckpoint::on_train_epoch_end(Trainer& trainer, Module&) {
  if (!should_skip_saving(trainer) && should_save_on_train_epoch_end(trainer)) save_epoch_checkpoints(trainer);
}

void ModelCheckpoint::on_validation_end(Trainer& trainer, Module&) {
  if (!should_skip_saving(trainer) && !should_save_on_train_epoch_end(trainer)) save_epoch_checkpoints(trainer);
}

void ModelCheckpoint::on_exception(Trainer& trainer, Module&, const std::exception&) {
  if (!options_.save_on_exception || trainer.fn() != TrainerFn::kFitting) return;
  auto candidates = monitor_candidates(trainer);
  std::string filepath = format_checkpoint_name(candidates, "{epoch}-{step}-exception");
  save_checkpoint(trainer, filepath);
}

MetricMap ModelCheckpoint::monitor_candidates(Trainer& trainer) const {
  MetricMap candidates = trainer.callback_metrics();
  auto epoch = candidates.find("epoch");
  candidates["epoch"] = epoch != candidates.end() ? epoch->second.to(torch::kInt)
                                                  : torch::tensor(trainer.current_epoch(), torch::kLong);
  auto step = candidates.find("step");
  candidates["step"] = step != candidates.end() ? step->second.to(torch::kInt)
                                                : torch::tensor(trainer.global_step(), torch::kLong);
  return candidates;
}

std::string ModelCheckpoint::format_checkpoint_name(const MetricMap& metrics, const std::string& filename_in,
                                                    std::optional<int64_t> version) const {
  std::string filename = filename_in.empty() ? options_.filename : filename_in;
  if (filename.empty()) filename = std::string("{epoch}") + kJoinChar + "{step}";
  // Each "{name}" or "{name:spec}" becomes "name=<value>" (or "<value>" without auto_insert_metric_name).
  static const std::regex group(R"(\{([^}:]*)(?::([^}]*))?\})");
  std::string out;
  auto begin = std::sregex_iterator(filename.begin(), filename.end(), group);
  size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    const auto& m = *it;
    out += filename.substr(last, m.position() - last);
    std::string name = m[1].str();
    auto value = metrics.find(name);
    torch::Tensor v = value != metrics.end() ? value->second : torch::tensor(0, torch::kLong);
    if (options_.auto_insert_metric_name) out += name + kEqualsChar;
    out += format_metric(v, m[2].str());
    last = m.position() + m.length();
  }
  out += filename.substr(last);
  if (version) out += std::string(kJoinChar) + "v" + std::to_string(*version);
  out += kFileExtension;
  return dirpath_.empty() ? out : (fs::path(dirpath_) / out).string();
}

void ModelCheckpoint::save_topk_checkpoint(Trainer& trainer, const MetricMap& candidates) {
  if (options_.save_top_k == 0) return;
  if (options_.monitor) {
    if (!candidates.count(*options_.monitor)) {
      std::string keys;
      for (const auto& kv : candidates) keys += (keys.empty() ? "'" : ", '") + kv.first + "'";
      std::string message = "`ModelCheckpoint(monitor='" + *options_.monitor +
                            "')` could not find the monitored key in the returned metrics: [" + keys +
                            "]. HINT: Did you call `log('" + *options_.monitor + "', value)` in the `LightningModule`?";
      if (trainer.validation_has_run()) throw MisconfigurationError(message);
      rank_zero_warn(message);
    }
    save_monitor_checkpoint(trainer, candidates);
  } else {
    save_none_monitor_checkpoint(trainer, candidates);
  }
}

bool ModelCheckpoint::check_monitor_top_k(Trainer& trainer, const std::optional<torch::Tensor>& current) const {
  if (!current) return false;
  if (options_.save_top_k == -1) return true;
  if (static_cast<int64_t>(best_k_models_.size()) < options_.save_top_k) return true;
  const auto& kth = best_k_models_.at(kth_best_model_path_);
  bool better = options_.mode == "min" ? tensor_less(*current, kth) : tensor_less(kth, *current);
  return trainer.reduce_boolean_decision(better);
}

void ModelCheckpoint::save_monitor_checkpoint(Trainer& trainer, const MetricMap& candidates) {
  auto it = candidates.find(*options_.monitor);
  std::optional<torch::Tensor> current;
  if (it != candidates.end()) current = it->second;
  if (check_monitor_top_k(trainer, current)) {
    update_best_and_save(*current, trainer, candidates);
  } else if (options_.verbose) {
    rank_zero_info(detail::concat("Epoch ", candidates.at("epoch").item<int64_t>(), ", global step ",
                                  candidates.at("step").item<int64_t>(), ": '", *options_.monitor,
                                  "' was not in top ", options_.save_top_k));
  }
}

void ModelCheckpoint::save_none_monitor_checkpoint(Trainer& trainer, const MetricMap& candidates) {
  std::string filepath = interpolated_filepath(candidates, trainer, best_model_path_);
  std::string previous = best_model_path_;
  best_model_path_ = filepath;  // part of the state being saved
  save_checkpoint(trainer, filepath);
  if (options_.save_top_k == 1 && !previous.empty() && should_remove_checkpoint(trainer, previous, filepath))
    fs::remove(previous);
}

void ModelCheckpoint::update_best_and_save(torch::Tensor current, Trainer& trainer, const MetricMap& candidates) {
  int64_t k = options_.save_top_k == -1 ? static_cast<int64_t>(best_k_models_.size()) + 1 : options_.save_top_k;
  std::string del_filepath;
  if (static_cast<int64_t>(best_k_models_.size()) == k && k > 0) {
    del_filepath = kth_best_model_path_;
    best_k_models_.erase(del_filepath);
    best_k_order_.erase(std::find(best_k_order_.begin(), best_k_order_.end(), del_filepath));
  }
  if (std::isnan(current.item<double>()))  // never rank NaN as best
    current = torch::tensor(options_.mode == "min" ? INFINITY : -INFINITY);
  std::string filepath = interpolated_filepath(candidates, trainer, del_filepath);
  current_score_ = current;
  if (!best_k_models_.count(filepath)) best_k_order_.push_back(filepath);
  best_k_models_[filepath] = current;
  // Python's max/min over the dict return the first maximum in insertion order
  auto pick = [&](bool want_max) {
    std::string best = best_k_order_.front();
    for (const auto& path : best_k_order_) {
      const auto& v = best_k_models_.at(path);
      const auto& b = best_k_models_.at(best);
      if (want_max ? tensor_less(b, v) : tensor_less(v, b)) best = path;
    }
    return best;
  };
  if (static_cast<int64_t>(best_k_models_.size()) == k) {
    kth_best_model_path_ = pick(options_.mode == "min");
    kth_value_ = best_k_models_.at(kth_best_model_path_);
  }
  best_model_path_ = pick(options_.mode != "min");
  best_model_score_ = best_k_models_.at(best_model_path_);
  if (options_.verbose) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "Epoch %lld, global step %lld: '%s' reached %0.5f (best %0.5f), saving model to '%s' as top %lld",
                  static_cast<long long>(candidates.at("epoch").item<int64_t>()),
                  static_cast<long long>(candidates.at("step").item<int64_t>()), options_.monitor->c_str(),
                  current.item<double>(), best_model_score_->item<double>(), filepath.c_str(), static_cast<long long>(k));
    rank_zero_info(buf);
  }
  save_checkpoint(trainer, filepath);
  if (!del_filepath.empty() && should_remove_checkpoint(trainer, del_filepath, filepath)) fs::remove(del_filepath);
}

std::string ModelCheckpoint::interpolated_filepath(const MetricMap& candidates, Trainer& trainer,
                                                   const std::string& del_filepath) {
  std::string filepath = format_checkpoint_name(candidates);
  if (options_.enable_version_counter) {
    int64_t version = 1;
    while (trainer.reduce_boolean_decision(fs::exists(filepath), /*all=*/false) && filepath != del_filepath)
      filepath = format_checkpoint_name(candidates, "", version++);
  }
  return filepath;
}

void ModelCheckpoint::save_last_checkpoint(Trainer& trainer, const MetricMap& candidates) {
  if (options_.save_last.empty()) return;
  std::string filepath = format_checkpoint_name(candidates, kNameLast);
  if (options_.enable_version_counter) {
    int64_t version = 1;
    while (fs::exists(filepath) && filepath != last_model_path_)
      filepath = format_checkpoint_name(candidates, kNameLast, version++);
  }
  std::string previous = last_model_path_;
  last_model_path_ = filepath;
  if (options_.save_last == "link" && !last_checkpoint_saved_.empty() && options_.save_top_k != 0) {
    if (trainer.is_global_zero()) {
      std::error_code ignored;
      fs::remove(filepath, ignored);
      fs::create_symlink(fs::relative(last_checkpoint_saved_, fs::path(filepath).parent_path()), filepath);
    }
    trainer.barrier("ModelCheckpoint._link_checkpoint");
  } else {
    save_checkpoint(trainer, filepath);
  }
  if (!previous.empty() && should_remove_checkpoint(trainer, previous, filepath)) fs::remove(previous);
}

void ModelCheckpoint::save_checkpoint(Trainer& trainer, const std::string& filepath) {
  trainer.save_checkpoint(filepath, options_.save_weights_only);
  last_global_step_saved_ = trainer.global_step();
  last_checkpoint_saved_ = filepath;
}

bool ModelCheckpoint::should_remove_checkpoint(Trainer& trainer, const std::string& previous,
                                               const std::string& current) const {
  if (previous == current) return false;
  fs::path prev = fs::absolute(previous);
  if (!trainer.ckpt_path().empty() && prev == fs::absolute(trainer.ckpt_path())) return false;  // resuming from it
  fs::path dir = fs::absolute(dirpath_);
  for (auto p = prev.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path())
    if (p == dir) return true;
  return false;
}

std::vector<std::string> ModelCheckpoint::last_checkpoint_candidates() const {
  std::vector<std::string> out;
  if (dirpath_.empty() || !fs::is_directory(dirpath_)) return out;
  static const std::regex last(R"(^last(-(\d+))?)");
  for (const auto& entry : fs::directory_iterator(dirpath_)) {
    const auto& p = entry.path();
    if (p.extension() == kFileExtension && std::regex_search(p.stem().string(), last)) out.push_back(p.string());
  }
  return out;
}

}  // namespace volt
