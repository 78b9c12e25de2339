// Captures rank_zero_warn/rank_zero_info messages while alive, then restores the previous handler.
#pragma once
#include <string>
#include <vector>

#include "volt/messages.hpp"

namespace volt::testing {

class CapturedMessages {
 public:
  CapturedMessages() {
    previous_ = set_message_handler([this](MessageLevel level, const std::string& m) {
      (level == MessageLevel::kWarning ? warnings : infos).push_back(m);
      all.push_back(m);
    });
  }
  ~CapturedMessages() { set_message_handler(previous_); }
  CapturedMessages(const CapturedMessages&) = delete;
  CapturedMessages& operator=(const CapturedMessages&) = delete;

  /// Messages containing `text`, in order.
  std::vector<std::string> containing(const std::string& text) const {
    std::vector<std::string> out;
    for (const auto& m : all)
      if (m.find(text) != std::string::npos) out.push_back(m);
    return out;
  }

  std::vector<std::string> warnings, infos, all;

 private:
  MessageHandler previous_;
};

}  // namespace volt::testing
