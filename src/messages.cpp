#include "volt/messages.hpp"

#include <cstdlib>
#include <iostream>
#include <mutex>

namespace volt {
namespace {

int env_rank() {
  for (const char* name : {"RANK", "LOCAL_RANK", "SLURM_PROCID"})
    if (const char* v = std::getenv(name)) return std::atoi(v);
  return 0;
}

std::mutex& handler_mutex() {
  static std::mutex m;
  return m;
}

MessageHandler& handler() {
  static MessageHandler h = [](MessageLevel level, const std::string& message) {
    (level == MessageLevel::kWarning ? std::cerr : std::cout) << message << std::endl;
  };
  return h;
}

void emit(MessageLevel level, const std::string& message) {
  if (env_rank() != 0) return;
  std::lock_guard<std::mutex> lock(handler_mutex());
  handler()(level, message);
}

}  // namespace

MessageHandler set_message_handler(MessageHandler h) {
  std::lock_guard<std::mutex> lock(handler_mutex());
  std::swap(handler(), h);
  return h;
}

void rank_zero_warn(const std::string& message) { emit(MessageLevel::kWarning, message); }
void rank_zero_info(const std::string& message) { emit(MessageLevel::kInfo, message); }

}  // namespace volt
