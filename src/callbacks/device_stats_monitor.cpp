// Lightning 2.2.5's callbacks/device_stats_monitor.py with accelerators/cpu.py's get_cpu_stats, whose psutil
// calls are read from /proc here with psutil's formulas.
#include "volt/callbacks/device_stats_monitor.hpp"

#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <mutex>
#include <sstream>

#include "volt/error.hpp"
#include "volt/messages.hpp"
#include "volt/trainer.hpp"

#if defined(VOLT_WITH_CUDA)
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace volt {
namespace {

// psutil's usage_percent(used, total, round_=1).
double usage_percent(double used, double total) {
  if (total <= 0) return 0.0;
  return std::round(used / total * 100.0 * 10.0) / 10.0;
}

std::map<std::string, double> read_meminfo() {
  std::map<std::string, double> out;
  std::ifstream in("/proc/meminfo");
  std::string key;
  double value;
  std::string unit;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    if (fields >> key >> value) {
      if (!key.empty() && key.back() == ':') key.pop_back();
      out[key] = value * 1024;
    }
  }
  return out;
}

// The first line of /proc/stat: busy and total jiffies as psutil counts them (guest time is already inside user
// and nice; idle and iowait are not busy).
struct CpuTimes {
  double busy = 0, total = 0;
};

CpuTimes read_cpu_times() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;
  std::vector<double> t;
  double v;
  for (int i = 0; i < 10 && in >> v; ++i) t.push_back(v);
  t.resize(10, 0.0);
  // user nice system idle iowait irq softirq steal guest guest_nice
  double total = 0;
  for (int i = 0; i < 8; ++i) total += t[i];
  return {total - t[3] - t[4], total};
}

std::mutex& cpu_mutex() {
  static std::mutex m;
  return m;
}

CpuTimes& last_cpu_times() {
  static CpuTimes last = read_cpu_times();
  return last;
}

std::map<std::string, double> prefix_metric_keys(const std::map<std::string, double>& metrics,
                                                 const std::string& prefix, const std::string& separator) {
  std::map<std::string, double> out;
  for (const auto& kv : metrics) out[prefix + separator + kv.first] = kv.second;
  return out;
}

}  // namespace

DeviceStatsMonitor::DeviceStatsMonitor(std::optional<bool> cpu_stats) : cpu_stats_(cpu_stats) {
  std::lock_guard<std::mutex> lock(cpu_mutex());
  last_cpu_times();  // psutil samples at import: the first cpu_percent() measures from here
}

std::map<std::string, double> DeviceStatsMonitor::get_cpu_stats() {
  auto mem = read_meminfo();
  double total = mem["MemTotal"];
  double available = mem.count("MemAvailable") ? mem["MemAvailable"] : mem["MemFree"] + mem["Buffers"] + mem["Cached"];
  double swap_total = mem["SwapTotal"];
  double swap_used = swap_total - mem["SwapFree"];
  double cpu_percent = 0.0;
  {
    std::lock_guard<std::mutex> lock(cpu_mutex());
    CpuTimes& last = last_cpu_times();
    CpuTimes now = read_cpu_times();
    double busy = now.busy - last.busy, all = now.total - last.total;
    if (all > 0) cpu_percent = std::round(std::min(100.0, std::max(0.0, busy / all * 100.0)) * 10.0) / 10.0;
    last = now;
  }
  return {{"cpu_vm_percent", usage_percent(total - available, total)},
          {"cpu_percent", cpu_percent},
          {"cpu_swap_percent", usage_percent(swap_used, swap_total)}};
}

