// The batch size finder, following Lightning 2.2.5's tuner/batch_size_scaling.py (see the header for differences).
#include "volt/callbacks/batch_size_finder.hpp"

#include <torch/torch.h>

#include <utility>
#include <vector>

#include "volt/data.hpp"
#include "volt/error.hpp"
#include "volt/messages.hpp"
#include "volt/trainer.hpp"
#include "search_trial.hpp"

namespace volt {
namespace {

using detail::concat;

// Where the batch size lives: the module's hparams, else the data module's.
StateDict batch_size_holder(Module& module, DataModule* datamodule, const std::string& name) {
  if (module.hparams().contains(name)) return module.hparams();  // shares storage with the module's hparams
  if (datamodule && datamodule->hparams().contains(name)) return datamodule->hparams();
  throw MisconfigurationError(concat("Field ", name, " not found in `model`, `datamodule`, nor their `hparams` "
                                     "attributes. (volt looks in hparams(); see save_hyperparameters)"));
}

int64_t read_size(const StateDict& holder, const std::string& name) {
  IValue v = holder.at(name);
  VOLT_CHECK(v.isInt(), "The batch size `", name, "` in hparams must be an int, found ", v.tagKind());
  return v.toInt();
}

class Search {
 public:
  Search(Trainer& trainer, Module& module, const BatchSizeFinderOptions& options, DataModule* datamodule)
      : trainer_(trainer), module_(module), options_(options), datamodule_(datamodule),
        holder_(batch_size_holder(module, datamodule, options.batch_arg_name)) {}

  // Lightning's _adjust_batch_size: returns (new size, changed).
  std::pair<int64_t, bool> adjust(double factor, std::optional<int64_t> value, const char* desc) {
    const int64_t batch_size = read_size(holder_, options_.batch_arg_name);
    if (auto length = dataset_length()) {
      if (batch_size >= *length) {
        rank_zero_info(concat("The batch size ", batch_size, " is greater or equal than the length of your dataset."));
        return {batch_size, false};
      }
    }
    const int64_t new_size = value ? *value : static_cast<int64_t>(static_cast<double>(batch_size) * factor);
    if (desc) rank_zero_info(concat("Batch size ", batch_size, " ", desc, ", trying batch size ", new_size));
    holder_.set(options_.batch_arg_name, new_size);
    return {new_size, new_size != batch_size};
  }

  /// Lightning 2.2.5 builds the train loader before setting init_val and does not rebuild it for the first trial,
  /// so that trial runs with the attribute's original value.
  void set_stale_first_trial_size(int64_t size) { stale_size_ = size; }

  // One trial: a fresh nested trainer runs steps_per_trial optimizer steps with loaders built for the new size.
  void run_trial() {
    if (stale_size_) {
      const int64_t current = read_size(holder_, options_.batch_arg_name);
      holder_.set(options_.batch_arg_name, *stale_size_);
      stale_size_.reset();
      try {
        run_trial();
      } catch (...) {
        holder_.set(options_.batch_arg_name, current);
        throw;
      }
      holder_.set(options_.batch_arg_name, current);
      return;
    }
    TrainerOptions o = detail::search_trial_options(trainer_.options(), options_.steps_per_trial);
    o.limit_train_batches = BatchLimit(1.0);
    Trainer trial(o);
    trial.fit(module_, datamodule_ ? datamodule_ : trainer_.datamodule());
  }

  int64_t power(int64_t new_size) {
    bool any_success = false;
    for (int64_t i = 0; i < options_.max_trials; ++i) {
      try {
        run_trial();
      } catch (const std::exception& error) {
        if (!is_oom_error(error)) throw;
        new_size = adjust(0.5, std::nullopt, "failed").first;
        if (any_success) break;
        continue;
      }
      auto [size, changed] = adjust(2.0, std::nullopt, "succeeded");
      new_size = size;
      if (!changed) break;
      any_success = true;
    }
    return new_size;
  }

