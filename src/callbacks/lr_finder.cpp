// The learning-rate finder, following Lightning 2.2.5's tuner/lr_finder.py (see the header for where volt differs).
#include "volt/callbacks/lr_finder.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "volt/detail/atomic_file.hpp"
#include "volt/error.hpp"
#include "volt/messages.hpp"
#include "volt/optim/optimizer_state.hpp"
#include "volt/serialization/python_repr.hpp"
#include "volt/trainer.hpp"
#include "search_trial.hpp"

namespace volt {
namespace {

using detail::concat;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string g17(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

std::string fmt(double x, const char* spec = "%.4g") {
  char buf[40];
  std::snprintf(buf, sizeof buf, spec, x);
  return buf;
}

// Lightning's _LRCallback: records the lr before and the smoothed loss after every optimizer step.
class LRCallback : public Callback {
 public:
  LRCallback(const LearningRateFinderOptions& options, std::string mode)
      : options_(options), mode_(std::move(mode)) {}
  std::string class_name() const override { return "_LRCallback"; }

  // Lightning's _exchange_scheduler, done once the nested trainer has built the optimizer.
  void on_fit_start(Trainer& trainer, Module&) override {
    VOLT_CHECK(trainer.optimizers().size() == 1, "`model.configure_optimizers()` returned ",
               trainer.optimizers().size(), ", but learning rate finder only works with single optimizer");
    auto& optimizer = *trainer.optimizers()[0];
    for (auto& group : optimizer.param_groups()) {
      group.options().set_lr(options_.min_lr);
      param_group_extras(group).set("initial_lr", options_.min_lr);
    }
    LRSchedulerConfig config;
    if (mode_ == "linear")
      config.scheduler = std::make_shared<LRFinderLinearLR>(optimizer, options_.max_lr, options_.num_training_steps);
    else
      config.scheduler =
          std::make_shared<LRFinderExponentialLR>(optimizer, options_.max_lr, options_.num_training_steps);
    config.interval = "step";
    auto& configs = trainer.mutable_lr_scheduler_configs();
    configs.clear();
    configs.push_back(config);
  }

  void on_train_batch_start(Trainer& trainer, Module&, const Batch&, int64_t batch_idx) override {
    total_batch_idx = batch_idx;
    if ((batch_idx + 1) % trainer.accumulate_grad_batches() != 0) return;
    lrs.push_back(trainer.optimizers()[0]->param_groups()[0].options().get_lr());
  }

  void on_train_batch_end(Trainer& trainer, Module&, const StepOutput& outputs, const Batch&,
                          int64_t batch_idx) override {
    if ((batch_idx + 1) % trainer.accumulate_grad_batches() != 0) return;
    torch::Tensor loss;
    if (outputs.isTensor()) loss = outputs.toTensor();
    else if (outputs.isGenericDict() && outputs.toGenericDict().contains("loss") &&
             outputs.toGenericDict().at("loss").isTensor())
      loss = outputs.toGenericDict().at("loss").toTensor();
    if (!loss.defined()) {  // training_step returned None: a NaN keeps lrs and losses aligned
      losses.push_back(std::numeric_limits<double>::quiet_NaN());
      return;
    }
    const double current = loss.item<double>();
    const int64_t step = trainer.global_step();
    avg_loss_ = kBeta * avg_loss_ + (1 - kBeta) * current;
    const double smoothed = avg_loss_ / (1 - std::pow(kBeta, static_cast<double>(step + 1)));
    if (options_.early_stop_threshold && step > 1 && smoothed > *options_.early_stop_threshold * best_loss_)
      trainer.should_stop = true;
    if (smoothed < best_loss_ || step == 1) best_loss_ = smoothed;
    losses.push_back(smoothed);
  }

  std::vector<double> lrs, losses;
  int64_t total_batch_idx = 0;

 private:
  static constexpr double kBeta = 0.98;
  LearningRateFinderOptions options_;
  std::string mode_;
  double avg_loss_ = 0.0;
  double best_loss_ = 0.0;
};

// Lightning's _determine_lr_attr_name, over module.hparams().
std::string lr_attr_name(const Module& module, const std::string& attr_name) {
  const StateDict& h = module.hparams();
  if (!attr_name.empty()) {
    VOLT_CHECK(h.contains(attr_name), "The attribute name for the learning rate was set to ", attr_name,
               ", but could not find this as a field in `model` or `model.hparams`.");
    return attr_name;
  }
  for (const char* name : {"lr", "learning_rate"})
    if (h.contains(name)) return name;
  throw MisconfigurationError("When using the learning rate finder, either `model` or `model.hparams` should have "
                              "one of these fields: ('lr', 'learning_rate'). If your model has a different name for "
                              "the learning rate, set it with `.lr_find(attr_name=...)`. (volt looks in "
                              "module.hparams(); see Module::save_hyperparameters)");
}

std::string curve_dir(const Trainer& trainer) {
  for (const auto& logger : trainer.loggers())
    if (logger && !logger->log_dir().empty()) return logger->log_dir();
  return trainer.default_root_dir();
}

}  // namespace

// ---- sweep schedulers -------------------------------------------------------------------------------------------

LRFinderExponentialLR::LRFinderExponentialLR(torch::optim::Optimizer& optimizer, double end_lr, int64_t num_iter)
    : LRScheduler(optimizer), end_lr_(end_lr), num_iter_(num_iter) {
  VOLT_CHECK(num_iter > 0, "lr finder: num_training must be positive, got ", num_iter);
  initial_step();
}

std::vector<double> LRFinderExponentialLR::compute_lr() {
  const double r = static_cast<double>(last_epoch_ + 1) / static_cast<double>(num_iter_);
  std::vector<double> out;
  for (double base : base_lrs_) out.push_back(last_epoch_ > 0 ? base * std::pow(end_lr_ / base, r) : base);
  return out;
}

LRFinderLinearLR::LRFinderLinearLR(torch::optim::Optimizer& optimizer, double end_lr, int64_t num_iter)
    : LRScheduler(optimizer), end_lr_(end_lr), num_iter_(num_iter) {
  VOLT_CHECK(num_iter > 0, "lr finder: num_training must be positive, got ", num_iter);
  initial_step();
}

std::vector<double> LRFinderLinearLR::compute_lr() {
  const double r = static_cast<double>(last_epoch_ + 1) / static_cast<double>(num_iter_);
  std::vector<double> out;
  for (double base : base_lrs_) out.push_back(last_epoch_ > 0 ? base + r * (end_lr_ - base) : base);
  return out;
}

// ---- LRFinder -----------------------------------------------------------------------------------------------------

LRFinder::LRFinder(std::string mode, double lr_min, double lr_max, int64_t num_training)
    : mode(std::move(mode)), lr_min(lr_min), lr_max(lr_max), num_training(num_training) {}

std::optional<double> LRFinder::suggestion(int64_t skip_begin, int64_t skip_end) {
  // Python's losses[skip_begin:-skip_end]
  const auto n = static_cast<int64_t>(losses.size());
  auto clamp = [n](int64_t i) { return i < 0 ? std::max<int64_t>(0, n + i) : std::min(i, n); };
  const int64_t begin = clamp(skip_begin);
  const int64_t end = clamp(-skip_end);  // -0 is 0: an empty slice, as in Python
  std::vector<float> kept;               // torch.tensor(list of floats) is float32
  for (int64_t i = begin; i < end; ++i)
    if (std::isfinite(static_cast<float>(losses[static_cast<size_t>(i)])))
      kept.push_back(static_cast<float>(losses[static_cast<size_t>(i)]));
  if (kept.size() < 2) {
    rank_zero_warn("Failed to compute suggestion for learning rate because there are not enough points. Increase the "
                   "loop iteration limits or the size of your dataset/dataloader.");
    optimal_idx_.reset();
    return std::nullopt;
  }
  torch::Tensor t = torch::from_blob(kept.data(), {static_cast<int64_t>(kept.size())}, torch::kFloat).clone();
  torch::Tensor gradients = torch::gradient(t)[0];
  const int64_t min_grad = gradients.argmin().item<int64_t>();
  optimal_idx_ = min_grad + skip_begin;
  VOLT_CHECK(*optimal_idx_ < static_cast<int64_t>(lrs.size()), "lr finder: the suggestion index ", *optimal_idx_,
             " is outside the ", lrs.size(), " recorded learning rates");
  return lrs[static_cast<size_t>(*optimal_idx_)];
}

void LRFinder::write_csv(const std::string& path) const {
  std::ostringstream out;
  out << "lr,loss\n";
  for (size_t i = 0; i < lrs.size(); ++i)
    out << g17(lrs[i]) << "," << (i < losses.size() ? g17(losses[i]) : "nan") << "\n";
  detail::atomic_write_file(path, out.str());
}

void LRFinder::write_svg(const std::string& path, bool suggest) {
  const bool log_x = mode == "exponential";
  std::vector<std::pair<double, double>> points;
  for (size_t i = 0; i < lrs.size() && i < losses.size(); ++i)
    if (std::isfinite(losses[i]) && (!log_x || lrs[i] > 0)) points.emplace_back(lrs[i], losses[i]);
  const double width = 640, height = 420, left = 70, right = 20, top = 20, bottom = 50;
  auto xv = [&](double lr) { return log_x ? std::log10(lr) : lr; };
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (!points.empty()) {
    x0 = x1 = xv(points[0].first);
    y0 = y1 = points[0].second;
    for (const auto& p : points) {
      x0 = std::min(x0, xv(p.first));
      x1 = std::max(x1, xv(p.first));
      y0 = std::min(y0, p.second);
      y1 = std::max(y1, p.second);
    }
  }
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1;
  auto sx = [&](double lr) { return left + (xv(lr) - x0) / (x1 - x0) * (width - left - right); };
  auto sy = [&](double loss) { return top + (y1 - loss) / (y1 - y0) * (height - top - bottom); };
  std::ostringstream out;
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  const double ax = left, ay = height - bottom;
  out << "<line x1=\"" << ax << "\" y1=\"" << top << "\" x2=\"" << ax << "\" y2=\"" << ay << "\" stroke=\"black\"/>\n"
      << "<line x1=\"" << ax << "\" y1=\"" << ay << "\" x2=\"" << width - right << "\" y2=\"" << ay
      << "\" stroke=\"black\"/>\n";
  for (int i = 0; i <= 4; ++i) {  // ticks: 5 per axis (decades' fractions on a log axis)
    const double fx = x0 + (x1 - x0) * i / 4.0, fy = y0 + (y1 - y0) * i / 4.0;
    const double px = left + (width - left - right) * i / 4.0, py = ay - (height - top - bottom) * i / 4.0;
    out << "<line x1=\"" << px << "\" y1=\"" << ay << "\" x2=\"" << px << "\" y2=\"" << ay + 5
        << "\" stroke=\"black\"/><text x=\"" << px << "\" y=\"" << ay + 18 << "\" text-anchor=\"middle\">"
        << fmt(log_x ? std::pow(10.0, fx) : fx) << "</text>\n";
    out << "<line x1=\"" << ax - 5 << "\" y1=\"" << py << "\" x2=\"" << ax << "\" y2=\"" << py
        << "\" stroke=\"black\"/><text x=\"" << ax - 8 << "\" y=\"" << py + 4 << "\" text-anchor=\"end\">" << fmt(fy)
        << "</text>\n";
  }
  out << "<text x=\"" << (left + width - right) / 2 << "\" y=\"" << height - 10
      << "\" text-anchor=\"middle\">Learning rate" << (log_x ? " (log scale)" : "") << "</text>\n"
      << "<text x=\"15\" y=\"" << (top + ay) / 2 << "\" text-anchor=\"middle\" transform=\"rotate(-90 15 "
      << (top + ay) / 2 << ")\">Loss</text>\n";
  out << "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"";
  for (const auto& p : points) out << fmt(sx(p.first), "%.2f") << "," << fmt(sy(p.second), "%.2f") << " ";
  out << "\"/>\n";
  if (suggest && suggestion() && optimal_idx_ && std::isfinite(losses[static_cast<size_t>(*optimal_idx_)])) {
    const auto i = static_cast<size_t>(*optimal_idx_);
    out << "<circle cx=\"" << fmt(sx(lrs[i]), "%.2f") << "\" cy=\"" << fmt(sy(losses[i]), "%.2f")
        << "\" r=\"5\" fill=\"red\"/>\n";
  }
  out << "</svg>\n";
  detail::atomic_write_file(path, out.str());
}

// ---- the search ---------------------------------------------------------------------------------------------------

std::optional<LRFinder> lr_find(Trainer& trainer, Module& module, const LearningRateFinderOptions& options,
                                std::shared_ptr<DataLoader> train_dataloader,
                                std::shared_ptr<DataLoader> val_dataloader, DataModule* datamodule) {
  const std::string mode = lower(options.mode);
  VOLT_CHECK(mode == "linear" || mode == "exponential", "`mode` should be either of ('linear', 'exponential')");
  VOLT_CHECK(options.num_training_steps > 0, "lr finder: num_training_steps must be positive, got ",
             options.num_training_steps);
  if (trainer.options().fast_dev_run) {
    rank_zero_warn("Skipping learning rate finder since `fast_dev_run` is enabled.");
    return std::nullopt;
  }
  std::string attr;
  if (options.update_attr) attr = lr_attr_name(module, options.attr_name);

  // the "temporary checkpoint": weights and buffers, and the random number generator (isolate_rng)
  std::vector<std::pair<torch::Tensor, torch::Tensor>> snapshot;
  {
    torch::NoGradGuard no_grad;
    for (const auto& p : module.parameters()) snapshot.emplace_back(p, p.detach().clone());
    for (const auto& b : module.buffers()) snapshot.emplace_back(b, b.detach().clone());
  }
  auto generator = at::detail::getDefaultCPUGenerator();
  auto rng_state = generator.get_state();

  auto recorder = std::make_shared<LRCallback>(options, mode);
  TrainerOptions o = detail::search_trial_options(trainer.options(), options.num_training_steps, {recorder});
  LRFinder finder(mode, options.min_lr, options.max_lr, options.num_training_steps);
  int64_t steps = 0;
  auto restore = [&]() {
    torch::NoGradGuard no_grad;
    for (auto& kv : snapshot) kv.first.copy_(kv.second);
    generator.set_state(rng_state);
    trainer.reattach(module);
  };
  try {
    Trainer search(o);
    if (train_dataloader) search.fit(module, train_dataloader, val_dataloader);
    else search.fit(module, datamodule ? datamodule : trainer.datamodule());
    steps = search.global_step();
  } catch (...) {
    restore();
    throw;
  }
  restore();
  if (steps != options.num_training_steps)
    rank_zero_info(concat("LR finder stopped early after ", steps, " steps due to diverging loss."));
  finder.lrs = recorder->lrs;
  finder.losses = recorder->losses;
  finder.total_batch_idx = recorder->total_batch_idx;

  if (options.update_attr) {
    if (auto lr = finder.suggestion()) {
      StateDict hparams = module.hparams();  // shares storage: this writes the module's hparams
      hparams.set(attr, *lr);
      rank_zero_info("Learning rate set to " + python_float_repr(*lr));
    }
  }
  if (options.write_curve) {
    const std::string dir = curve_dir(trainer);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    finder.write_csv((std::filesystem::path(dir) / "lr_find.csv").string());
    finder.write_svg((std::filesystem::path(dir) / "lr_find.svg").string());
  }
  return finder;
}

LearningRateFinder::LearningRateFinder(LearningRateFinderOptions options) : options_(std::move(options)) {
  options_.mode = lower(options_.mode);
  VOLT_CHECK(options_.mode == "linear" || options_.mode == "exponential",
             "`mode` should be either of ('linear', 'exponential')");
}

void LearningRateFinder::on_fit_start(Trainer& trainer, Module& module) { lr_find(trainer, module); }

void LearningRateFinder::lr_find(Trainer& trainer, Module& module) {
  optimal_lr_ = volt::lr_find(trainer, module, options_);
}

}  // namespace volt
