// Lightning's Tuner entry point: `Tuner(trainer).lr_find(model, ...)` runs the learning-rate range test
// (include/volt/callbacks/lr_finder.hpp) and returns the finder with its curve and suggestion;
// `Tuner(trainer).scale_batch_size(model, ...)` finds the largest batch size that fits in memory
// (include/volt/callbacks/batch_size_finder.hpp).
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "volt/callbacks/batch_size_finder.hpp"
#include "volt/callbacks/lr_finder.hpp"

namespace volt {

class Tuner {
 public:
  explicit Tuner(Trainer& trainer) : trainer_(trainer) {}

  /// Runs one search on `model` with the given data (loaders, a data module, or the module's own hooks).
  /// method must be "fit"; a LearningRateFinder among the trainer's callbacks is an error (as in Lightning).
  /// With options.update_attr (the default) the suggestion is written to model.hparams()["lr"] (or
  /// "learning_rate", or options.attr_name), so the next fit's configure_optimizers can use it.
  std::optional<LRFinder> lr_find(Module& model, std::shared_ptr<DataLoader> train_dataloaders = nullptr,
                                  std::shared_ptr<DataLoader> val_dataloaders = nullptr,
                                  DataModule* datamodule = nullptr, const std::string& method = "fit",
                                  LearningRateFinderOptions options = {});

  /// Runs the batch size search on `model` (data from `datamodule` or the module's hooks, which must read the
  /// batch size from hparams: dataloaders given directly cannot be rebuilt, as in Lightning). method must be
  /// "fit"; a BatchSizeFinder among the trainer's callbacks is an error. Returns the size found (also left in
  /// the hparams).
  std::optional<int64_t> scale_batch_size(Module& model, DataModule* datamodule = nullptr,
                                          const std::string& method = "fit", BatchSizeFinderOptions options = {});

 private:
  Trainer& trainer_;
};

}  // namespace volt
