// Which way is better for a metric key: ksuit's MetricPropertyProvider (glob patterns → ordinality, first match
// wins, matched on the lower-cased key). Summaries, best-checkpoint/best-metric callbacks, the metric early stopper,
// and `mode="auto"` of ModelCheckpoint/EarlyStopping ask it (trainer.metric_properties()).
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace volt::ksuit {

enum class Ordinality { kHigherIsBetter, kLowerIsBetter, kNeutral };

class MetricPropertyProvider {
 public:
  /// With the defaults: neutral first (profiler/*, optim/*, profiling/*, ctx/*, loss_weight/*, gradient/*,
  /// detach/*, lossdiff/*, train_time/*), then higher is better for *accuracy*, acc*, *_acc, *_acc_*, */acc*, then
  /// lower is better for *loss*, *error*. `with_defaults=false` starts empty.
  explicit MetricPropertyProvider(bool with_defaults = true);

  /// Appends a pattern (fnmatch syntax: *, ?, [seq], [!seq]; matched against the lower-cased key). Patterns
  /// registered earlier win, so a user pattern cannot override a default one unless `first` puts it in front.
  void register_pattern(const std::string& pattern, Ordinality ordinality, bool first = false);

  /// The ordinality of the first matching pattern, or nullopt when none matches.
  std::optional<Ordinality> get_ordinality(const std::string& key) const;
  bool is_neutral_key(const std::string& key) const { return get_ordinality(key) == Ordinality::kNeutral; }
  /// ksuit's higher_is_better: warns once per key and answers true for a key no pattern matches.
  bool higher_is_better(const std::string& key) const;
  /// "min" or "max" for `mode="auto"`. Throws MisconfigurationError for a key that is unknown or neutral, naming
  /// `who` (e.g. "EarlyStopping(monitor='val_score', mode='auto')") and how to fix it.
  std::string mode_for(const std::string& key, const std::string& who) const;

  const std::vector<std::pair<std::string, Ordinality>>& patterns() const { return patterns_; }

 private:
  std::vector<std::pair<std::string, Ordinality>> patterns_;
};

/// Python's fnmatch.fnmatchcase: * ? [seq] [!seq].
bool fnmatch(const std::string& name, const std::string& pattern);

}  // namespace volt::ksuit
