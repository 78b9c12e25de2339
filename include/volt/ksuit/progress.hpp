// Training progress in ksuit's three units: epochs, updates (optimizer steps) and samples (global samples seen).
// TrainingIteration is ksuit's (E, U, S) triple, UpdateCounter the running position handed to ksuit-style hooks
// (spec ksuit.md §3).
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace volt::ksuit {

/// A point in training given in any of the three units. "Minimally specified" = exactly one unit is set (an end
/// such as "100 epochs"); "fully specified" = all three are set (a position such as E1_U100_S6400).
struct TrainingIteration {
  std::optional<int64_t> epoch, update, sample;

  static TrainingIteration epochs(int64_t n) { return {n, std::nullopt, std::nullopt}; }
  static TrainingIteration updates(int64_t n) { return {std::nullopt, n, std::nullopt}; }
  static TrainingIteration samples(int64_t n) { return {std::nullopt, std::nullopt, n}; }
  static TrainingIteration full(int64_t e, int64_t u, int64_t s) { return {e, u, s}; }

  int specified_count() const { return epoch.has_value() + update.has_value() + sample.has_value(); }
  bool is_minimally_specified() const { return specified_count() == 1; }
  bool is_fully_specified() const { return specified_count() == 3; }

  /// Converts to updates first (epochs × updates_per_epoch, samples / effective_batch_size rounded down), then to
  /// E = floor(U / updates_per_epoch), U, S = U × effective_batch_size, as ksuit does. So samples are always a
  /// multiple of the effective batch size. Throws MisconfigurationError unless exactly one unit is set.
  TrainingIteration to_fully_specified(int64_t updates_per_epoch, int64_t effective_batch_size) const;
  /// Keeps only the units that `target` has set.
  TrainingIteration to_target_specification(const TrainingIteration& target) const;

  /// Field-wise; both sides must have the same units set (MisconfigurationError otherwise).
  TrainingIteration operator+(const TrainingIteration& other) const;
  TrainingIteration operator-(const TrainingIteration& other) const;
  /// Every unit set on both sides is >=.
  bool operator>=(const TrainingIteration& other) const;
  bool operator==(const TrainingIteration& other) const;
  bool operator!=(const TrainingIteration& other) const { return !(*this == other); }

  /// "E1_U100_S6400" when fully specified, else the set units spelled out: "Epoch: 5", "Update: 100, Sample: 64".
  std::string str() const;
  /// Parses "E{e}_U{u}_S{s}" (the whole string). Throws MisconfigurationError naming the text otherwise.
  static TrainingIteration from_string(const std::string& text);
  /// The first "E{e}_U{u}_S{s}" inside `text` (e.g. a checkpoint file name), if any.
  static std::optional<TrainingIteration> find_string(const std::string& text);
};

/// The running position of a training run as ksuit's hooks receive it. The trainer advances it after each
/// optimizer update: add_samples(effective_batch_size), next_update(), next_epoch() at the last update of an epoch.
class UpdateCounter {
 public:
  /// `start` must be fully specified and consistent with updates_per_epoch/effective_batch_size; `end` (if any) must
  /// be minimally specified and is counted from the start of training, like ksuit's `end` in the config.
  UpdateCounter(TrainingIteration start, std::optional<TrainingIteration> end, int64_t updates_per_epoch,
                int64_t effective_batch_size);

  int64_t epoch() const { return *cur_.epoch; }
  int64_t update() const { return *cur_.update; }
  int64_t sample() const { return *cur_.sample; }
  double epoch_as_float() const { return static_cast<double>(update()) / static_cast<double>(updates_per_epoch_); }
  /// The last update closed an epoch.
  bool is_full_epoch() const { return update() % updates_per_epoch_ == 0; }
  /// Whether the end (in its own unit) has been reached; false without an end.
  bool is_finished() const;
  const TrainingIteration& cur_iteration() const { return cur_; }
  const TrainingIteration& start_iteration() const { return start_; }
  /// The end as a fully specified iteration (nullopt without an end).
  const std::optional<TrainingIteration>& end_iteration() const { return end_full_; }
  int64_t updates_per_epoch() const { return updates_per_epoch_; }
  int64_t effective_batch_size() const { return effective_batch_size_; }

  void add_samples(int64_t n) { *cur_.sample += n; }
  void next_update() { ++*cur_.update; }
  void next_epoch() { ++*cur_.epoch; }

 private:
  TrainingIteration start_, cur_;
  std::optional<TrainingIteration> end_, end_full_;
  int64_t updates_per_epoch_, effective_batch_size_;
};

}  // namespace volt::ksuit
