#include "support/boring.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

namespace volt::testing {

Calls golden_hooks(const std::string& name) {
  std::ifstream in(std::string(VOLT_SOURCE_DIR) + "/tests/golden/hooks/" + name + ".json");
  if (!in) throw std::runtime_error("missing golden file tests/golden/hooks/" + name + ".json");
  return nlohmann::json::parse(in).get<Calls>();
}

std::string fresh_dir(const std::string& name) {
  auto dir = std::filesystem::current_path() / "test_runs" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

BoringModel::BoringModel() {
  layer = register_module("layer", torch::nn::Linear(32, 2));
  data_ = torch::randn({64, 32});
}

StepOutput BoringModel::training_step(const Batch& batch, int64_t) {
  c10::impl::GenericDict out(c10::StringType::get(), c10::AnyType::get());
  out.insert("loss", step(batch));
  return out;
}

StepOutput BoringModel::validation_step(const Batch& batch, int64_t, int64_t) {
  c10::impl::GenericDict out(c10::StringType::get(), c10::AnyType::get());
  out.insert("x", step(batch));
  return out;
}

StepOutput BoringModel::test_step(const Batch& batch, int64_t, int64_t) {
  c10::impl::GenericDict out(c10::StringType::get(), c10::AnyType::get());
  out.insert("y", step(batch));
  return out;
}

StepOutput BoringModel::predict_step(const Batch& batch, int64_t, int64_t) { return forward(batch.toTensor()); }

OptimizerConfig BoringModel::configure_optimizers() {
  auto opt = std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
  LRSchedulerConfig scheduler;
  scheduler.scheduler = std::make_shared<StepLR>(*opt, 1);
  return OptimizerConfig(opt, scheduler);
}

// ---- RecordingModel -------------------------------------------------------------------------------------------

#define REC(name) calls_.push_back(name)
std::vector<CallbackPtr> RecordingModel::configure_callbacks() { REC("configure_callbacks"); return {}; }
void RecordingModel::prepare_data() { REC("prepare_data"); }
void RecordingModel::setup(const std::string& stage) { REC("setup(" + stage + ")"); }
void RecordingModel::configure_model() { REC("configure_model"); }
OptimizerConfig RecordingModel::configure_optimizers() { REC("configure_optimizers"); return BoringModel::configure_optimizers(); }
void RecordingModel::teardown(const std::string& stage) { REC("teardown(" + stage + ")"); }
std::shared_ptr<DataLoader> RecordingModel::train_dataloader() { REC("train_dataloader"); return loader(); }
std::shared_ptr<DataLoader> RecordingModel::val_dataloader() { REC("val_dataloader"); return loader(); }
std::shared_ptr<DataLoader> RecordingModel::test_dataloader() { REC("test_dataloader"); return loader(); }
std::shared_ptr<DataLoader> RecordingModel::predict_dataloader() { REC("predict_dataloader"); return loader(); }
Batch RecordingModel::on_before_batch_transfer(Batch b, int64_t i) { REC("on_before_batch_transfer"); return Module::on_before_batch_transfer(b, i); }
Batch RecordingModel::transfer_batch_to_device(Batch b, const torch::Device& d, int64_t i) { REC("transfer_batch_to_device"); return Module::transfer_batch_to_device(b, d, i); }
Batch RecordingModel::on_after_batch_transfer(Batch b, int64_t i) { REC("on_after_batch_transfer"); return Module::on_after_batch_transfer(b, i); }
void RecordingModel::on_fit_start() { REC("on_fit_start"); }
void RecordingModel::on_fit_end() { REC("on_fit_end"); }
void RecordingModel::on_train_start() { REC("on_train_start"); }
void RecordingModel::on_train_end() { REC("on_train_end"); }
void RecordingModel::on_train_epoch_start() { REC("on_train_epoch_start"); }
void RecordingModel::on_train_epoch_end() { REC("on_train_epoch_end"); }
int RecordingModel::on_train_batch_start(const Batch&, int64_t batch_idx) {
  REC("on_train_batch_start");
  return batch_idx == minus_one_at_batch ? -1 : 0;
}
void RecordingModel::on_train_batch_end(const StepOutput&, const Batch&, int64_t) { REC("on_train_batch_end"); }
void RecordingModel::on_validation_start() { REC("on_validation_start"); }
void RecordingModel::on_validation_end() { REC("on_validation_end"); }
void RecordingModel::on_validation_epoch_start() { REC("on_validation_epoch_start"); }
void RecordingModel::on_validation_epoch_end() { REC("on_validation_epoch_end"); }
void RecordingModel::on_validation_batch_start(const Batch&, int64_t, int64_t) { REC("on_validation_batch_start"); }
void RecordingModel::on_validation_batch_end(const StepOutput&, const Batch&, int64_t, int64_t) { REC("on_validation_batch_end"); }
void RecordingModel::on_test_start() { REC("on_test_start"); }
void RecordingModel::on_test_end() { REC("on_test_end"); }
void RecordingModel::on_test_epoch_start() { REC("on_test_epoch_start"); }
void RecordingModel::on_test_epoch_end() { REC("on_test_epoch_end"); }
void RecordingModel::on_test_batch_start(const Batch&, int64_t, int64_t) { REC("on_test_batch_start"); }
void RecordingModel::on_test_batch_end(const StepOutput&, const Batch&, int64_t, int64_t) { REC("on_test_batch_end"); }
void RecordingModel::on_predict_start() { REC("on_predict_start"); }
void RecordingModel::on_predict_end() { REC("on_predict_end"); }
void RecordingModel::on_predict_epoch_start() { REC("on_predict_epoch_start"); }
void RecordingModel::on_predict_epoch_end() { REC("on_predict_epoch_end"); }
void RecordingModel::on_predict_batch_start(const Batch&, int64_t, int64_t) { REC("on_predict_batch_start"); }
void RecordingModel::on_predict_batch_end(const StepOutput&, const Batch&, int64_t, int64_t) { REC("on_predict_batch_end"); }
void RecordingModel::on_validation_model_zero_grad() { REC("on_validation_model_zero_grad"); Module::on_validation_model_zero_grad(); }
void RecordingModel::on_validation_model_eval() { REC("on_validation_model_eval"); Module::on_validation_model_eval(); }
void RecordingModel::on_test_model_eval() { REC("on_test_model_eval"); Module::on_test_model_eval(); }
void RecordingModel::on_predict_model_eval() { REC("on_predict_model_eval"); Module::on_predict_model_eval(); }
void RecordingModel::on_before_zero_grad(torch::optim::Optimizer&) { REC("on_before_zero_grad"); }
void RecordingModel::on_before_backward(const torch::Tensor&) { REC("on_before_backward"); }
void RecordingModel::on_after_backward() { REC("on_after_backward"); }
void RecordingModel::on_before_optimizer_step(torch::optim::Optimizer&) { REC("on_before_optimizer_step"); }
void RecordingModel::optimizer_step(int64_t e, int64_t b, torch::optim::Optimizer& o, const StepClosure& c) { REC("optimizer_step"); Module::optimizer_step(e, b, o, c); }
void RecordingModel::optimizer_zero_grad(int64_t e, int64_t b, torch::optim::Optimizer& o) { REC("optimizer_zero_grad"); Module::optimizer_zero_grad(e, b, o); }
void RecordingModel::backward(const torch::Tensor& loss) { REC("backward"); Module::backward(loss); }
void RecordingModel::configure_gradient_clipping(torch::optim::Optimizer& o, std::optional<double> v, std::optional<std::string> a) { REC("configure_gradient_clipping"); Module::configure_gradient_clipping(o, v, a); }
void RecordingModel::lr_scheduler_step(LRScheduler& s, std::optional<double> m) { REC("lr_scheduler_step"); Module::lr_scheduler_step(s, m); }
StepOutput RecordingModel::training_step(const Batch& b, int64_t i) { REC("training_step"); return BoringModel::training_step(b, i); }
StepOutput RecordingModel::validation_step(const Batch& b, int64_t i, int64_t d) { REC("validation_step"); return BoringModel::validation_step(b, i, d); }
StepOutput RecordingModel::test_step(const Batch& b, int64_t i, int64_t d) { REC("test_step"); return BoringModel::test_step(b, i, d); }
StepOutput RecordingModel::predict_step(const Batch& b, int64_t i, int64_t d) { REC("predict_step"); return BoringModel::predict_step(b, i, d); }
void RecordingModel::on_save_checkpoint(StateDict&) { REC("on_save_checkpoint"); }
void RecordingModel::on_load_checkpoint(StateDict&) { REC("on_load_checkpoint"); }

// ---- Recorder -------------------------------------------------------------------------------------------------

StateDict Recorder::state_dict() { REC("Callback.state_dict"); return {{"calls", 1}}; }
void Recorder::load_state_dict(const StateDict&) { REC("Callback.load_state_dict"); }
void Recorder::setup(Trainer&, Module&, const std::string& stage) { REC("Callback.setup(" + stage + ")"); }
void Recorder::teardown(Trainer&, Module&, const std::string& stage) { REC("Callback.teardown(" + stage + ")"); }
void Recorder::on_fit_start(Trainer&, Module&) { REC("Callback.on_fit_start"); }
void Recorder::on_fit_end(Trainer&, Module&) { REC("Callback.on_fit_end"); }
void Recorder::on_sanity_check_start(Trainer&, Module&) { REC("Callback.on_sanity_check_start"); }
void Recorder::on_sanity_check_end(Trainer&, Module&) { REC("Callback.on_sanity_check_end"); }
void Recorder::on_train_start(Trainer&, Module&) { REC("Callback.on_train_start"); }
void Recorder::on_train_end(Trainer&, Module&) { REC("Callback.on_train_end"); }
void Recorder::on_train_epoch_start(Trainer&, Module&) { REC("Callback.on_train_epoch_start"); }
void Recorder::on_train_epoch_end(Trainer&, Module&) { REC("Callback.on_train_epoch_end"); }
void Recorder::on_train_batch_start(Trainer&, Module&, const Batch&, int64_t) { REC("Callback.on_train_batch_start"); }
void Recorder::on_train_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t) { REC("Callback.on_train_batch_end"); }
void Recorder::on_validation_start(Trainer&, Module&) { REC("Callback.on_validation_start"); }
void Recorder::on_validation_end(Trainer&, Module&) { REC("Callback.on_validation_end"); }
void Recorder::on_validation_epoch_start(Trainer&, Module&) { REC("Callback.on_validation_epoch_start"); }
void Recorder::on_validation_epoch_end(Trainer&, Module&) { REC("Callback.on_validation_epoch_end"); }
void Recorder::on_validation_batch_start(Trainer&, Module&, const Batch&, int64_t, int64_t) { REC("Callback.on_validation_batch_start"); }
void Recorder::on_validation_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t, int64_t) { REC("Callback.on_validation_batch_end"); }
void Recorder::on_test_start(Trainer&, Module&) { REC("Callback.on_test_start"); }
void Recorder::on_test_end(Trainer&, Module&) { REC("Callback.on_test_end"); }
void Recorder::on_test_epoch_start(Trainer&, Module&) { REC("Callback.on_test_epoch_start"); }
void Recorder::on_test_epoch_end(Trainer&, Module&) { REC("Callback.on_test_epoch_end"); }
void Recorder::on_test_batch_start(Trainer&, Module&, const Batch&, int64_t, int64_t) { REC("Callback.on_test_batch_start"); }
void Recorder::on_test_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t, int64_t) { REC("Callback.on_test_batch_end"); }
void Recorder::on_predict_start(Trainer&, Module&) { REC("Callback.on_predict_start"); }
void Recorder::on_predict_end(Trainer&, Module&) { REC("Callback.on_predict_end"); }
void Recorder::on_predict_epoch_start(Trainer&, Module&) { REC("Callback.on_predict_epoch_start"); }
void Recorder::on_predict_epoch_end(Trainer&, Module&) { REC("Callback.on_predict_epoch_end"); }
void Recorder::on_predict_batch_start(Trainer&, Module&, const Batch&, int64_t, int64_t) { REC("Callback.on_predict_batch_start"); }
void Recorder::on_predict_batch_end(Trainer&, Module&, const StepOutput&, const Batch&, int64_t, int64_t) { REC("Callback.on_predict_batch_end"); }
void Recorder::on_exception(Trainer&, Module&, const std::exception&) { REC("Callback.on_exception"); }
void Recorder::on_save_checkpoint(Trainer&, Module&, StateDict&) { REC("Callback.on_save_checkpoint"); }
void Recorder::on_load_checkpoint(Trainer&, Module&, StateDict&) { REC("Callback.on_load_checkpoint"); }
void Recorder::on_before_backward(Trainer&, Module&, const torch::Tensor&) { REC("Callback.on_before_backward"); }
void Recorder::on_after_backward(Trainer&, Module&) { REC("Callback.on_after_backward"); }
void Recorder::on_before_optimizer_step(Trainer&, Module&, torch::optim::Optimizer&) { REC("Callback.on_before_optimizer_step"); }
void Recorder::on_before_zero_grad(Trainer&, Module&, torch::optim::Optimizer&) { REC("Callback.on_before_zero_grad"); }
#undef REC

TrainerOptions golden_options(const std::string& root, std::vector<CallbackPtr> callbacks) {
  TrainerOptions o;
  o.default_root_dir = root;
  o.enable_progress_bar = false;
  o.enable_model_summary = false;
  o.callbacks = std::move(callbacks);
  return o;
}

TrainerOptions plain_options(const std::string& root, std::vector<CallbackPtr> callbacks, int64_t max_epochs) {
  TrainerOptions o = golden_options(root, std::move(callbacks));
  o.max_epochs = max_epochs;
  o.enable_checkpointing = false;
  o.num_sanity_val_steps = 0;
  return o;
}

std::string test_dir(const std::string& prefix) {
  auto name = prefix + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  return std::filesystem::weakly_canonical(fresh_dir(name)).string();
}

}  // namespace volt::testing
