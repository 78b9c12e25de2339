// LambdaCallback: a callback made of functions, one per hook, for quick experiments (Lightning's
// callbacks/lambda_function.py). Every Callback hook can be given; an empty function is the usual no-op.
//
//   LambdaCallbackOptions hooks;
//   hooks.on_train_epoch_end = [](Trainer& t, Module&) { std::cout << t.current_epoch() << "\n"; };
//   TrainerOptions o;
//   o.callbacks.push_back(std::make_shared<LambdaCallback>(hooks));
#pragma once
#include <functional>
#include <string>

#include "volt/callback.hpp"

namespace volt {

/// One function per Callback hook, with the hook's arguments; Lightning's keyword arguments of the same names.
struct LambdaCallbackOptions {
  using Plain = std::function<void(Trainer&, Module&)>;
  using Stage = std::function<void(Trainer&, Module&, const std::string&)>;
  using TrainBatchStart = std::function<void(Trainer&, Module&, const Batch&, int64_t)>;
  using TrainBatchEnd = std::function<void(Trainer&, Module&, const StepOutput&, const Batch&, int64_t)>;
  using EvalBatchStart = std::function<void(Trainer&, Module&, const Batch&, int64_t, int64_t)>;
  using EvalBatchEnd = std::function<void(Trainer&, Module&, const StepOutput&, const Batch&, int64_t, int64_t)>;
  using Exception = std::function<void(Trainer&, Module&, const std::exception&)>;
  using Checkpoint = std::function<void(Trainer&, Module&, StateDict&)>;
  using Loss = std::function<void(Trainer&, Module&, const torch::Tensor&)>;
  using OptimizerHook = std::function<void(Trainer&, Module&, torch::optim::Optimizer&)>;

  Stage setup;
  Stage teardown;
  Plain on_fit_start;
  Plain on_fit_end;
  Plain on_sanity_check_start;
  Plain on_sanity_check_end;
  TrainBatchStart on_train_batch_start;
  TrainBatchEnd on_train_batch_end;
  Plain on_train_epoch_start;
  Plain on_train_epoch_end;
  Plain on_validation_epoch_start;
  Plain on_validation_epoch_end;
  Plain on_test_epoch_start;
  Plain on_test_epoch_end;
  EvalBatchStart on_validation_batch_start;
  EvalBatchEnd on_validation_batch_end;
  EvalBatchStart on_test_batch_start;
  EvalBatchEnd on_test_batch_end;
  Plain on_train_start;
  Plain on_train_end;
  Plain on_validation_start;
  Plain on_validation_end;
  Plain on_test_start;
  Plain on_test_end;
  Exception on_exception;
  Checkpoint on_save_checkpoint;
  Checkpoint on_load_checkpoint;
  Loss on_before_backward;
  Plain on_after_backward;
  OptimizerHook on_before_optimizer_step;
  OptimizerHook on_before_zero_grad;
  Plain on_predict_start;
  Plain on_predict_end;
  EvalBatchStart on_predict_batch_start;
  EvalBatchEnd on_predict_batch_end;
  Plain on_predict_epoch_start;
  Plain on_predict_epoch_end;
};

class LambdaCallback : public Callback {
 public:
  explicit LambdaCallback(LambdaCallbackOptions hooks = {}) : hooks_(std::move(hooks)) {}
  const LambdaCallbackOptions& hooks() const { return hooks_; }

  void setup(Trainer& trainer, Module& module, const std::string& stage) override;
  void teardown(Trainer& trainer, Module& module, const std::string& stage) override;
  void on_fit_start(Trainer& trainer, Module& module) override;
  void on_fit_end(Trainer& trainer, Module& module) override;
  void on_sanity_check_start(Trainer& trainer, Module& module) override;
  void on_sanity_check_end(Trainer& trainer, Module& module) override;
  void on_train_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx) override;
  void on_train_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                          int64_t batch_idx) override;
  void on_train_epoch_start(Trainer& trainer, Module& module) override;
  void on_train_epoch_end(Trainer& trainer, Module& module) override;
  void on_validation_epoch_start(Trainer& trainer, Module& module) override;
  void on_validation_epoch_end(Trainer& trainer, Module& module) override;
  void on_test_epoch_start(Trainer& trainer, Module& module) override;
  void on_test_epoch_end(Trainer& trainer, Module& module) override;
  void on_validation_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx,
                                 int64_t dataloader_idx) override;
  void on_validation_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                               int64_t batch_idx, int64_t dataloader_idx) override;
  void on_test_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx,
                           int64_t dataloader_idx) override;
  void on_test_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                         int64_t batch_idx, int64_t dataloader_idx) override;
  void on_train_start(Trainer& trainer, Module& module) override;
  void on_train_end(Trainer& trainer, Module& module) override;
  void on_validation_start(Trainer& trainer, Module& module) override;
  void on_validation_end(Trainer& trainer, Module& module) override;
  void on_test_start(Trainer& trainer, Module& module) override;
  void on_test_end(Trainer& trainer, Module& module) override;
  void on_exception(Trainer& trainer, Module& module, const std::exception& exception) override;
  void on_save_checkpoint(Trainer& trainer, Module& module, StateDict& checkpoint) override;
  void on_load_checkpoint(Trainer& trainer, Module& module, StateDict& checkpoint) override;
  void on_before_backward(Trainer& trainer, Module& module, const torch::Tensor& loss) override;
  void on_after_backward(Trainer& trainer, Module& module) override;
  void on_before_optimizer_step(Trainer& trainer, Module& module, torch::optim::Optimizer& optimizer) override;
  void on_before_zero_grad(Trainer& trainer, Module& module, torch::optim::Optimizer& optimizer) override;
  void on_predict_start(Trainer& trainer, Module& module) override;
  void on_predict_end(Trainer& trainer, Module& module) override;
  void on_predict_batch_start(Trainer& trainer, Module& module, const Batch& batch, int64_t batch_idx,
                              int64_t dataloader_idx) override;
  void on_predict_batch_end(Trainer& trainer, Module& module, const StepOutput& outputs, const Batch& batch,
                            int64_t batch_idx, int64_t dataloader_idx) override;
  void on_predict_epoch_start(Trainer& trainer, Module& module) override;
  void on_predict_epoch_end(Trainer& trainer, Module& module) override;

 private:
  LambdaCallbackOptions hooks_;
};

}  // namespace volt
