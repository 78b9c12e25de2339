// Spans of time as Lightning takes them: Python's datetime.timedelta (ModelCheckpoint(train_time_interval=...)) and
// the durations of Timer(duration=...) / Trainer(max_time=...): "DD:HH:MM:SS", seconds, or timedelta fields.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace volt {

/// Python's `datetime.timedelta`: a span of time held, as Python holds it, in whole microseconds (fractions are
/// rounded half to even). Prints with Python's `repr()` and `str()`.
class TimeDelta {
 public:
  /// `timedelta(**kwargs)`: the fields add up; any of them may be fractional or negative.
  /// Example: TimeDelta(TimeDelta::Parts{0, 1, 30}) is 1 hour 30 minutes (days, hours, minutes, seconds, ...).
  struct Parts {
    double days = 0, hours = 0, minutes = 0, seconds = 0, milliseconds = 0, microseconds = 0, weeks = 0;
  };

  TimeDelta() = default;
  TimeDelta(const Parts& parts);  // NOLINT: implicit, like passing a dict to Lightning
  template <class Rep, class Period>
  TimeDelta(std::chrono::duration<Rep, Period> d)  // NOLINT: implicit, any std::chrono duration
      : TimeDelta(from_microseconds(std::chrono::duration<long double, std::micro>(d).count())) {}
  static TimeDelta from_seconds(double seconds);

  int64_t total_microseconds() const { return us_; }
  /// Python's `total_seconds()`.
  double total_seconds() const;
  /// Python's normalised fields: 0 <= seconds < 86400, 0 <= microseconds < 1000000, days carries the sign.
  int64_t days() const;
  int64_t seconds() const;
  int64_t microseconds() const;
  /// Python's `repr()`, e.g. "datetime.timedelta(seconds=60)", "datetime.timedelta(0)".
  std::string repr() const;
  /// Python's `str()`, e.g. "0:01:00", "1 day, 2:03:04.500000", "-1 day, 23:59:59".
  std::string str() const;
  /// Python's truth value: false for a zero span.
  explicit operator bool() const { return us_ != 0; }
  bool operator==(const TimeDelta& other) const { return us_ == other.us_; }
  bool operator!=(const TimeDelta& other) const { return us_ != other.us_; }

 private:
  static TimeDelta from_microseconds(long double us);
  int64_t us_ = 0;
};

/// What `Timer(duration=...)` and `Trainer(max_time=...)` take: a "DD:HH:MM:SS" string (parsed by the Timer, so a
/// malformed one raises there, as in Lightning), a number of seconds, a TimeDelta, its Parts or a std::chrono
/// duration.
struct TimerDuration {
  TimerDuration(const char* text) : text(text) {}           // NOLINT: implicit
  TimerDuration(std::string text) : text(std::move(text)) {}  // NOLINT
  TimerDuration(int seconds) : delta(TimeDelta::from_seconds(seconds)) {}      // NOLINT
  TimerDuration(int64_t seconds) : delta(TimeDelta::from_seconds(static_cast<double>(seconds))) {}  // NOLINT
  TimerDuration(double seconds) : delta(TimeDelta::from_seconds(seconds)) {}   // NOLINT
  TimerDuration(TimeDelta delta) : delta(delta) {}                            // NOLINT
  TimerDuration(const TimeDelta::Parts& parts) : delta(parts) {}              // NOLINT
  template <class Rep, class Period>
  TimerDuration(std::chrono::duration<Rep, Period> d) : delta(d) {}  // NOLINT

  /// The span. A string is parsed as Lightning 2.2.5 does: split at ':', every part an int, the first four are
  /// days, hours, minutes and seconds (no range checks: "12:34:56:65" is valid). Throws MisconfigurationError
  /// "`Timer(duration='6:00:00')` is not a valid duration. Expected a string in the format DD:HH:MM:SS.".
  TimeDelta resolve() const;

  std::optional<std::string> text;
  TimeDelta delta;
};

}  // namespace volt
