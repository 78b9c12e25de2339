// Tuner (Lightning 2.2.5's tuner/tuning.py): checks the arguments as Lightning does, then runs the search.
#include "volt/tuner.hpp"

#include "volt/error.hpp"
#include "volt/trainer.hpp"

namespace volt {

std::optional<LRFinder> Tuner::lr_find(Module& model, std::shared_ptr<DataLoader> train_dataloaders,
                                       std::shared_ptr<DataLoader> val_dataloaders, DataModule* datamodule,
                                       const std::string& method, LearningRateFinderOptions options) {
  VOLT_CHECK(method == "fit", "method='fit' is the only valid configuration to run lr finder.");
  VOLT_CHECK(!(datamodule && (train_dataloaders || val_dataloaders)),
             "You cannot pass `train_dataloader` or `val_dataloaders` to `trainer.fit(datamodule=...)`");
  for (const auto& cb : trainer_.callbacks())
    VOLT_CHECK(dynamic_cast<const LearningRateFinder*>(cb.get()) == nullptr,
               "Trainer is already configured with a `LearningRateFinder` callback.Please remove it if you want to "
               "use the Tuner.");
  return volt::lr_find(trainer_, model, options, std::move(train_dataloaders), std::move(val_dataloaders),
                       datamodule);
}

std::optional<int64_t> Tuner::scale_batch_size(Module& model, DataModule* datamodule, const std::string& method,
                                               BatchSizeFinderOptions options) {
  VOLT_CHECK(method == "fit" || method == "validate" || method == "test" || method == "predict", "method '", method,
             "' is invalid. Should be one of ('fit', 'validate', 'test', 'predict').");
  VOLT_CHECK(method == "fit", "volt's batch size finder scales the batch size for method='fit' only; got '", method,
             "'");
  for (const auto& cb : trainer_.callbacks())
    VOLT_CHECK(dynamic_cast<const BatchSizeFinder*>(cb.get()) == nullptr,
               "Trainer is already configured with a `BatchSizeFinder` callback.Please remove it if you want to use "
               "the Tuner.");
  return volt::scale_batch_size(trainer_, model, options, datamodule);
}

}  // namespace volt
