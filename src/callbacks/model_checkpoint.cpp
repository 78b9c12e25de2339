// ModelCheckpoint, following Lightning 2.2.5's callbacks/model_checkpoint.py decision by decision.
#include "volt/callbacks/model_checkpoint.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <regex>
#include <set>

#include "volt/detail/atomic_file.hpp"
#include "volt/error.hpp"
#include "volt/ksuit/metric_properties.hpp"
#include "volt/messages.hpp"
#include "volt/serialization/python_format.hpp"
#include "volt/serialization/python_repr.hpp"
#include "volt/trainer.hpp"

namespace fs = std::filesystem;

namespace volt {
namespace {

double monotonic_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// model_checkpoint.py's module-level WarningCache: each distinct message is warned once per process.
void warn_once(const std::string& message) {
  static std::mutex mutex;
  static std::set<std::string> seen;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!seen.insert(message).second) return;
  }
  rank_zero_warn(message);
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
    out.append(s, pos, hit - pos);
    out += to;
  }
  out.append(s, pos, std::string::npos);
  s = std::move(out);
}

// Tensor.__format__, with Python's errors as MisconfigurationError.
std::string format_tensor(const torch::Tensor& value, const std::string& spec) {
  try {
    return python_format_tensor(value, spec);
  } catch (const MisconfigurationError&) {
    throw;
  } catch (const Error& e) {
    throw MisconfigurationError(e.what());
  }
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// One replacement field of str.format(metrics), resolved as Python's field_name_split + getitem do. Only the
// shape ModelCheckpoint produces ("0[name]") can succeed: the argument is the metrics dict.
const torch::Tensor& resolve_field(const std::string& field, const MetricMap& metrics) {
  size_t pos = 0;
  while (pos < field.size() && field[pos] != '.' && field[pos] != '[') ++pos;
  const std::string first = field.substr(0, pos);
  if (!first.empty() && !all_digits(first)) throw MisconfigurationError(python_str_repr(first));  // KeyError
  if (!first.empty() && first != "0")
    throw MisconfigurationError("Replacement index " + first + " out of range for positional args tuple");
  std::optional<std::string> key;
  bool first_item = true;
  while (pos < field.size()) {
    if (field[pos] == '.') {
      size_t end = pos + 1;
      while (end < field.size() && field[end] != '.' && field[end] != '[') ++end;
      if (end == pos + 1) throw MisconfigurationError("Empty attribute in format string");
      throw MisconfigurationError("'dict' object has no attribute " +
                                  python_str_repr(field.substr(pos + 1, end - pos - 1)));
    }
    size_t close = field.find(']', pos + 1);
    if (close == std::string::npos) throw MisconfigurationError("Missing ']' in format string");
    if (close + 1 < field.size() && field[close + 1] != '.' && field[close + 1] != '[')
      throw MisconfigurationError("Only '.' or '[' may follow ']' in format field specifier");
    std::string item = field.substr(pos + 1, close - pos - 1);
    if (item.empty()) throw MisconfigurationError("Empty attribute in format string");
    if (!first_item) throw MisconfigurationError("volt: checkpoint names can index the metrics only once");
    if (all_digits(item)) throw MisconfigurationError(item);  // KeyError: an int key in a dict of str
    key = item;
    first_item = false;
    pos = close + 1;
  }
  if (!key) throw MisconfigurationError("volt: a checkpoint name field must name a metric, got {" + field + "}");
  auto it = metrics.find(*key);
  if (it == metrics.end()) throw MisconfigurationError(python_str_repr(*key));  // KeyError
  return it->second;
}

// Python's `template.format(metrics)` (CPython's MarkupIterator and parse_field) for the fields ModelCheckpoint
// writes: "{0[name]}" and "{0[name]:spec}"; "{{" and "}}" are literal braces.
std::string format_template(const std::string& s, const MetricMap& metrics) {
  std::string out;
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const char c = s[i];
    if (c != '{' && c != '}') {
      out += c;
      ++i;
      continue;
    }
    const bool at_end = i + 1 >= n;
    if (c == '}') {
      if (at_end || s[i + 1] != '}') throw MisconfigurationError("Single '}' encountered in format string");
      out += '}';
      i += 2;
      continue;
    }
    if (at_end) throw MisconfigurationError("Single '{' encountered in format string");
    if (s[i + 1] == '{') {
      out += '{';
      i += 2;
      continue;
    }
    size_t pos = i + 1;
    const size_t name_start = pos;
    char last = '\0';
    while (pos < n) {
      last = s[pos++];
      if (last == '{') throw MisconfigurationError("unexpected '{' in field name");
      if (last == '[') {
        while (pos < n && s[pos] != ']') ++pos;
        continue;
      }
      if (last == '}' || last == ':' || last == '!') break;
    }
    const std::string field = s.substr(name_start, pos - 1 - name_start);
    std::string spec;
    if (last == '!' || last == ':') {
      if (last == '!') {
        if (pos >= n) throw MisconfigurationError("end of string while looking for conversion specifier");
        ++pos;  // the conversion character
        if (pos < n) {
          const char after = s[pos++];
          if (after != ':' && after != '}') throw MisconfigurationError("expected ':' after conversion specifier");
        }
        throw MisconfigurationError("volt: conversions (!r, !s, !a) are not supported in checkpoint names");
      }
      const size_t spec_start = pos;
      int count = 1;
      bool closed = false;
      while (pos < n) {
        const char d = s[pos++];
        if (d == '{') {
          throw MisconfigurationError("volt: nested replacement fields are not supported in checkpoint names");
        } else if (d == '}' && --count == 0) {
          closed = true;
          break;
        }
      }
      if (!closed) throw MisconfigurationError("unmatched '{' in format spec");
      spec = s.substr(spec_start, pos - 1 - spec_start);
    } else if (last != '}') {
      throw MisconfigurationError("expected '}' before end of string");
    }
    out += format_tensor(resolve_field(field, metrics), spec);
    i = pos;
  }
  return out;
}

