// ksuit's CheckpointWriter: callbacks write large state (weights, EMA weights) as their own files next to the run's
// checkpoints, named with ksuit's tags: "{name}_cp={E1_U100_S6400|latest|last|best_model.x}[_suffix]_model.th".
// Such files are dicts {state_dict, checkpoint_tag, training_iteration, ...extras} that Python's torch.load reads.
#pragma once
#include <torch/nn/module.h>

#include <string>

#include "volt/ksuit/progress.hpp"
#include "volt/state.hpp"
#include "volt/types.hpp"

namespace volt::ksuit {

/// Where a resumed run finds the files of the run it resumes (ksuit's resumption PathProvider).
struct ResumptionPaths {
  /// The checkpoint file fit resumes from.
  std::string checkpoint_path;
  /// Its directory: where the resumed run's CheckpointWriter wrote.
  std::string checkpoint_dir;
  /// checkpoint_dir / file_name
  std::string file(const std::string& file_name) const;
};

class CheckpointWriter {
 public:
  /// `directory` empty: resolved when training starts to the first ModelCheckpoint's dirpath, else
  /// <default_root_dir>/checkpoints.
  explicit CheckpointWriter(std::string directory = "") : directory_(std::move(directory)), fixed_(!directory_.empty()) {}
  void bind(Trainer& trainer, const UpdateCounter* counter);
  const std::string& directory() const { return directory_; }

  /// "{output_name}_cp={checkpoint_tag}{name_suffix}_model.th"
  static std::string model_file_name(const std::string& output_name, const std::string& checkpoint_tag,
                                     const std::string& name_suffix = "");
  /// Writes {state_dict, checkpoint_tag, training_iteration: {epoch, update, sample}, extras...} atomically on
  /// rank 0 to directory()/model_file_name(...); returns the path.
  std::string save_model_checkpoint(const std::string& output_name, const StateDict& state_dict,
                                    const std::string& checkpoint_tag, const StateDict& extras = {},
                                    const std::string& name_suffix = "");
  /// The model's weights as "{model_name}_cp={tag}_model.th" (and "..._cp=latest_model.th" if save_latest), plus
  /// with `save_trainer` a full resumable Lightning checkpoint "{model_name}_cp={tag}.ckpt" (Trainer::save_checkpoint).
  void save(Module& model, const std::string& model_name, const std::string& checkpoint_tag, bool save_weights = true,
            bool save_latest = false, bool save_trainer = false);
  /// Reads a file written by save_model_checkpoint; CheckpointError naming the file if it is missing or not one.
  static StateDict load_model_checkpoint(const std::string& path);

 private:
  std::string directory_;
  bool fixed_;
  Trainer* trainer_ = nullptr;
  const UpdateCounter* counter_ = nullptr;
};

/// PyTorch's Module.state_dict(): parameters and buffers by dotted name, detached (not cloned).
StateDict module_state_dict(const torch::nn::Module& module);
/// Copies `state` into the module's parameters and buffers (every key must match in name and shape; otherwise
/// CheckpointError naming `where`).
void load_module_state_dict(torch::nn::Module& module, const StateDict& state, const std::string& where);
/// Writes bytes atomically (temporary file, rename).
void write_file_atomically(const std::string& path, const std::vector<char>& bytes);

}  // namespace volt::ksuit
