// check_callback_order_independence: a deliberately order-dependent pair is found, an independent list passes.
#include <gtest/gtest.h>

#include "support/boring.hpp"
#include "volt/diagnostics.hpp"
#include "volt/volt.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_diagnostics_test {

namespace diagnostics_test {

using namespace volt;

struct Shared {
  int64_t value = 0;
};

// Producer bumps a shared value in on_train_batch_end; Consumer reads it in the same hook. With the producer first
// the consumer sees 1..n, with the consumer first 0..n-1: an order dependency.
class Producer : public Callback {
 public:
  explicit Producer(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
  void on_train_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t) override { ++shared_->value; }
  StateDict state_dict() override { return {{"produced", shared_->value}}; }

 private:
  std::shared_ptr<Shared> shared_;
};

class Consumer : public Callback {
 public:
  explicit Consumer(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
  void on_train_batch_end(Trainer&, Module& module, const StepOutput&, const Batch&, int64_t) override {
    seen_sum_ += shared_->value;
    module.log("consumer_seen", static_cast<double>(shared_->value));
  }
  StateDict state_dict() override { return {{"seen_sum", seen_sum_}}; }

 private:
  std::shared_ptr<Shared> shared_;
  int64_t seen_sum_ = 0;
};

// Depends on nothing but the batches.
class BatchCounter : public Callback {
 public:
  void on_train_batch_end(Trainer&, Module& module, const StepOutput& outputs, const Batch&, int64_t) override {
    ++batches_;
    loss_sum_ += outputs.toGenericDict().at("loss").toTensor().item<double>();
    module.log("counted", static_cast<double>(batches_));
  }
  StateDict state_dict() override { return {{"batches", batches_}, {"loss_sum", loss_sum_}}; }

 private:
  int64_t batches_ = 0;
  double loss_sum_ = 0;
};

OrderCheckRun make_run(bool with_pair) {
  OrderCheckRun run;
  run.module = std::make_shared<volt::testing::BoringModel>();
  auto shared = std::make_shared<Shared>();
  if (with_pair) run.callbacks = {std::make_shared<Producer>(shared), std::make_shared<BatchCounter>(),
                                  std::make_shared<Consumer>(shared)};
  else run.callbacks = {std::make_shared<BatchCounter>(), std::make_shared<Producer>(shared)};
  TrainerOptions& o = run.options;
  o.default_root_dir = volt::testing::fresh_dir("diagnostics_order");
  o.max_epochs = 2;
  o.limit_train_batches = 3;
  o.limit_val_batches = 0;
  o.enable_progress_bar = false;
  o.enable_model_summary = false;
  return run;
}

TEST(DiagnosticsOrder, FindsTheOrderDependentPair) {
  auto report = check_callback_order_independence([](uint64_t) { return make_run(true); }, 7);
  EXPECT_FALSE(report.independent());
  EXPECT_EQ(report.forward_order, (std::vector<std::string>{"Producer", "BatchCounter", "Consumer"}));
  EXPECT_EQ(report.reversed_order, (std::vector<std::string>{"Consumer", "BatchCounter", "Producer"}));
  ASSERT_EQ(report.callbacks.size(), 1u) << report.to_string();
  EXPECT_EQ(report.callbacks[0].state_key, "Consumer");
  // 6 batches: the consumer saw 1+2+...+6 = 21 after the producer, 0+1+...+5 = 15 before it
  EXPECT_EQ(report.callbacks[0].details, std::vector<std::string>{"seen_sum: 21 != 15"});
  // callback_metrics (and logged_metrics, which stay empty without a logger): only the consumer's value differs
  ASSERT_FALSE(report.metrics.empty()) << report.to_string();
  for (const auto& m : report.metrics)
    EXPECT_TRUE(m.name == "consumer_seen" || m.name == "logged/consumer_seen") << m.name;
  EXPECT_EQ(report.metrics[0].name, "consumer_seen");
  EXPECT_EQ(*report.metrics[0].forward, 6.0);
  EXPECT_EQ(*report.metrics[0].reversed, 5.0);
  std::string text = report.to_string();
  EXPECT_NE(text.find("Callback Consumer: state_dict differs\n  seen_sum: 21 != 15\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Metric consumer_seen: 6.0 != 5.0\n"), std::string::npos) << text;
}

TEST(DiagnosticsOrder, IndependentCallbacksPassWithCheckpointsOn) {
  // checkpointing stays on: each run writes under its own directory, which the comparison ignores
  auto report = check_callback_order_independence([](uint64_t) { return make_run(false); }, 7);
  EXPECT_TRUE(report.independent()) << report.to_string();
  EXPECT_NE(report.to_string().find("No differences"), std::string::npos);
}

}  // namespace diagnostics_test

}  // namespace volt_test_diagnostics_test
}  // namespace
