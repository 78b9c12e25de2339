// BasePredictionWriter: which write methods each interval calls, the batch indices the predict loop records
// (Lightning's test_prediction_writer_batch_indices), the interval validation and the unimplemented defaults.
#include <gtest/gtest.h>

#include "support/boring.hpp"
#include "support/loggers.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_prediction_writer_test {

using namespace volt;
using namespace volt::testing;

namespace {

using Indices = std::vector<std::vector<std::vector<int64_t>>>;

class Writer : public BasePredictionWriter {
 public:
  using BasePredictionWriter::BasePredictionWriter;
  struct BatchCall {
    std::vector<int64_t> indices;
    int64_t batch_idx, dataloader_idx, prediction_rows;
  };
  std::vector<BatchCall> batch_calls;
  std::vector<std::pair<size_t, Indices>> epoch_calls;  // (number of predictions, indices)

  void write_on_batch_end(Trainer&, Module&, const StepOutput& prediction, const std::vector<int64_t>& indices,
                          const Batch&, int64_t batch_idx, int64_t dataloader_idx) override {
    batch_calls.push_back({indices, batch_idx, dataloader_idx, prediction.toTensor().size(0)});
  }
  void write_on_epoch_end(Trainer&, Module&, const std::vector<IValue>& predictions,
                          const Indices& batch_indices) override {
    epoch_calls.emplace_back(predictions.size(), batch_indices);
  }
};

// BoringModel with 16 samples in batches of 4 (Lightning's test uses DataLoader(batch_size=4)).
class BatchedModel : public BoringModel {
 public:
  explicit BatchedModel(bool shuffle = false) : shuffle_(shuffle) {}
  std::shared_ptr<DataLoader> predict_dataloader() override {
    DataLoaderOptions o;
    o.batch_size = 4, o.shuffle = shuffle_, o.seed = 3;
    return std::make_shared<TensorDataLoader>(std::vector<torch::Tensor>{data_.slice(0, 0, 16)}, o);
  }

 private:
  bool shuffle_;
};

TrainerOptions options(const std::string& name, std::vector<CallbackPtr> callbacks) {
  TrainerOptions o = golden_options(fresh_dir(name), std::move(callbacks));
  o.enable_checkpointing = false;
  return o;
}

}  // namespace

TEST(BasePredictionWriter, IntervalsDecideWhichMethodsRun) {
  for (const auto& [interval, batches, epochs] :
       std::vector<std::tuple<std::string, size_t, size_t>>{{"batch_and_epoch", 4, 1}, {"batch", 4, 0}, {"epoch", 0, 1}}) {
    auto writer = std::make_shared<Writer>(interval);
    BatchedModel model;
    auto predictions = Trainer(options("writer_" + interval, {writer})).predict(model);
    EXPECT_EQ(writer->batch_calls.size(), batches) << interval;
    EXPECT_EQ(writer->epoch_calls.size(), epochs) << interval;
    EXPECT_EQ(predictions.size(), 4u);
    EXPECT_EQ(writer->interval().value(), interval);
  }
}

TEST(BasePredictionWriter, ReceivesTheBatchIndices) {
  auto writer = std::make_shared<Writer>("batch_and_epoch");
  BatchedModel model;
  Trainer trainer(options("writer_indices", {writer}));
  trainer.predict(model);
  ASSERT_EQ(writer->batch_calls.size(), 4u);
  Indices expected{{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11}, {12, 13, 14, 15}}};
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(writer->batch_calls[i].indices, expected[0][i]);
    EXPECT_EQ(writer->batch_calls[i].batch_idx, i);
    EXPECT_EQ(writer->batch_calls[i].dataloader_idx, 0);
    EXPECT_EQ(writer->batch_calls[i].prediction_rows, 4);
  }
  ASSERT_EQ(writer->epoch_calls.size(), 1u);
  EXPECT_EQ(writer->epoch_calls[0].first, 4u);
  EXPECT_EQ(writer->epoch_calls[0].second, expected);
  // dropped before on_predict_end, as Lightning does
  EXPECT_TRUE(trainer.predict_epoch_batch_indices().empty());
}

