// volt's built-ins as configs name them, with Lightning's parameter names and defaults. One entry per class; each
// reads exactly the parameters its options struct has, so unknown keys are reported (InitArgs::check_all_used).
#include <torch/torch.h>

#include "volt/callbacks/batch_size_finder.hpp"
#include "volt/callbacks/device_stats_monitor.hpp"
#include "volt/callbacks/early_stopping.hpp"
#include "volt/callbacks/finetuning.hpp"
#include "volt/callbacks/gradient_accumulation_scheduler.hpp"
#include "volt/callbacks/lr_finder.hpp"
#include "volt/callbacks/lr_monitor.hpp"
#include "volt/callbacks/model_checkpoint.hpp"
#include "volt/callbacks/model_pruning.hpp"
#include "volt/callbacks/model_summary.hpp"
#include "volt/callbacks/on_exception_checkpoint.hpp"
#include "volt/callbacks/rich_progress.hpp"
#include "volt/callbacks/stochastic_weight_avg.hpp"
#include "volt/callbacks/timer.hpp"
#include "volt/callbacks/tqdm_progress.hpp"
#include "volt/datasets/fashion_mnist.hpp"
#include "volt/ksuit/default_callbacks.hpp"
#include "volt/ksuit/early_stoppers.hpp"
#include "volt/ksuit/ema.hpp"
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
  r.add_callback("BackboneFinetuning", [](InitArgs& a) {
    BackboneFinetuningOptions o;
    o.unfreeze_backbone_at_epoch = a.get("unfreeze_backbone_at_epoch", o.unfreeze_backbone_at_epoch);
    o.backbone_initial_ratio_lr = a.get("backbone_initial_ratio_lr", o.backbone_initial_ratio_lr);
    o.backbone_initial_lr = a.get("backbone_initial_lr", o.backbone_initial_lr);
    o.should_align = a.get("should_align", o.should_align);
    o.initial_denom_lr = a.get("initial_denom_lr", o.initial_denom_lr);
    o.train_bn = a.get("train_bn", o.train_bn);
    o.verbose = a.get("verbose", o.verbose);
    o.rounding = a.get("rounding", o.rounding);
    return std::make_shared<BackboneFinetuning>(o);
  }, src);
  r.add_callback("StochasticWeightAveraging", [](InitArgs& a) {
    StochasticWeightAveragingOptions o;
    YAML::Node lrs = a.raw("swa_lrs");
    const std::string lrs_path = a.path_of("swa_lrs");
    if (lrs.IsSequence()) o.swa_lrs = yaml_as<std::vector<double>>(lrs, lrs_path);
    else o.swa_lrs = {yaml_as<double>(lrs, lrs_path)};  // Lightning's swa_lrs: float | list[float], required
    YAML::Node start = a.raw("swa_epoch_start", YAML::Node(0.8));
    int64_t epoch = 0;
    if (start.IsDefined() && !start.IsNull()) {
      if (start.IsScalar() && YAML::convert<int64_t>::decode(start, epoch)) o.swa_epoch_start = epoch;
      else o.swa_epoch_start = yaml_as<double>(start, a.path_of("swa_epoch_start"));
    }
    o.annealing_epochs = a.get("annealing_epochs", o.annealing_epochs);
    o.annealing_strategy = a.get("annealing_strategy", o.annealing_strategy);
    return std::make_shared<StochasticWeightAveraging>(o);
  }, src);
  r.add_callback("ModelPruning", [](InitArgs& a) {
    ModelPruningOptions o;
    o.pruning_fn = a.required<std::string>("pruning_fn");
    o.parameter_names = a.get("parameter_names", o.parameter_names);
    o.use_global_unstructured = a.get("use_global_unstructured", o.use_global_unstructured);
    YAML::Node amount = a.raw("amount", YAML::Node(0.5));
    int64_t count = 0;
    if (amount.IsDefined() && !amount.IsNull()) {  // Lightning's amount: int (a count) | float (a fraction)
      if (amount.IsScalar() && YAML::convert<int64_t>::decode(amount, count)) o.amount = count;
      else o.amount = yaml_as<double>(amount, a.path_of("amount"));
    }
    o.apply_pruning = a.get("apply_pruning", o.apply_pruning);
    o.make_pruning_permanent = a.get("make_pruning_permanent", o.make_pruning_permanent);
    o.use_lottery_ticket_hypothesis = a.get("use_lottery_ticket_hypothesis", o.use_lottery_ticket_hypothesis);
    o.resample_parameters = a.get("resample_parameters", o.resample_parameters);
    o.pruning_dim = a.get("pruning_dim", o.pruning_dim);
    o.pruning_norm = a.get("pruning_norm", o.pruning_norm);
    o.verbose = a.get("verbose", o.verbose);
    o.prune_on_train_epoch_end = a.get("prune_on_train_epoch_end", o.prune_on_train_epoch_end);
    return std::make_shared<ModelPruning>(o);
  }, src);
  r.add_callback("LearningRateFinder", [](InitArgs& a) {
    LearningRateFinderOptions o;
    o.min_lr = a.get("min_lr", o.min_lr);
    o.max_lr = a.get("max_lr", o.max_lr);
    o.num_training_steps = a.get("num_training_steps", o.num_training_steps);
    o.mode = a.get("mode", o.mode);
    o.early_stop_threshold = a.get("early_stop_threshold", o.early_stop_threshold);
    o.update_attr = a.get("update_attr", o.update_attr);
    o.attr_name = a.get("attr_name", o.attr_name);
    return std::make_shared<LearningRateFinder>(o);
  }, src);
  r.add_callback("BatchSizeFinder", [](InitArgs& a) {
    BatchSizeFinderOptions o;
    o.mode = a.get("mode", o.mode);
    o.steps_per_trial = a.get("steps_per_trial", o.steps_per_trial);
    o.init_val = a.get("init_val", o.init_val);
    o.max_trials = a.get("max_trials", o.max_trials);
    o.batch_arg_name = a.get("batch_arg_name", o.batch_arg_name);
    return std::make_shared<BatchSizeFinder>(o);
  }, src);
}

