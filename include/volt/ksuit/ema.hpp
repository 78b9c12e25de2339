// ksuit's EmaCallback: an exponential moving average of the model's weights, updated after every optimizer step,
// saved as its own files next to the run's checkpoints ("{model}_cp={tag}_ema={factor}_model.th", not inside the
// checkpoint dict) and restored from "{model}_cp=latest_ema={factor}_model.th" when fit resumes (so resuming needs
// save_latest_weights). Optionally the EMA weights are swapped in while validation runs.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "volt/ksuit/periodic.hpp"

namespace volt::ksuit {

struct EmaOptions {
  /// One EMA per factor: ema = factor × ema + (1 - factor) × weights. Each in [0, 1). Required.
  std::vector<double> target_factors;
  /// When to save "{tag}" files (and "latest"); empty: only at the end ("last").
  std::optional<int64_t> every_n_epochs, every_n_updates, every_n_samples;
  /// Save "{model}_cp=E.._U.._S.._ema=F_model.th" at each interval.
  bool save_weights = true;
  /// Save "{model}_cp=last_ema=F_model.th" after training.
  bool save_last_weights = true;
  /// Save (overwrite) "{model}_cp=latest_ema=F_model.th" at each interval: what a resumed run loads.
  bool save_latest_weights = false;
  /// The model's name in file names; empty: ksuit::ContextOptions::model_name.
  std::string model_name;
  /// Validate with the EMA of this factor swapped in (must be one of target_factors); unset: the raw weights.
  std::optional<double> validate_with_factor;
};

class EmaCallback : public PeriodicCallback {
 public:
  using Options = EmaOptions;
  /// MisconfigurationError for no factors, a factor outside [0, 1), or validate_with_factor not among them.
  explicit EmaCallback(EmaOptions options, std::shared_ptr<Context> context = nullptr, std::string name = "");

  const EmaOptions& options() const { return options_; }
  /// The EMA weights (parameters averaged, buffers copied) of `factor` as a model state dict.
  StateDict ema_state_dict(double factor) const;
  /// Copies the EMA of `factor` into `module`'s parameters and buffers.
  void copy_to(torch::nn::Module& module, double factor) const;
  /// Whether the running fit restored the EMA from files (until on_fit_end).
  bool was_resumed() const { return was_resumed_; }
  /// "{model}_cp={tag}_ema={factor}_model.th"
  std::string file_name(const std::string& checkpoint_tag, double factor) const;

  void on_validation_start(Trainer& trainer, Module& module) override;
  void on_validation_end(Trainer& trainer, Module& module) override;
  void on_exception(Trainer& trainer, Module& module, const std::exception& exception) override;
  /// A later fit starts a fresh EMA unless it resumes again.
  void on_fit_end(Trainer& trainer, Module& module) override;

 protected:
  void _before_training(const UpdateCounter& update_counter) override;
  void _track_after_update_step(const UpdateCounter& update_counter,
                                const std::map<std::string, double>& times) override;
  void _periodic_callback(IntervalType interval_type, const UpdateCounter& update_counter) override;
  void _after_training(const UpdateCounter& update_counter) override;
  void _resume_from_checkpoint(const ResumptionPaths& resumption_paths, Module& model) override;

 private:
  std::string model_name() const;
  void save(const std::string& tag);
  void restore_raw_weights(Module& module);
  size_t index_of(double factor) const;

  EmaOptions options_;
  std::vector<std::string> param_names_, buffer_names_;
  std::vector<std::vector<torch::Tensor>> params_;  // per factor
  std::vector<torch::Tensor> buffers_;
  bool was_resumed_ = false;
  std::optional<StateDict> swapped_out_;
};

}  // namespace volt::ksuit
