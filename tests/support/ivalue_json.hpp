// Test support: Python values recorded as tagged JSON (see tools/gen_optim_vectors.py) turned into IValues, and an
// exact comparison of IValues that checks types, key order and the bits of every float.
#pragma once
#include <ATen/core/ivalue.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace volt {
namespace test {

using ordered_json = nlohmann::ordered_json;

/// Reads a JSON file (order-preserving); fails the test if it cannot.
ordered_json read_json(const std::string& path);

/// Reads tests/golden/<name> (e.g. "callbacks/swa.json"); throws naming the file if it is missing.
nlohmann::json golden_json(const std::string& name);

/// A float written by Python's float.hex() ("0x1.99999999999ap-4", "inf", "-inf", "nan").
double from_hex(const std::string& hex);
/// The same format, for messages: "%a".
std::string to_hex(double value);

/// Tagged JSON -> IValue: null/bool/int/str/list as themselves, {"float": hex} -> double,
/// {"tuple": [...]} -> tuple, {"dict": [[k, v], ...]} -> dict (int or str keys, order kept),
/// {"tensor": {dtype, shape, values}} -> tensor, {"method": name} -> the string "<method name>".
c10::IValue decode(const ordered_json& j);

/// Adds a gtest failure (with `path`) for every difference between `expected` and `actual`: kind (int vs float,
/// list vs tuple), value (floats bit for bit, tensors within `tensor_tol`), dict keys and their order.
void expect_same(const c10::IValue& expected, const c10::IValue& actual, const std::string& path,
                 double tensor_tol = 0.0);

}  // namespace test
}  // namespace volt
