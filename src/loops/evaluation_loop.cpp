// Validation and test loops: Lightning's _EvaluationLoop (loops/evaluation_loop.py, 2.2).
#include <torch/torch.h>

#include "volt/detail/loops.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <set>

#include "volt/serialization/python_repr.hpp"
#include "volt/detail/overrides.hpp"
#include "volt/error.hpp"

namespace volt::detail {

int64_t limited_num_batches(int64_t length, const BatchLimit& limit, const char* option) {
  return limit.resolve(length, option);
}

EvaluationLoop::EvaluationLoop(Trainer& trainer, TrainerFn fn, EvalStage stage, bool inference_mode)
    : trainer_(trainer), fn_(fn), stage_(stage), inference_mode_(inference_mode) {}

bool EvaluationLoop::enabled() const {
  const Module& m = *trainer_.module_;
  return stage_ == EvalStage::kTest ? is_overridden(m, &Module::test_step) : is_overridden(m, &Module::validation_step);
}

const std::vector<int64_t>& EvaluationLoop::max_batches() const {
  return trainer_.sanity_checking() ? sanity_batches : limited_batches;
}

void EvaluationLoop::setup_data() {
  if (data_ready_ && fn_ == TrainerFn::kFitting) return;  // fit requests the val loader once
  const auto& o = trainer_.options();
  const BatchLimit& limit = stage_ == EvalStage::kTest ? o.limit_test_batches : o.limit_val_batches;
  if (limit.is_zero() || !enabled()) return;
  const char* kind = stage_ == EvalStage::kTest ? "test" : "val";
  auto loader = trainer_.request_dataloader(kind);
  trainer_.barrier(std::string(kind) + "_dataloader()");
  loaders_.clear();
  if (loader) loaders_.push_back(loader);
  limited_batches.clear();
  sanity_batches.clear();
  const char* option = stage_ == EvalStage::kTest ? "limit_test_batches" : "limit_val_batches";
  for (const auto& dl : loaders_) {
    int64_t n = limited_num_batches(dl->size(), limit, option);
    limited_batches.push_back(n);
    int64_t sanity = o.num_sanity_val_steps < 0 ? n : std::min(o.num_sanity_val_steps, n);
    sanity_batches.push_back(sanity);
  }
  data_ready_ = true;
}

void EvaluationLoop::reset() {
  has_run = false;
  if (!restarting) batch_progress.reset_on_run();
  else batch_progress.reset_on_restart();
  // validate/test have no epochs: a new run always starts from the first batch
  if (trainer_.fn() != TrainerFn::kFitting) batch_progress.reset_on_run();
  if (trainer_.fn() == TrainerFn::kFitting)
    for (auto& dl : loaders_) dl->set_epoch(trainer_.fit_loop_->epoch_progress.current.processed);
  seen_batches_.assign(loaders_.size(), 0);
}

void ModuleMode::capture(const torch::nn::Module& root) {
  flags_.clear();
  flags_.push_back(root.is_training());
  for (const auto& m : root.modules(/*include_self=*/false)) flags_.push_back(m->is_training());
}

void ModuleMode::restore(torch::nn::Module& root) const {
  if (flags_.empty()) return;
  // Pre-order, so a parent's train(flag) is corrected by its children afterwards.
  root.train(flags_[0]);
  auto modules = root.modules(/*include_self=*/false);
  for (size_t i = 0; i < modules.size() && i + 1 < flags_.size(); ++i)
    if (modules[i]->is_training() != flags_[i + 1]) modules[i]->train(flags_[i + 1]);
}

std::vector<MetricMap> EvaluationLoop::run() {
  // Inside fit: no_grad; validate/test: inference mode unless the trainer turned it off.
  std::optional<torch::NoGradGuard> no_grad;
  std::optional<c10::InferenceMode> inference;
  if (inference_mode_) inference.emplace();
  else no_grad.emplace();

  setup_data();
  int64_t total = 0;
  for (auto n : max_batches()) total += n;
  if (total == 0) return {};
  reset();

  HookCaller& hooks = *trainer_.hooks_;
  module_mode_.capture(*trainer_.module_);
  hooks.eval_model_eval(stage_);
  hooks.eval_start(stage_);
  hooks.eval_epoch_start(stage_);

  std::vector<MetricMap> logged_outputs;
  const auto limits = max_batches();
  const bool several = loaders_.size() > 1;
  int64_t seen_before = batch_progress.current.ready;  // a restarted loop skips what it already ran
  for (size_t dl_idx = 0; dl_idx < loaders_.size(); ++dl_idx) {
    if (dl_idx > 0) logged_outputs.push_back(store_dataloader_outputs());
    for (int64_t batch_idx = 0; batch_idx < limits[dl_idx]; ++batch_idx) {
      if (seen_before > 0) {
        --seen_before;
        continue;
      }
      bool last_loader = dl_idx + 1 == loaders_.size();
      batch_progress.is_last_batch = last_loader && batch_idx + 1 == limits[dl_idx];
      Batch batch;
      {
        ActionScope profile(hooks.profiler(), stage_ == EvalStage::kTest ? actions::kTestNext : actions::kValNext);
        batch = loaders_[dl_idx]->batch(batch_idx);
      }
      evaluation_step(batch, batch_idx, several ? static_cast<int64_t>(dl_idx) : 0);
    }
  }
  restarting = false;
  logged_outputs.push_back(store_dataloader_outputs());

  // on_run_end
  trainer_.epoch_end_reached();
  results.dataloader_idx.reset();
  hooks.eval_epoch_end(stage_);
  trainer_.on_epoch_end_logging();
  MetricMap epoch_end_logged = trainer_.update_eval_epoch_metrics();
  MetricMap all_logged;
  for (auto& outputs : logged_outputs) {
    for (const auto& kv : outputs) all_logged.insert(kv);
    for (const auto& kv : epoch_end_logged) outputs[kv.first] = kv.second;
  }
  for (const auto& kv : epoch_end_logged) all_logged[kv.first] = kv.second;
  if (!trainer_.sanity_checking()) trainer_.log_metrics(all_logged);
  hooks.eval_end(stage_);
  trainer_.reset_results();
  const Module& m = *trainer_.module_;
  bool custom_train = stage_ == EvalStage::kTest ? is_overridden(m, &Module::on_test_model_train)
                                                 : is_overridden(m, &Module::on_validation_model_train);
  if (custom_train) hooks.eval_model_train(stage_);
  else module_mode_.restore(*trainer_.module_);
  if (verbose && trainer_.is_global_zero())
    print_results(logged_outputs, fn_ == TrainerFn::kTesting ? "test" : "validate", std::cout);
  return logged_outputs;
}

int terminal_columns() {
  // Python's shutil.get_terminal_size(fallback=(120, 30)).columns: $COLUMNS, else the terminal, else 120
  if (const char* env = std::getenv("COLUMNS")) {
    int columns = std::atoi(env);
    if (columns > 0) return columns;
  }
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 120;
}

namespace {
// Python's "{:^N}".format(text) for ASCII/UTF-8 text (width counted in code points).
std::string centered(const std::string& text, std::size_t width) {
  std::size_t length = 0;
  for (unsigned char c : text) length += (c & 0xC0) != 0x80;
  if (length >= width) return text;
  std::size_t left = (width - length) / 2;
  return std::string(left, ' ') + text + std::string(width - length - left, ' ');
}

std::string rstripped(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::string value_text(const torch::Tensor& value) {
  if (value.numel() != 1) {  // Python prints tensor.tolist()
    auto flat = value.to(torch::kDouble).flatten().contiguous();
    return python_repr(c10::IValue(std::vector<double>(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel())));
  }
  if (value.is_floating_point()) return python_float_repr(value.item<double>());
  if (value.scalar_type() == torch::kBool) return value.item<bool>() ? "True" : "False";
  return std::to_string(value.item<int64_t>());
}
}  // namespace

void print_results(const std::vector<MetricMap>& results, const std::string& stage, std::ostream& out) {
  // Lightning 2.2.5's _EvaluationLoop._print_results, the layout it prints when `rich` is not installed
  std::vector<std::map<std::string, torch::Tensor>> stripped;
  std::set<std::string> names;
  for (const auto& result : results) {
    std::map<std::string, torch::Tensor> metrics;
    for (const auto& kv : result) {
      std::string name = kv.first.substr(0, kv.first.find("/dataloader_idx_"));
      metrics[name] = kv.second;
      names.insert(name);
    }
    stripped.push_back(std::move(metrics));
  }
  if (names.empty()) return;
  std::vector<std::string> headers;
  for (std::size_t i = 0; i < results.size(); ++i) headers.push_back("DataLoader " + std::to_string(i));
  const int columns = terminal_columns();
  std::size_t longest = 0;
  for (const auto& n : names) longest = std::max(longest, n.size());
  for (const auto& h : headers) longest = std::max(longest, h.size());
  const std::size_t width = static_cast<std::size_t>(std::min<double>(std::max<std::size_t>(longest, 25), columns / 2));
  const std::size_t per_table = std::max<std::size_t>(1, static_cast<std::size_t>((columns - double(width)) / width));
  std::string bar;
  for (int i = 0; i < columns; ++i) bar += "\u2500";
  std::string title = stage + " metric";
  title[0] = static_cast<char>(std::toupper(title[0]));
  for (std::size_t first = 0; first < headers.size(); first += per_table) {
    std::size_t last = std::min(headers.size(), first + per_table);
    std::string header = centered(title, width);
    for (std::size_t i = first; i < last; ++i) header += centered(headers[i], width);
    out << bar << "\n" << rstripped(header) << "\n" << bar << "\n";
    const std::size_t half = static_cast<std::size_t>(columns / 2);
    for (const auto& name : names) {
      std::string values;
      for (std::size_t i = first; i < last; ++i) {
        auto it = stripped[i].find(name);
        values += centered(it == stripped[i].end() ? " " : value_text(it->second), width);
      }
      // a name wider than half the terminal is cut into pieces; each piece repeats the values, the rest has none
      std::string metric = name;
      if (metric.size() > half) {
        while (metric.size() > half) {
          out << rstripped(centered(metric.substr(0, half), width) + values) << "\n";
          metric = metric.substr(half);
        }
        out << rstripped(centered(metric, width) + centered(" ", width)) << "\n";
      } else {
        out << rstripped(centered(metric, width) + values) << "\n";
      }
    }
    out << bar << std::endl;
  }
}

void EvaluationLoop::evaluation_step(const Batch& raw, int64_t batch_idx, int64_t dataloader_idx) {
  HookCaller& hooks = *trainer_.hooks_;
  Batch batch = hooks.transfer_batch(raw, dataloader_idx);
  batch_progress.increment_ready();
  trainer_.on_batch_start_logging(batch, loaders_.size() > 1 ? std::optional<int64_t>(dataloader_idx) : std::nullopt);
  hooks.eval_batch_start(stage_, batch, batch_idx, dataloader_idx);
  batch_progress.increment_started();
  StepOutput output = hooks.eval_step(stage_, batch, batch_idx, dataloader_idx);
  batch_progress.increment_processed();
  hooks.eval_batch_end(stage_, output, batch, batch_idx, dataloader_idx);
  trainer_.on_batch_end_logging();
  batch_progress.increment_completed();
  if (!trainer_.sanity_checking()) {
    has_run = true;
    trainer_.log_metrics(trainer_.live_metrics().log, seen_batches_[dataloader_idx]);
    ++seen_batches_[dataloader_idx];
  }
  if (!batch_progress.is_last_batch) trainer_.handle_preemption_signal();
}

MetricMap EvaluationLoop::store_dataloader_outputs() {
  trainer_.epoch_end_reached();
  return trainer_.update_eval_epoch_metrics();
}

StateDict EvaluationLoop::state_dict() const {
  return {{"state_dict", StateDict()}, {"batch_progress", batch_progress.state_dict()}};
}

void EvaluationLoop::load_state_dict(const StateDict& state, const std::string& where) {
  if (state.contains("batch_progress"))
    batch_progress.load_state_dict(as_state(state.at("batch_progress"), where + ".batch_progress"),
                                   where + ".batch_progress");
  restarting = true;
}

}  // namespace volt::detail
