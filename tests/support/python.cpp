#include "support/python.hpp"

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace volt::testing {

bool python_has_torch() {
  static const bool ok = std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
  return ok;
}

nlohmann::json python_load(const std::string& file) {
  std::string out = file + ".python.json";
  std::string cmd = "/usr/bin/python3 " + std::string(VOLT_SOURCE_DIR) + "/tests/python/read_checkpoint.py '" + file +
                    "' > '" + out + "'";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("python failed to load " + file);
  std::ifstream in(out);
  return nlohmann::json::parse(in);
}

nlohmann::json python_dict_get(const nlohmann::json& dict, const std::string& key) {
  for (const auto& kv : dict.at("__dict__"))
    if (kv[0] == key) return kv[1];
  throw std::runtime_error("key not found: " + key);
}

std::vector<std::string> python_dict_keys(const nlohmann::json& dict) {
  std::vector<std::string> keys;
  for (const auto& kv : dict.at("__dict__")) keys.push_back(kv[0].get<std::string>());
  return keys;
}

}  // namespace volt::testing
