// ksuit's EmaCallback (noether core/callbacks/checkpoint/ema.py) on volt.
#include "volt/ksuit/ema.hpp"

#include <torch/torch.h>

#include <cmath>

#include "volt/error.hpp"
#include "volt/module.hpp"
#include "volt/serialization/python_repr.hpp"

namespace volt::ksuit {

namespace {
Interval interval_of(const EmaOptions& o) { return Interval{o.every_n_epochs, o.every_n_updates, o.every_n_samples}; }
}  // namespace

EmaCallback::EmaCallback(EmaOptions options, std::shared_ptr<Context> context, std::string name)
    : PeriodicCallback(interval_of(options), std::move(context), std::move(name)), options_(std::move(options)) {
  VOLT_CHECK(!options_.target_factors.empty(), "EmaCallback: target_factors is empty; give at least one factor, "
             "e.g. {0.999}");
  for (double f : options_.target_factors)
    VOLT_CHECK(f >= 0.0 && f < 1.0, "EmaCallback: target factor ", f, " is outside [0, 1)");
  if (options_.validate_with_factor) index_of(*options_.validate_with_factor);
}

size_t EmaCallback::index_of(double factor) const {
  for (size_t i = 0; i < options_.target_factors.size(); ++i)
    if (options_.target_factors[i] == factor) return i;
  throw MisconfigurationError("EmaCallback: factor " + python_float_repr(factor) + " is not among target_factors");
}

std::string EmaCallback::model_name() const {
  if (!options_.model_name.empty()) return options_.model_name;
  return context() ? context()->options().model_name : std::string("model");
}

std::string EmaCallback::file_name(const std::string& checkpoint_tag, double factor) const {
  return CheckpointWriter::model_file_name(model_name(), checkpoint_tag, "_ema=" + python_float_repr(factor));
}

void EmaCallback::_before_training(const UpdateCounter&) {
  if (was_resumed_) return;  // resume_from_checkpoint loaded the EMA already
  param_names_.clear();
  buffer_names_.clear();
  buffers_.clear();
  params_.assign(options_.target_factors.size(), {});
  for (const auto& p : model().named_parameters()) {
    param_names_.push_back(p.key());
    for (auto& per_factor : params_) per_factor.push_back(p.value().detach().clone());
  }
  for (const auto& b : model().named_buffers()) {
    buffer_names_.push_back(b.key());
    buffers_.push_back(b.value().detach().clone());
  }
}

void EmaCallback::_track_after_update_step(const UpdateCounter&, const std::map<std::string, double>&) {
  if (params_.empty()) return;
  auto params = model().parameters();
  VOLT_CHECK(params.size() == param_names_.size(), "EmaCallback: the model's parameters changed during training");
  for (size_t f = 0; f < options_.target_factors.size(); ++f) {
    const double factor = options_.target_factors[f];
    for (size_t i = 0; i < params.size(); ++i) params_[f][i].mul_(factor).add_(params[i].detach(), 1.0 - factor);
  }
  auto buffers = model().buffers();
  for (size_t i = 0; i < buffers.size() && i < buffers_.size(); ++i) buffers_[i].copy_(buffers[i]);
}

StateDict EmaCallback::ema_state_dict(double factor) const {
  const size_t f = index_of(factor);
  VOLT_CHECK(!params_.empty(), "EmaCallback: no EMA yet (it starts when training starts)");
  StateDict out;
  for (size_t i = 0; i < param_names_.size(); ++i) out.set(param_names_[i], params_[f][i]);
  for (size_t i = 0; i < buffer_names_.size(); ++i) out.set(buffer_names_[i], buffers_[i]);
  return out;
}

void EmaCallback::copy_to(torch::nn::Module& module, double factor) const {
  load_module_state_dict(module, ema_state_dict(factor), "EmaCallback::copy_to");
}

void EmaCallback::save(const std::string& tag) {
  for (double f : options_.target_factors) {
    StateDict extras{{"ema", f}};
    const std::string suffix = "_ema=" + python_float_repr(f);
    checkpoint_writer().save_model_checkpoint(model_name(), ema_state_dict(f), tag, extras, suffix);
  }
}

void EmaCallback::_periodic_callback(IntervalType, const UpdateCounter& update_counter) {
  if (options_.save_weights) save(update_counter.cur_iteration().str());
  if (options_.save_latest_weights) save("latest");
}

void EmaCallback::_after_training(const UpdateCounter&) {
  if (options_.save_last_weights) save("last");
}

void EmaCallback::_resume_from_checkpoint(const ResumptionPaths& resumption_paths, Module& model) {
  param_names_.clear();
  buffer_names_.clear();
  buffers_.clear();
  params_.assign(options_.target_factors.size(), {});
  for (const auto& p : model.named_parameters()) param_names_.push_back(p.key());
  for (const auto& b : model.named_buffers()) buffer_names_.push_back(b.key());
  for (size_t f = 0; f < options_.target_factors.size(); ++f) {
    const std::string path = resumption_paths.file(file_name("latest", options_.target_factors[f]));
    StateDict file;
    try {
      file = CheckpointWriter::load_model_checkpoint(path);
    } catch (const CheckpointError& e) {
      throw CheckpointError(std::string(e.what()) + ". EmaCallback resumes from the 'latest' EMA file next to the "
                            "checkpoint: train with EmaOptions::save_latest_weights = true and an interval");
    }
    StateDict state = as_state(file.at("state_dict"), "'" + path + "' key 'state_dict'");
    auto tensor = [&](const std::string& key) {
      if (!state.contains(key) || !state.at(key).isTensor())
        throw CheckpointError("'" + path + "': no tensor for '" + key + "'; was it written for another model?");
      return state.at(key).toTensor().clone();
    };
    for (const auto& name : param_names_) params_[f].push_back(tensor(name));
    if (f == 0)
      for (const auto& name : buffer_names_) buffers_.push_back(tensor(name));
  }
  was_resumed_ = true;
}

void EmaCallback::on_validation_start(Trainer&, Module& module) {
  if (!options_.validate_with_factor || params_.empty() || swapped_out_) return;
  StateDict raw;
  for (const auto& kv : module_state_dict(module)) raw.set(kv.key().toStringRef(), kv.value().toTensor().clone());
  swapped_out_ = raw;
  copy_to(module, *options_.validate_with_factor);
}

void EmaCallback::restore_raw_weights(Module& module) {
  if (!swapped_out_) return;
  load_module_state_dict(module, *swapped_out_, "EmaCallback (restoring the raw weights after validation)");
  swapped_out_.reset();
}

void EmaCallback::on_validation_end(Trainer&, Module& module) { restore_raw_weights(module); }

void EmaCallback::on_exception(Trainer& trainer, Module& module, const std::exception& exception) {
  restore_raw_weights(module);
  PeriodicCallback::on_exception(trainer, module, exception);
}

void EmaCallback::on_fit_end(Trainer&, Module&) { was_resumed_ = false; }

}  // namespace volt::ksuit
