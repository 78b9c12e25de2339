// Python's format() for ints and floats, following CPython 3.11's Python/formatter_unicode.c (spec parsing,
// calc_number_widths, fill_number, thousands grouping) and Python/pystrtod.c (the digits of 'g' and repr).
#include "volt/serialization/python_format.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "volt/error.hpp"
#include "volt/serialization/python_repr.hpp"

namespace volt {
namespace {

enum class Grouping { kNone, kComma, kUnderscore, kUnderscoreFour };

struct Spec {
  char fill = ' ';
  char align = '>';
  char sign = '\0';
  bool no_neg_0 = false;
  bool alternate = false;
  int64_t width = -1;
  Grouping grouping = Grouping::kNone;
  int64_t precision = -1;
  char type = '\0';
};

bool is_align(char c) { return c == '<' || c == '>' || c == '=' || c == '^'; }

std::string quoted_code(char type) {
  auto u = static_cast<unsigned char>(type);
  if (u > 32 && u < 128) return std::string("'") + type + "'";
  char buf[16];
  std::snprintf(buf, sizeof buf, "'\\x%x'", u);
  return buf;
}

// parse_internal_render_format_spec
Spec parse_spec(std::string_view s, const char* type_name) {
  Spec spec;
  size_t pos = 0, end = s.size();
  bool fill_specified = false, align_specified = false;
  if (end - pos >= 2 && is_align(s[pos + 1])) {
    spec.align = s[pos + 1];
    spec.fill = s[pos];
    fill_specified = align_specified = true;
    pos += 2;
  } else if (end - pos >= 1 && is_align(s[pos])) {
    spec.align = s[pos];
    align_specified = true;
    ++pos;
  }
  if (pos < end && (s[pos] == '+' || s[pos] == '-' || s[pos] == ' ')) spec.sign = s[pos++];
  if (pos < end && s[pos] == 'z') spec.no_neg_0 = true, ++pos;
  if (pos < end && s[pos] == '#') spec.alternate = true, ++pos;
  if (!fill_specified && pos < end && s[pos] == '0') {
    spec.fill = '0';
    if (!align_specified) spec.align = '=';
    ++pos;
  }
  auto get_integer = [&](int64_t& out) {
    size_t start = pos;
    int64_t value = 0;
    while (pos < end && s[pos] >= '0' && s[pos] <= '9') {
      value = value * 10 + (s[pos] - '0');
      if (value > (int64_t{1} << 40)) throw Error("Too many decimal digits in format string");
      ++pos;
    }
    out = value;
    return pos - start;
  };
  if (get_integer(spec.width) == 0) spec.width = -1;
  if (pos < end && s[pos] == ',') spec.grouping = Grouping::kComma, ++pos;
  if (pos < end && s[pos] == '_') {
    if (spec.grouping != Grouping::kNone) throw Error("Cannot specify both ',' and '_'.");
    spec.grouping = Grouping::kUnderscore;
    ++pos;
  }
  if (pos < end && s[pos] == ',' && spec.grouping == Grouping::kUnderscore)
    throw Error("Cannot specify both ',' and '_'.");
  if (pos < end && s[pos] == '.') {
    ++pos;
    if (get_integer(spec.precision) == 0) throw Error("Format specifier missing precision");
  }
  if (end - pos > 1)
    throw Error("Invalid format specifier '" + std::string(s) + "' for object of type '" + type_name + "'");
  if (end - pos == 1) spec.type = s[pos];
  if (spec.grouping != Grouping::kNone) {
    switch (spec.type) {
      case 'd': case 'e': case 'f': case 'g': case 'E': case 'G': case '%': case 'F': case '\0':
        break;
      case 'b': case 'o': case 'x': case 'X':
        if (spec.grouping == Grouping::kUnderscore) {
          spec.grouping = Grouping::kUnderscoreFour;
          break;
        }
        [[fallthrough]];
      default:
        throw Error(std::string("Cannot specify '") + (spec.grouping == Grouping::kComma ? "," : "_") + "' with " +
                    quoted_code(spec.type) + ".");
    }
  }
  return spec;
}

// _PyUnicode_InsertThousandsGrouping: the digits with separators, left-padded with zeros to min_width.
std::string group_digits(const std::string& digits, Grouping grouping, int64_t min_width) {
  const size_t group = grouping == Grouping::kUnderscoreFour ? 4 : grouping == Grouping::kNone ? SIZE_MAX : 3;
  const char sep = grouping == Grouping::kComma ? ',' : '_';
  std::string reversed;
  int64_t remaining = static_cast<int64_t>(digits.size());
  size_t next = digits.size();  // digits are taken from the right
  bool use_separator = false;
  for (;;) {
    if (use_separator) reversed += sep;
    int64_t l = std::max<int64_t>(std::max<int64_t>(remaining, min_width), 1);
    if (group != SIZE_MAX) l = std::min<int64_t>(static_cast<int64_t>(group), l);
    int64_t n_chars = std::max<int64_t>(0, std::min<int64_t>(remaining, l));
    int64_t n_zeros = std::max<int64_t>(0, l - remaining);
    for (int64_t i = 0; i < n_chars; ++i) reversed += digits[--next];
    reversed.append(static_cast<size_t>(n_zeros), '0');
    remaining -= n_chars;
    min_width -= l;
    if (remaining <= 0 && min_width <= 0) break;
    min_width -= 1;  // the separator
    use_separator = grouping != Grouping::kNone;
  }
  return std::string(reversed.rbegin(), reversed.rend());
}

// calc_number_widths + fill_number: sign, prefix, grouped digits, remainder, padded as the spec says. The first
// `n_digits` characters of `number` are the digits to group (all of an int's; a float's leading decimal digits).
std::string assemble(const Spec& spec, char sign_char, const std::string& prefix, const std::string& number,
                     size_t n_digits) {
  const std::string digits = number.substr(0, n_digits), remainder = number.substr(n_digits);
  const int64_t n_sign = sign_char ? 1 : 0;
  const int64_t fixed = n_sign + static_cast<int64_t>(prefix.size() + remainder.size());
  const int64_t min_width = spec.fill == '0' && spec.align == '=' ? spec.width - fixed : 0;
  const std::string grouped = n_digits == 0 ? std::string() : group_digits(digits, spec.grouping, min_width);
  const int64_t n_padding = spec.width - (fixed + static_cast<int64_t>(grouped.size()));
  int64_t left = 0, inner = 0, right = 0;
  if (n_padding > 0) {
    switch (spec.align) {
      case '<': right = n_padding; break;
      case '^': left = n_padding / 2, right = n_padding - left; break;
      case '=': inner = n_padding; break;
      default: left = n_padding; break;
    }
  }
  std::string out(static_cast<size_t>(left), spec.fill);
  if (sign_char) out += sign_char;
  out += prefix;
  out.append(static_cast<size_t>(inner), spec.fill);
  out += grouped;
  out += remainder;
  out.append(static_cast<size_t>(right), spec.fill);
  return out;
}

char sign_for(bool negative, char spec_sign) {
  if (negative) return '-';
  return spec_sign == '+' ? '+' : spec_sign == ' ' ? ' ' : '\0';
}

// CPython's format_float_short for 'g' (mode 2) with the ALT and ADD_DOT_0 flags; `x` is finite and >= 0.
std::string format_g(double x, int64_t precision, bool alt, bool add_dot_0, bool upper) {
  const int p = static_cast<int>(precision == 0 ? 1 : std::min<int64_t>(precision, 1000));
  std::vector<char> buf(static_cast<size_t>(p) + 32);
  std::snprintf(buf.data(), buf.size(), "%.*e", p - 1, x);
  std::string sci(buf.data());
  const size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e))
    if (c != '.') digits += c;
  int decpt = std::atoi(sci.c_str() + e + 1) + 1;
  if (x == 0.0) digits = "0", decpt = 1;  // dtoa's zero
  if (!alt) {
    while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  }
  int digits_len = static_cast<int>(digits.size());
  int vdigits_end = alt ? p : digits_len;
  bool use_exp = decpt <= -4 || decpt > (add_dot_0 ? p - 1 : p);
  int exp = 0;
  if (use_exp) exp = decpt - 1, decpt = 1;
  const int vdigits_start = decpt <= 0 ? decpt - 1 : 0;
  if (!use_exp && add_dot_0)
    vdigits_end = std::max(vdigits_end, decpt + 1);
  else
    vdigits_end = std::max(vdigits_end, decpt);
  std::string out;
  if (decpt <= 0) {
    out.append(static_cast<size_t>(decpt - vdigits_start), '0');
    out += '.';
    out.append(static_cast<size_t>(-decpt), '0');
  } else {
    out.append(static_cast<size_t>(-vdigits_start), '0');
  }
  if (0 < decpt && decpt <= digits_len) {
    out += digits.substr(0, static_cast<size_t>(decpt));
    out += '.';
    out += digits.substr(static_cast<size_t>(decpt));
  } else {
    out += digits;
  }
  if (digits_len < decpt) {
    out.append(static_cast<size_t>(decpt - digits_len), '0');
    out += '.';
    out.append(static_cast<size_t>(vdigits_end - decpt), '0');
  } else {
    out.append(static_cast<size_t>(vdigits_end - digits_len), '0');
  }
  if (out.back() == '.' && !alt) out.pop_back();
  if (use_exp) {
    char ebuf[16];
    std::snprintf(ebuf, sizeof ebuf, "%c%+.02d", upper ? 'E' : 'e', exp);
    out += ebuf;
  }
  return out;
}

