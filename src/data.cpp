#include "volt/data.hpp"

#include <torch/torch.h>

#include "volt/detail/overrides.hpp"
#include "volt/callback.hpp"
#include "volt/error.hpp"

namespace volt {

DataLoader::~DataLoader() = default;
void DataLoader::set_epoch(int64_t) {}
int64_t DataLoader::batch_size_of(const Batch& batch) const {
  if (batch.isTensor()) return batch.toTensor().dim() > 0 ? batch.toTensor().size(0) : 1;
  if (batch.isTuple() && !batch.toTupleRef().elements().empty()) return batch_size_of(batch.toTupleRef().elements()[0]);
  return 1;
}
std::optional<std::vector<int64_t>> DataLoader::batch_indices(int64_t) const { return std::nullopt; }
StateDict DataLoader::state_dict() const { return StateDict(); }
void DataLoader::load_state_dict(const StateDict&) {}

TensorDataLoader::TensorDataLoader(std::vector<torch::Tensor> tensors, DataLoaderOptions options)
    : tensors_(std::move(tensors)), options_(options) {
  VOLT_CHECK(!tensors_.empty(), "TensorDataLoader: give at least one tensor");
  VOLT_CHECK(options_.batch_size >= 1, "TensorDataLoader: batch_size must be >= 1, got ", options_.batch_size);
  num_samples_ = tensors_[0].dim() > 0 ? tensors_[0].size(0) : 0;
  for (size_t i = 0; i < tensors_.size(); ++i)
    VOLT_CHECK(tensors_[i].dim() > 0 && tensors_[i].size(0) == num_samples_, "TensorDataLoader: tensor ", i,
               " has ", (tensors_[i].dim() > 0 ? tensors_[i].size(0) : 0), " samples, tensor 0 has ", num_samples_,
               "; all tensors must share their first dimension");
  set_epoch(0);
}

int64_t TensorDataLoader::size() const {
  int64_t b = options_.batch_size;
  return options_.drop_last ? num_samples_ / b : (num_samples_ + b - 1) / b;
}

void TensorDataLoader::set_epoch(int64_t epoch) {
  epoch_ = epoch;
  if (!options_.shuffle) return;
  auto generator = at::detail::createCPUGenerator(options_.seed + static_cast<uint64_t>(epoch));
  order_ = torch::randperm(num_samples_, generator, torch::kLong);
}

Batch TensorDataLoader::batch(int64_t index) {
  VOLT_CHECK(index >= 0 && index < size(), "TensorDataLoader: batch index ", index, " out of range [0, ", size(), ")");
  int64_t start = index * options_.batch_size;
  int64_t end = std::min(start + options_.batch_size, num_samples_);
  std::vector<IValue> parts;
  for (const auto& t : tensors_)
    parts.emplace_back(options_.shuffle ? t.index_select(0, order_.slice(0, start, end)) : t.slice(0, start, end));
  if (parts.size() == 1) return parts[0];
  return c10::ivalue::Tuple::create(std::move(parts));
}

std::optional<std::vector<int64_t>> TensorDataLoader::batch_indices(int64_t index) const {
  VOLT_CHECK(index >= 0 && index < size(), "TensorDataLoader: batch index ", index, " out of range [0, ", size(), ")");
  int64_t start = index * options_.batch_size;
  int64_t end = std::min(start + options_.batch_size, num_samples_);
  std::vector<int64_t> indices;
  indices.reserve(static_cast<size_t>(end - start));
  for (int64_t i = start; i < end; ++i) indices.push_back(options_.shuffle ? order_[i].item<int64_t>() : i);
  return indices;
}

StateDict TensorDataLoader::state_dict() const {
  return {{"epoch", epoch_}, {"seed", static_cast<int64_t>(options_.seed)}, {"shuffle", options_.shuffle}};
}

void TensorDataLoader::load_state_dict(const StateDict& state) {
  if (state.contains("seed") && state.at("seed").isInt()) options_.seed = static_cast<uint64_t>(state.at("seed").toInt());
  if (state.contains("epoch") && state.at("epoch").isInt()) set_epoch(state.at("epoch").toInt());
}

DataModule::~DataModule() = default;
std::string DataModule::class_name() const { return detail::python_style_class_name(typeid(*this)); }
void DataModule::prepare_data() {}
void DataModule::setup(const std::string&) {}
void DataModule::teardown(const std::string&) {}
std::shared_ptr<DataLoader> DataModule::train_dataloader() { return nullptr; }
std::shared_ptr<DataLoader> DataModule::val_dataloader() { return nullptr; }
std::shared_ptr<DataLoader> DataModule::test_dataloader() { return nullptr; }
std::shared_ptr<DataLoader> DataModule::predict_dataloader() { return nullptr; }
StateDict DataModule::state_dict() { return StateDict(); }
void DataModule::load_state_dict(const StateDict&) {}
void DataModule::on_exception(const std::exception&) {}

}  // namespace volt