/// every_n_epochs / every_n_updates / every_n_samples, as ksuit's periodic callbacks take them.
ksuit::Interval interval_args(InitArgs& a) {
  ksuit::Interval i;
  i.every_n_epochs = a.get("every_n_epochs", i.every_n_epochs);
  i.every_n_updates = a.get("every_n_updates", i.every_n_updates);
  i.every_n_samples = a.get("every_n_samples", i.every_n_samples);
  return i;
}

// ksuit's callbacks, for `- kind: BestCheckpointCallback` entries (and class_path ones).
void register_ksuit_callbacks(Registry& r) {
  using namespace ksuit;
  const std::string src = "volt";
  r.add_callback("EmaCallback", [](InitArgs& a) {
    EmaOptions o;
    o.target_factors = a.required<std::vector<double>>("target_factors");
    auto i = interval_args(a);
    o.every_n_epochs = i.every_n_epochs, o.every_n_updates = i.every_n_updates, o.every_n_samples = i.every_n_samples;
    o.save_weights = a.get("save_weights", o.save_weights);
    o.save_last_weights = a.get("save_last_weights", o.save_last_weights);
    o.save_latest_weights = a.get("save_latest_weights", o.save_latest_weights);
    o.model_name = a.get("model_name", o.model_name);
    o.validate_with_factor = a.get("validate_with_factor", o.validate_with_factor);
    return std::make_shared<EmaCallback>(o);
  }, src);
  r.add_callback("OnlineLossCallback", [](InitArgs& a) {
    OnlineLossOptions o;
    auto i = interval_args(a);
    o.every_n_epochs = i.every_n_epochs, o.every_n_updates = i.every_n_updates, o.every_n_samples = i.every_n_samples;
    o.verbose = a.get("verbose", o.verbose);
    o.skip_nan_loss = a.get("skip_nan_loss", o.skip_nan_loss);
    return std::make_shared<OnlineLossCallback>(o);
  }, src);
  r.add_callback("FixedEarlyStopper", [](InitArgs& a) {
    FixedEarlyStopperOptions o;
    o.stop_at_epoch = a.get("stop_at_epoch", o.stop_at_epoch);
    o.stop_at_update = a.get("stop_at_update", o.stop_at_update);
    o.stop_at_sample = a.get("stop_at_sample", o.stop_at_sample);
    return std::make_shared<FixedEarlyStopper>(o);
  }, src);
  r.add_callback("MetricEarlyStopper", [](InitArgs& a) {
    MetricEarlyStopperOptions o;
    o.metric_key = a.required<std::string>("metric_key");
    o.tolerance = a.get("tolerance", o.tolerance);
    o.min_delta = a.get("min_delta", o.min_delta);
    auto i = interval_args(a);
    o.every_n_epochs = i.every_n_epochs, o.every_n_updates = i.every_n_updates, o.every_n_samples = i.every_n_samples;
    return std::make_shared<MetricEarlyStopper>(o);
  }, src);
  r.add_callback("BestCheckpointCallback", [](InitArgs& a) {
    BestCheckpointOptions o;
    o.metric_key = a.required<std::string>("metric_key");
    auto i = interval_args(a);
    o.every_n_epochs = i.every_n_epochs, o.every_n_updates = i.every_n_updates, o.every_n_samples = i.every_n_samples;
    o.model_name = a.get("model_name", o.model_name);
    return std::make_shared<BestCheckpointCallback>(o);
  }, src);
  r.add_callback("BestMetricCallback", [](InitArgs& a) {
    BestMetricOptions o;
    o.source_metric_key = a.required<std::string>("source_metric_key");
    o.target_metric_keys = a.get("target_metric_keys", o.target_metric_keys);
    auto i = interval_args(a);
    o.every_n_epochs = i.every_n_epochs, o.every_n_updates = i.every_n_updates, o.every_n_samples = i.every_n_samples;
    return std::make_shared<BestMetricCallback>(o);
  }, src);
  r.add_callback("ProgressCallback", [](InitArgs& a) { return std::make_shared<ProgressCallback>(interval_args(a)); }, src);
  r.add_callback("TrainTimeCallback", [](InitArgs& a) { return std::make_shared<TrainTimeCallback>(interval_args(a)); }, src);
  r.add_callback("PeakMemoryCallback", [](InitArgs& a) { return std::make_shared<PeakMemoryCallback>(interval_args(a)); }, src);
  r.add_callback("EtaCallback", [](InitArgs& a) { return std::make_shared<EtaCallback>(interval_args(a)); }, src);
  r.add_callback("LrCallback", [](InitArgs& a) { return std::make_shared<LrCallback>(interval_args(a)); }, src);
  r.add_callback("DatasetStatsCallback", [](InitArgs&) { return std::make_shared<DatasetStatsCallback>(); }, src);
  r.add_callback("ParamCountCallback", [](InitArgs&) { return std::make_shared<ParamCountCallback>(); }, src);
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
  register_ksuit_callbacks(registry);
  register_loggers(registry);
  register_models_and_data(registry);
}

}  // namespace volt