std::string format_float_spec(double value, Spec spec) {
  char type = spec.type;
  bool add_dot_0 = false, add_pct = false;
  int64_t precision = spec.precision, default_precision = 6;
  if (type == '\0') add_dot_0 = true, type = 'r', default_precision = 0;
  if (type == 'n') type = 'g';
  if (type == '%') type = 'f', value *= 100, add_pct = true;
  if (precision < 0) precision = default_precision;
  else if (type == 'r') type = 'g';
  const bool upper = type == 'E' || type == 'F' || type == 'G';
  bool negative = std::signbit(value) && !std::isnan(value);
  const double magnitude = std::fabs(value);
  std::string body;
  if (std::isnan(value)) {
    body = upper ? "NAN" : "nan";
  } else if (std::isinf(value)) {
    body = upper ? "INF" : "inf";
  } else if (type == 'r') {
    body = python_float_repr(magnitude);
  } else if (type == 'g' || type == 'G') {
    body = format_g(magnitude, precision, spec.alternate, add_dot_0, upper);
  } else {
    const int p = static_cast<int>(std::min<int64_t>(precision, 1000));
    std::string fmt = std::string("%") + (spec.alternate ? "#" : "") + ".*" + type;
    int n = std::snprintf(nullptr, 0, fmt.c_str(), p, magnitude);
    std::vector<char> buf(static_cast<size_t>(n) + 1);
    std::snprintf(buf.data(), buf.size(), fmt.c_str(), p, magnitude);
    body = buf.data();
  }
  if (negative && spec.no_neg_0 && std::isfinite(value) &&
      body.find_first_not_of("0.eE+-%") == std::string::npos)  // rounds to zero: no "-0"
    negative = false;
  if (add_pct) body += '%';
  size_t n_digits = 0;  // parse_number: the leading decimal digits
  while (n_digits < body.size() && body[n_digits] >= '0' && body[n_digits] <= '9') ++n_digits;
  return assemble(spec, sign_for(negative, spec.sign), "", body, n_digits);
}

