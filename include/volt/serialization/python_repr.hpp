// Python's repr() for IValues, byte for byte, and Lightning's callback state keys built from it.
#pragma once
#include <ATen/core/ivalue.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace volt {

/// Python's `repr(v)` for the values a callback state key or a hyper-parameter can hold:
/// None, bool, int, float, str, list (any IValue list), tuple and dict (insertion order; str or int keys).
/// Self-containing containers print as `[...]`, `{...}`, `(...)` as in Python.
/// Throws volt::Error for any other IValue (tensors, objects, ...) or nesting deeper than 1000 levels.
///
/// Example: python_repr(StateDict{{"monitor", IValue()}, {"mode", "min"}}) == "{'monitor': None, 'mode': 'min'}"
std::string python_repr(const c10::IValue& v);

/// Python's `repr(float(x))`: the shortest digits that round-trip, in Python's layout
/// (`1.0`, `0.1`, `1e-05`, `1e+16`, `123456789012345.0`, `inf`, `-inf`, `nan`, `-0.0`).
std::string python_float_repr(double x);

/// Python's `repr(str)` of UTF-8 text: quote choice, escapes and which characters count as printable all follow
/// CPython. Printability comes from a table generated from CPython 3.11 (Unicode 14.0; see
/// tools/gen_unicode_printable.py): characters assigned in later Unicode versions print escaped (`\U000xxxxx`)
/// where a newer Python would print them as they are. Bytes that are not valid UTF-8 print as `\udcNN`, which
/// is what Python shows for a str decoded with `errors="surrogateescape"` (how it decodes file names).
std::string python_str_repr(std::string_view utf8);

/// Lightning's `Callback._generate_state_key(**kwargs)`: `f"{type(self).__qualname__}{repr(kwargs)}"`.
///
/// Example: generate_state_key("EarlyStopping", {{"monitor", "val_loss"}, {"mode", "min"}})
///          == "EarlyStopping{'monitor': 'val_loss', 'mode': 'min'}"
std::string generate_state_key(const std::string& class_name,
                               const std::vector<std::pair<std::string, c10::IValue>>& kwargs);

namespace detail {
/// Appends the UTF-8 encoding of code point `cp` to `out`.
void append_utf8(std::string& out, char32_t cp);
}  // namespace detail

}  // namespace volt
