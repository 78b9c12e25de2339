// ModelSummary: prints a table of the module's layers and parameter counts when fit starts (Lightning 2.2.5's
// callbacks/model_summary.py and utilities/model_summary/model_summary.py; the table is byte for byte
// Lightning's for the same layers). Layer types show as Python names: "torch::nn::Conv2dImpl" is "Conv2d".
//
//     | Name  | Type   | Params
//   ------------------------------------
//   0 | layer | Linear | 66
//   ------------------------------------
//   66        Trainable params
//   0         Non-trainable params
//   66        Total params
//   0.000     Total estimated model params size (MB)
//
// (2.2.5 has no "Mode" column and no "Modules in train/eval mode" lines; those came in 2.3. Lines keep Lightning's
// trailing spaces. "In sizes"/"Out sizes" need forward hooks, which libtorch's C++ modules do not have, so they are
// never shown.)
#pragma once
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "volt/callback.hpp"

namespace torch::nn {
class Module;
}

namespace volt {

/// One column of the summary table: its header and one cell per row.
using SummaryColumn = std::pair<std::string, std::vector<std::string>>;

/// What Lightning's utilities ModelSummary computes for a module.
struct ModelSummaryData {
  /// " " (row index), "Name", "Type", "Params"; a last row "other params" holds parameters no listed layer owns.
  std::vector<SummaryColumn> columns;
  int64_t total_parameters = 0;
  int64_t trainable_parameters = 0;
  /// Estimated size in MB at 32 bits per parameter.
  double model_size = 0.0;
  /// The plain-text table (format_summary_table).
  std::string str() const;
};

/// Summarises `module` to `max_depth` (0: no layers, 1: direct children, -1: every submodule). Shared parameters
/// and modules count once, as in Python. Throws MisconfigurationError for max_depth < -1 (Lightning's ValueError).
ModelSummaryData summarize(const torch::nn::Module& module, int max_depth = 1);
/// 123 → "123  ", 1234 → "1.2 K", 2e6 → "2.0 M", 4e14 → "400 T", 5e15 → "5,000 T" (Lightning's formatting).
std::string get_human_readable_count(int64_t number);
/// f"{size:,.3f}", e.g. "0.530", "5,500.000".
std::string get_formatted_model_size(double size_mb);
/// Lightning's _format_summary_table: columns padded to their widest cell, joined by " | ", framed by rules, then
/// the four totals lines. No trailing newline.
std::string format_summary_table(int64_t total_parameters, int64_t trainable_parameters, double model_size,
                                 const std::vector<SummaryColumn>& columns);
/// The Python class name of a libtorch module: namespaces, template arguments and the "Impl" suffix removed.
std::string python_layer_type(const torch::nn::Module& module);

class ModelSummary : public Callback {
 public:
  /// max_depth: how deep to list submodules (1: the module's direct children; -1: all; 0: print nothing).
  explicit ModelSummary(int max_depth = 1) : max_depth_(max_depth) {}
  int max_depth() const { return max_depth_; }

  /// Summarises the module (on every rank) and presents it on global rank zero. Fit only: validate, test and
  /// predict never print.
  void on_fit_start(Trainer& trainer, Module& module) override;

  /// Presents a summary. Default: rank_zero_info("\n" + table), as Lightning logs it. Override to change the
  /// output (Lightning's static `summarize` hook); RichModelSummary draws a box table.
  virtual void summarize(const std::vector<SummaryColumn>& summary_data, int64_t total_parameters,
                         int64_t trainable_parameters, double model_size);

 private:
  int max_depth_;
};

struct RichModelSummaryOptions {
  int max_depth = 1;
  /// The header cells' style (ANSI on terminals): "bold magenta" as Lightning; "" for none.
  std::string header_style = "bold magenta";
  /// Where to draw (rich's console: stdout).
  std::FILE* stream = stdout;
};

/// ModelSummary drawn as rich draws it: a box table, then the totals as "Label: value" lines. Styles are used
/// only when the stream is a terminal. As in 2.2.5, every total (the size in MB too) goes through
/// get_human_readable_count(int(value)).
class RichModelSummary : public ModelSummary {
 public:
  explicit RichModelSummary(RichModelSummaryOptions options = {})
      : ModelSummary(options.max_depth), options_(std::move(options)) {}
  void summarize(const std::vector<SummaryColumn>& summary_data, int64_t total_parameters,
                 int64_t trainable_parameters, double model_size) override;
  /// The text summarize() writes, with or without ANSI styles.
  std::string render(const std::vector<SummaryColumn>& summary_data, int64_t total_parameters,
                     int64_t trainable_parameters, double model_size, bool styled) const;

 private:
  RichModelSummaryOptions options_;
};

}  // namespace volt