TEST(BasePredictionWriter, ShuffledIndicesFollowTheLoaderOrder) {
  auto writer = std::make_shared<Writer>("batch");
  BatchedModel model(/*shuffle=*/true);
  Trainer(options("writer_shuffle", {writer})).predict(model);
  std::vector<int64_t> all;
  for (const auto& c : writer->batch_calls) all.insert(all.end(), c.indices.begin(), c.indices.end());
  auto expected = torch::randperm(16, at::detail::createCPUGenerator(3), torch::kLong);
  ASSERT_EQ(all.size(), 16u);
  for (int64_t i = 0; i < 16; ++i) EXPECT_EQ(all[i], expected[i].item<int64_t>());
}

TEST(BasePredictionWriter, OnlyBatchWritersRecordNoEpochIndices) {
  auto writer = std::make_shared<Writer>("batch");
  struct Probe : Callback {
    Indices seen;
    void on_predict_epoch_end(Trainer& t, Module&) override { seen = t.predict_epoch_batch_indices(); }
  };
  auto probe = std::make_shared<Probe>();
  BatchedModel model;
  Trainer(options("writer_batch_only", {writer, probe})).predict(model);
  EXPECT_EQ(probe->seen, (Indices{{}}));
}

TEST(BasePredictionWriter, LoadersWithoutIndicesWarnOnce) {
  struct NoIndices : DataLoader {
    int64_t size() const override { return 3; }
    Batch batch(int64_t) override { return torch::randn({2, 32}); }
  };
  struct Model : BoringModel {
    std::shared_ptr<DataLoader> predict_dataloader() override { return std::make_shared<NoIndices>(); }
  };
  CapturedMessages messages;
  auto writer = std::make_shared<Writer>("batch_and_epoch");
  Model model;
  Trainer(options("writer_no_indices", {writer})).predict(model);
  EXPECT_EQ(std::count(messages.warnings.begin(), messages.warnings.end(),
                       "Couldn't infer the batch indices fetched from your dataloader: `NoIndices`"),
            1);
  ASSERT_EQ(writer->batch_calls.size(), 3u);
  EXPECT_TRUE(writer->batch_calls[0].indices.empty());
  ASSERT_EQ(writer->epoch_calls.size(), 1u);
  EXPECT_EQ(writer->epoch_calls[0].first, 3u);  // predictions are still kept for the epoch write
  EXPECT_EQ(writer->epoch_calls[0].second, (Indices{{}}));
}

TEST(BasePredictionWriter, RejectsUnknownIntervals) {
  try {
    Writer writer("step");
    FAIL();
  } catch (const MisconfigurationError& e) {
    EXPECT_STREQ(e.what(), "`write_interval` should be one of ['batch', 'epoch', 'batch_and_epoch'].");
  }
  EXPECT_TRUE(WriteInterval("batch").on_batch());
  EXPECT_FALSE(WriteInterval("batch").on_epoch());
  EXPECT_TRUE(WriteInterval("batch_and_epoch").on_epoch());
  EXPECT_FALSE(WriteInterval("epoch").on_batch());
}

TEST(BasePredictionWriter, UnimplementedWriteMethodsThrow) {
  struct Bare : BasePredictionWriter {
    using BasePredictionWriter::BasePredictionWriter;
  };
  BatchedModel model;
  EXPECT_THROW(Trainer(options("writer_bare_batch", {std::make_shared<Bare>("batch")})).predict(model), Error);
  EXPECT_THROW(Trainer(options("writer_bare_epoch", {std::make_shared<Bare>("epoch")})).predict(model), Error);
}

}  // namespace volt_test_prediction_writer_test
}  // namespace