std::string unknown_code(char type, const char* type_name) {
  return "Unknown format code " + quoted_code(type) + " for object of type '" + type_name + "'";
}


}  // namespace

std::string python_format_float(double value, std::string_view spec_text) {
  if (spec_text.empty()) return python_float_repr(value);  // str(float)
  Spec spec = parse_spec(spec_text, "float");
  switch (spec.type) {
    case '\0': case 'e': case 'E': case 'f': case 'F': case 'g': case 'G': case 'n': case '%':
      return format_float_spec(value, spec);
    default:
      throw Error(unknown_code(spec.type, "float"));
  }
}

std::string python_format_int(int64_t value, std::string_view spec_text) {
  if (spec_text.empty()) return std::to_string(value);  // str(int)
  Spec spec = parse_spec(spec_text, "int");
  switch (spec.type) {
    case 'e': case 'E': case 'f': case 'F': case 'g': case 'G': case '%':
      return format_float_spec(static_cast<double>(value), spec);
    case 'b': case 'c': case 'd': case 'o': case 'x': case 'X': case 'n': case '\0':
      break;
    default:
      throw Error(unknown_code(spec.type, "int"));
  }
  if (spec.precision != -1) throw Error("Precision not allowed in integer format specifier");
  if (spec.no_neg_0) throw Error("Negative zero coercion (z) not allowed in integer format specifier");
  if (spec.type == 'c') {
    if (spec.sign) throw Error("Sign not allowed with integer format specifier 'c'");
    if (spec.alternate) throw Error("Alternate form (#) not allowed with integer format specifier 'c'");
    if (value < 0 || value > 0x10FFFF) throw Error("%c arg not in range(0x110000)");
    // a character is not a number: no sign, and '=' padding goes before it like right alignment
    std::string ch;
    detail::append_utf8(ch, static_cast<char32_t>(value));
    int64_t pad = spec.width - 1;
    if (pad <= 0) return ch;
    std::string fill(static_cast<size_t>(pad), spec.fill);
    if (spec.align == '<') return ch + fill;
    if (spec.align == '^') return fill.substr(0, fill.size() / 2) + ch + fill.substr(fill.size() / 2);
    return fill + ch;
  }
  const bool negative = value < 0;
  uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  int base = 10;
  std::string prefix;
  switch (spec.type) {
    case 'b': base = 2, prefix = "0b"; break;
    case 'o': base = 8, prefix = "0o"; break;
    case 'x': base = 16, prefix = "0x"; break;
    case 'X': base = 16, prefix = "0X"; break;
    default: break;
  }
  if (!spec.alternate) prefix.clear();
  const char* digit_chars = spec.type == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string digits;
  do {
    digits += digit_chars[magnitude % static_cast<uint64_t>(base)];
    magnitude /= static_cast<uint64_t>(base);
  } while (magnitude != 0);
  std::reverse(digits.begin(), digits.end());
  return assemble(spec, sign_for(negative, spec.sign), prefix, digits, digits.size());
}

std::string python_format_bool(bool value, std::string_view spec) {
  if (spec.empty()) return value ? "True" : "False";
  return python_format_int(value ? 1 : 0, spec);
}

std::string python_format_tensor(const at::Tensor& value, std::string_view spec) {
  if (value.dim() != 0) {
    if (!spec.empty()) throw Error("unsupported format string passed to Tensor.__format__");
    throw Error("volt formats only 0-dim tensors as numbers; got a tensor with " + std::to_string(value.dim()) +
                " dimensions");
  }
  if (value.scalar_type() == at::kBool) return python_format_bool(value.item<bool>(), spec);
  if (!value.is_floating_point() && !value.is_complex()) return python_format_int(value.item<int64_t>(), spec);
  return python_format_float(value.item<double>(), spec);
}

}  // namespace volt
