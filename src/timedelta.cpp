// TimeDelta and TimerDuration: Python's datetime.timedelta arithmetic and printing, and Lightning 2.2.5's Timer
// duration parsing (callbacks/timer.py).
#include "volt/timedelta.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <vector>

#include "volt/error.hpp"
#include "volt/serialization/python_repr.hpp"

namespace volt {
namespace {

constexpr int64_t kMicrosPerDay = 86400LL * 1000000LL;

// Python's int(text) for base 10: surrounding whitespace, an optional sign, digits with single underscores
// between them.
std::optional<int64_t> python_int(const std::string& text) {
  size_t b = 0, e = text.size();
  while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
  if (b == e) return std::nullopt;
  bool negative = false;
  if (text[b] == '+' || text[b] == '-') negative = text[b++] == '-';
  if (b == e) return std::nullopt;
  int64_t value = 0;
  bool last_digit = false;
  for (size_t i = b; i < e; ++i) {
    char c = text[i];
    if (c == '_') {
      if (!last_digit || i + 1 == e) return std::nullopt;
      last_digit = false;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    if (value > (INT64_MAX - 9) / 10) return std::nullopt;
    value = value * 10 + (c - '0');
    last_digit = true;
  }
  return negative ? -value : value;
}

}  // namespace

TimeDelta TimeDelta::from_microseconds(long double us) {
  TimeDelta out;
  out.us_ = static_cast<int64_t>(std::nearbyint(us));  // the default rounding mode is half to even, as Python's
  return out;
}

TimeDelta::TimeDelta(const Parts& p) {
  // CPython's timedelta_new/accum: each field's integral part times its factor is exact; the fractional parts are
  // scaled in double arithmetic, summed, and rounded half to even at the end (in CPython's order of fields).
  int64_t total = 0;
  double leftover = 0.0;
  auto accum = [&](double value, int64_t factor) {
    double intpart = 0.0;
    const double fracpart = std::modf(value, &intpart);
    total += static_cast<int64_t>(intpart) * factor;
    double scaled_int = 0.0;
    const double scaled_frac = std::modf(static_cast<double>(factor) * fracpart, &scaled_int);
    total += static_cast<int64_t>(scaled_int);
    leftover += scaled_frac;
  };
  accum(p.microseconds, 1);
  accum(p.milliseconds, 1000);
  accum(p.seconds, 1000000);
  accum(p.minutes, 60LL * 1000000);
  accum(p.hours, 3600LL * 1000000);
  accum(p.days, kMicrosPerDay);
  accum(p.weeks, 7 * kMicrosPerDay);
  if (leftover != 0.0) {
    double whole = std::round(leftover);
    if (std::fabs(whole - leftover) == 0.5) {  // exactly halfway: round to even
      const int odd = static_cast<int>(total & 1);
      whole = 2.0 * std::round((leftover + odd) * 0.5) - odd;
    }
    total += static_cast<int64_t>(whole);
  }
  us_ = total;
}

TimeDelta TimeDelta::from_seconds(double seconds) {
  Parts p;
  p.seconds = seconds;
  return TimeDelta(p);
}

double TimeDelta::total_seconds() const { return static_cast<double>(us_) / 1e6; }

int64_t TimeDelta::days() const {
  int64_t d = us_ / kMicrosPerDay;
  if (us_ % kMicrosPerDay < 0) --d;
  return d;
}

int64_t TimeDelta::seconds() const { return (us_ - days() * kMicrosPerDay) / 1000000; }
int64_t TimeDelta::microseconds() const { return (us_ - days() * kMicrosPerDay) % 1000000; }

std::string TimeDelta::repr() const {
  std::string fields;
  auto add = [&](const char* name, int64_t v) {
    if (v == 0) return;
    fields += (fields.empty() ? "" : ", ") + std::string(name) + "=" + std::to_string(v);
  };
  add("days", days());
  add("seconds", seconds());
  add("microseconds", microseconds());
  return "datetime.timedelta(" + (fields.empty() ? std::string("0") : fields) + ")";
}

std::string TimeDelta::str() const {
  const int64_t s = seconds();
  char buf[96];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  std::string out = buf;
  if (const int64_t d = days())
    out = std::to_string(d) + (d == 1 || d == -1 ? " day, " : " days, ") + out;
  if (const int64_t us = microseconds()) {
    std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(us));
    out += buf;
  }
  return out;
}

TimeDelta TimerDuration::resolve() const {
  if (!text) return delta;
  // Lightning 2.2.5: dhms = [int(i) for i in duration.strip().split(":")]; timedelta(days=dhms[0], ... dhms[3])
  std::vector<int64_t> parts;
  size_t start = 0;
  const std::string& s = *text;
  bool valid = true;
  for (;;) {
    size_t colon = s.find(':', start);
    auto value = python_int(s.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (!value) {
      valid = false;
      break;
    }
    parts.push_back(*value);
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (!valid || parts.size() < 4)
    throw MisconfigurationError("`Timer(duration=" + python_str_repr(s) +
                                ")` is not a valid duration. Expected a string in the format DD:HH:MM:SS.");
  TimeDelta::Parts p;
  p.days = static_cast<double>(parts[0]);
  p.hours = static_cast<double>(parts[1]);
  p.minutes = static_cast<double>(parts[2]);
  p.seconds = static_cast<double>(parts[3]);
  return TimeDelta(p);
}

}  // namespace volt
