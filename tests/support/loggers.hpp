// A Logger that records every log_metrics call, for callbacks that log (LearningRateMonitor, DeviceStatsMonitor).
#pragma once
#include "support/messages.hpp"
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "volt/messages.hpp"
#include "volt/trainer.hpp"

namespace volt::testing {

class RecordingLogger : public Logger {
 public:
  struct Call {
    int64_t step;
    std::map<std::string, double> metrics;
  };
  explicit RecordingLogger(std::string version = "0") : version_(std::move(version)) {}
  std::string name() const override { return "recording"; }
  std::string version() const override { return version_; }
  void log_metrics(const std::map<std::string, double>& metrics, int64_t step) override {
    calls.push_back({step, metrics});
  }
  std::vector<Call> calls;

 private:
  std::string version_;
};

}  // namespace volt::testing