std::map<std::string, double> DeviceStatsMonitor::get_cuda_stats(const torch::Device& device) {
  std::map<std::string, double> out;
#if defined(VOLT_WITH_CUDA)
  // torch.cuda.memory_stats's flattening of the allocator's DeviceStats
  using namespace c10::cuda::CUDACachingAllocator;
  DeviceStats stats = getDeviceStats(device.index() < 0 ? 0 : device.index());
  const char* pools[] = {"all", "small_pool", "large_pool"};
  auto add_array = [&](const std::string& name, const StatArray& array) {
    for (size_t i = 0; i < 3; ++i) {
      out[name + "." + pools[i] + ".current"] = static_cast<double>(array[i].current);
      out[name + "." + pools[i] + ".peak"] = static_cast<double>(array[i].peak);
      out[name + "." + pools[i] + ".allocated"] = static_cast<double>(array[i].allocated);
      out[name + "." + pools[i] + ".freed"] = static_cast<double>(array[i].freed);
    }
  };
  add_array("allocation", stats.allocation);
  add_array("segment", stats.segment);
  add_array("active", stats.active);
  add_array("inactive_split", stats.inactive_split);
  add_array("allocated_bytes", stats.allocated_bytes);
  add_array("reserved_bytes", stats.reserved_bytes);
  add_array("active_bytes", stats.active_bytes);
  add_array("inactive_split_bytes", stats.inactive_split_bytes);
  out["num_alloc_retries"] = static_cast<double>(stats.num_alloc_retries);
  out["num_ooms"] = static_cast<double>(stats.num_ooms);
#else
  (void)device;
#endif
  return out;
}

std::map<std::string, double> DeviceStatsMonitor::device_stats(const torch::Device& device) {
  if (device.is_cpu()) return cpu_stats_now();
  return get_cuda_stats(device);
}

std::map<std::string, double> DeviceStatsMonitor::cpu_stats_now() { return get_cpu_stats(); }

void DeviceStatsMonitor::setup(Trainer& trainer, Module&, const std::string& stage) {
  if (stage != "fit") return;
  if (trainer.loggers().empty())
    throw MisconfigurationError("Cannot use `DeviceStatsMonitor` callback with `Trainer(logger=False)`.");
#if !defined(VOLT_WITH_CUDA)
  if (!trainer.device().is_cpu())
    rank_zero_warn("`DeviceStatsMonitor`: this build of volt has no CUDA memory statistics (build with "
                   "VOLT_WITH_CUDA); only CPU statistics can be logged, with `cpu_stats=True`.");
#endif
}

void DeviceStatsMonitor::get_and_log_device_stats(Trainer& trainer, const std::string& key) {
  if (!trainer.should_update_logs()) return;
  const torch::Device device = trainer.device();
  if (cpu_stats_ == false && device.is_cpu()) return;
  auto stats = device_stats(device);
  if (cpu_stats_ == true && !device.is_cpu())
    for (const auto& kv : cpu_stats_now()) stats[kv.first] = kv.second;  // CPU stats are never queried twice
  auto prefixed = prefix_metric_keys(stats, class_name() + "." + key, "/");
  for (const auto& logger : trainer.loggers()) logger->log_metrics(prefixed, trainer.batches_that_stepped());
}

void DeviceStatsMonitor::on_train_batch_start(Trainer& t, Module&, const Batch&, int64_t) {
  get_and_log_device_stats(t, "on_train_batch_start");
}
void DeviceStatsMonitor::on_train_batch_end(Trainer& t, Module&, const StepOutput&, const Batch&, int64_t) {
  get_and_log_device_stats(t, "on_train_batch_end");
}
void DeviceStatsMonitor::on_validation_batch_start(Trainer& t, Module&, const Batch&, int64_t, int64_t) {
  get_and_log_device_stats(t, "on_validation_batch_start");
}
void DeviceStatsMonitor::on_validation_batch_end(Trainer& t, Module&, const StepOutput&, const Batch&, int64_t,
                                                 int64_t) {
  get_and_log_device_stats(t, "on_validation_batch_end");
}
void DeviceStatsMonitor::on_test_batch_start(Trainer& t, Module&, const Batch&, int64_t, int64_t) {
  get_and_log_device_stats(t, "on_test_batch_start");
}
void DeviceStatsMonitor::on_test_batch_end(Trainer& t, Module&, const StepOutput&, const Batch&, int64_t, int64_t) {
  get_and_log_device_stats(t, "on_test_batch_end");
}

}  // namespace volt