std::string expand_user(const std::string& path) {
  if (path.empty() || path[0] != '~') return path;
  const size_t slash = path.find('/');
  if (slash != 1 && path.size() != 1) return path;  // "~user" is left alone
  const char* home = std::getenv("HOME");
  if (home == nullptr) return path;
  return std::string(home) + (slash == std::string::npos ? "" : path.substr(slash));
}

// os.path.realpath: absolute, symbolic links resolved, "." and ".." removed; missing tails are kept as written.
std::string realpath(const std::string& path) { return fs::weakly_canonical(fs::absolute(path)).string(); }

std::string keys_list(const MetricMap& callback_metrics) {
  // Python lists callback_metrics in insertion order, then "epoch" and "step" unless they were logged
  std::string out;
  auto add = [&](const std::string& k) { out += (out.empty() ? "" : ", ") + python_str_repr(k); };
  for (const auto& kv : callback_metrics) add(kv.first);
  if (!callback_metrics.count("epoch")) add("epoch");
  if (!callback_metrics.count("step")) add("step");
  return "[" + out + "]";
}

bool tensor_lt(const torch::Tensor& a, const torch::Tensor& b) { return torch::lt(a, b).item<bool>(); }
bool tensor_gt(const torch::Tensor& a, const torch::Tensor& b) { return torch::gt(a, b).item<bool>(); }

}  // namespace

SaveLast::SaveLast(const char* mode) : mode_(kLink) {
  if (mode == nullptr || std::string(mode) != "link")
    throw MisconfigurationError(std::string("ModelCheckpoint(save_last=") +
                                (mode ? python_str_repr(mode) : std::string("None")) +
                                ") is not supported: use true, false or \"link\"");
}

