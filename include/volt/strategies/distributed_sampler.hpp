// PyTorch's DistributedSampler for volt's loaders: each of num_replicas ranks gets every num_replicas-th index of
// the (seed + epoch)-shuffled order, padded by wrapping around so every rank has the same number of samples and
// therefore the same number of batches (collectives stay in step). Prediction uses the unrepeated variant instead
// (Lightning's UnrepeatedDistributedSampler): no padding, so no sample is predicted twice, and the ranks' counts may
// differ by one.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "volt/data.hpp"

namespace volt {

struct DistributedSamplerOptions {
  int64_t num_replicas = 1;
  int64_t rank = 0;
  bool shuffle = true;
  uint64_t seed = 0;
  /// Drop the tail so the samples divide evenly (instead of padding with repeated samples).
  bool drop_last = false;
  /// Neither pad nor drop: rank r gets positions r, r + num_replicas, ... of the order (prediction). As in
  /// Lightning, its shuffle is seeded with the epoch alone.
  bool unrepeated = false;
};

class DistributedSampler {
 public:
  explicit DistributedSampler(DistributedSamplerOptions options);
  /// This rank's dataset indices for `epoch`, as torch.utils.data.DistributedSampler gives them.
  std::vector<int64_t> indices(int64_t dataset_size, int64_t epoch) const;
  /// How many samples each rank gets.
  int64_t num_samples(int64_t dataset_size) const;
  const DistributedSamplerOptions& options() const { return options_; }

 private:
  DistributedSamplerOptions options_;
};

/// A TensorDataLoader's data, sharded for one rank: batches of the loader's batch_size over this rank's indices.
class DistributedTensorDataLoader : public DataLoader {
 public:
  /// `unrepeated`: the prediction shards (see DistributedSamplerOptions::unrepeated), in the loader's order.
  DistributedTensorDataLoader(const TensorDataLoader& loader, int64_t num_replicas, int64_t rank,
                              bool unrepeated = false);
  int64_t size() const override;
  Batch batch(int64_t index) override;
  void set_epoch(int64_t epoch) override;
  std::optional<std::vector<int64_t>> batch_indices(int64_t index) const override;
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;

 private:
  std::vector<torch::Tensor> tensors_;
  DataLoaderOptions loader_options_;
  DistributedSampler sampler_;
  int64_t epoch_ = 0;
  std::vector<int64_t> indices_;
};

/// Any other loader, sharded by batch: rank r takes batches r, r + n, r + 2n, ... (wrapping around so every rank has
/// ceil(size / n) batches, or, `unrepeated`, without wrapping). The wrapped loader's shuffle (if any) must depend only
/// on the epoch, as all ranks share it.
class DistributedBatchLoader : public DataLoader {
 public:
  DistributedBatchLoader(std::shared_ptr<DataLoader> loader, int64_t num_replicas, int64_t rank,
                         bool unrepeated = false);
  int64_t size() const override;
  Batch batch(int64_t index) override;
  void set_epoch(int64_t epoch) override;
  int64_t batch_size_of(const Batch& batch) const override;
  std::optional<std::vector<int64_t>> batch_indices(int64_t index) const override;
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;

 private:
  int64_t inner_index(int64_t index) const;
  std::shared_ptr<DataLoader> loader_;
  int64_t num_replicas_, rank_;
  bool unrepeated_;
};

}  // namespace volt
