// Error types. Every message says which API or file, what was expected, what was found, and how to fix it.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace volt {

/// Root of every exception volt throws on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A Trainer/Module/Callback set up in a way that cannot work (Lightning's MisconfigurationException).
class MisconfigurationError : public Error {
 public:
  using Error::Error;
};

/// A checkpoint that cannot be written or read: missing, truncated, not a checkpoint, missing or mistyped keys.
class CheckpointError : public Error {
 public:
  using Error::Error;
};

/// A configuration file or command line that does not describe a valid run.
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// A failure in the distributed layer (a rank died, a collective timed out).
class DistributedError : public Error {
 public:
  using Error::Error;
};

/// A NaN or infinite training loss under TrainerOptions::non_finite_loss = "raise"; says where it appeared.
class NonFiniteLossError : public Error {
 public:
  using Error::Error;
};

/// Raised at a safe point after SIGTERM/SIGINT; goes through on_exception like any other exception.
class SignalError : public Error {
 public:
  SignalError(int signal, const std::string& what) : Error(what), signal_(signal) {}
  int signal() const { return signal_; }

 private:
  int signal_;
};

namespace detail {
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}
}  // namespace detail

}  // namespace volt

/// Throws `Type` with the streamed message unless `cond` holds.
#define VOLT_CHECK_T(Type, cond, ...)                              \
  do {                                                             \
    if (!(cond)) throw Type(::volt::detail::concat(__VA_ARGS__));  \
  } while (false)
#define VOLT_CHECK(cond, ...) VOLT_CHECK_T(::volt::MisconfigurationError, cond, __VA_ARGS__)
