// Test support: what Python's torch.load (Debian's python3-torch, run as /usr/bin/python3) sees in a checkpoint.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace volt::testing {

/// Whether /usr/bin/python3 can import torch; the interop tests skip without it.
bool python_has_torch();

/// The file as torch.load reads it, described by tests/python/read_checkpoint.py; throws if Python fails.
nlohmann::json python_load(const std::string& file);

/// In that description a dict is {"__dict__": [[key, value], ...]}: the value at `key` (throws if absent) ...
nlohmann::json python_dict_get(const nlohmann::json& dict, const std::string& key);
/// ... and the keys in order.
std::vector<std::string> python_dict_keys(const nlohmann::json& dict);

}  // namespace volt::testing
