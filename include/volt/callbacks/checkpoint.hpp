// Base of checkpointing callbacks (ModelCheckpoint, OnExceptionCheckpoint). Like EarlyStopping they monitor
// metrics, so their on_train_epoch_end runs after the module's.
#pragma once
#include <string>
#include <vector>

#include "volt/callback.hpp"

namespace volt {

class Checkpoint : public Callback {
 public:
  bool is_monitoring() const override { return true; }
  /// The best checkpoint's path ("" if none); used by ckpt_path="best".
  virtual std::string best_model_path() const { return ""; }
  /// Paths of "last" checkpoints this callback knows of, for ckpt_path="last" (they need not exist).
  virtual std::vector<std::string> last_checkpoint_candidates() const { return {}; }

 protected:
  /// Lightning's `trainer.strategy.remove_checkpoint(path)`: on global rank 0, deletes `path` if it exists (a file,
  /// a symbolic link, or a directory with its contents).
  static void remove_checkpoint(Trainer& trainer, const std::string& path);
};

}  // namespace volt