ModelCheckpoint::ModelCheckpoint(ModelCheckpointOptions options) : options_(std::move(options)) {
  auto& o = options_;
  // __init_monitor_mode
  // "auto" (volt): setup asks trainer.metric_properties() for min or max; the error keeps Lightning's text
  if (o.mode != "min" && o.mode != "max" && o.mode != "auto")
    throw MisconfigurationError("`mode` can be min, max but got " + o.mode);
  mode_ = o.mode == "auto" && !o.monitor ? "min" : o.mode;  // without a monitor the mode does not matter
  if (mode_ != "auto") kth_value_ = torch::tensor(mode_ == "min" ? INFINITY : -INFINITY);
  // __init_ckpt_dir
  if (!o.dirpath.empty()) dirpath_ = realpath(expand_user(o.dirpath));
  // __init_triggers
  if (!o.every_n_train_steps && !o.every_n_epochs && !o.train_time_interval) {
    every_n_epochs_ = 1;
    every_n_train_steps_ = 0;
  } else {
    every_n_epochs_ = o.every_n_epochs.value_or(0);
    every_n_train_steps_ = o.every_n_train_steps.value_or(0);
  }
  // __validate_init_configuration
  if (o.save_top_k < -1)
    throw MisconfigurationError(detail::concat("Invalid value for save_top_k=", o.save_top_k, ". Must be >= -1"));
  if (every_n_train_steps_ < 0)
    throw MisconfigurationError(
        detail::concat("Invalid value for every_n_train_steps=", every_n_train_steps_, ". Must be >= 0"));
  if (every_n_epochs_ < 0)
    throw MisconfigurationError(detail::concat("Invalid value for every_n_epochs=", every_n_epochs_, ". Must be >= 0"));
  const int triggers = (every_n_train_steps_ >= 1) + (every_n_epochs_ >= 1) + o.train_time_interval.has_value();
  if (triggers > 1)
    throw MisconfigurationError(detail::concat(
        "Combination of parameters every_n_train_steps=", every_n_train_steps_, ", every_n_epochs=", every_n_epochs_,
        " and train_time_interval=", o.train_time_interval ? o.train_time_interval->str() : std::string("None"),
        " should be mutually exclusive."));
  if (!o.monitor && o.save_top_k != -1 && o.save_top_k != 0 && o.save_top_k != 1)
    throw MisconfigurationError(detail::concat("ModelCheckpoint(save_top_k=", o.save_top_k,
                                               ", monitor=None) is not a valid configuration. No quantity for top_k "
                                               "to track."));
}

// ---- state --------------------------------------------------------------------------------------------------------

std::string ModelCheckpoint::state_key() const {
  IValue monitor = options_.monitor ? IValue(*options_.monitor) : IValue();
  std::string key = generate_state_key({{"monitor", monitor},
                                        {"mode", options_.mode},
                                        {"every_n_train_steps", every_n_train_steps_},
                                        {"every_n_epochs", every_n_epochs_},
                                        {"train_time_interval", IValue()}});
  if (options_.train_time_interval) {  // a timedelta is not an IValue: put its repr in place of None
    const std::string none = "None}";
    key.replace(key.size() - none.size(), none.size(), options_.train_time_interval->repr() + "}");
  }
  return key;
}

