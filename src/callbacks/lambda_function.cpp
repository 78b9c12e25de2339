// Lightning 2.2.5's callbacks/lambda_function.py: each hook forwards its arguments to the given function.
#include "volt/callbacks/lambda_function.hpp"

namespace volt {

#define VOLT_LAMBDA_HOOK(hook, params, args) \
  void LambdaCallback::hook params {         \
    if (hooks_.hook) hooks_.hook args;       \
  }

VOLT_LAMBDA_HOOK(setup, (Trainer & t, Module& m, const std::string& stage), (t, m, stage))
VOLT_LAMBDA_HOOK(teardown, (Trainer & t, Module& m, const std::string& stage), (t, m, stage))
VOLT_LAMBDA_HOOK(on_fit_start, (Trainer & t, Module& m), (t, m))
VOLT_LAMBDA_HOOK(on_fit_end, (Trainer & t, Module& m), (t, m))
VOLT_LAMBDA_HOOK(on_sanity_check_start, (Trainer & t, Module& m), (t, m))
VOLT_LAMBDA_HOOK(on_sanity_check_end, (Trainer & t, Module& m), (t, m))
VOLT_LAMBDA_HOOK(on_train_batch_start, (Trainer & t, Module& m, const Batch& b, int64_t i), (t, m, b, i))
VOLT_LAMBDA_HOOK(on_train_batch_end, (Trainer & t, Module& m, const StepOutput& o, const Batch& b, int64_t i),
                 (t, m, o, b, i))
VOLT_LAMBDA_HOOK(on_train_epoch_start, (Trainer & t, Module& m), (t, m))
VOLT_LAMBDA_HOOK(on_train_epoch_end, (Trainer & t, Module& m), (t, m))
VOLT_LAMBDA_HOOK(on_validation_epoch_start, (Trainer & t, Module& m), (t, m))
VOLT_LAMBDA_HOOK(on_validation_epoch_end, (Trainer & t, Module& m), (t, m))
VOLT_LAMBDA_HOOK(on_test_epoch_start, (Trainer & t, Module& m), (t, m))
VOLT_LAMBDA_HOOK(on_test_epoch_end, (Trainer & t, Module& m), (t, m))
VOLT_LAMBDA_HOOK(on_validation_batch_start, (Trainer & t, Module& m, const Batch& b, int64_t i, int64_t d),
                 (t, m, b, i, d))
VOLT_LAMBDA_HOOK(on_validation_batch_end,
                 (Trainer & t, Module& m, const StepOutput& o, const Batch& b, int64_t i, int64_t d),
                 (t, m, o, b, i, d))
VOLT_LAMBDA_HOOK(on_test_batch_start, (Trainer & t, Module& m, const Batch& b, int64_t i, int64_t d), (t, m, b, i, d))
VOLT_LAMBDA_HOOK(on_test_batch_end, (Trainer & t, Module& m, const StepOutput& o, const Batch& b, int64_t i, int64_t d),
                 (t, m, o, b, i, d))
VOLT_LAMBDA_HOOK(on_train_start, (Trainer & t, Module& m), (t, m))
VOLT_LAMBDA_HOOK(on_train_end, (Trainer & t, Module& m), (t, m))
VOLT_LAMBDA_HOOK(on_validation_start, (Trainer & t, Module& m), (t, m))
VOLT_LAMBDA_HOOK(on_validation_end, (Trainer & t, Module& m), (t, m))
VOLT_LAMBDA_HOOK(on_test_start, (Trainer & t, Module& m), (t, m))
VOLT_LAMBDA_HOOK(on_test_end, (Trainer & t, Module& m), (t, m))
VOLT_LAMBDA_HOOK(on_exception, (Trainer & t, Module& m, const std::exception& e), (t, m, e))
VOLT_LAMBDA_HOOK(on_save_checkpoint, (Trainer & t, Module& m, StateDict& c), (t, m, c))
VOLT_LAMBDA_HOOK(on_load_checkpoint, (Trainer & t, Module& m, StateDict& c), (t, m, c))
VOLT_LAMBDA_HOOK(on_before_backward, (Trainer & t, Module& m, const torch::Tensor& loss), (t, m, loss))
VOLT_LAMBDA_HOOK(on_after_backward, (Trainer & t, Module& m), (t, m))
VOLT_LAMBDA_HOOK(on_before_optimizer_step, (Trainer & t, Module& m, torch::optim::Optimizer& o), (t, m, o))
VOLT_LAMBDA_HOOK(on_before_zero_grad, (Trainer & t, Module& m, torch::optim::Optimizer& o), (t, m, o))
VOLT_LAMBDA_HOOK(on_predict_start, (Trainer & t, Module& m), (t, m))
VOLT_LAMBDA_HOOK(on_predict_end, (Trainer & t, Module& m), (t, m))
VOLT_LAMBDA_HOOK(on_predict_batch_start, (Trainer & t, Module& m, const Batch& b, int64_t i, int64_t d),
                 (t, m, b, i, d))
VOLT_LAMBDA_HOOK(on_predict_batch_end,
                 (Trainer & t, Module& m, const StepOutput& o, const Batch& b, int64_t i, int64_t d),
                 (t, m, o, b, i, d))
VOLT_LAMBDA_HOOK(on_predict_epoch_start, (Trainer & t, Module& m), (t, m))
VOLT_LAMBDA_HOOK(on_predict_epoch_end, (Trainer & t, Module& m), (t, m))

#undef VOLT_LAMBDA_HOOK

}  // namespace volt
