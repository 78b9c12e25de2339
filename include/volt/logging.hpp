// What Module::log takes, and the collection that accumulates logged values per loop (Lightning's
// _ResultCollection): step values, epoch reductions weighted by batch size, and the three metric views.
#pragma once
#include <torch/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace volt {

/// Options of Module::log, with Lightning's names and defaults. on_step/on_epoch default by hook (spec §8).
struct LogOptions {
  /// Show in the progress bar.
  bool prog_bar = false;
  /// Send to the loggers.
  bool logger = true;
  std::optional<bool> on_step = std::nullopt;
  std::optional<bool> on_epoch = std::nullopt;
  /// "mean" (weighted by batch size), "sum", "max" or "min": how step values reduce to the epoch value.
  std::string reduce_fx = "mean";
  /// Keep the autograd graph of the logged tensor (normally detached).
  bool enable_graph = false;
  /// Reduce across processes (effective only when running distributed).
  bool sync_dist = false;
  /// The batch size for the weighted mean; inferred from the batch when absent.
  std::optional<int64_t> batch_size = std::nullopt;
  /// Append "/dataloader_idx_N" to names logged with several evaluation dataloaders.
  bool add_dataloader_idx = true;
  /// Log only on rank 0 (the value cannot be a monitor then).
  bool rank_zero_only = false;
};

/// name → value. Ordered by name, like the dicts a user prints; insertion order is kept by ResultCollection.
using MetricMap = std::map<std::string, torch::Tensor>;

namespace detail {

struct Metrics {
  MetricMap callback, log, pbar;
};

/// One logged key in one hook: its options, its last step value and its epoch accumulation.
struct ResultMetric {
  std::string fx, name;
  LogOptions options;  // on_step/on_epoch resolved
  std::optional<int64_t> dataloader_idx;
  torch::Tensor value;         // running accumulation (sum*batch for mean, max, min, sum)
  double cumulated_batch_size = 0;
  torch::Tensor forward_cache; // the last step value
  torch::Tensor computed;      // epoch value, computed lazily
  bool has_reset = false;

  bool forked() const { return *options.on_step && *options.on_epoch; }
  /// log(sync_dist=true) outside rank_zero_only: values are reduced over the ranks.
  bool syncs() const { return options.sync_dist && !options.rank_zero_only; }
  std::string forked_name(bool on_step) const;
  void update(const torch::Tensor& v, int64_t batch_size);
  torch::Tensor compute();
  void reset();
};

/// Everything logged in one loop (training, or one evaluation run).
class ResultCollection {
 public:
  explicit ResultCollection(bool training) : training_(training) {}
  /// Records one `log` call made in hook `fx`. Throws MisconfigurationError for a conflicting re-log.
  void log(const std::string& fx, const std::string& name, const torch::Tensor& value, LogOptions options,
           int64_t batch_size);
  Metrics metrics(bool on_step);
  /// Forgets every value (keeps nothing).
  void reset();
  bool empty() const { return order_.empty(); }
  /// The dataloader index of the batch being run, for evaluation loops with several dataloaders.
  std::optional<int64_t> dataloader_idx;
  bool training() const { return training_; }

 private:
  bool training_;
  std::vector<std::string> order_;
  std::map<std::string, ResultMetric> items_;
};

/// The hook rules of spec §8: which hooks may log, and the allowed/default on_step and on_epoch values.
/// Fills options.on_step/on_epoch; throws MisconfigurationError naming the hook otherwise.
void check_log_allowed(const std::string& fx, LogOptions& options);

}  // namespace detail
}  // namespace volt