StateDict ModelCheckpoint::state_dict() {
  c10::impl::GenericDict best_k(c10::StringType::get(), c10::AnyType::get());
  for (const auto& kv : best_k_models_) best_k.insert(kv.first, kv.second);
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
  const std::string where = "ModelCheckpoint state '" + state_key() + "'";
  auto required = [&](const char* key) {
    if (!state.contains(key)) throw CheckpointError(where + " has no '" + key + "' key");
    return state.at(key);
  };
  auto as_string = [&](const char* key, const IValue& v) {
    if (!v.isString()) throw CheckpointError(where + " key '" + key + "': expected a str, found " + v.tagKind());
    return v.toStringRef();
  };
  auto as_tensor = [&](const char* key, const IValue& v) -> torch::Tensor {
    if (v.isTensor()) return v.toTensor();
    if (v.isDouble()) return torch::tensor(v.toDouble(), torch::kDouble);
    if (v.isInt()) return torch::tensor(v.toInt(), torch::kLong);
    throw CheckpointError(where + " key '" + key + "': expected a tensor, found " + v.tagKind());
  };
  // dirpath_from_ckpt = state_dict.get("dirpath", self.dirpath); None and "" both mean "not resolved"
  const IValue ckpt_dir = state.get("dirpath", dirpath_.empty() ? IValue() : IValue(dirpath_));
  const std::string ckpt_dirpath = ckpt_dir.isString() ? ckpt_dir.toStringRef() : "";
  if (ckpt_dirpath == dirpath_) {
    IValue score = required("best_model_score");
    best_model_score_.reset();
    if (!score.isNone()) best_model_score_ = as_tensor("best_model_score", score);
    if (state.contains("kth_best_model_path"))
      kth_best_model_path_ = as_string("kth_best_model_path", state.at("kth_best_model_path"));
    if (state.contains("kth_value")) kth_value_ = as_tensor("kth_value", state.at("kth_value"));
    if (state.contains("best_k_models")) {
      IValue models = state.at("best_k_models");
      if (!models.isGenericDict()) throw CheckpointError(where + " key 'best_k_models': expected a dict");
      best_k_models_.clear();
      for (const auto& item : models.toGenericDict()) {
        if (!item.key().isString()) throw CheckpointError(where + " key 'best_k_models': expected str keys");
        best_k_models_.emplace_back(item.key().toStringRef(), as_tensor("best_k_models", item.value()));
      }
    }
    if (state.contains("last_model_path"))
      last_model_path_ = as_string("last_model_path", state.at("last_model_path"));
  } else {
    auto show = [](const std::string& d) { return d.empty() ? std::string("None") : python_str_repr(d); };
    rank_zero_warn("The dirpath has changed from " + show(ckpt_dirpath) + " to " + show(dirpath_) +
                   ", therefore `best_model_score`, `kth_best_model_path`, `kth_value`, `last_model_path` and "
                   "`best_k_models` won't be reloaded. Only `best_model_path` will be reloaded.");
  }
  best_model_path_ = as_string("best_model_path", required("best_model_path"));
}

// ---- hooks --------------------------------------------------------------------------------------------------------

std::string ModelCheckpoint::resolve_ckpt_dir(const Trainer& trainer) const {
  if (!dirpath_.empty()) return dirpath_;
  if (!trainer.loggers().empty()) {
    const auto& logger = trainer.loggers().front();
    // Lightning: join(save_dir or default_root_dir, name, version, "checkpoints"), i.e. the logger's log_dir
    if (!logger->log_dir().empty()) return (fs::path(logger->log_dir()) / "checkpoints").string();
    return (fs::path(trainer.default_root_dir()) / logger->name() / logger->version() / "checkpoints").string();
  }
  return (fs::path(trainer.default_root_dir()) / "checkpoints").string();
}

void ModelCheckpoint::setup(Trainer& trainer, Module&, const std::string& stage) {
  if (mode_ == "auto") {
    mode_ = trainer.metric_properties().mode_for(*options_.monitor,
                                                 "ModelCheckpoint(monitor='" + *options_.monitor + "', mode='auto')");
    kth_value_ = torch::tensor(mode_ == "min" ? INFINITY : -INFINITY);
  }
  dirpath_ = trainer.strategy().broadcast(resolve_ckpt_dir(trainer), 0);  // rank 0's directory for every rank
  std::error_code ec;
  if (trainer.is_global_zero() && stage == "fit" && options_.save_top_k != 0 && fs::is_directory(dirpath_, ec) &&
      !fs::is_empty(dirpath_, ec))
    rank_zero_warn("Checkpoint directory " + dirpath_ + " exists and is not empty.");
}

