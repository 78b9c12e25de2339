// volt's built-ins as configs name them, with Lightning's parameter names and defaults. One entry per class; each
// reads exactly the parameters its options struct has, so unknown keys are reported (InitArgs::check_all_used).
#include <torch/torch.h>

#include "volt/callbacks/device_stats_monitor.hpp"
#include "volt/callbacks/early_stopping.hpp"
#include "volt/callbacks/gradient_accumulation_scheduler.hpp"
#include "volt/callbacks/lr_monitor.hpp"
#include "volt/callbacks/model_checkpoint.hpp"
#include "volt/callbacks/model_summary.hpp"
#include "volt/callbacks/on_exception_checkpoint.hpp"
#include "volt/callbacks/rich_progress.hpp"
#include "volt/callbacks/timer.hpp"
#include "volt/callbacks/tqdm_progress.hpp"
#include "volt/datasets/fashion_mnist.hpp"
#include "volt/loggers/csv_logger.hpp"
#include "volt/loggers/tensorboard_logger.hpp"
#include "volt/models/image_classifier.hpp"
#include "volt/registry.hpp"
#include "config_args.hpp"

namespace volt {
namespace {

using detail::duration_arg;
using detail::version_arg;

void register_callbacks(Registry& r) {
  const std::string src = "volt";
  r.add_callback("ModelCheckpoint", [](InitArgs& a) {
    ModelCheckpointOptions o;
    o.dirpath = a.get("dirpath", o.dirpath);
    o.filename = a.get("filename", o.filename);
    o.monitor = a.get("monitor", o.monitor);
    o.verbose = a.get("verbose", o.verbose);
    YAML::Node save_last = a.raw("save_last", YAML::Node(false));
    if (save_last.IsDefined() && !save_last.IsNull()) {
      bool enabled = false;
      if (YAML::convert<bool>::decode(save_last, enabled)) o.save_last = enabled;
      else if (save_last.IsScalar() && save_last.Scalar() == "link") o.save_last = "link";
      else config_error(a.path_of("save_last"), "expected true, false or \"link\", got " + describe_yaml(save_last));
    }
    o.save_top_k = a.get("save_top_k", o.save_top_k);
    o.save_weights_only = a.get("save_weights_only", o.save_weights_only);
    o.mode = a.get("mode", o.mode);
    o.auto_insert_metric_name = a.get("auto_insert_metric_name", o.auto_insert_metric_name);
    o.every_n_train_steps = a.get("every_n_train_steps", o.every_n_train_steps);
    if (auto d = duration_arg(a, "train_time_interval")) o.train_time_interval = d->resolve();
    o.every_n_epochs = a.get("every_n_epochs", o.every_n_epochs);
    o.save_on_train_epoch_end = a.get("save_on_train_epoch_end", o.save_on_train_epoch_end);
    o.enable_version_counter = a.get("enable_version_counter", o.enable_version_counter);
    o.save_on_exception = a.get("save_on_exception", o.save_on_exception);
    return std::make_shared<ModelCheckpoint>(o);
  }, src);
  r.add_callback("EarlyStopping", [](InitArgs& a) {
    EarlyStoppingOptions o;
    o.monitor = a.required<std::string>("monitor");
    o.min_delta = a.get("min_delta", o.min_delta);
    o.patience = a.get("patience", o.patience);
    o.verbose = a.get("verbose", o.verbose);
    o.mode = a.get("mode", o.mode);
    o.strict = a.get("strict", o.strict);
    o.check_finite = a.get("check_finite", o.check_finite);
    o.stopping_threshold = a.get("stopping_threshold", o.stopping_threshold);
    o.divergence_threshold = a.get("divergence_threshold", o.divergence_threshold);
    o.check_on_train_epoch_end = a.get("check_on_train_epoch_end", o.check_on_train_epoch_end);
    o.log_rank_zero_only = a.get("log_rank_zero_only", o.log_rank_zero_only);
    return std::make_shared<EarlyStopping>(o);
  }, src);
  r.add_callback("LearningRateMonitor", [](InitArgs& a) {
    LearningRateMonitorOptions o;
    o.logging_interval = a.get("logging_interval", o.logging_interval);
    o.log_momentum = a.get("log_momentum", o.log_momentum);
    o.log_weight_decay = a.get("log_weight_decay", o.log_weight_decay);
    return std::make_shared<LearningRateMonitor>(o);
  }, src);
  r.add_callback("Timer", [](InitArgs& a) {
    TimerOptions o;
    o.duration = duration_arg(a, "duration");
    o.interval = a.get("interval", o.interval);
    o.verbose = a.get("verbose", o.verbose);
    return std::make_shared<Timer>(o);
  }, src);
  r.add_callback("GradientAccumulationScheduler", [](InitArgs& a) {
    YAML::Node node = a.raw("scheduling");
    const std::string path = a.path_of("scheduling");
    if (!node.IsMap()) config_error(path, "expected a mapping of epoch to factor, e.g. {0: 8, 4: 4}, got " +
                                              describe_yaml(node));
    std::vector<std::pair<int64_t, int64_t>> scheduling;
    for (const auto& kv : node) {
      int64_t epoch = yaml_as<int64_t>(kv.first, path + " key");
      scheduling.emplace_back(epoch, yaml_as<int64_t>(kv.second, path + "." + kv.first.Scalar()));
    }
    return std::make_shared<GradientAccumulationScheduler>(scheduling);
  }, src);
  r.add_callback("ModelSummary", [](InitArgs& a) {
    return std::make_shared<ModelSummary>(a.get<int>("max_depth", 1));
  }, src);
  r.add_callback("RichModelSummary", [](InitArgs& a) {
    RichModelSummaryOptions o;
    o.max_depth = a.get("max_depth", o.max_depth);
    o.header_style = a.get("header_style", o.header_style);
    return std::make_shared<RichModelSummary>(o);
  }, src);
  r.add_callback("TQDMProgressBar", [](InitArgs& a) {
    TQDMProgressBarOptions o;
    o.refresh_rate = a.get("refresh_rate", o.refresh_rate);
    o.process_position = a.get("process_position", o.process_position);
    o.leave = a.get("leave", o.leave);
    return std::make_shared<TQDMProgressBar>(o);
  }, src);
  r.add_callback("RichProgressBar", [](InitArgs& a) {
    RichProgressBarOptions o;
    o.refresh_rate = a.get("refresh_rate", o.refresh_rate);
    o.leave = a.get("leave", o.leave);
    return std::make_shared<RichProgressBar>(o);
  }, src);
  r.add_callback("DeviceStatsMonitor", [](InitArgs& a) {
    return std::make_shared<DeviceStatsMonitor>(a.get<std::optional<bool>>("cpu_stats", std::nullopt));
  }, src);
  r.add_callback("OnExceptionCheckpoint", [](InitArgs& a) {
    OnExceptionCheckpointOptions o;
    o.dirpath = a.required<std::string>("dirpath");
    o.filename = a.get("filename", o.filename);
    return std::make_shared<OnExceptionCheckpoint>(o);
  }, src);
}

void register_loggers(Registry& r) {
  const std::string src = "volt";
  r.add_logger("CSVLogger", [](InitArgs& a) {
    auto save_dir = a.required<std::string>("save_dir");
    CSVLoggerOptions o;
    o.name = a.get("name", o.name);
    o.version = version_arg(a);
    o.prefix = a.get("prefix", o.prefix);
    o.flush_logs_every_n_steps = a.get("flush_logs_every_n_steps", o.flush_logs_every_n_steps);
    return std::make_shared<CSVLogger>(save_dir, o);
  }, src);
  r.add_logger("TensorBoardLogger", [](InitArgs& a) {
    auto save_dir = a.required<std::string>("save_dir");
    TensorBoardLoggerOptions o;
    o.name = a.get("name", o.name);
    o.version = version_arg(a);
    o.default_hp_metric = a.get("default_hp_metric", o.default_hp_metric);
    o.prefix = a.get("prefix", o.prefix);
    o.sub_dir = a.get("sub_dir", o.sub_dir);
    return std::make_shared<TensorBoardLogger>(save_dir, o);
  }, src);
}

void register_models_and_data(Registry& r) {
  const std::string src = "volt";
  r.add_model("ImageClassifier", [](InitArgs& a) {
    models::ImageClassifierOptions o;
    o.in_channels = a.get("in_channels", o.in_channels);
    o.image_size = a.get("image_size", o.image_size);
    o.num_classes = a.get("num_classes", o.num_classes);
    o.channels = a.get("channels", o.channels);
    o.hidden = a.get("hidden", o.hidden);
    o.dropout = a.get("dropout", o.dropout);
    o.label_smoothing = a.get("label_smoothing", o.label_smoothing);
    o.random_hflip = a.get("random_hflip", o.random_hflip);
    o.optimizer = a.get("optimizer", o.optimizer);
    o.lr = a.get("lr", o.lr);
    o.weight_decay = a.get("weight_decay", o.weight_decay);
    o.scheduler = a.get("scheduler", o.scheduler);
    o.pct_start = a.get("pct_start", o.pct_start);
    return std::make_shared<models::ImageClassifier>(o);
  }, src);
  r.add_datamodule("FashionMNISTDataModule", [](InitArgs& a) {
    datasets::FashionMNISTOptions o;
    o.data_dir = a.get("data_dir", o.data_dir);
    o.batch_size = a.get("batch_size", o.batch_size);
    o.eval_batch_size = a.get("eval_batch_size", o.eval_batch_size);
    o.val_size = a.get("val_size", o.val_size);
    o.seed = a.get("seed", o.seed);
    o.mean = a.get("mean", o.mean);
    o.std = a.get("std", o.std);
    return std::make_shared<datasets::FashionMNISTDataModule>(o);
  }, src);
}

}  // namespace

void register_builtins(Registry& registry) {
  register_callbacks(registry);
  register_loggers(registry);
  register_models_and_data(registry);
}

}  // namespace volt
