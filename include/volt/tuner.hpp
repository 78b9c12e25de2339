// Lightning's Tuner entry point: `Tuner(trainer).lr_find(model, ...)` runs the learning-rate range test
// (include/volt/callbacks/lr_finder.hpp) and returns the finder with its curve and suggestion.
#pragma once
#include <memory>
#include <optional>
#include <string>

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

 private:
  Trainer& trainer_;
};

}  // namespace volt