void ModelCheckpoint::on_train_start(Trainer&, Module&) { last_time_checked_ = monotonic_seconds(); }

bool ModelCheckpoint::should_skip_saving_checkpoint(Trainer& trainer) const {
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
  // `trainer.val_check_interval == 1.0`: true for the float 1.0 and for the int 1
  const auto& interval = trainer.options().val_check_interval;
  return interval.is_count ? interval.count == 1 : interval.fraction == 1.0;
}

void ModelCheckpoint::on_train_batch_end(Trainer& trainer, Module&, const StepOutput&, const Batch&, int64_t) {
  if (should_skip_saving_checkpoint(trainer)) return;
  const bool skip_batch = every_n_train_steps_ < 1 || trainer.global_step() % every_n_train_steps_ != 0;
  bool skip_time = true;
  const double now = monotonic_seconds();
  if (options_.train_time_interval && *options_.train_time_interval) {  // a zero timedelta is falsy in Python
    skip_time = !last_time_checked_ || now - *last_time_checked_ < options_.train_time_interval->total_seconds();
  }
  if (skip_batch && skip_time) return;
  if (!skip_time) last_time_checked_ = now;
  const MetricMap candidates = monitor_candidates(trainer);
  save_topk_checkpoint(trainer, candidates);
  save_last_checkpoint(trainer, candidates);
}

void ModelCheckpoint::save_epoch_checkpoints(Trainer& trainer) {
  const MetricMap candidates = monitor_candidates(trainer);
  if (every_n_epochs_ >= 1 && (trainer.current_epoch() + 1) % every_n_epochs_ == 0)
    save_topk_checkpoint(trainer, candidates);
  save_last_checkpoint(trainer, candidates);
}

void ModelCheckpoint::on_train_epoch_end(Trainer& trainer, Module&) {
  if (!should_skip_saving_checkpoint(trainer) && should_save_on_train_epoch_end(trainer))
    save_epoch_checkpoints(trainer);
}

void ModelCheckpoint::on_validation_end(Trainer& trainer, Module&) {
  if (!should_skip_saving_checkpoint(trainer) && !should_save_on_train_epoch_end(trainer))
    save_epoch_checkpoints(trainer);
}

void ModelCheckpoint::on_exception(Trainer& trainer, Module&, const std::exception& exception) {
  // Lightning 2.5.3's rule: not restricted to fitting, never twice at one step, no version counter
  if (!options_.save_on_exception || trainer.options().fast_dev_run > 0 || trainer.sanity_checking() ||
      last_global_step_saved_ == trainer.global_step())
    return;
  MetricMap candidates = monitor_candidates(trainer);
  std::string filepath = format_checkpoint_name(candidates);
  save_checkpoint(trainer, filepath);
  save_last_checkpoint(trainer, candidates);
  rank_zero_info("An " + detail::python_style_class_name(typeid(exception)) + " was raised with message:             " +
                 std::string(exception.what()) +
                 ", saved checkpoint to " + filepath);
}

// ---- saving -------------------------------------------------------------------------------------------------------

MetricMap ModelCheckpoint::monitor_candidates(Trainer& trainer) const {
  MetricMap candidates = trainer.callback_metrics();
  // `self.log("epoch", 123)` logs a float: cast to int; anything else is overwritten
  auto epoch = candidates.find("epoch");
  candidates["epoch"] = epoch != candidates.end() ? epoch->second.to(torch::kInt)
                                                  : torch::tensor(trainer.current_epoch(), torch::kLong);
  auto step = candidates.find("step");
  candidates["step"] = step != candidates.end() ? step->second.to(torch::kInt)
                                                : torch::tensor(trainer.global_step(), torch::kLong);
  return candidates;
}

