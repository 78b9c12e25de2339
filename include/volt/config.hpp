// Reading objects from YAML: the `init_args` of one `class_path`, as LightningCLI (jsonargparse) gives them.
// Every read names its YAML path, so a wrong type or an unknown key is reported as
// "callbacks[1].init_args.patience: expected an integer, got 'three'".
#pragma once
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "volt/error.hpp"

namespace volt {

/// A ConfigError for the value at `path` (e.g. "trainer.max_epochs").
[[noreturn]] void config_error(const std::string& path, const std::string& problem);

/// What a YAML node is, for messages ("a mapping", "the string 'abc'").
std::string describe_yaml(const YAML::Node& node);

/// Converts a YAML value to T or throws ConfigError naming `path`. Supported T: bool, int, int64_t, uint64_t,
/// double, std::string, std::vector of those, std::optional of those (null → nullopt).
template <class T>
T yaml_as(const YAML::Node& node, const std::string& path);

/// The `init_args` given to one registered factory. Factories read their parameters with get(); the keys they
/// read are the valid ones, so a key in the YAML that no get() asked for is reported with the list of valid keys.
class InitArgs {
 public:
  /// `node` is a mapping or null (no arguments); `path` is its YAML path, e.g. "trainer.callbacks[0].init_args".
  InitArgs(YAML::Node node, std::string path);

  /// The value of `key`, or `default_value` when absent. Remembers `key` as valid and the value used.
  template <class T>
  T get(const std::string& key, const T& default_value);
  /// The value of `key`. If it is absent this returns T{} and check_all_used reports it (after any unknown key,
  /// since a misspelled required key is the likelier mistake).
  template <class T>
  T required(const std::string& key);
  /// Whether `key` was given.
  bool has(const std::string& key) const;
  /// The raw node of `key` (null when absent), for arguments a factory parses itself; marks `key` as valid.
  YAML::Node raw(const std::string& key, const YAML::Node& shown_default = YAML::Node());
  /// The YAML path of `key`, for a factory's own messages.
  std::string path_of(const std::string& key) const { return path_ + "." + key; }
  const std::string& path() const { return path_; }

  /// Throws ConfigError if a given key was never read, naming it, `class_name` and the valid keys; then if a
  /// required key was missing.
  void check_all_used(const std::string& class_name) const;
  bool missing_required() const { return !missing_.empty(); }
  /// Every valid key with the value used (given or default), in the order the factory read them.
  YAML::Node effective() const;

 private:
  void remember(const std::string& key, const YAML::Node& value);
  YAML::Node node_;
  std::string path_;
  std::vector<std::string> order_;
  std::vector<std::string> missing_;
  std::map<std::string, YAML::Node> used_;
};

/// A node that yaml-cpp can print, for --print_config: T's value as YAML (nullopt → null).
template <class T>
YAML::Node to_yaml(const T& value);

}  // namespace volt
