// Python's format(value, spec) for ints and floats: the format-spec mini-language of Python 3.11
// ([[fill]align][sign][z][#][0][width][grouping][.precision][type]) with CPython's results, used where Lightning
// formats numbers into text (checkpoint file names, messages).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace volt {

/// Python's `format(int(value), spec)`: types b, c, d, n, o, x, X, none, and the float types (e, E, f, F, g, G,
/// %) which format `float(value)`. Throws volt::Error with Python's ValueError text for an invalid spec, e.g.
/// "Precision not allowed in integer format specifier".
///
/// Example: python_format_int(3, "03d") == "003"; python_format_int(1234567, ",") == "1,234,567"
std::string python_format_int(int64_t value, std::string_view spec);

/// Python's `format(float(value), spec)`: types e, E, f, F, g, G, n, %, and none (repr() without a precision,
/// like "g" with at least one digit after the point with one). Throws volt::Error with Python's ValueError text,
/// e.g. "Unknown format code 'd' for object of type 'float'".
///
/// Example: python_format_float(0.123456, ".2f") == "0.12"; python_format_float(0.1, "") == "0.1"
std::string python_format_float(double value, std::string_view spec);

/// Python's `format(bool, spec)`: "True"/"False" for an empty spec, else the int 1/0 formatted.
std::string python_format_bool(bool value, std::string_view spec);

/// Python's `format(tensor, spec)` (Tensor.__format__): a 0-dim tensor formats its `.item()` as a bool, int or
/// float by dtype. Throws volt::Error for a tensor with dimensions (Python prints those only with an empty spec).
std::string python_format_tensor(const at::Tensor& value, std::string_view spec);

}  // namespace volt