std::string ModelCheckpoint::format_checkpoint_name(const MetricMap& metrics_in, const std::string& filename_in,
                                                    std::optional<int64_t> ver) const {
  MetricMap metrics = metrics_in;
  std::string filename = filename_in.empty() ? options_.filename : filename_in;
  // _format_checkpoint_name
  if (filename.empty()) filename = "{epoch}" + checkpoint_join_char + "{step}";
  static const std::regex group_re(R"((\{.*?)[:\}])");
  std::vector<std::string> groups;
  for (auto it = std::sregex_iterator(filename.begin(), filename.end(), group_re); it != std::sregex_iterator(); ++it)
    groups.push_back((*it)[1].str());
  std::stable_sort(groups.begin(), groups.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const auto& group : groups) {
    const std::string name = group.substr(1);
    if (options_.auto_insert_metric_name) replace_all(filename, group, name + checkpoint_equals_char + "{" + name);
    replace_all(filename, group, "{0[" + name + "]");
    if (!metrics.count(name)) metrics[name] = torch::tensor(0, torch::kLong);
  }
  filename = format_template(filename, metrics);
  if (ver) filename += checkpoint_join_char + "v" + std::to_string(*ver);
  const std::string ckpt_name = filename + file_extension;
  return dirpath_.empty() ? ckpt_name : (fs::path(dirpath_) / ckpt_name).string();
}

const torch::Tensor* ModelCheckpoint::best_k_find(const std::string& path) const {
  for (const auto& kv : best_k_models_)
    if (kv.first == path) return &kv.second;
  return nullptr;
}

void ModelCheckpoint::save_topk_checkpoint(Trainer& trainer, const MetricMap& candidates) {
  if (options_.save_top_k == 0) return;
  if (!options_.monitor) {
    save_none_monitor_checkpoint(trainer, candidates);
    return;
  }
  const std::string& monitor = *options_.monitor;
  if (!candidates.count(monitor)) {
    const std::string message = "`ModelCheckpoint(monitor=" + python_str_repr(monitor) +
                                ")` could not find the monitored key in the returned metrics: " +
                                keys_list(trainer.callback_metrics()) + ". HINT: Did you call `log(" +
                                python_str_repr(monitor) + ", value)` in the `LightningModule`?";
    if (trainer.validation_has_run()) throw MisconfigurationError(message);
    warn_once(message);
  }
  save_monitor_checkpoint(trainer, candidates);
}

bool ModelCheckpoint::check_monitor_top_k(Trainer& trainer, const std::optional<torch::Tensor>& current) const {
  if (!current) return false;
  if (options_.save_top_k == -1) return true;
  if (static_cast<int64_t>(best_k_models_.size()) < options_.save_top_k) return true;
  const torch::Tensor* kth = best_k_find(kth_best_model_path_);
  if (kth == nullptr)
    throw CheckpointError("ModelCheckpoint: kth_best_model_path " + python_str_repr(kth_best_model_path_) +
                          " is not in best_k_models (KeyError in Lightning); the restored state is inconsistent");
  const bool better = mode_ == "min" ? tensor_lt(*current, *kth) : tensor_gt(*current, *kth);
  return trainer.reduce_boolean_decision(better);  // all ranks must agree
}

void ModelCheckpoint::save_monitor_checkpoint(Trainer& trainer, const MetricMap& candidates) {
  auto it = candidates.find(*options_.monitor);
  std::optional<torch::Tensor> current;
  if (it != candidates.end()) current = it->second;
  if (check_monitor_top_k(trainer, current)) {
    update_best_and_save(*current, trainer, candidates);
  } else if (options_.verbose) {
    rank_zero_info("Epoch " + format_tensor(candidates.at("epoch"), "d") + ", global step " +
                   format_tensor(candidates.at("step"), "d") + ": " + python_str_repr(*options_.monitor) +
                   " was not in top " + std::to_string(options_.save_top_k));
  }
}

