// ksuit's TrainingIteration and UpdateCounter (noether core/utils/training/{training_iteration,counter}.py).
#include "volt/ksuit/progress.hpp"

#include <regex>

#include "volt/error.hpp"

namespace volt::ksuit {
namespace {

bool same_units(const TrainingIteration& a, const TrainingIteration& b) {
  return a.epoch.has_value() == b.epoch.has_value() && a.update.has_value() == b.update.has_value() &&
         a.sample.has_value() == b.sample.has_value();
}

std::optional<int64_t> combine(const std::optional<int64_t>& a, const std::optional<int64_t>& b, int sign) {
  if (!a) return std::nullopt;
  return *a + sign * *b;
}

}  // namespace

TrainingIteration TrainingIteration::to_fully_specified(int64_t updates_per_epoch, int64_t effective_batch_size) const {
  VOLT_CHECK(is_minimally_specified(), "TrainingIteration::to_fully_specified: exactly one of epoch/update/sample "
             "must be set, got '", str(), "'");
  VOLT_CHECK(updates_per_epoch > 0 && effective_batch_size > 0, "TrainingIteration::to_fully_specified: "
             "updates_per_epoch (", updates_per_epoch, ") and effective_batch_size (", effective_batch_size,
             ") must be > 0");
  int64_t total_updates = update ? *update : epoch ? *epoch * updates_per_epoch : *sample / effective_batch_size;
  return full(total_updates / updates_per_epoch, total_updates, total_updates * effective_batch_size);
}

TrainingIteration TrainingIteration::to_target_specification(const TrainingIteration& target) const {
  TrainingIteration out;
  if (target.epoch) out.epoch = epoch;
  if (target.update) out.update = update;
  if (target.sample) out.sample = sample;
  return out;
}

TrainingIteration TrainingIteration::operator+(const TrainingIteration& other) const {
  VOLT_CHECK(same_units(*this, other), "TrainingIteration: cannot add '", other.str(), "' to '", str(),
             "': they set different units");
  return {combine(epoch, other.epoch, 1), combine(update, other.update, 1), combine(sample, other.sample, 1)};
}

TrainingIteration TrainingIteration::operator-(const TrainingIteration& other) const {
  VOLT_CHECK(same_units(*this, other), "TrainingIteration: cannot subtract '", other.str(), "' from '", str(),
             "': they set different units");
  return {combine(epoch, other.epoch, -1), combine(update, other.update, -1), combine(sample, other.sample, -1)};
}

bool TrainingIteration::operator>=(const TrainingIteration& other) const {
  if (epoch && other.epoch && *epoch < *other.epoch) return false;
  if (update && other.update && *update < *other.update) return false;
  if (sample && other.sample && *sample < *other.sample) return false;
  return true;
}

bool TrainingIteration::operator==(const TrainingIteration& other) const {
  return epoch == other.epoch && update == other.update && sample == other.sample;
}

std::string TrainingIteration::str() const {
  if (is_fully_specified())
    return "E" + std::to_string(*epoch) + "_U" + std::to_string(*update) + "_S" + std::to_string(*sample);
  std::string out;
  auto add = [&](const char* name, const std::optional<int64_t>& v) {
    if (v) out += (out.empty() ? "" : ", ") + std::string(name) + ": " + std::to_string(*v);
  };
  add("Epoch", epoch);
  add("Update", update);
  add("Sample", sample);
  return out.empty() ? "None" : out;
}

TrainingIteration TrainingIteration::from_string(const std::string& text) {
  static const std::regex pattern(R"(E(\d+)_U(\d+)_S(\d+))");
  std::smatch m;
  VOLT_CHECK(std::regex_match(text, m, pattern), "TrainingIteration::from_string: '", text,
             "' is not of the form E{epoch}_U{update}_S{sample}, e.g. E1_U100_S6400");
  return full(std::stoll(m[1]), std::stoll(m[2]), std::stoll(m[3]));
}

std::optional<TrainingIteration> TrainingIteration::find_string(const std::string& text) {
  static const std::regex pattern(R"(E(\d+)_U(\d+)_S(\d+))");
  std::smatch m;
  if (!std::regex_search(text, m, pattern)) return std::nullopt;
  return full(std::stoll(m[1]), std::stoll(m[2]), std::stoll(m[3]));
}

UpdateCounter::UpdateCounter(TrainingIteration start, std::optional<TrainingIteration> end, int64_t updates_per_epoch,
                             int64_t effective_batch_size)
    : start_(start), cur_(start), end_(end), updates_per_epoch_(updates_per_epoch),
      effective_batch_size_(effective_batch_size) {
  VOLT_CHECK(updates_per_epoch > 0, "UpdateCounter: updates_per_epoch must be > 0, got ", updates_per_epoch,
             " (is the training dataloader empty?)");
  VOLT_CHECK(effective_batch_size > 0, "UpdateCounter: effective_batch_size must be > 0, got ", effective_batch_size);
  VOLT_CHECK(start.is_fully_specified(), "UpdateCounter: the start must be fully specified (E_U_S), got '",
             start.str(), "'");
  VOLT_CHECK(*start.sample == *start.update * effective_batch_size,
             "UpdateCounter: the start '", start.str(), "' does not match effective_batch_size=", effective_batch_size,
             " (sample must be update × effective_batch_size); resuming with another batch size is not supported");
  if (end) {
    VOLT_CHECK(end->is_minimally_specified(), "UpdateCounter: the end must set exactly one of epoch/update/sample, "
               "got '", end->str(), "'");
    // ksuit adds the remaining part to the start (start + full(end - start)), which overshoots by the part of an
    // epoch already done when a run resumes mid-epoch (its start epoch is rounded down); the end counts from the
    // beginning of training, so converting it directly is exact.
    end_full_ = end->to_fully_specified(updates_per_epoch, effective_batch_size);
  }
}

bool UpdateCounter::is_finished() const { return end_full_ && update() >= *end_full_->update; }

}  // namespace volt::ksuit