  int64_t binsearch(int64_t new_size) {
    int64_t low = 1;
    std::optional<int64_t> high;
    int64_t count = 0;
    while (true) {
      try {
        run_trial();
      } catch (const std::exception& error) {
        if (!is_oom_error(error)) throw;
        high = new_size;
        auto [size, changed] = adjust(1.0, (*high + low) / 2, "failed");
        new_size = size;
        if (*high - low <= 1) break;
        if (!changed) {
          // Lightning 2.2.5 retries the same failing size forever here (the dataset-length check refuses to
          // lower it); volt stops with the last size that worked.
          rank_zero_warn(concat("The batch size ", size, " failed and cannot be lowered (it is not smaller than the "
                                "dataset); stopping the search at batch size ", low));
          holder_.set(options_.batch_arg_name, low);
          new_size = low;
          break;
        }
        continue;
      }
      if (++count > options_.max_trials) break;
      low = new_size;
      std::pair<int64_t, bool> next;
      if (high) {
        if (*high - low <= 1) break;
        next = adjust(1.0, (*high + low) / 2, "succeeded");
      } else {
        next = adjust(2.0, std::nullopt, "succeeded");
      }
      new_size = next.first;
      if (!next.second) break;
    }
    return new_size;
  }

 private:
  // Lightning's combined_loader._dataset_length(): the number of samples, when the loader can tell.
  std::optional<int64_t> dataset_length() {
    DataModule* dm = datamodule_ ? datamodule_ : trainer_.datamodule();
    std::shared_ptr<DataLoader> loader = dm ? dm->train_dataloader() : module_.train_dataloader();
    if (auto* tensors = dynamic_cast<TensorDataLoader*>(loader.get())) return tensors->num_samples();
    return std::nullopt;
  }

  Trainer& trainer_;
  Module& module_;
  const BatchSizeFinderOptions& options_;
  DataModule* datamodule_;
  StateDict holder_;
  std::optional<int64_t> stale_size_;
};

}  // namespace

bool is_oom_error(const std::exception& error) {
  const std::string what = error.what();
  auto has = [&](const char* s) { return what.find(s) != std::string::npos; };
  return (has("CUDA") && has("out of memory")) || has("cuDNN error: CUDNN_STATUS_NOT_SUPPORTED.") ||
         has("DefaultCPUAllocator: can't allocate memory");
}

std::optional<int64_t> scale_batch_size(Trainer& trainer, Module& module, const BatchSizeFinderOptions& options,
                                        DataModule* datamodule) {
  VOLT_CHECK(options.mode == "power" || options.mode == "binsearch",
             "`mode` should be either of ('power', 'binsearch')");
  VOLT_CHECK(options.steps_per_trial > 0, "batch size finder: steps_per_trial must be positive, got ",
             options.steps_per_trial);
  if (trainer.options().fast_dev_run) {
    rank_zero_warn("Skipping batch size scaler since `fast_dev_run` is enabled.");
    return std::nullopt;
  }
  // the "temporary checkpoint": weights and buffers
  std::vector<std::pair<torch::Tensor, torch::Tensor>> snapshot;
  {
    torch::NoGradGuard no_grad;
    for (const auto& p : module.parameters()) snapshot.emplace_back(p, p.detach().clone());
    for (const auto& b : module.buffers()) snapshot.emplace_back(b, b.detach().clone());
  }
  auto restore = [&]() {
    torch::NoGradGuard no_grad;
    for (auto& kv : snapshot) kv.first.copy_(kv.second);
    trainer.reattach(module);
  };
  if (!datamodule) datamodule = trainer.datamodule();
  int64_t new_size = 0;
  try {
    Search search(trainer, module, options, datamodule);
    const int64_t original = read_size(batch_size_holder(module, datamodule, options.batch_arg_name),
                                       options.batch_arg_name);
    new_size = search.adjust(1.0, options.init_val, nullptr).first;
    search.set_stale_first_trial_size(original);
    new_size = options.mode == "power" ? search.power(new_size) : search.binsearch(new_size);
  } catch (...) {
    restore();
    throw;
  }
  restore();
  rank_zero_info(concat("Finished batch size finder, will continue with full run using batch size ", new_size));
  return new_size;
}

BatchSizeFinder::BatchSizeFinder(BatchSizeFinderOptions options) : options_(std::move(options)) {
  VOLT_CHECK(options_.mode == "power" || options_.mode == "binsearch",
             "`mode` should be either of ('power', 'binsearch')");
}

void BatchSizeFinder::setup(Trainer& trainer, Module& module, const std::string&) {
  batch_size_holder(module, trainer.datamodule(), options_.batch_arg_name);
}

void BatchSizeFinder::on_fit_start(Trainer& trainer, Module& module) { scale_batch_size(trainer, module); }

void BatchSizeFinder::scale_batch_size(Trainer& trainer, Module& module) {
  optimal_batch_size_ = volt::scale_batch_size(trainer, module, options_);
}

}  // namespace volt
