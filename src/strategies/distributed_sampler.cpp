// DistributedSampler (torch.utils.data.distributed.DistributedSampler's index arithmetic) and the sharded loaders.
#include "volt/strategies/distributed_sampler.hpp"

#include <torch/torch.h>

#include "volt/error.hpp"

namespace volt {

DistributedSampler::DistributedSampler(DistributedSamplerOptions options) : options_(options) {
  VOLT_CHECK(options_.num_replicas >= 1, "DistributedSampler: num_replicas must be >= 1, got ", options_.num_replicas);
  VOLT_CHECK(options_.rank >= 0 && options_.rank < options_.num_replicas, "DistributedSampler: invalid rank ",
             options_.rank, ", rank should be in the interval [0, ", options_.num_replicas - 1, "]");
}

int64_t DistributedSampler::num_samples(int64_t n) const {
  const int64_t w = options_.num_replicas;
  if (options_.unrepeated) return n > options_.rank ? (n - options_.rank + w - 1) / w : 0;
  if (options_.drop_last && n % w != 0) return (n - w + w - 1) / w;  // ceil((n - w) / w)
  return (n + w - 1) / w;
}

std::vector<int64_t> DistributedSampler::indices(int64_t n, int64_t epoch) const {
  const int64_t w = options_.num_replicas;
  const int64_t total = options_.unrepeated ? n : num_samples(n) * w;
  std::vector<int64_t> order(static_cast<size_t>(n));
  if (options_.shuffle) {
    // Lightning's UnrepeatedDistributedSampler seeds with the epoch alone (it ignores `seed`)
    const uint64_t seed = options_.unrepeated ? 0 : options_.seed;
    auto generator = at::detail::createCPUGenerator(seed + static_cast<uint64_t>(epoch));
    auto perm = torch::randperm(n, generator, torch::kLong);
    auto* p = perm.data_ptr<int64_t>();
    for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = p[i];
  } else {
    for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  }
  // pad by wrapping around (repeating the order as often as needed), or cut the tail
  std::vector<int64_t> all;
  all.reserve(static_cast<size_t>(total));
  for (int64_t i = 0; i < total && n > 0; ++i) all.push_back(order[static_cast<size_t>(i % n)]);
  std::vector<int64_t> mine;
  for (int64_t i = options_.rank; i < static_cast<int64_t>(all.size()); i += w) mine.push_back(all[static_cast<size_t>(i)]);
  return mine;
}

// ---- DistributedTensorDataLoader ----------------------------------------------------------------------------------

namespace {
DistributedSamplerOptions sampler_options(const DataLoaderOptions& o, int64_t num_replicas, int64_t rank,
                                          bool unrepeated) {
  DistributedSamplerOptions s;
  s.num_replicas = num_replicas;
  s.rank = rank;
  s.unrepeated = unrepeated;
  s.shuffle = o.shuffle && !unrepeated;  // Lightning predicts in the dataset's order
  s.seed = o.seed;
  s.drop_last = false;  // Lightning's DistributedSampler pads; the loader's drop_last applies to its batches
  return s;
}
}  // namespace

DistributedTensorDataLoader::DistributedTensorDataLoader(const TensorDataLoader& loader, int64_t num_replicas,
                                                         int64_t rank, bool unrepeated)
    : tensors_(loader.tensors()),
      loader_options_(loader.options()),
      sampler_(sampler_options(loader.options(), num_replicas, rank, unrepeated)) {
  set_epoch(0);
}

int64_t DistributedTensorDataLoader::size() const {
  const auto n = static_cast<int64_t>(indices_.size());
  const int64_t b = loader_options_.batch_size;
  return loader_options_.drop_last ? n / b : (n + b - 1) / b;
}

void DistributedTensorDataLoader::set_epoch(int64_t epoch) {
  epoch_ = epoch;
  indices_ = sampler_.indices(tensors_[0].size(0), epoch);
}

std::optional<std::vector<int64_t>> DistributedTensorDataLoader::batch_indices(int64_t index) const {
  VOLT_CHECK(index >= 0 && index < size(), "DistributedTensorDataLoader: batch index ", index, " out of range [0, ",
             size(), ")");
  const int64_t b = loader_options_.batch_size;
  auto begin = indices_.begin() + index * b;
  auto end = indices_.begin() + std::min<int64_t>((index + 1) * b, static_cast<int64_t>(indices_.size()));
  return std::vector<int64_t>(begin, end);
}

Batch DistributedTensorDataLoader::batch(int64_t index) {
  auto idx = *batch_indices(index);
  auto selection = torch::tensor(idx, torch::kLong);
  std::vector<IValue> parts;
  for (const auto& t : tensors_) parts.emplace_back(t.index_select(0, selection));
  if (parts.size() == 1) return parts[0];
  return c10::ivalue::Tuple::create(std::move(parts));
}

StateDict DistributedTensorDataLoader::state_dict() const {
  return {{"epoch", epoch_}, {"seed", static_cast<int64_t>(loader_options_.seed)}, {"shuffle", loader_options_.shuffle}};
}

void DistributedTensorDataLoader::load_state_dict(const StateDict& state) {
  if (state.contains("epoch") && state.at("epoch").isInt()) set_epoch(state.at("epoch").toInt());
}

// ---- DistributedBatchLoader ---------------------------------------------------------------------------------------

DistributedBatchLoader::DistributedBatchLoader(std::shared_ptr<DataLoader> loader, int64_t num_replicas, int64_t rank,
                                               bool unrepeated)
    : loader_(std::move(loader)), num_replicas_(num_replicas), rank_(rank), unrepeated_(unrepeated) {
  VOLT_CHECK(loader_ != nullptr, "DistributedBatchLoader: the loader is null");
  VOLT_CHECK(num_replicas_ >= 1 && rank_ >= 0 && rank_ < num_replicas_, "DistributedBatchLoader: rank ", rank_,
             " is not in [0, ", num_replicas_, ")");
}

int64_t DistributedBatchLoader::size() const {
  const int64_t n = loader_->size();
  if (unrepeated_) return n > rank_ ? (n - rank_ + num_replicas_ - 1) / num_replicas_ : 0;
  return (n + num_replicas_ - 1) / num_replicas_;
}

int64_t DistributedBatchLoader::inner_index(int64_t index) const {
  VOLT_CHECK(index >= 0 && index < size(), "DistributedBatchLoader: batch index ", index, " out of range [0, ", size(),
             ")");
  return (index * num_replicas_ + rank_) % loader_->size();
}

Batch DistributedBatchLoader::batch(int64_t index) { return loader_->batch(inner_index(index)); }
void DistributedBatchLoader::set_epoch(int64_t epoch) { loader_->set_epoch(epoch); }
int64_t DistributedBatchLoader::batch_size_of(const Batch& batch) const { return loader_->batch_size_of(batch); }
std::optional<std::vector<int64_t>> DistributedBatchLoader::batch_indices(int64_t index) const {
  return loader_->batch_indices(inner_index(index));
}
StateDict DistributedBatchLoader::state_dict() const { return loader_->state_dict(); }
void DistributedBatchLoader::load_state_dict(const StateDict& state) { loader_->load_state_dict(state); }

}  // namespace volt
