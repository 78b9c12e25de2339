// The main job's pieces (model, trainer setup, run), shared by examples/main_job.cpp and
// tests/unit/main_job_test.cpp so the test suite runs the example's code path on a tiny synthetic dataset.
#pragma once
#include <torch/torch.h>
#include <volt/datasets/fashion_mnist.hpp>
#include <volt/volt.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

namespace main_job {

/// A small CNN: two 3x3 conv blocks (16 and 32 channels, batch norm, max-pool) and a 64-unit head. About 4x
/// cheaper than the 32/64-channel CNN in platform-notes.md.
class FashionCNN : public volt::Module {
 public:
  FashionCNN(double max_lr, int64_t epochs, int64_t steps_per_epoch)
      : max_lr_(max_lr), epochs_(epochs), steps_per_epoch_(steps_per_epoch) {
    using namespace torch::nn;
    features = register_module(
        "features",
        Sequential(Conv2d(Conv2dOptions(1, 16, 3).padding(1).bias(false)), BatchNorm2d(16), ReLU(),
                   MaxPool2d(2), Conv2d(Conv2dOptions(16, 32, 3).padding(1).bias(false)), BatchNorm2d(32), ReLU(),
                   MaxPool2d(2)));
    head = register_module("head", Sequential(Flatten(), Linear(32 * 7 * 7, 64), ReLU(), Dropout(0.2),
                                              Linear(64, 10)));
    save_hyperparameters({{"max_lr", max_lr}, {"epochs", epochs}});
  }

  torch::Tensor forward(const torch::Tensor& x) { return head->forward(features->forward(x)); }

  volt::StepOutput training_step(const volt::Batch& batch, int64_t) override {
    auto xy = batch.toTupleRef().elements();
    auto loss = torch::cross_entropy_loss(forward(xy[0].toTensor()), xy[1].toTensor());
    log("train_loss", loss, prog_bar());
    return loss;
  }
  volt::StepOutput validation_step(const volt::Batch& batch, int64_t, int64_t) override {
    evaluate(batch, "val");
    return {};
  }
  volt::StepOutput test_step(const volt::Batch& batch, int64_t, int64_t) override {
    evaluate(batch, "test");
    return {};
  }

  volt::OptimizerConfig configure_optimizers() override {
    auto opt = std::make_shared<torch::optim::AdamW>(parameters(), torch::optim::AdamWOptions(max_lr_).weight_decay(1e-4));
    volt::LRSchedulerConfig schedule;
    schedule.scheduler = std::make_shared<volt::OneCycleLR>(
        *opt, volt::OneCycleLROptions(max_lr_).epochs(epochs_).steps_per_epoch(steps_per_epoch_).pct_start(0.25));
    schedule.interval = "step";
    return {opt, schedule};
  }

  torch::nn::Sequential features{nullptr}, head{nullptr};

 private:
  static volt::LogOptions prog_bar() {
    volt::LogOptions o;
    o.prog_bar = true;
    return o;
  }
  void evaluate(const volt::Batch& batch, const std::string& stage) {
    auto xy = batch.toTupleRef().elements();
    auto y = xy[1].toTensor();
    auto logits = forward(xy[0].toTensor());
    log(stage + "_loss", torch::cross_entropy_loss(logits, y), prog_bar());
    log(stage + "_acc", logits.argmax(1).eq(y).to(torch::kFloat32).mean(), prog_bar());
  }
  double max_lr_;
  int64_t epochs_, steps_per_epoch_;
};

struct Config {
  std::string data_dir = volt::datasets::default_fashion_mnist_dir();
  std::string root_dir = "runs/main_job";
  int64_t epochs = 5;
  int64_t batch_size = 128;
  double max_lr = 0.01;
  int threads = 1;
  volt::BatchLimit limit_train_batches = 1.0;
  volt::BatchLimit limit_val_batches = 1.0;
  bool progress_bar = true;
  int64_t val_size = 5000;
};

/// Reads MAIN_JOB_EPOCHS, MAIN_JOB_THREADS, MAIN_JOB_LR, VOLT_FASHION_MNIST_DIR, then argv:
/// main_job [epochs] [data_dir].
inline Config config_from(int argc, char** argv) {
  Config c;
  if (const char* v = std::getenv("MAIN_JOB_EPOCHS")) c.epochs = std::stoll(v);
  if (const char* v = std::getenv("MAIN_JOB_THREADS")) c.threads = std::stoi(v);
  if (const char* v = std::getenv("MAIN_JOB_LR")) c.max_lr = std::stod(v);
  if (argc > 1) c.epochs = std::stoll(argv[1]);
  if (argc > 2) c.data_dir = argv[2];
  return c;
}

/// The default callbacks: checkpoint on val_acc (max), early stopping on val_acc, the learning rate per step,
/// progress bar, summary; CSV and TensorBoard logs under <root_dir>/lightning_logs/version_<n>/ (checkpoints go
/// to that directory's checkpoints/).
inline volt::TrainerOptions trainer_options(const Config& c) {
  volt::TrainerOptions o;
  o.max_epochs = c.epochs;
  o.default_root_dir = c.root_dir;
  o.limit_train_batches = c.limit_train_batches;
  o.limit_val_batches = c.limit_val_batches;
  o.enable_progress_bar = c.progress_bar;
  volt::ModelCheckpointOptions mc;
  mc.monitor = "val_acc", mc.mode = "max", mc.filename = "{epoch}-{val_acc:.4f}";
  volt::EarlyStoppingOptions es;
  es.monitor = "val_acc", es.mode = "max", es.patience = 3;
  volt::LearningRateMonitorOptions lr;
  lr.logging_interval = "step";
  o.callbacks = {std::make_shared<volt::ModelCheckpoint>(mc), std::make_shared<volt::EarlyStopping>(es),
                 std::make_shared<volt::LearningRateMonitor>(lr), std::make_shared<volt::ModelSummary>()};
  auto csv = std::make_shared<volt::CSVLogger>(c.root_dir);
  volt::TensorBoardLoggerOptions tensorboard;
  tensorboard.version = std::stoll(csv->version());  // one run, one version directory for both loggers
  o.loggers = {csv, std::make_shared<volt::TensorBoardLogger>(c.root_dir, tensorboard)};
  if (c.progress_bar) o.callbacks.push_back(std::make_shared<volt::TQDMProgressBar>());
  return o;
}

struct Result {
  double test_acc = 0;
  double seconds_per_epoch = 0;
  int64_t epochs_run = 0;
  std::string best_model_path;
};

inline Result run(const Config& c) {
  torch::manual_seed(0);
  torch::set_num_threads(c.threads);
  volt::datasets::FashionMNISTOptions data;
  data.data_dir = c.data_dir;
  data.batch_size = c.batch_size;
  data.val_size = c.val_size;
  volt::datasets::FashionMNISTDataModule dm(data);
  dm.prepare_data();
  dm.setup("fit");
  int64_t steps = dm.train_dataloader()->size();
  FashionCNN model(c.max_lr, c.epochs, steps);
  volt::Trainer trainer(trainer_options(c));
  auto start = std::chrono::steady_clock::now();
  trainer.fit(model, &dm);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Result r;
  r.epochs_run = trainer.current_epoch();
  r.seconds_per_epoch = seconds / double(std::max<int64_t>(1, r.epochs_run));
  r.best_model_path = trainer.checkpoint_callback()->best_model_path();
  auto results = trainer.test(model, &dm, "best");
  r.test_acc = results.at(0).at("test_acc").item<double>();
  return r;
}

}  // namespace main_job
