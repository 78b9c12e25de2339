// LearningRateMonitor: logs the learning rate (and optionally momentum and weight decay) of every optimizer and
// param group to the trainer's loggers (Lightning's callbacks/lr_monitor.py, 2.2.5).
//
// Names, as Lightning builds them: "lr-<Optimizer>" (or the scheduler config's `name`), "-1", "-2"... for the
// second, third optimizer of one type, "/pg1", "/pg2"... (or the group's "name" extra, see param_group_extras)
// for several param groups, and "<name>-momentum", "<name>-weight_decay". Every value also goes into
// trainer.callback_metrics(), so EarlyStopping or ModelCheckpoint can monitor "lr-SGD".
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "volt/callback.hpp"

namespace volt {

struct LearningRateMonitorOptions {
  /// "step" or "epoch" log every optimizer at that interval; unset logs each scheduler at its own interval and
  /// optimizers without a scheduler at both. Anything else: MisconfigurationError.
  std::optional<std::string> logging_interval;
  /// Also log the momentum (SGD/RMSprop `momentum`, Adam `betas[0]`; 0 for optimizers without one).
  bool log_momentum = false;
  /// Also log each group's weight_decay.
  bool log_weight_decay = false;
};

class LearningRateMonitor : public Callback {
 public:
  /// A Python dict: keys in insertion order.
  template <class V>
  using OrderedDict = std::vector<std::pair<std::string, V>>;

  explicit LearningRateMonitor(LearningRateMonitorOptions options = {});
  const LearningRateMonitorOptions& options() const { return options_; }

  /// Throws MisconfigurationError without loggers; names every optimizer and param group and resets the history.
  void on_train_start(Trainer& trainer, Module& module) override;
  /// Logs step-interval values on the batches the trainer logs (log_every_n_steps).
  void on_train_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx) override;
  /// Logs epoch-interval values.
  void on_train_epoch_start(Trainer& trainer, Module& module) override;

  /// Every lr extracted so far, per name (Lightning's `lrs`).
  const OrderedDict<std::vector<double>>& lrs() const { return lrs_; }
  /// The last momentum per "<name>-momentum" (unset before the first extraction or without log_momentum).
  const OrderedDict<std::optional<double>>& last_momentum_values() const { return last_momentum_values_; }
  /// The last weight decay per "<name>-weight_decay".
  const OrderedDict<std::optional<double>>& last_weight_decay_values() const { return last_weight_decay_values_; }

 private:
  struct Names;
  Names find_names(const Trainer& trainer) const;
  void remap_keys(const std::vector<std::vector<std::string>>& names);
  std::vector<std::pair<std::string, double>> extract_stats(Trainer& trainer, const std::string& interval);
  void get_optimizer_stats(const torch::optim::Optimizer& optimizer, const std::vector<std::string>& names,
                           std::vector<std::pair<std::string, double>>& stats);
  void log(Trainer& trainer, const std::vector<std::pair<std::string, double>>& stats) const;

  LearningRateMonitorOptions options_;
  OrderedDict<std::vector<double>> lrs_;
  OrderedDict<std::optional<double>> last_momentum_values_;
  OrderedDict<std::optional<double>> last_weight_decay_values_;
};

}  // namespace volt
