// trainer.validate/test print Lightning's results table: compared byte for byte with what Lightning 2.2.5 printed
// (tools/gen_print_results.py; the layout Lightning uses when `rich` is not installed).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/boring.hpp"
#include "volt/detail/loops.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_print_results_test {

using namespace volt;

namespace {
std::string golden_path(const std::string& name) {
  return std::string(VOLT_SOURCE_DIR) + "/tests/golden/print_results/" + name;
}
std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class ColumnsGuard {
 public:
  explicit ColumnsGuard(int columns) {
    if (const char* old = std::getenv("COLUMNS")) old_ = old;
    setenv("COLUMNS", std::to_string(columns).c_str(), 1);
  }
  ~ColumnsGuard() {
    if (old_) setenv("COLUMNS", old_->c_str(), 1);
    else unsetenv("COLUMNS");
  }

 private:
  std::optional<std::string> old_;
};

class LoggingModel : public volt::testing::BoringModel {
 public:
  StepOutput test_step(const Batch& batch, int64_t, int64_t) override {
    log("test_loss", step(batch));
    return {};
  }
};
}  // namespace

TEST(PrintResults, MatchesLightningsTableByteForByte) {
  for (std::string name : {"test_one_loader_120", "test_one_loader_80", "validate_two_loaders_120",
                           "validate_two_loaders_80"}) {
    auto spec = nlohmann::json::parse(read_text(golden_path(name + ".json")));
    std::vector<MetricMap> results;
    for (const auto& result : spec["results"]) {
      MetricMap metrics;
      for (const auto& [key, v] : result.items()) metrics[key] = torch::tensor(v["value"].get<double>(), torch::kFloat32);
      results.push_back(metrics);
    }
    ColumnsGuard columns(spec["columns"].get<int>());
    std::ostringstream out;
    volt::detail::print_results(results, spec["stage"].get<std::string>(), out);
    EXPECT_EQ(out.str(), read_text(golden_path(name + ".txt"))) << name;
  }
}

TEST(PrintResults, TestPrintsTheTableAndVerboseFalseDoesNot) {
  ColumnsGuard columns(120);
  LoggingModel model;
  TrainerOptions o;
  o.enable_progress_bar = false;
  o.enable_model_summary = false;
  o.limit_test_batches = 2;
  Trainer trainer(o);
  ::testing::internal::CaptureStdout();
  trainer.test(model);
  std::string printed = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(printed.find("Test metric             DataLoader 0"), std::string::npos) << printed;
  EXPECT_NE(printed.find("test_loss"), std::string::npos) << printed;
  ::testing::internal::CaptureStdout();
  trainer.test(model, nullptr, "", /*verbose=*/false);
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "");
}

}  // namespace volt_test_print_results_test
}  // namespace
