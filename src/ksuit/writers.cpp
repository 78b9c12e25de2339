// ksuit's LogWriter, tracker and CheckpointWriter (noether core/writers/{log_writer,checkpoint_writer}.py).
#include <fcntl.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "volt/callbacks/model_checkpoint.hpp"
#include "volt/detail/atomic_file.hpp"
#include "volt/error.hpp"
#include "volt/ksuit/checkpoint_writer.hpp"
#include "volt/ksuit/log_writer.hpp"
#include "volt/messages.hpp"
#include "volt/serialization/pickle_reader.hpp"
#include "volt/serialization/python_format.hpp"
#include "volt/serialization/python_repr.hpp"
#include "volt/trainer.hpp"

namespace fs = std::filesystem;

namespace volt::ksuit {

// ---- CallbackLogger / Tracker -----------------------------------------------------------------------------------

void CallbackLogger::info(const std::string& message) const {
  rank_zero_info(name_.empty() ? message : "[" + name_ + "] " + message);
}

void CallbackLogger::warning(const std::string& message) const {
  rank_zero_warn(name_.empty() ? message : "[" + name_ + "] " + message);
}

std::optional<double> LogEntry::get(const std::string& key) const {
  for (const auto& kv : scalars)
    if (kv.first == key) return kv.second;
  return std::nullopt;
}

Tracker::~Tracker() = default;

void Tracker::log(const LogEntry& entry, const std::map<std::string, IValue>&) {
  if (trainer_ == nullptr || !trainer_->is_global_zero() || entry.scalars.empty()) return;
  std::map<std::string, double> metrics;
  for (const auto& kv : entry.scalars) metrics[kv.first] = kv.second;
  metrics["epoch"] = static_cast<double>(entry.epoch);
  metrics["sample"] = static_cast<double>(entry.sample);
  for (const auto& logger : trainer_->loggers()) logger->log_metrics(metrics, entry.update);
}

// ---- LogWriter --------------------------------------------------------------------------------------------------

LogWriter::LogWriter(std::shared_ptr<Tracker> tracker, std::shared_ptr<MetricPropertyProvider> metric_properties)
    : tracker_(std::move(tracker)), metric_properties_(std::move(metric_properties)) {
  VOLT_CHECK(tracker_ != nullptr && metric_properties_ != nullptr, "ksuit::LogWriter: tracker and metric properties "
             "must not be null");
}

void LogWriter::open_cache(const std::string& key) {
  if (counter_ == nullptr)
    throw MisconfigurationError("LogWriter: cannot log '" + key + "' outside training (no update counter; log from "
                                "the ksuit hooks between before_training and after_training)");
  // a log at a later update than the open entry closes that entry first
  if (has_cache_ && cache_.update != counter_->update()) flush();
  if (has_cache_) return;
  cache_ = LogEntry{counter_->epoch(), counter_->update(), counter_->sample(), {}};
  nonscalar_cache_.clear();
  has_cache_ = true;
}

namespace {
std::string strip_slash(std::string key) {
  while (!key.empty() && key.back() == '/') key.pop_back();
  return key;
}
}  // namespace

void LogWriter::add_scalar(const std::string& key_in, double value, const CallbackLogger* logger,
                           const std::string& format_str) {
  const std::string key = strip_slash(key_in);
  VOLT_CHECK(!key.empty(), "LogWriter::add_scalar: the key is empty");
  open_cache(key);
  const bool reserved = key == "epoch" || key == "update" || key == "sample";
  if (reserved || cache_.get(key) || nonscalar_cache_.count(key))
    throw MisconfigurationError("LogWriter: '" + key + "' was already logged for update " +
                                std::to_string(cache_.update) + " (" + counter_->cur_iteration().str() +
                                "); each key may be logged once per update. Give the second value another key, e.g. "
                                "with the callback's interval suffix (to_short_interval_string()).");
  cache_.scalars.emplace_back(key, value);
  if (logger != nullptr) logger->info(key + ": " + python_format_float(value, format_str));
}

void LogWriter::add_scalar(const std::string& key, const torch::Tensor& value, const CallbackLogger* logger,
                           const std::string& format_str) {
  VOLT_CHECK(value.defined() && value.numel() == 1, "LogWriter::add_scalar('", key, "'): expected a tensor with one "
             "element, got shape ", value.defined() ? value.sizes() : c10::IntArrayRef{});
  add_scalar(key, value.detach().to(torch::kCPU).to(torch::kDouble).item<double>(), logger, format_str);
}

void LogWriter::add_nonscalar(const std::string& key_in, IValue value) {
  const std::string key = strip_slash(key_in);
  open_cache(key);
  if (cache_.get(key) || nonscalar_cache_.count(key))
    throw MisconfigurationError("LogWriter: '" + key + "' was already logged for update " +
                                std::to_string(cache_.update) + "; each key may be logged once per update");
  nonscalar_cache_[key] = std::move(value);
}

void LogWriter::flush() {
  if (!has_cache_) return;
  has_cache_ = false;
  tracker_->log(cache_, nonscalar_cache_);
  nonscalar_cache_.clear();
  if (!entries_.empty() && entries_.back().update == cache_.update) {
    // a second flush in the same update (e.g. after_training): still one entry per update
    for (auto& kv : cache_.scalars) {
      if (entries_.back().get(kv.first))
        throw MisconfigurationError("LogWriter: '" + kv.first + "' was already logged for update " +
                                    std::to_string(cache_.update));
      entries_.back().scalars.push_back(kv);
    }
    return;
  }
  VOLT_CHECK_T(Error, entries_.empty() || entries_.back().update < cache_.update, "LogWriter: entry for update ",
               cache_.update, " comes after one for update ", entries_.back().update, "; updates must increase");
  entries_.push_back(std::move(cache_));
  cache_ = LogEntry{};
}

std::map<std::string, double> LogWriter::summarize() const {
  std::map<std::string, double> summary;
  std::map<std::string, std::pair<double, double>> extremes;  // key → (min, max)
  std::vector<std::string> order;
  for (const auto& entry : entries_)
    for (const auto& [key, value] : entry.scalars) {
      if (metric_properties_->is_neutral_key(key)) continue;
      auto it = extremes.find(key);
      if (it == extremes.end()) {
        extremes[key] = {value, value};
        order.push_back(key);
      } else {
        it->second.first = std::min(it->second.first, value);
        it->second.second = std::max(it->second.second, value);
      }
      summary[key + "/last"] = value;
    }
  for (const auto& key : order) {
    const auto& mm = extremes[key];
    if (metric_properties_->higher_is_better(key)) summary[key + "/max"] = mm.second;
    else summary[key + "/min"] = mm.first;
  }
  return summary;
}

void LogWriter::finish() {
  flush();
  for (const auto& [key, value] : summarize()) tracker_->set_summary(key, value);
}

std::vector<std::pair<int64_t, double>> LogWriter::get_all_metric_values(const std::string& key) const {
  std::vector<std::pair<int64_t, double>> out;
  for (const auto& entry : entries_)
    if (auto v = entry.get(key)) out.emplace_back(entry.update, *v);
  return out;
}

void LogWriter::reset() {
  entries_.clear();
  cache_ = LogEntry{};
  nonscalar_cache_.clear();
  has_cache_ = false;
}

// ---- CheckpointWriter -------------------------------------------------------------------------------------------

std::string ResumptionPaths::file(const std::string& file_name) const {
  return (fs::path(checkpoint_dir) / file_name).string();
}

void CheckpointWriter::bind(Trainer& trainer, const UpdateCounter* counter) {
  trainer_ = &trainer;
  counter_ = counter;
  if (fixed_) return;
  directory_ = (fs::path(trainer.default_root_dir()) / "checkpoints").string();
  for (const auto& cb : trainer.callbacks())
    if (auto* mc = dynamic_cast<ModelCheckpoint*>(cb.get()); mc && !mc->dirpath().empty()) {
      directory_ = mc->dirpath();
      break;
    }
}

std::string CheckpointWriter::model_file_name(const std::string& output_name, const std::string& checkpoint_tag,
                                              const std::string& name_suffix) {
  return output_name + "_cp=" + checkpoint_tag + name_suffix + "_model.th";
}

void write_file_atomically(const std::string& path, const std::vector<char>& bytes) {
  try {
    volt::detail::atomic_write_file(path, bytes);
  } catch (const volt::detail::AtomicWriteError& e) {
    throw CheckpointError(std::string("Checkpoint not saved. ") + e.what());
  }
}

std::string CheckpointWriter::save_model_checkpoint(const std::string& output_name, const StateDict& state_dict,
                                                    const std::string& checkpoint_tag, const StateDict& extras,
                                                    const std::string& name_suffix) {
  VOLT_CHECK(!directory_.empty(), "CheckpointWriter: no directory (it is resolved when training starts, or give one "
             "in ksuit::ContextOptions::checkpoint_dir)");
  const std::string path = (fs::path(directory_) / model_file_name(output_name, checkpoint_tag, name_suffix)).string();
  StateDict checkpoint{{"state_dict", state_dict}, {"checkpoint_tag", checkpoint_tag}};
  if (counter_ != nullptr)
    checkpoint.set("training_iteration", StateDict{{"epoch", counter_->epoch()},
                                                   {"update", counter_->update()},
                                                   {"sample", counter_->sample()}});
  for (const auto& kv : extras) checkpoint.set(kv.key().toStringRef(), kv.value());
  if (trainer_ == nullptr || trainer_->is_global_zero())
    write_file_atomically(path, torch::pickle_save(checkpoint.ivalue()));
  return path;
}

void CheckpointWriter::save(Module& model, const std::string& model_name, const std::string& checkpoint_tag,
                            bool save_weights, bool save_latest, bool save_trainer) {
  if (save_weights || save_latest) {
    StateDict weights = module_state_dict(model);
    if (save_weights) save_model_checkpoint(model_name, weights, checkpoint_tag);
    if (save_latest) save_model_checkpoint(model_name, weights, "latest");
  }
  if (save_trainer) {
    VOLT_CHECK(trainer_ != nullptr, "CheckpointWriter::save: no trainer bound (training has not started)");
    trainer_->save_checkpoint((fs::path(directory_) / (model_name + "_cp=" + checkpoint_tag + ".ckpt")).string());
  }
}

StateDict CheckpointWriter::load_model_checkpoint(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw CheckpointError("ksuit checkpoint file '" + path + "' does not exist");
  StateDict checkpoint = as_state(read_checkpoint_file(path), "ksuit checkpoint '" + path + "'");
  if (!checkpoint.contains("state_dict"))
    throw CheckpointError("ksuit checkpoint '" + path + "' has no 'state_dict' key");
  return checkpoint;
}

namespace {
void collect_state(const torch::nn::Module& module, const std::string& prefix, StateDict& out) {
  for (const auto& p : module.named_parameters(/*recurse=*/false)) out.set(prefix + p.key(), p.value().detach());
  for (const auto& b : module.named_buffers(/*recurse=*/false)) out.set(prefix + b.key(), b.value().detach());
  for (const auto& child : module.named_children()) collect_state(*child.value(), prefix + child.key() + ".", out);
}
}  // namespace

StateDict module_state_dict(const torch::nn::Module& module) {
  StateDict out;
  collect_state(module, "", out);
  return out;
}

void load_module_state_dict(torch::nn::Module& module, const StateDict& state, const std::string& where) {
  StateDict current = module_state_dict(module);
  torch::NoGradGuard no_grad;
  for (const auto& item : current) {
    const std::string& key = item.key().toStringRef();
    if (!state.contains(key)) throw CheckpointError(where + ": missing key '" + key + "'");
    IValue value = state.at(key);
    if (!value.isTensor()) throw CheckpointError(where + ": key '" + key + "' is not a tensor");
    torch::Tensor target = item.value().toTensor();
    const torch::Tensor& source = value.toTensor();
    if (source.sizes() != target.sizes())
      throw CheckpointError(detail::concat(where, ": size mismatch for ", key, ": ", source.sizes(), " in the file, ",
                                           target.sizes(), " in the model"));
    target.copy_(source);
  }
  if (state.size() != current.size())
    for (const auto& item : state)
      if (!current.contains(item.key().toStringRef()))
        throw CheckpointError(where + ": unexpected key '" + item.key().toStringRef() + "'");
}

}  // namespace volt::ksuit
