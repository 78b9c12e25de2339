// Test doubles mirroring tools/gen_golden.py: Lightning's BoringModel, a module that records every hook it is
// entered in (CALL order), and a Recorder callback that records every callback hook.
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "volt/volt.hpp"

namespace volt::testing {

using Calls = std::vector<std::string>;

/// Reads tests/golden/hooks/<name>.json.
Calls golden_hooks(const std::string& name);

/// A fresh empty directory under the test working directory.
std::string fresh_dir(const std::string& name);

/// Lightning's BoringModel: Linear(32, 2), MSE to ones, SGD(lr=0.1) + StepLR(step_size=1), 64 random samples.
class BoringModel : public Module {
 public:
  BoringModel();
  torch::Tensor forward(const torch::Tensor& x) { return layer->forward(x); }
  torch::Tensor step(const Batch& batch) {
    auto out = forward(batch.toTensor());
    return torch::mse_loss(out, torch::ones_like(out));
  }
  StepOutput training_step(const Batch& batch, int64_t batch_idx) override;
  StepOutput validation_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  StepOutput test_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  StepOutput predict_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  OptimizerConfig configure_optimizers() override;
  std::shared_ptr<DataLoader> train_dataloader() override { return loader(); }
  std::shared_ptr<DataLoader> val_dataloader() override { return loader(); }
  std::shared_ptr<DataLoader> test_dataloader() override { return loader(); }
  std::shared_ptr<DataLoader> predict_dataloader() override { return loader(); }

  torch::nn::Linear layer{nullptr};

 protected:
  std::shared_ptr<DataLoader> loader() {
    return std::make_shared<TensorDataLoader>(std::vector<torch::Tensor>{data_});
  }
  torch::Tensor data_;
};

/// BoringModel that appends every hook it enters to `calls` ("setup(fit)" carries the stage).
class RecordingModel : public BoringModel {
 public:
  explicit RecordingModel(Calls& calls) : calls_(calls) {}
  int minus_one_at_batch = -2;  // on_train_batch_start returns -1 at this batch_idx