void ModelCheckpoint::save_none_monitor_checkpoint(Trainer& trainer, const MetricMap& candidates) {
  const std::string filepath = metric_interpolated_filepath(candidates, trainer, best_model_path_);
  // the best model path is set before saving because it is part of the state
  const std::string previous = best_model_path_;
  best_model_path_ = filepath;
  save_checkpoint(trainer, filepath);
  if (options_.save_top_k == 1 && !previous.empty() && should_remove_checkpoint(trainer, previous, filepath))
    remove_checkpoint(trainer, previous);
}

void ModelCheckpoint::update_best_and_save(torch::Tensor current, Trainer& trainer, const MetricMap& candidates) {
  const int64_t k =
      options_.save_top_k == -1 ? static_cast<int64_t>(best_k_models_.size()) + 1 : options_.save_top_k;
  std::string del_filepath;
  if (static_cast<int64_t>(best_k_models_.size()) == k && k > 0) {
    del_filepath = kth_best_model_path_;
    auto it = std::find_if(best_k_models_.begin(), best_k_models_.end(),
                           [&](const auto& kv) { return kv.first == del_filepath; });
    if (it == best_k_models_.end())
      throw CheckpointError("ModelCheckpoint: kth_best_model_path " + python_str_repr(del_filepath) +
                            " is not in best_k_models (KeyError in Lightning)");
    best_k_models_.erase(it);
  }
  // do not save NaN: replace it with +/- inf
  if (torch::isnan(current).item<bool>())
    current = torch::tensor(mode_ == "min" ? INFINITY : -INFINITY).to(current.device());
  const std::string filepath = metric_interpolated_filepath(candidates, trainer, del_filepath);
  current_score_ = current;
  auto existing = std::find_if(best_k_models_.begin(), best_k_models_.end(),
                               [&](const auto& kv) { return kv.first == filepath; });
  if (existing != best_k_models_.end()) existing->second = current;  // a Python dict keeps the key's position
  else best_k_models_.emplace_back(filepath, current);
  // Python's max()/min() over the dict keep the first extreme entry in insertion order
  auto pick = [&](bool want_max) {
    size_t best = 0;
    for (size_t i = 1; i < best_k_models_.size(); ++i) {
      const auto& v = best_k_models_[i].second;
      const auto& b = best_k_models_[best].second;
      if (want_max ? tensor_gt(v, b) : tensor_lt(v, b)) best = i;
    }
    return best_k_models_[best];
  };
  if (static_cast<int64_t>(best_k_models_.size()) == k) {
    const auto kth = pick(/*want_max=*/mode_ == "min");
    kth_best_model_path_ = kth.first;
    kth_value_ = kth.second;
  }
  const auto best = pick(/*want_max=*/mode_ != "min");
  best_model_path_ = best.first;
  best_model_score_ = best.second;
  if (options_.verbose) {
    rank_zero_info("Epoch " + format_tensor(candidates.at("epoch"), "d") + ", global step " +
                   format_tensor(candidates.at("step"), "d") + ": " + python_str_repr(*options_.monitor) +
                   " reached " + format_tensor(current, "0.5f") + " (best " +
                   format_tensor(*best_model_score_, "0.5f") + "), saving model to " + python_str_repr(filepath) +
                   " as top " + std::to_string(k));
  }
  save_checkpoint(trainer, filepath);
  if (!del_filepath.empty() && should_remove_checkpoint(trainer, del_filepath, filepath))
    remove_checkpoint(trainer, del_filepath);
}

std::string ModelCheckpoint::metric_interpolated_filepath(const MetricMap& candidates, Trainer& trainer,
                                                          const std::string& del_filepath) const {
  std::string filepath = format_checkpoint_name(candidates);
  if (options_.enable_version_counter) {
    int64_t version = starting_version;
    // file_exists (Lightning 2.2): rank 0 looks, the answer is broadcast, so every rank picks the same name
    while (trainer.strategy().broadcast(fs::exists(filepath), 0) && filepath != del_filepath)
      filepath = format_checkpoint_name(candidates, "", version++);
  }
  return filepath;
}

