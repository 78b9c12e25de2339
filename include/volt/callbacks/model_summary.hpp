// Prints a table of the module's layers and parameter counts when fit starts (Lightning's ModelSummary).
#pragma once
#include "volt/callback.hpp"

namespace volt {

class ModelSummary : public Callback {
 public:
  /// How deep to list submodules (1: the module's direct children; -1: all).
  explicit ModelSummary(int max_depth = 1) : max_depth_(max_depth) {}
  void on_fit_start(Trainer& trainer, Module& module) override;
  /// The summary as printed.
  static std::string summarize(const torch::nn::Module& module, int max_depth);

 private:
  int max_depth_;
};

}  // namespace volt
