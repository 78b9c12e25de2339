// Lightning 2.2.5's callbacks/model_summary.py, callbacks/rich_model_summary.py and the summary utility
// (utilities/model_summary/model_summary.py), with Python's number formatting.
#include "volt/callbacks/model_summary.hpp"

#include <unistd.h>

#include <torch/torch.h>

#include <cmath>
#include <set>
#include <sstream>

#include "volt/error.hpp"
#include "volt/messages.hpp"
#include "volt/module.hpp"
#include "volt/trainer.hpp"

namespace volt {
namespace {

const char* const kUnits[] = {" ", "K", "M", "B", "T"};

// Python's "," thousands grouping of a run of digits (with an optional leading '-').
std::string group_thousands(const std::string& digits) {
  size_t start = digits.size() && digits[0] == '-' ? 1 : 0;
  std::string out = digits;
  for (int64_t i = static_cast<int64_t>(out.size()) - 3; i > static_cast<int64_t>(start); i -= 3)
    out.insert(static_cast<size_t>(i), ",");
  return out;
}

// f"{x:,.{precision}f}"
std::string format_fixed_grouped(double x, int precision) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", precision, x);
  std::string s = buf;
  auto dot = s.find('.');
  std::string int_part = dot == std::string::npos ? s : s.substr(0, dot);
  std::string rest = dot == std::string::npos ? "" : s.substr(dot);
  return group_thousands(int_part) + rest;
}

std::string ljust(const std::string& s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

std::string rjust(const std::string& s, size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

// Counts each parameter once (Python's parameters() de-duplicates shared tensors).
void count_parameters(const torch::nn::Module& module, std::set<const void*>& seen, int64_t& total,
                      int64_t* trainable = nullptr) {
  for (const auto& p : module.parameters(/*recurse=*/true)) {
    if (!seen.insert(p.unsafeGetTensorImpl()).second) continue;
    total += p.numel();
    if (trainable && p.requires_grad()) *trainable += p.numel();
  }
}

}  // namespace

std::string get_human_readable_count(int64_t number) {
  VOLT_CHECK(number >= 0, "get_human_readable_count: expected a number >= 0, got ", number);
  int num_digits = number > 0 ? static_cast<int>(std::floor(std::log10(static_cast<double>(number)))) + 1 : 1;
  int num_groups = std::min(static_cast<int>(std::ceil(num_digits / 3.0)), 5);
  int shift = -3 * (num_groups - 1);
  // Python: number * (10 ** shift); an int for shift 0, else a float
  double value = shift == 0 ? static_cast<double>(number) : static_cast<double>(number) * std::pow(10.0, shift);
  int index = num_groups - 1;
  if (index < 1 || value >= 100) {
    int64_t whole = shift == 0 ? number : static_cast<int64_t>(value);
    return group_thousands(std::to_string(whole)) + " " + kUnits[index];
  }
  return format_fixed_grouped(value, 1) + " " + kUnits[index];
}

std::string get_formatted_model_size(double size_mb) { return format_fixed_grouped(size_mb, 3); }

std::string format_summary_table(int64_t total_parameters, int64_t trainable_parameters, double model_size,
                                 const std::vector<SummaryColumn>& columns) {
  size_t n_rows = columns.empty() ? 0 : columns[0].second.size();
  size_t n_cols = 1 + columns.size();
  std::vector<size_t> widths;
  size_t total_width = 0;
  for (const auto& c : columns) {
    size_t w = c.first.size();
    for (const auto& cell : c.second) w = std::max(w, cell.size());
    widths.push_back(w);
    total_width += w;
  }
  total_width += 3 * n_cols;
  auto line = [&](auto cell_of) {
    std::string out;
    for (size_t j = 0; j < columns.size(); ++j) out += (j ? " | " : "") + ljust(cell_of(j), widths[j]);
    return out;
  };
  std::string rule(total_width, '-');
  std::string s = line([&](size_t j) { return columns[j].first; }) + "\n" + rule;
  for (size_t i = 0; i < n_rows; ++i) s += "\n" + line([&](size_t j) { return columns[j].second[i]; });
  s += "\n" + rule;
  s += "\n" + ljust(get_human_readable_count(trainable_parameters), 10) + "Trainable params";
  s += "\n" + ljust(get_human_readable_count(total_parameters - trainable_parameters), 10) + "Non-trainable params";
  s += "\n" + ljust(get_human_readable_count(total_parameters), 10) + "Total params";
  s += "\n" + ljust(get_formatted_model_size(model_size), 10) + "Total estimated model params size (MB)";
  return s;
}

std::string python_layer_type(const torch::nn::Module& module) {
  std::string name = module.name();
  if (auto lt = name.find('<'); lt != std::string::npos) name.resize(lt);
  if (auto colon = name.rfind("::"); colon != std::string::npos) name = name.substr(colon + 2);
  if (name.size() > 4 && name.compare(name.size() - 4, 4, "Impl") == 0) name.resize(name.size() - 4);
  return name;
}

std::string ModelSummaryData::str() const {
  return format_summary_table(total_parameters, trainable_parameters, model_size, columns);
}

ModelSummaryData summarize(const torch::nn::Module& module, int max_depth) {
  if (max_depth < -1)
    throw MisconfigurationError("`max_depth` can be -1, 0 or > 0, got " + std::to_string(max_depth) + ".");
  std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> layers;
  std::set<const torch::nn::Module*> seen{&module};  // Python's named_children/named_modules skip modules met before
  if (max_depth == 1) {
    for (const auto& child : module.named_children())
      if (seen.insert(child.value().get()).second) layers.emplace_back(child.key(), child.value());
  } else if (max_depth != 0) {
    for (const auto& item : module.named_modules("", /*include_self=*/false))
      if (seen.insert(item.value().get()).second) layers.emplace_back(item.key(), item.value());
    if (max_depth >= 1) {
      layers.erase(std::remove_if(layers.begin(), layers.end(),
                                  [&](const auto& l) {
                                    return std::count(l.first.begin(), l.first.end(), '.') >= max_depth;
                                  }),
                   layers.end());
    }
  }
  ModelSummaryData data;
  std::vector<std::string> index, names, types, params;
  int64_t total_layer_params = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    std::set<const void*> layer_params;
    int64_t count = 0;
    count_parameters(*layers[i].second, layer_params, count);
    total_layer_params += count;
    index.push_back(std::to_string(i));
    names.push_back(layers[i].first);
    types.push_back(python_layer_type(*layers[i].second));
    params.push_back(get_human_readable_count(count));
  }
  std::set<const void*> all_params;
  count_parameters(module, all_params, data.total_parameters, &data.trainable_parameters);
  data.model_size = static_cast<double>(data.total_parameters) * (32 / 8.0) * 1e-6;
  int64_t leftover = data.total_parameters - total_layer_params;
  if (leftover > 0) {
    index.push_back(" ");
    names.push_back("other params");
    types.push_back("n/a");
    params.push_back(get_human_readable_count(leftover));
  }
  data.columns = {{" ", index}, {"Name", names}, {"Type", types}, {"Params", params}};
  return data;
}

// ---- the callbacks --------------------------------------------------------------------------------------------

void ModelSummary::on_fit_start(Trainer& trainer, Module& module) {
  if (max_depth_ == 0) return;
  ModelSummaryData data = volt::summarize(module, max_depth_);
  if (trainer.is_global_zero())
    summarize(data.columns, data.total_parameters, data.trainable_parameters, data.model_size);
}

void ModelSummary::summarize(const std::vector<SummaryColumn>& summary_data, int64_t total_parameters,
                             int64_t trainable_parameters, double model_size) {
  rank_zero_info("\n" + format_summary_table(total_parameters, trainable_parameters, model_size, summary_data));
}

namespace {

// "bold magenta" → "\x1b[1;35m" (the styles rich's defaults use; unknown words are ignored).
std::string ansi(const std::string& style) {
  static const std::pair<const char*, const char*> codes[] = {
      {"bold", "1"},   {"dim", "2"},     {"italic", "3"},  {"underline", "4"}, {"black", "30"},
      {"red", "31"},   {"green", "32"},  {"yellow", "33"}, {"blue", "34"},     {"magenta", "35"},
      {"cyan", "36"},  {"white", "37"}};
  std::string out;
  std::istringstream words(style);
  std::string word;
  while (words >> word)
    for (const auto& c : codes)
      if (word == c.first) out += (out.empty() ? "" : ";") + std::string(c.second);
  return out.empty() ? "" : "\x1b[" + out + "m";
}

std::string styled(const std::string& text, const std::string& style, bool enabled) {
  std::string code = enabled ? ansi(style) : "";
  return code.empty() ? text : code + text + "\x1b[0m";
}

std::string rstrip(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::string repeat(const std::string& piece, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += piece;
  return out;
}

}  // namespace

std::string RichModelSummary::render(const std::vector<SummaryColumn>& summary_data, int64_t total_parameters,
                                     int64_t trainable_parameters, double model_size, bool style) const {
  // rich's Table(header_style=...) with box.HEAVY_HEAD and one space of padding; "Params" (and sizes) right-aligned
  std::vector<SummaryColumn> columns;
  for (const auto& c : summary_data)
    if (c.first == " " || c.first == "Name" || c.first == "Type" || c.first == "Params" || c.first == "In sizes" ||
        c.first == "Out sizes")
      columns.push_back(c);
  auto right = [&](size_t j) { return columns[j].first == "Params" || columns[j].first.find("sizes") != std::string::npos; };
  auto cell_text = [&](size_t j, const std::string& s) { return right(j) ? rstrip(s) : s; };
  std::vector<size_t> widths;
  for (size_t j = 0; j < columns.size(); ++j) {
    size_t w = columns[j].first.size();
    for (const auto& cell : columns[j].second) w = std::max(w, cell_text(j, cell).size());
    widths.push_back(w);
  }
  auto border = [&](const char* left, const char* fill, const char* mid, const char* end) {
    std::string out = left;
    for (size_t j = 0; j < widths.size(); ++j) out += repeat(fill, widths[j] + 2) + (j + 1 < widths.size() ? mid : end);
    return out + "\n";
  };
  auto row = [&](const char* bar, auto text_of, auto style_of) {
    std::string out = bar;
    for (size_t j = 0; j < widths.size(); ++j) {
      std::string t = text_of(j);
      std::string padded = right(j) ? rjust(t, widths[j]) : ljust(t, widths[j]);
      out += " " + styled(padded, style_of(j), style) + " " + bar;
    }
    return out + "\n";
  };
  std::string out = border("┏", "━", "┳", "┓");
  out += row("┃", [&](size_t j) { return columns[j].first; }, [&](size_t) { return options_.header_style; });
  out += border("┡", "━", "╇", "┩");
  size_t n_rows = columns.empty() ? 0 : columns[0].second.size();
  for (size_t i = 0; i < n_rows; ++i)
    out += row("│", [&](size_t j) { return cell_text(j, columns[j].second[i]); },
               [&](size_t j) { return columns[j].first == " " ? std::string("dim") : std::string(); });
  out += border("└", "─", "┴", "┘");
  // 2.2.5 formats all four totals with get_human_readable_count(int(value)), the size in MB included
  const std::pair<const char*, int64_t> totals[] = {
      {"Trainable params", trainable_parameters},
      {"Non-trainable params", total_parameters - trainable_parameters},
      {"Total params", total_parameters},
      {"Total estimated model params size (MB)", static_cast<int64_t>(model_size)}};
  for (const auto& [label, value] : totals)
    out += rstrip(styled(label, "bold", style) + ": " + ljust(get_human_readable_count(value), 10)) + "\n";
  return out;
}

void RichModelSummary::summarize(const std::vector<SummaryColumn>& summary_data, int64_t total_parameters,
                                 int64_t trainable_parameters, double model_size) {
  bool terminal = isatty(fileno(options_.stream)) != 0;
  std::string text = render(summary_data, total_parameters, trainable_parameters, model_size, terminal);
  std::fputs(text.c_str(), options_.stream);
  std::fflush(options_.stream);
}

}  // namespace volt