void ModelCheckpoint::save_last_checkpoint(Trainer& trainer, const MetricMap& candidates) {
  if (!options_.save_last) return;
  std::string filepath = format_checkpoint_name(candidates, checkpoint_name_last);
  if (options_.enable_version_counter) {
    int64_t version = starting_version;
    while (trainer.strategy().broadcast(fs::exists(filepath), 0) && filepath != last_model_path_)
      filepath = format_checkpoint_name(candidates, checkpoint_name_last, version++);
  }
  // the last model path is set before saving because it is part of the state
  const std::string previous = last_model_path_;
  last_model_path_ = filepath;
  if (options_.save_last.is_link() && !last_checkpoint_saved_.empty() && options_.save_top_k != 0)
    link_checkpoint(trainer, last_checkpoint_saved_, filepath);
  else
    save_checkpoint(trainer, filepath);
  if (!previous.empty() && should_remove_checkpoint(trainer, previous, filepath)) remove_checkpoint(trainer, previous);
}

void ModelCheckpoint::save_checkpoint(Trainer& trainer, const std::string& filepath) {
  trainer.save_checkpoint(filepath, options_.save_weights_only, options_.async_save);
  last_global_step_saved_ = trainer.global_step();
  last_checkpoint_saved_ = filepath;
}

void ModelCheckpoint::link_checkpoint(Trainer& trainer, const std::string& filepath,
                                      const std::string& linkpath) const {
  if (trainer.is_global_zero()) {
    // os.path.relpath: lexical, from the link's directory. The link replaces the old entry by a rename (never a
    // moment without "last"), and only after the file it points to is on disk.
    const fs::path target = fs::absolute(filepath).lexically_normal();
    const fs::path start = fs::absolute(fs::path(linkpath).parent_path()).lexically_normal();
    const std::string relative = target.lexically_relative(start).string();
    trainer.after_pending_checkpoint_writes([filepath, linkpath, relative] {
      try {
        if (!detail::atomic_symlink(relative, linkpath)) detail::atomic_copy_file(filepath, linkpath);  // no links
      } catch (const detail::AtomicWriteError& e) {
        throw CheckpointError(std::string("Checkpoint link not saved. ") + e.what());
      }
    });
  }
  trainer.barrier();
}

bool ModelCheckpoint::should_remove_checkpoint(Trainer& trainer, const std::string& previous,
                                               const std::string& current) const {
  if (previous == current) return false;
  const fs::path prev = fs::absolute(previous);
  if (!trainer.ckpt_path().empty() && prev == fs::absolute(trainer.ckpt_path())) return false;  // resumed from it
  const fs::path dir = fs::absolute(dirpath_);
  for (fs::path p = prev.parent_path(); !p.empty(); p = p.parent_path()) {
    if (p == dir) return true;
    if (p == p.parent_path()) break;
  }
  return false;
}

std::vector<std::string> ModelCheckpoint::last_checkpoint_candidates() const {
  // _find_last_checkpoints: files in dirpath whose suffix is the extension and whose stem matches
  // re.match(rf"^{CHECKPOINT_NAME_LAST}(-(\d+))?") (anchored at the start only)
  std::vector<std::string> out;
  std::error_code ec;
  if (dirpath_.empty() || !fs::exists(dirpath_, ec)) return out;
  static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
  const std::regex last("^" + std::regex_replace(checkpoint_name_last, special, R"(\$&)") + R"((-(\d+))?)");
  for (const auto& entry : fs::directory_iterator(dirpath_, ec)) {
    const fs::path& p = entry.path();
    if (p.extension() == file_extension && std::regex_search(p.stem().string(), last))
      out.push_back(p.lexically_normal().string());
  }
  return out;
}

}  // namespace volt
