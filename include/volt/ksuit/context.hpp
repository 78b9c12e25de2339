// The dependencies ksuit's trainer hands to every callback (seed 004: trainer, model, data_container, tracker,
// log_writer, checkpoint_writer, metric_property_provider) plus the run's UpdateCounter, bundled in one shared
// object. Build one and pass it to your ksuit-style callbacks, or pass none: the ksuit callbacks of one volt
// Trainer then share one created at setup (its metric properties are trainer.metric_properties()).
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "volt/data.hpp"
#include "volt/ksuit/checkpoint_writer.hpp"
#include "volt/ksuit/log_writer.hpp"
#include "volt/ksuit/metric_properties.hpp"
#include "volt/ksuit/progress.hpp"

namespace volt::ksuit {

/// ksuit's DataContainer: the run's datasets by key. "train" is filled with the trainer's training dataloader
/// when training starts unless given.
class DataContainer {
 public:
  void add(const std::string& key, std::shared_ptr<DataLoader> loader) { loaders_[key] = std::move(loader); }
  std::shared_ptr<DataLoader> get(const std::string& key) const;
  bool contains(const std::string& key) const { return loaders_.count(key) > 0; }
  const std::map<std::string, std::shared_ptr<DataLoader>>& loaders() const { return loaders_; }
  /// Samples for a TensorDataLoader, else batches × the batch size of batch 0.
  static int64_t length_of(DataLoader& loader);

 private:
  std::map<std::string, std::shared_ptr<DataLoader>> loaders_;
};

struct ContextOptions {
  /// The end of training in any unit (e.g. TrainingIteration::samples(50000)): when the counter reaches it, the
  /// trainer is asked to stop (trainer.should_stop). Unset: the Trainer's max_epochs/max_steps decide.
  std::optional<TrainingIteration> end;
  /// The per-process training batch size (effective batch size = batch_size × accumulate_grad_batches × world
  /// size). Unset: the loader's batch size (TensorDataLoader options, else the size of batch 0).
  std::optional<int64_t> batch_size;
  /// Where the CheckpointWriter writes; empty: the first ModelCheckpoint's dirpath, else
  /// <default_root_dir>/checkpoints.
  std::string checkpoint_dir;
  /// The model's name in checkpoint file names.
  std::string model_name = "model";
};

class Context {
 public:
  explicit Context(ContextOptions options = {});
  const ContextOptions& options() const { return options_; }

  // ---- seed 004's dependencies --------------------------------------------------------------------------------
  /// The trainer and model of the running fit (nullptr before setup).
  Trainer* trainer() const { return trainer_; }
  Module* model() const { return model_; }
  const std::shared_ptr<DataContainer>& data_container() const { return data_container_; }
  const std::shared_ptr<Tracker>& tracker() const { return tracker_; }
  const std::shared_ptr<LogWriter>& log_writer() const { return log_writer_; }
  const std::shared_ptr<CheckpointWriter>& checkpoint_writer() const { return checkpoint_writer_; }
  /// The trainer's metric properties once bound (trainer.metric_properties()), unless one was set.
  const std::shared_ptr<MetricPropertyProvider>& metric_property_provider() const { return metric_properties_; }
  void set_metric_property_provider(std::shared_ptr<MetricPropertyProvider> provider);

  /// The running training's counter; throws MisconfigurationError before training starts.
  const UpdateCounter& update_counter() const;
  bool training_started() const { return counter_.has_value(); }

  // ---- driven by the ksuit callbacks (one call per event takes effect, the others are no-ops) ------------------
  void bind(Trainer& trainer, Module& model);
  /// Builds the UpdateCounter from the trainer's position (resume included).
  void start_training(Trainer& trainer);
  /// Advances the counter by the optimizer steps taken since the last call; returns whether it advanced.
  bool sync(Trainer& trainer);
  void end_training() { counter_.reset(); }

 private:
  ContextOptions options_;
  Trainer* trainer_ = nullptr;
  Module* model_ = nullptr;
  std::shared_ptr<DataContainer> data_container_;
  std::shared_ptr<Tracker> tracker_;
  std::shared_ptr<MetricPropertyProvider> metric_properties_;
  bool metric_properties_given_ = false;
  std::shared_ptr<LogWriter> log_writer_;
  std::shared_ptr<CheckpointWriter> checkpoint_writer_;
  std::optional<UpdateCounter> counter_;
};

}  // namespace volt::ksuit
