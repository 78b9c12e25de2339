#include "support/scripted.hpp"

#include <algorithm>
#include <filesystem>
#include <stdexcept>

namespace fs = std::filesystem;

namespace volt::testing {

ScriptSpec table(std::vector<double> values, std::string key) {
  ScriptSpec spec;
  spec.table = std::move(values);
  spec.key = std::move(key);
  return spec;
}

ScriptedModel::ScriptedModel(ScriptSpec s) : spec(std::move(s)) { automatic_optimization = !spec.manual; }

double ScriptedModel::value() const {
  const auto& t = spec.table;
  return t[std::min<size_t>(static_cast<size_t>(current_epoch()), t.size() - 1)];
}

StepOutput ScriptedModel::training_step(const Batch& batch, int64_t batch_idx) {
  if (spec.raise_at_step && global_step() == *spec.raise_at_step) throw std::runtime_error("boom");
  if (spec.where == "training_step") log(spec.key, value());
  if (spec.no_steps) return IValue();
  return BoringModel::training_step(batch, batch_idx);
}

StepOutput ScriptedModel::validation_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) {
  if (spec.where == "validation_step") log(spec.key, value());
  return BoringModel::validation_step(batch, batch_idx, dataloader_idx);
}

void ScriptedModel::on_train_epoch_end() {
  if (spec.where == "on_train_epoch_end") log(spec.key, value());
}

void ScriptedModel::on_save_checkpoint(StateDict& checkpoint) {
  saves.emplace_back(checkpoint.at("epoch").toInt(), checkpoint.at("global_step").toInt());
}

std::vector<std::string> list_files(const std::string& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); it != fs::recursive_directory_iterator(); ++it) {
    const fs::path& p = it->path();
    const std::string rel = p.lexically_relative(root).string();
    if (fs::is_symlink(it->symlink_status())) out.push_back(rel + " -> " + fs::read_symlink(p).string());
    else if (fs::is_regular_file(it->symlink_status())) out.push_back(rel);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace volt::testing
