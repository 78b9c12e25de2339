// The one restore-path hook the ksuit layer needs from the core: callbacks that keep large state in their own
// files (ksuit's resume_from_checkpoint, e.g. an EMA of the weights) implement this interface, and the trainer
// calls it when fit resumes, after the model's weights and every callback's load_state_dict are restored.
#pragma once
#include <string>

#include "volt/types.hpp"

namespace volt::ksuit {

class ResumeFromCheckpointHook {
 public:
  virtual ~ResumeFromCheckpointHook() = default;
  /// `ckpt_path` is the checkpoint file fit resumes from (its directory holds the run's other checkpoint files).
  virtual void on_resume_from_checkpoint(Trainer& trainer, Module& module, const std::string& ckpt_path) = 0;
};

}  // namespace volt::ksuit
