// DeviceStatsMonitor: logs device statistics around every train/validation/test batch the trainer logs (Lightning's
// callbacks/device_stats_monitor.py, 2.2.5). On CPU the statistics are psutil's, read from /proc:
// "cpu_vm_percent" (system memory in use), "cpu_percent" (system CPU use since the previous query) and
// "cpu_swap_percent". Keys reach the loggers as "DeviceStatsMonitor.on_train_batch_end/cpu_percent".
#pragma once
#include <torch/types.h>

#include <map>
#include <optional>
#include <string>

#include "volt/callback.hpp"

namespace volt {

class DeviceStatsMonitor : public Callback {
 public:
  /// cpu_stats: unset logs CPU statistics only when training on the CPU; true logs them on any device (besides
  /// the GPU's); false never logs them.
  explicit DeviceStatsMonitor(std::optional<bool> cpu_stats = std::nullopt);
  std::optional<bool> cpu_stats() const { return cpu_stats_; }

  /// For stage "fit": throws MisconfigurationError without loggers.
  void setup(Trainer& trainer, Module& module, const std::string& stage) override;
  void on_train_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx) override;
  void on_train_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                          int64_t batch_idx) override;
  void on_validation_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx,
                                 int64_t dataloader_idx) override;
  void on_validation_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                               int64_t batch_idx, int64_t dataloader_idx) override;
  void on_test_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx,
                           int64_t dataloader_idx) override;
  void on_test_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                         int64_t batch_idx, int64_t dataloader_idx) override;

  /// psutil's `virtual_memory().percent`, `cpu_percent()` and `swap_memory().percent`, keyed as Lightning's
  /// get_cpu_stats. cpu_percent is system-wide use since the previous call in this process (since the first
  /// DeviceStatsMonitor was built, for the first call).
  static std::map<std::string, double> get_cpu_stats();
  /// torch.cuda.memory_stats(device) flattened ("allocated_bytes.all.current", ...) in builds with
  /// VOLT_WITH_CUDA; otherwise empty.
  static std::map<std::string, double> get_cuda_stats(const torch::Device& device);

 protected:
  /// What is logged for `device` (Lightning's accelerator.get_device_stats); tests override it to count queries.
  virtual std::map<std::string, double> device_stats(const torch::Device& device);
  /// The CPU statistics (get_cpu_stats by default).
  virtual std::map<std::string, double> cpu_stats_now();

 private:
  void get_and_log_device_stats(Trainer& trainer, const std::string& key);

  std::optional<bool> cpu_stats_;
};

}  // namespace volt
