#include "volt/config.hpp"

#include <algorithm>
#include <type_traits>

namespace volt {

void config_error(const std::string& path, const std::string& problem) {
  throw ConfigError(path.empty() ? problem : path + ": " + problem);
}

std::string describe_yaml(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "null";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return "'" + node.Scalar() + "'";
}

namespace {

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};

template <class T>
const char* type_name() {
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  else if constexpr (std::is_same_v<T, uint64_t>) return "a non-negative integer";
  else if constexpr (std::is_integral_v<T>) return "an integer";
  else if constexpr (std::is_floating_point_v<T>) return "a number";
  else return "a string";
}

template <class T>
T scalar_as(const YAML::Node& node, const std::string& path) {
  if (!node.IsDefined() || !node.IsScalar())  // null, a list or a mapping
    config_error(path, std::string("expected ") + type_name<T>() + ", got " + describe_yaml(node));
  if constexpr (std::is_same_v<T, std::string>) {
    return node.Scalar();
  } else {
    // yaml-cpp reads "1e3" as an integer failure and "3" as a valid double; "yes"/"no" are booleans in YAML 1.1.
    if constexpr (std::is_same_v<T, uint64_t>) {
      if (!node.Scalar().empty() && node.Scalar()[0] == '-')
        config_error(path, std::string("expected ") + type_name<T>() + ", got " + describe_yaml(node));
    }
    T value{};
    if (!YAML::convert<T>::decode(node, value))
      config_error(path, std::string("expected ") + type_name<T>() + ", got " + describe_yaml(node));
    return value;
  }
}

}  // namespace

template <class T>
T yaml_as(const YAML::Node& node, const std::string& path) {
  if constexpr (is_optional<T>::value) {
    if (!node.IsDefined() || node.IsNull()) return std::nullopt;
    return yaml_as<typename T::value_type>(node, path);
  } else if constexpr (is_vector<T>::value) {
    if (!node.IsDefined() || !node.IsSequence()) config_error(path, "expected a list, got " + describe_yaml(node));
    T out;
    for (std::size_t i = 0; i < node.size(); ++i)
      out.push_back(yaml_as<typename T::value_type>(node[i], path + "[" + std::to_string(i) + "]"));
    return out;
  } else {
    return scalar_as<T>(node, path);
  }
}

template <class T>
YAML::Node to_yaml(const T& value) {
  if constexpr (is_optional<T>::value) {
    return value ? to_yaml(*value) : YAML::Node(YAML::NodeType::Null);
  } else if constexpr (is_vector<T>::value) {
    YAML::Node seq(YAML::NodeType::Sequence);
    for (const auto& v : value) seq.push_back(to_yaml(static_cast<typename T::value_type>(v)));
    return seq;
  } else {
    return YAML::Node(value);
  }
}

InitArgs::InitArgs(YAML::Node node, std::string path) : node_(std::move(node)), path_(std::move(path)) {
  if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap())
    config_error(path_, "expected a mapping of argument names to values, got " + describe_yaml(node_));
}

bool InitArgs::has(const std::string& key) const { return node_.IsMap() && node_[key].IsDefined(); }

void InitArgs::remember(const std::string& key, const YAML::Node& value) {
  auto it = used_.find(key);
  if (it == used_.end()) {
    order_.push_back(key);
    used_.emplace(key, value);
  } else {
    it->second.reset(value);  // operator= would write through to the config's own node
  }
}

YAML::Node InitArgs::raw(const std::string& key, const YAML::Node& shown_default) {
  YAML::Node value = has(key) ? YAML::Node(node_[key]) : YAML::Node();
  remember(key, has(key) ? value : shown_default);
  return value;
}

template <class T>
T InitArgs::get(const std::string& key, const T& default_value) {
  if (!has(key)) {
    remember(key, to_yaml(default_value));
    return default_value;
  }
  YAML::Node node = node_[key];
  T value = yaml_as<T>(node, path_of(key));
  remember(key, node);
  return value;
}

template <class T>
T InitArgs::required(const std::string& key) {
  if (!has(key)) {
    // reported by check_all_used, after the unknown keys: a misspelled required key is the likelier story
    remember(key, YAML::Node());
    missing_.push_back(key);
    return T{};
  }
  return get<T>(key, T{});
}

void InitArgs::check_all_used(const std::string& class_name) const {
  if (node_.IsMap()) for (const auto& kv : node_) {
    const std::string key = kv.first.Scalar();
    if (used_.count(key)) continue;
    std::string valid;
    for (const auto& k : order_) valid += (valid.empty() ? "" : ", ") + k;
    config_error(path_of(key), "unknown argument '" + key + "' for " + class_name +
                                   (valid.empty() ? " (it takes no arguments)" : "; valid arguments: " + valid));
  }
  if (!missing_.empty())
    config_error(path_of(missing_.front()),
                 "is required but missing; add `" + missing_.front() + ": <value>` under " + path_);
}

YAML::Node InitArgs::effective() const {
  YAML::Node out(YAML::NodeType::Map);
  for (const auto& key : order_) out[key] = used_.at(key);
  return out;
}

#define VOLT_CONFIG_TYPE(T)                                                        \
  template T yaml_as<T>(const YAML::Node&, const std::string&);                   \
  template YAML::Node to_yaml<T>(const T&);                                        \
  template T InitArgs::get<T>(const std::string&, const T&);                       \
  template T InitArgs::required<T>(const std::string&);
#define VOLT_CONFIG_TYPE_FAMILY(T) \
  VOLT_CONFIG_TYPE(T)              \
  VOLT_CONFIG_TYPE(std::optional<T>) VOLT_CONFIG_TYPE(std::vector<T>) VOLT_CONFIG_TYPE(std::optional<std::vector<T>>)

VOLT_CONFIG_TYPE_FAMILY(bool)
VOLT_CONFIG_TYPE_FAMILY(int)
VOLT_CONFIG_TYPE_FAMILY(int64_t)
VOLT_CONFIG_TYPE_FAMILY(uint64_t)
VOLT_CONFIG_TYPE_FAMILY(double)
VOLT_CONFIG_TYPE_FAMILY(std::string)

}  // namespace volt
