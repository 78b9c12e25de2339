// OnExceptionCheckpoint: saves a checkpoint when fit/validate/test/predict raises, and deletes it after a run that
// ends normally (Lightning 2.2.5's callbacks/on_exception_checkpoint.py). Being a Checkpoint, it makes
// `fit(ckpt_path="")` resume from that file ("last"), with Lightning's warning.
#pragma once
#include <string>

#include "volt/callbacks/checkpoint.hpp"

namespace volt {

struct OnExceptionCheckpointOptions {
  /// Directory of the checkpoint file (required; used as given, not resolved).
  std::string dirpath;
  /// File name without the extension (must not be empty).
  std::string filename = "on_exception";
};

class OnExceptionCheckpoint : public Checkpoint {
 public:
  static constexpr const char* kFileExtension = ".ckpt";

  /// Throws MisconfigurationError("The filename cannot be empty") for an empty filename (Lightning: ValueError).
  explicit OnExceptionCheckpoint(OnExceptionCheckpointOptions options);
  OnExceptionCheckpoint(std::string dirpath, std::string filename = "on_exception");

  /// os.path.join(dirpath, filename + ".ckpt").
  std::string ckpt_path() const;
  const std::string& dirpath() const { return options_.dirpath; }
  const std::string& filename() const { return options_.filename; }
  std::vector<std::string> last_checkpoint_candidates() const override { return {ckpt_path()}; }

  /// Saves the checkpoint (overwriting any previous one), whatever the trainer was running.
  void on_exception(Trainer& trainer, Module& module, const std::exception& exception) override;
  /// Deletes the checkpoint file on rank 0 (teardown runs only after a run that did not raise).
  void teardown(Trainer& trainer, Module& module, const std::string& stage) override;

 private:
  OnExceptionCheckpointOptions options_;
};

}  // namespace volt
