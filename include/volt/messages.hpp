// Warnings and info messages, rank-zero only, through a replaceable handler (tests capture them).
#pragma once
#include <functional>
#include <string>

namespace volt {

enum class MessageLevel { kInfo, kWarning };
using MessageHandler = std::function<void(MessageLevel, const std::string&)>;

/// Replaces the handler (default: "volt: message" to stderr for warnings, stdout for info); returns the old one.
MessageHandler set_message_handler(MessageHandler handler);
/// Rank-zero warning / info.
void rank_zero_warn(const std::string& message);
void rank_zero_info(const std::string& message);

}  // namespace volt
