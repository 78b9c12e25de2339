// Lightning 2.2.5's callbacks/prediction_writer.py. The predict loop records the batch indices and keeps the
// predictions (src/loops/prediction_loop.cpp); the writer only reads them from the trainer.
#include "volt/callbacks/prediction_writer.hpp"

#include "volt/error.hpp"
#include "volt/trainer.hpp"

namespace volt {

WriteInterval::WriteInterval(const std::string& value) : value_(value) {
  if (value != "batch" && value != "epoch" && value != "batch_and_epoch")
    throw MisconfigurationError("`write_interval` should be one of ['batch', 'epoch', 'batch_and_epoch'].");
}

BasePredictionWriter::BasePredictionWriter(const std::string& write_interval) : interval_(write_interval) {}

void BasePredictionWriter::write_on_batch_end(Trainer&, Module&, const StepOutput&, const std::vector<int64_t>&,
                                              const Batch&, int64_t, int64_t) {
  throw Error(class_name() + ".write_on_batch_end is not implemented: override it to write with write_interval='" +
              interval_.value() + "'");
}

void BasePredictionWriter::write_on_epoch_end(Trainer&, Module&, const std::vector<IValue>&,
                                              const std::vector<std::vector<std::vector<int64_t>>>&) {
  throw Error(class_name() + ".write_on_epoch_end is not implemented: override it to write with write_interval='" +
              interval_.value() + "'");
}

void BasePredictionWriter::on_predict_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs,
                                                const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {
  if (!interval_.on_batch()) return;
  write_on_batch_end(trainer, module, outputs, trainer.predict_current_batch_indices(), batch, batch_idx,
                     dataloader_idx);
}

void BasePredictionWriter::on_predict_epoch_end(Trainer& trainer, Module& module) {
  if (!interval_.on_epoch()) return;
  write_on_epoch_end(trainer, module, trainer.predict_predictions(), trainer.predict_epoch_batch_indices());
}

}  // namespace volt
