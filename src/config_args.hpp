// YAML readers for argument types several factories share (durations, logger versions, batch limits).
#pragma once
#include <optional>
#include <string>
#include <variant>

#include "volt/config.hpp"
#include "volt/timedelta.hpp"
#include "volt/trainer.hpp"

namespace volt::detail {

/// A duration as YAML gives it: "DD:HH:MM:SS", a number of seconds, or a mapping of timedelta fields.
inline std::optional<TimerDuration> duration_arg(InitArgs& args, const std::string& key) {
  YAML::Node node = args.raw(key);
  if (!node.IsDefined() || node.IsNull()) return std::nullopt;
  const std::string path = args.path_of(key);
  if (node.IsMap()) {
    InitArgs parts(node, path);
    TimeDelta::Parts p;
    p.weeks = parts.get<double>("weeks", 0), p.days = parts.get<double>("days", 0);
    p.hours = parts.get<double>("hours", 0), p.minutes = parts.get<double>("minutes", 0);
    p.seconds = parts.get<double>("seconds", 0), p.milliseconds = parts.get<double>("milliseconds", 0);
    p.microseconds = parts.get<double>("microseconds", 0);
    parts.check_all_used("a duration");
    return TimerDuration(p);
  }
  std::string text = yaml_as<std::string>(node, path);
  if (text.find(':') != std::string::npos) return TimerDuration(text);
  return TimerDuration(yaml_as<double>(node, path));
}

/// Lightning's `version: int | str | None` of the loggers.
inline std::optional<std::variant<int64_t, std::string>> version_arg(InitArgs& args) {
  YAML::Node node = args.raw("version");
  if (!node.IsDefined() || node.IsNull()) return std::nullopt;
  int64_t number = 0;
  if (node.IsScalar() && YAML::convert<int64_t>::decode(node, number)) return number;
  return yaml_as<std::string>(node, args.path_of("version"));
}

/// Lightning's `int | float` batch limits: an integer is a count of batches, a float a fraction.
inline BatchLimit batch_limit_arg(InitArgs& args, const std::string& key, BatchLimit default_value) {
  YAML::Node node = args.raw(key, default_value.is_count ? YAML::Node(default_value.count)
                                                         : YAML::Node(default_value.fraction));
  if (!node.IsDefined() || node.IsNull()) return default_value;
  int64_t count = 0;
  double fraction = 0;
  if (node.IsScalar() && YAML::convert<int64_t>::decode(node, count)) return BatchLimit(count);
  if (node.IsScalar() && YAML::convert<double>::decode(node, fraction)) return BatchLimit(fraction);
  config_error(args.path_of(key), "expected an integer (a number of batches) or a float (a fraction of the "
                                  "loader), got " + describe_yaml(node));
}

}  // namespace volt::detail
