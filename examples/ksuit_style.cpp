// A training run written in ksuit style on volt: progress in epochs/updates/samples, the end given in samples,
// ksuit's default callbacks, a user callback that evaluates a held-out set at every epoch and logs through the
// shared LogWriter, a best checkpoint and an early stopper that read that metric, an EMA of the weights used for
// validation, and a Lightning-style EarlyStopping(mode="auto") in the same trainer.
#include <volt/ksuit/default_callbacks.hpp>
#include <volt/ksuit/early_stoppers.hpp>
#include <volt/ksuit/ema.hpp>
#include <volt/volt.hpp>

#include <iostream>

class Regressor : public volt::Module {
 public:
  Regressor() {
    torch::manual_seed(0);
    net = register_module("net", torch::nn::Sequential(torch::nn::Linear(8, 32), torch::nn::ReLU(),
                                                       torch::nn::Linear(32, 1)));
    auto x = torch::randn({1280, 8});
    auto y = x.slice(1, 0, 4).sum(1, true) - x.slice(1, 4, 8).sum(1, true) + 0.05 * torch::randn({1280, 1});
    train = {x.slice(0, 0, 1024), y.slice(0, 0, 1024)};
    test = {x.slice(0, 1024), y.slice(0, 1024)};
  }
  torch::Tensor loss_of(const volt::Batch& batch) {
    auto xy = batch.toTupleRef().elements();
    return torch::mse_loss(net->forward(xy[0].toTensor()), xy[1].toTensor());
  }
  volt::StepOutput training_step(const volt::Batch& batch, int64_t) override { return loss_of(batch); }
  volt::StepOutput validation_step(const volt::Batch& batch, int64_t, int64_t) override {
    auto loss = loss_of(batch);
    log("val_loss", loss);
    return loss;
  }
  volt::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(0.01));
  }
  std::shared_ptr<volt::DataLoader> loader(const std::vector<torch::Tensor>& data, bool shuffle) {
    volt::DataLoaderOptions o;
    o.batch_size = 64;
    o.shuffle = shuffle;
    return std::make_shared<volt::TensorDataLoader>(data, o);
  }
  torch::nn::Sequential net{nullptr};
  std::vector<torch::Tensor> train, test;
};

// ksuit's OfflineLossCallback in miniature: at its interval, the loss on the "test" dataset of the data container.
class TestLossCallback : public volt::ksuit::PeriodicCallback {
 public:
  using PeriodicCallback::PeriodicCallback;

 protected:
  void _periodic_callback(volt::ksuit::IntervalType, const volt::ksuit::UpdateCounter&) override {
    auto& model = dynamic_cast<Regressor&>(this->model());
    auto loader = data_container().get("test");
    double sum = 0;
    int64_t n = 0;
    for (int64_t i = 0; i < loader->size(); ++i) {  // runs under NoGradGuard: the template applies it
      auto batch = loader->batch(i);
      const int64_t size = loader->batch_size_of(batch);
      sum += model.loss_of(batch).item<double>() * static_cast<double>(size);
      n += size;
    }
    writer().add_scalar("loss/test/total", sum / static_cast<double>(n), &logger(), ".4f");
  }
};

int main() {
  torch::set_num_threads(1);
  Regressor model;
  namespace ks = volt::ksuit;

  ks::ContextOptions run;
  run.end = ks::TrainingIteration::samples(20 * 1024);  // 20 epochs' worth of samples
  run.checkpoint_dir = "runs/ksuit_style/checkpoints";
  auto context = std::make_shared<ks::Context>(run);
  context->data_container()->add("test", model.loader(model.test, false));

  ks::DefaultCallbacksOptions defaults;
  defaults.log_every_n_epochs = 5;
  defaults.track_every_n_updates = 16;
  defaults.context = context;
  std::vector<volt::CallbackPtr> callbacks = ks::default_callbacks(defaults);

  callbacks.push_back(std::make_shared<TestLossCallback>(ks::Interval{1, std::nullopt, std::nullopt}, context));
  ks::BestCheckpointOptions best;
  best.metric_key = "loss/test/total";  // logged by TestLossCallback, which comes earlier in the list
  callbacks.push_back(std::make_shared<ks::BestCheckpointCallback>(best, context));
  ks::MetricEarlyStopperOptions stopper;
  stopper.metric_key = "loss/test/total";
  stopper.tolerance = 3;
  callbacks.push_back(std::make_shared<ks::MetricEarlyStopper>(stopper, context));
  ks::EmaOptions ema;
  ema.target_factors = {0.99};
  ema.every_n_epochs = 5;
  ema.save_latest_weights = true;
  ema.validate_with_factor = 0.99;  // val_loss is the EMA model's
  callbacks.push_back(std::make_shared<ks::EmaCallback>(ema, context));

  volt::EarlyStoppingOptions lightning_stop;  // a Lightning callback next to the ksuit ones
  lightning_stop.monitor = "val_loss";
  lightning_stop.mode = "auto";  // *loss* → lower is better, from trainer.metric_properties()
  lightning_stop.patience = 5;
  callbacks.push_back(std::make_shared<volt::EarlyStopping>(lightning_stop));

  volt::TrainerOptions options;
  options.max_epochs = -1;  // the ksuit end (in samples) decides
  options.default_root_dir = "runs/ksuit_style";
  options.enable_progress_bar = false;
  options.enable_model_summary = false;
  options.enable_checkpointing = false;
  options.num_sanity_val_steps = 0;
  options.callbacks = callbacks;
  volt::Trainer trainer(options);
  trainer.fit(model, model.loader(model.train, true), model.loader(model.test, false));

  std::cout << "stopped at update " << trainer.global_step() << "\nsummary:\n";
  for (const auto& [key, value] : context->tracker()->summary()) std::cout << "  " << key << " = " << value << "\n";
  return 0;
}
