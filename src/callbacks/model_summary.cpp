#include "volt/callbacks/model_summary.hpp"

#include <torch/torch.h>

#include <iostream>
#include <sstream>

#include "volt/module.hpp"
#include "volt/trainer.hpp"

namespace volt {
namespace {

// "torch::nn::LinearImpl" → "Linear", as Python shows the class name.
std::string layer_type(const torch::nn::Module& m) {
  std::string name = m.name();
  if (auto colon = name.rfind("::"); colon != std::string::npos) name = name.substr(colon + 2);
  if (name.size() > 4 && name.compare(name.size() - 4, 4, "Impl") == 0) name.resize(name.size() - 4);
  return name;
}

std::string human(int64_t n) {
  const char* units[] = {"", "K", "M", "B", "T"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1000 && u < 4) v /= 1000, ++u;
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
  else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace

std::string ModelSummary::summarize(const torch::nn::Module& module, int max_depth) {
  struct Row {
    std::string name, type;
    int64_t params;
  };
  std::vector<Row> rows;
  std::function<void(const torch::nn::Module&, const std::string&, int)> walk = [&](const torch::nn::Module& m,
                                                                                  const std::string& prefix, int depth) {
    for (const auto& child : m.named_children()) {
      std::string name = prefix.empty() ? child.key() : prefix + "." + child.key();
      int64_t count = 0;
      for (const auto& p : child.value()->parameters()) count += p.numel();
      rows.push_back({name, layer_type(*child.value()), count});
      if (max_depth < 0 || depth + 1 < max_depth) walk(*child.value(), name, depth + 1);
    }
  };
  walk(module, "", 0);
  int64_t trainable = 0, frozen = 0;
  for (const auto& p : module.parameters()) (p.requires_grad() ? trainable : frozen) += p.numel();
  size_t wn = 4, wt = 4;
  for (const auto& r : rows) wn = std::max(wn, r.name.size()), wt = std::max(wt, r.type.size());
  std::ostringstream out;
  auto line = [&](const std::string& idx, const std::string& name, const std::string& type, const std::string& params) {
    out << "  " << idx << std::string(3 - std::min<size_t>(3, idx.size()), ' ') << "| " << name
        << std::string(wn - name.size(), ' ') << " | " << type << std::string(wt - type.size(), ' ') << " | "
        << params << "\n";
  };
  line("", "Name", "Type", "Params");
  out << std::string(wn + wt + 20, '-') << "\n";
  for (size_t i = 0; i < rows.size(); ++i) line(std::to_string(i), rows[i].name, rows[i].type, human(rows[i].params));
  out << std::string(wn + wt + 20, '-') << "\n";
  char size[32];
  std::snprintf(size, sizeof size, "%.3f", (trainable + frozen) * 4.0 / 1e6);
  out << human(trainable) << "     Trainable params\n"
      << human(frozen) << "     Non-trainable params\n"
      << human(trainable + frozen) << "     Total params\n"
      << size << "     Total estimated model params size (MB)\n";
  return out.str();
}

void ModelSummary::on_fit_start(Trainer& trainer, Module& module) {
  if (!trainer.is_global_zero() || max_depth_ == 0) return;
  std::cout << summarize(module, max_depth_) << std::flush;
}

}  // namespace volt