  std::vector<CallbackPtr> configure_callbacks() override;
  void prepare_data() override;
  void setup(const std::string& stage) override;
  void configure_model() override;
  OptimizerConfig configure_optimizers() override;
  void teardown(const std::string& stage) override;
  std::shared_ptr<DataLoader> train_dataloader() override;
  std::shared_ptr<DataLoader> val_dataloader() override;
  std::shared_ptr<DataLoader> test_dataloader() override;
  std::shared_ptr<DataLoader> predict_dataloader() override;
  Batch on_before_batch_transfer(Batch batch, int64_t dataloader_idx) override;
  Batch transfer_batch_to_device(Batch batch, const torch::Device& device, int64_t dataloader_idx) override;
  Batch on_after_batch_transfer(Batch batch, int64_t dataloader_idx) override;
  void on_fit_start() override;
  void on_fit_end() override;
  void on_train_start() override;
  void on_train_end() override;
  void on_train_epoch_start() override;
  void on_train_epoch_end() override;
  int on_train_batch_start(const Batch& batch, int64_t batch_idx) override;
  void on_train_batch_end(const StepOutput& outputs, const Batch& batch, int64_t batch_idx) override;
  void on_validation_start() override;
  void on_validation_end() override;
  void on_validation_epoch_start() override;
  void on_validation_epoch_end() override;
  void on_validation_batch_start(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  void on_validation_batch_end(const StepOutput& outputs, const Batch& batch, int64_t batch_idx,
                               int64_t dataloader_idx) override;
  void on_test_start() override;
  void on_test_end() override;
  void on_test_epoch_start() override;
  void on_test_epoch_end() override;
  void on_test_batch_start(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  void on_test_batch_end(const StepOutput& outputs, const Batch& batch, int64_t batch_idx,
                         int64_t dataloader_idx) override;
  void on_predict_start() override;
  void on_predict_end() override;
  void on_predict_epoch_start() override;
  void on_predict_epoch_end() override;
  void on_predict_batch_start(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  void on_predict_batch_end(const StepOutput& outputs, const Batch& batch, int64_t batch_idx,
                            int64_t dataloader_idx) override;
  void on_validation_model_zero_grad() override;
  void on_validation_model_eval() override;
  void on_test_model_eval() override;
  void on_predict_model_eval() override;
  void on_before_zero_grad(torch::optim::Optimizer& optimizer) override;
  void on_before_backward(const torch::Tensor& loss) override;
  void on_after_backward() override;
  void on_before_optimizer_step(torch::optim::Optimizer& optimizer) override;
  void optimizer_step(int64_t epoch, int64_t batch_idx, torch::optim::Optimizer& optimizer,
                      const StepClosure& closure) override;
  void optimizer_zero_grad(int64_t epoch, int64_t batch_idx, torch::optim::Optimizer& optimizer) override;
  void backward(const torch::Tensor& loss) override;
  void configure_gradient_clipping(torch::optim::Optimizer& optimizer, std::optional<double> value,
                                   std::optional<std::string> algorithm) override;
  void lr_scheduler_step(LRScheduler& scheduler, std::optional<double> metric) override;
  StepOutput training_step(const Batch& batch, int64_t batch_idx) override;
  StepOutput validation_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  StepOutput test_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  StepOutput predict_step(const Batch& batch, int64_t batch_idx, int64_t dataloader_idx) override;
  void on_save_checkpoint(StateDict& checkpoint) override;
  void on_load_checkpoint(StateDict& checkpoint) override;

 private:
  Calls& calls_;
};

/// Records every callback hook as "Callback.<hook>"; its state is {"calls": 1} (as the golden generator's).
class Recorder : public Callback {
 public:
  explicit Recorder(Calls& calls) : calls_(calls) {}
  std::string class_name() const override { return "Recorder"; }
  StateDict state_dict() override;
  void load_state_dict(const StateDict& state) override;
  void setup(Trainer&, Module&, const std::string& stage) override;
  void teardown(Trainer&, Module&, const std::string& stage) override;
  void on_fit_start(Trainer&, Module&) override;
  void on_fit_end(Trainer&, Module&) override;
  void on_sanity_check_start(Trainer&, Module&) override;
  void on_sanity_check_end(Trainer&, Module&) override;
  void on_train_start(Trainer&, Module&) override;
  void on_train_end(Trainer&, Module&) override;
  void on_train_epoch_start(Trainer&, Module&) override;
  void on_train_epoch_end(Trainer&, Module&) override;
  void on_train_batch_start(Trainer&, Module&, const Batch&, int64_t) override;
  void on_train_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t) override;
  void on_validation_start(Trainer&, Module&) override;
  void on_validation_end(Trainer&, Module&) override;
  void on_validation_epoch_start(Trainer&, Module&) override;
  void on_validation_epoch_end(Trainer&, Module&) override;
  void on_validation_batch_start(Trainer&, Module&, const Batch&, int64_t, int64_t) override;
  void on_validation_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t, int64_t) override;
  void on_test_start(Trainer&, Module&) override;
  void on_test_end(Trainer&, Module&) override;
  void on_test_epoch_start(Trainer&, Module&) override;
  void on_test_epoch_end(Trainer&, Module&) override;
  void on_test_batch_start(Trainer&, Module&, const Batch&, int64_t, int64_t) override;
  void on_test_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t, int64_t) override;
  void on_predict_start(Trainer&, Module&) override;
  void on_predict_end(Trainer&, Module&) override;
  void on_predict_epoch_start(Trainer&, Module&) override;
  void on_predict_epoch_end(Trainer&, Module&) override;
  void on_predict_batch_start(Trainer&, Module&, const Batch&, int64_t, int64_t) override;
  void on_predict_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t, int64_t) override;
  void on_exception(Trainer&, Module&, const std::exception&) override;
  void on_save_checkpoint(Trainer&, Module&, StateDict&) override;
  void on_load_checkpoint(Trainer&, Module&, StateDict&) override;
  void on_before_backward(Trainer&, Module&, const torch::Tensor&) override;
  void on_after_backward(Trainer&, Module&) override;
  void on_before_optimizer_step(Trainer&, Module&, torch::optim::Optimizer&) override;
  void on_before_zero_grad(Trainer&, Module&, torch::optim::Optimizer&) override;

 protected:
  Calls& calls_;
};

/// TrainerOptions as the golden generator's make_trainer: no progress bar, summary or logger; the Recorder.
TrainerOptions golden_options(const std::string& root, std::vector<CallbackPtr> callbacks);

/// Only `callbacks`: no progress bar, summary, checkpointing or sanity validation; `max_epochs` epochs.
TrainerOptions plain_options(const std::string& root, std::vector<CallbackPtr> callbacks, int64_t max_epochs);

/// A fresh directory named `prefix` + the running test's name, as an absolute path.
std::string test_dir(const std::string& prefix);

}  // namespace volt::testing
