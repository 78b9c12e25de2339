// ksuit's MetricPropertyProvider (noether core/providers/metric_property.py) with defaults that also cover
// Lightning-style names (val_loss, train_acc_epoch).
#include "volt/ksuit/metric_properties.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <set>

#include "volt/error.hpp"
#include "volt/messages.hpp"

namespace volt::ksuit {

namespace {

bool match_class(const std::string& pattern, size_t& p, char c, bool& ok) {
  // pattern[p] == '['; on success p points after ']'
  size_t i = p + 1;
  bool negate = false;
  if (i < pattern.size() && pattern[i] == '!') negate = true, ++i;
  size_t start = i;
  bool found = false;
  while (i < pattern.size() && (pattern[i] != ']' || i == start)) {
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      if (pattern[i] <= c && c <= pattern[i + 2]) found = true;
      i += 3;
    } else {
      if (pattern[i] == c) found = true;
      ++i;
    }
  }
  if (i >= pattern.size()) return false;  // no closing bracket: '[' is a literal
  p = i + 1;
  ok = found != negate;
  return true;
}

bool fnmatch_at(const std::string& s, size_t si, const std::string& pattern, size_t pi) {
  while (pi < pattern.size()) {
    char pc = pattern[pi];
    if (pc == '*') {
      while (pi < pattern.size() && pattern[pi] == '*') ++pi;
      if (pi == pattern.size()) return true;
      for (size_t k = si; k <= s.size(); ++k)
        if (fnmatch_at(s, k, pattern, pi)) return true;
      return false;
    }
    if (si >= s.size()) return false;
    if (pc == '?') {
      ++si, ++pi;
      continue;
    }
    if (pc == '[') {
      size_t p = pi;
      bool ok = false;
      if (match_class(pattern, p, s[si], ok)) {
        if (!ok) return false;
        ++si, pi = p;
        continue;
      }
    }
    if (pc != s[si]) return false;
    ++si, ++pi;
  }
  return si == s.size();
}

}  // namespace

bool fnmatch(const std::string& name, const std::string& pattern) { return fnmatch_at(name, 0, pattern, 0); }

MetricPropertyProvider::MetricPropertyProvider(bool with_defaults) {
  if (!with_defaults) return;
  for (const char* p : {"profiler/*", "optim/*", "profiling/*", "ctx/*", "loss_weight/*", "gradient/*", "detach/*",
                        "lossdiff/*", "train_time/*"})
    register_pattern(p, Ordinality::kNeutral);
  for (const char* p : {"*accuracy*", "acc*", "*_acc", "*_acc_*", "*/acc*"})
    register_pattern(p, Ordinality::kHigherIsBetter);
  for (const char* p : {"*loss*", "*error*"}) register_pattern(p, Ordinality::kLowerIsBetter);
}

void MetricPropertyProvider::register_pattern(const std::string& pattern, Ordinality ordinality, bool first) {
  VOLT_CHECK(!pattern.empty(), "MetricPropertyProvider::register_pattern: the pattern is empty");
  std::string lower = pattern;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (first) patterns_.insert(patterns_.begin(), {lower, ordinality});
  else patterns_.emplace_back(lower, ordinality);
}

std::optional<Ordinality> MetricPropertyProvider::get_ordinality(const std::string& key) const {
  std::string lower = key;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const auto& [pattern, ordinality] : patterns_)
    if (fnmatch(lower, pattern)) return ordinality;
  return std::nullopt;
}

bool MetricPropertyProvider::higher_is_better(const std::string& key) const {
  auto o = get_ordinality(key);
  if (o) return *o != Ordinality::kLowerIsBetter;
  static std::mutex mutex;
  static std::set<std::string> warned;
  std::lock_guard<std::mutex> lock(mutex);
  if (warned.insert(key).second)
    rank_zero_warn("MetricPropertyProvider: no pattern matches '" + key + "'; assuming higher is better. Register "
                   "one with trainer.metric_properties().register_pattern(\"" + key + "\", ...).");
  return true;
}

std::string MetricPropertyProvider::mode_for(const std::string& key, const std::string& who) const {
  auto o = get_ordinality(key);
  if (o == Ordinality::kHigherIsBetter) return "max";
  if (o == Ordinality::kLowerIsBetter) return "min";
  throw MisconfigurationError(
      who + ": cannot tell whether higher or lower is better for '" + key + "' (" +
      (o ? "it matches a neutral pattern" : "no pattern matches it") +
      "). Pass mode=\"min\" or mode=\"max\", or register a pattern before fit: "
      "trainer.metric_properties().register_pattern(\"" + key + "\", volt::ksuit::Ordinality::kLowerIsBetter).");
}

}  // namespace volt::ksuit
