#include "volt/models/image_classifier.hpp"

#include <torch/torch.h>

#include <cmath>

#include "volt/error.hpp"
#include "volt/optim/lr_scheduler.hpp"
#include "volt/trainer.hpp"

namespace volt::models {

ImageClassifier::ImageClassifier(ImageClassifierOptions options) : options_(std::move(options)) {
  using namespace torch::nn;
  const auto& o = options_;
  VOLT_CHECK(!o.channels.empty(), "ImageClassifier: `channels` needs at least one conv block, e.g. [16, 32]");
  VOLT_CHECK(o.in_channels > 0 && o.num_classes > 1 && o.hidden > 0,
             "ImageClassifier: in_channels, hidden must be positive and num_classes at least 2");
  VOLT_CHECK(o.dropout >= 0 && o.dropout < 1, "ImageClassifier: `dropout` must be in [0, 1), got ", o.dropout);
  VOLT_CHECK(o.optimizer == "adamw" || o.optimizer == "adam" || o.optimizer == "sgd",
             "ImageClassifier: `optimizer` must be one of adamw, adam, sgd; got '", o.optimizer, "'");
  VOLT_CHECK(o.scheduler == "onecycle" || o.scheduler == "none",
             "ImageClassifier: `scheduler` must be onecycle or none; got '", o.scheduler, "'");
  Sequential blocks;
  int64_t in = o.in_channels, size = o.image_size;
  for (int64_t out : o.channels) {
    VOLT_CHECK(out > 0, "ImageClassifier: every entry of `channels` must be positive");
    VOLT_CHECK(size >= 2, "ImageClassifier: ", o.channels.size(), " conv blocks halve a ", o.image_size,
               "-pixel image below 1 pixel; use fewer `channels`");
    blocks->push_back(Conv2d(Conv2dOptions(in, out, 3).padding(1).bias(false)));
    blocks->push_back(BatchNorm2d(out));
    blocks->push_back(ReLU());
    blocks->push_back(MaxPool2d(2));
    in = out, size /= 2;
  }
  features = register_module("features", blocks);
  head = register_module("head", Sequential(Flatten(), Linear(in * size * size, o.hidden), ReLU(),
                                            Dropout(o.dropout), Linear(o.hidden, o.num_classes)));
  StateDict hp;
  hp.set("lr", o.lr);
  hp.set("optimizer", o.optimizer);
  hp.set("scheduler", o.scheduler);
  hp.set("weight_decay", o.weight_decay);
  hp.set("dropout", o.dropout);
  hp.set("label_smoothing", o.label_smoothing);
  hp.set("hidden", o.hidden);
  save_hyperparameters(hp);
}

torch::Tensor ImageClassifier::forward(const torch::Tensor& images) {
  return head->forward(features->forward(images));
}

torch::Tensor ImageClassifier::loss(const torch::Tensor& logits, const torch::Tensor& targets) const {
  namespace F = torch::nn::functional;
  return F::cross_entropy(logits, targets, F::CrossEntropyFuncOptions().label_smoothing(options_.label_smoothing));
}

Batch ImageClassifier::on_after_batch_transfer(Batch batch, int64_t) {
  // Augment where the batch already is (Lightning's place for on-device augmentation), only while training.
  if (!options_.random_hflip || !has_trainer() || !trainer().training()) return batch;
  auto xy = batch.toTupleRef().elements();
  auto x = xy[0].toTensor();
  auto flip = torch::rand({x.size(0), 1, 1, 1}, x.options()) < 0.5;
  xy[0] = torch::where(flip, x.flip({3}), x);
  return c10::ivalue::Tuple::create(std::move(xy));
}

StepOutput ImageClassifier::training_step(const Batch& batch, int64_t) {
  auto xy = batch.toTupleRef().elements();
  auto value = loss(forward(xy[0].toTensor()), xy[1].toTensor());
  LogOptions prog_bar;
  prog_bar.prog_bar = true;
  log("train_loss", value, prog_bar);
  return value;
}

void ImageClassifier::evaluate(const Batch& batch, const std::string& stage) {
  auto xy = batch.toTupleRef().elements();
  auto y = xy[1].toTensor();
  auto logits = forward(xy[0].toTensor());
  LogOptions prog_bar;
  prog_bar.prog_bar = true;
  log(stage + "_loss", loss(logits, y), prog_bar);
  log(stage + "_acc", logits.argmax(1).eq(y).to(torch::kFloat32).mean(), prog_bar);
}

StepOutput ImageClassifier::validation_step(const Batch& batch, int64_t, int64_t) {
  evaluate(batch, "val");
  return {};
}

StepOutput ImageClassifier::test_step(const Batch& batch, int64_t, int64_t) {
  evaluate(batch, "test");
  return {};
}

StepOutput ImageClassifier::predict_step(const Batch& batch, int64_t, int64_t) {
  auto x = batch.isTuple() ? batch.toTupleRef().elements()[0].toTensor() : batch.toTensor();
  return forward(x).argmax(1);
}

OptimizerConfig ImageClassifier::configure_optimizers() {
  const auto& o = options_;
  std::shared_ptr<torch::optim::Optimizer> optimizer;
  if (o.optimizer == "adamw")
    optimizer = std::make_shared<torch::optim::AdamW>(parameters(), torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
  else if (o.optimizer == "adam")
    optimizer = std::make_shared<torch::optim::Adam>(parameters(), torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
  else
    optimizer = std::make_shared<torch::optim::SGD>(
        parameters(), torch::optim::SGDOptions(o.lr).momentum(0.9).nesterov(true).weight_decay(o.weight_decay));
  if (o.scheduler == "none") return {optimizer};
  double total = trainer().estimated_stepping_batches();
  VOLT_CHECK(std::isfinite(total) && total >= 1, "ImageClassifier: scheduler 'onecycle' needs a finite number of "
             "training steps; set trainer max_epochs or max_steps, or use scheduler: none");
  LRSchedulerConfig schedule;
  schedule.scheduler = std::make_shared<OneCycleLR>(
      *optimizer, OneCycleLROptions(o.lr).total_steps(static_cast<int64_t>(total)).pct_start(o.pct_start));
  schedule.interval = "step";
  return {optimizer, schedule};
}

}  // namespace volt::models
