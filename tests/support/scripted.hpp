// The scripted model of tools/gen_callback_golden.py: BoringModel that logs a metric from a per-epoch table, so a
// test decides what a monitoring callback sees each epoch.
#pragma once
#include "support/messages.hpp"
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "support/boring.hpp"

namespace volt::testing {

struct ScriptSpec {
  /// The value logged in epoch e is table[min(e, size - 1)].
  std::vector<double> table{0.0};
  std::string key = "val_loss";
  /// "validation_step", "on_train_epoch_end" or "training_step".
  std::string where = "validation_step";
  /// training_step returns None.
  bool no_steps = false;
  /// training_step throws std::runtime_error("boom") at this global step.
  std::optional<int64_t> raise_at_step;
  /// automatic_optimization = false.
  bool manual = false;
};

/// A spec that logs `key` from `table` in validation_step.
ScriptSpec table(std::vector<double> values, std::string key = "val_loss");

class ScriptedModel : public BoringModel {
 public:
  explicit ScriptedModel(ScriptSpec spec = {});
  double value() const;
  StepOutput training_step(const Batch& batch, int64_t batch_idx) override;
  StepOutput validation_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  void on_train_epoch_end() override;
  /// Records (checkpoint["epoch"], checkpoint["global_step"]) of every checkpoint written.
  void on_save_checkpoint(StateDict& checkpoint) override;

  ScriptSpec spec;
  std::vector<std::pair<int64_t, int64_t>> saves;
};

/// Every file and symbolic link under `root`, relative, sorted; links as "name -> target".
std::vector<std::string> list_files(const std::string& root);

}  // namespace volt::testing
