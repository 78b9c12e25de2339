// Checkpoints: the dict in Lightning's layout (spec §3.1), atomic writes, ckpt_path resolution and restore in
// Lightning 2.2's order (trainer/connectors/checkpoint_connector.py).
#include <fcntl.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <vector>

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include "volt/callbacks/checkpoint.hpp"
#include "volt/callbacks/model_pruning.hpp"
#include "volt/callbacks/on_exception_checkpoint.hpp"
#include "volt/detail/atomic_file.hpp"
#include "volt/detail/loops.hpp"
#include "volt/error.hpp"
#include "volt/messages.hpp"
#include "volt/optim.hpp"
#include "volt/serialization/pickle_reader.hpp"
#include "volt/trainer.hpp"

namespace fs = std::filesystem;

namespace volt {
namespace {

/// The Lightning release whose checkpoint layout volt writes (Python's migrations key off it).
constexpr const char* kLightningVersion = "2.2.5";
/// The top-level key of volt's resume state (Trainer::resume_state).
constexpr const char* kResumeKey = "volt_resume";

// Every checkpoint file goes through detail::atomic_write_file (temporary file, fsync, rename, fsync of the
// directory): a crash leaves the old file or the new one, never a torn one. The bytes are torch::pickle_save's
// (the pickle, then each tensor's storage as a zip record), streamed into the file as they are produced: a
// checkpoint is never held in memory a second time, which makes large saves as fast as torch::save.
void write_checkpoint_file(const std::string& path, const IValue& object) {
  try {
    detail::atomic_write_file(path, [&](const detail::ByteSink& sink) {
      std::vector<char> pickle;
      torch::jit::Pickler pickler(
          [&](const char* bytes, size_t size) { pickle.insert(pickle.end(), bytes, bytes + size); });
      pickler.protocol();
      pickler.pushIValue(object);
      pickler.stop();
      caffe2::serialize::PyTorchStreamWriter zip([&](const void* bytes, size_t size) {
        sink(bytes, size);
        return size;
      });
      torch::jit::writeArchiveAndTensors("data", pickle.data(), pickle.size(), pickler.tensorData(), zip);
      zip.writeEndOfFile();
    });
  } catch (const detail::AtomicWriteError& e) {
    throw CheckpointError(std::string("Checkpoint not saved. ") + e.what());
  }
}

}  // namespace

// Staging memory for asynchronous checkpoints. Copying a snapshot into freshly allocated memory is bound by page
// faults (2.3 GB/s measured for 5.4 MB); the tensors of a snapshot that has been written are therefore kept and
// refilled by the next save of tensors of the same dtype, sizes and strides.
class detail::SnapshotBuffers {
 public:
  /// A copy of `t` that nothing else references, in a kept buffer when one fits.
  torch::Tensor copy_of(const torch::Tensor& t) {
    auto source = t.detach();
    if (source.layout() != torch::kStrided) return source.clone();  // sparse and others: no strides to key on
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(key(source));
      if (it != free_.end() && !it->second.empty()) {
        torch::Tensor buffer = std::move(it->second.back());
        it->second.pop_back();
        buffer.copy_(source);
        return buffer;
      }
    }
    return source.clone();  // the same strides as `source` when it is dense (what key() assumes)
  }
  /// Called by the writer once a snapshot is on disk: its tensors become buffers again, unless still referenced.
  void give_back(std::vector<torch::Tensor>& tensors) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& t : tensors)
      if (t.use_count() == 1 && t.layout() == torch::kStrided) free_[key(t)].push_back(std::move(t));
    tensors.clear();
  }

 private:
  static std::string key(const torch::Tensor& t) {
    std::ostringstream k;
    k << t.dtype() << t.device() << t.sizes();
    if (t.is_non_overlapping_and_dense()) k << t.strides();  // clone() keeps them; otherwise it makes it contiguous
    return k.str();
  }
  std::mutex mutex_;
  std::unordered_map<std::string, std::vector<torch::Tensor>> free_;
};

namespace {

// The object torch::pickle_save writes, for synchronous and asynchronous saves alike. Dicts, lists and tuples are
// rebuilt and every tensor is replaced by a new handle: a detached alias (copies == nullptr) or a detached copy
// (a background thread may then pickle it while training changes the originals). A tensor that occurs twice stays
// one object. Why rebuild for synchronous saves too: torch's pickler memoizes an object when its reference count
// is above one, so the bytes would depend on who else holds a tensor (the optimizer holds its momentum buffers);
// with fresh handles both kinds of save write byte-identical files (and so nothing else may hold the copies while
// they are pickled).
IValue pickle_view(const IValue& value, detail::SnapshotBuffers* copies,
                   std::unordered_map<const c10::TensorImpl*, torch::Tensor>& seen) {
  if (value.isTensor()) {
    const torch::Tensor& t = value.toTensor();
    if (!t.defined()) return value;
    auto it = seen.find(t.unsafeGetTensorImpl());
    if (it != seen.end()) return it->second;
    torch::Tensor handle = copies ? copies->copy_of(t) : t.detach();
    seen.emplace(t.unsafeGetTensorImpl(), handle);
    return handle;
  }
  auto recurse = [&](const IValue& item) { return pickle_view(item, copies, seen); };
  if (value.isGenericDict()) {
    auto dict = value.toGenericDict();
    c10::impl::GenericDict out(dict.keyType(), dict.valueType());
    for (const auto& item : dict) out.insert(item.key(), recurse(item.value()));
    return out;
  }
  if (value.isList()) {
    auto list = value.toList();
    c10::impl::GenericList out(list.elementType());
    for (const auto& item : list) out.push_back(recurse(item));
    return out;
  }
  if (value.isTuple()) {
    std::vector<IValue> items;
    for (const auto& item : value.toTupleRef().elements()) items.push_back(recurse(item));
    return c10::ivalue::Tuple::create(std::move(items));
  }
  return value;
}

IValue pickle_view(const IValue& value, detail::SnapshotBuffers* copies = nullptr) {
  std::unordered_map<const c10::TensorImpl*, torch::Tensor> seen;
  return pickle_view(value, copies, seen);  // `seen` goes before pickling: only real repeats count as shared
}

// Every distinct tensor in `value`, once each.
void collect_tensors(const IValue& value, std::vector<torch::Tensor>& out,
                     std::unordered_map<const c10::TensorImpl*, bool>& seen) {
  if (value.isTensor()) {
    if (value.toTensor().defined() && seen.emplace(value.toTensor().unsafeGetTensorImpl(), true).second)
      out.push_back(value.toTensor());
  } else if (value.isGenericDict()) {
    for (const auto& item : value.toGenericDict()) collect_tensors(item.value(), out, seen);
  } else if (value.isList()) {
    for (const auto& item : value.toList()) collect_tensors(item, out, seen);
  } else if (value.isTuple()) {
    for (const auto& item : value.toTupleRef().elements()) collect_tensors(item, out, seen);
  }
}

StateDict require_dict(const StateDict& checkpoint, const std::string& key, const std::string& file) {
  if (!checkpoint.contains(key))
    throw CheckpointError("Checkpoint '" + file + "' has no '" + key + "' key; it is not a volt/Lightning checkpoint");
  return as_state(checkpoint.at(key), "checkpoint '" + file + "' key '" + key + "'");
}

}  // namespace

// ---- save -----------------------------------------------------------------------------------------------------

StateDict Trainer::dump_checkpoint(bool weights_only) {
  VOLT_CHECK(module_ != nullptr, "Saving a checkpoint is only possible if a model is attached to the Trainer. Did you "
             "call `Trainer.save_checkpoint()` before calling `Trainer.{fit,validate,test,predict}`?");
  StateDict model_state;
  append_module_state(*module_, "", model_state);
  StateDict checkpoint{{"epoch", current_epoch()},
                       {"global_step", global_step()},
                       {"pytorch-lightning_version", std::string(kLightningVersion)},
                       {"volt_version", std::string(VOLT_VERSION)},
                       // volt's resume state next to its version (Python's Lightning ignores unknown top-level
                       // keys): what a bit-identical resume needs beyond Lightning's loop progress
                       {kResumeKey, resume_state()},
                       {"state_dict", model_state},
                       {"loops", StateDict{{"fit_loop", fit_loop_->state_dict()},
                                           {"validate_loop", validate_loop_->state_dict()},
                                           {"test_loop", test_loop_->state_dict()},
                                           {"predict_loop", predict_loop_->state_dict()}}}};
  if (!weights_only) {
    checkpoint.set("callbacks", hooks_->callback_states());
    c10::impl::GenericList optimizer_states(c10::AnyType::get());
    for (const auto& opt : optimizers_) optimizer_states.push_back(optimizer_state_dict(*opt).ivalue());
    checkpoint.set("optimizer_states", optimizer_states);
    c10::impl::GenericList schedulers(c10::AnyType::get());
    for (const auto& config : lr_scheduler_configs_) schedulers.push_back(config.scheduler->state_dict().ivalue());
    checkpoint.set("lr_schedulers", schedulers);
  }
  if (!module_->hparams().empty()) {
    checkpoint.set("hparams_name", std::string("kwargs"));
    checkpoint.set("hyper_parameters", module_->hparams().copy());
  }
  if (datamodule_ != nullptr) {
    if (!datamodule_->hparams().empty()) {
      checkpoint.set("datamodule_hparams_name", std::string("kwargs"));
      checkpoint.set("datamodule_hyper_parameters", datamodule_->hparams().copy());
    }
    StateDict dm_state = datamodule_->state_dict();
    if (!dm_state.empty()) checkpoint.set(datamodule_->class_name(), dm_state);
  }
  if (!weights_only) hooks_->callbacks_save_checkpoint(checkpoint);
  hooks_->module_save_checkpoint(checkpoint);
  return checkpoint;
}

// What Lightning 2.2 does not save but an exact resume needs (docs/reliability.md):
// - torch_cpu_rng: the default CPU generator (dropout, torch::rand in steps). Lightning resumes with whatever
//   seed_everything left, so its dropout masks after a resume differ from an uninterrupted run's.
// - train_loader: the training loader's state_dict (its epoch and shuffle seed; a custom loader may keep more).
//   Lightning keeps this under loops.fit_loop.state_dict.combined_loader only for stateful loaders; putting it
//   there would make Python's Lightning fail to load the file ("0 stateful loaders but found 1 states").
// - accumulated_grads: the gradients summed so far when the checkpoint falls inside an accumulate_grad_batches
//   window. Lightning's ModelCheckpoint only saves mid-epoch at optimizer steps (every_n_train_steps counts
//   global steps), where the gradients are about to be zeroed anyway; but trainer.save_checkpoint from a callback
//   may run after any batch, and dropping the partial sum would train the rest of the window on a fraction of
//   its gradient. volt saves it, so a resume from inside a window is bit-identical too.
// CUDA generators are not saved: volt's tests and targets are CPU builds (documented as a limit).
StateDict Trainer::resume_state() const {
  StateDict state{{"format", int64_t(1)}};
  {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    state.set("torch_cpu_rng", generator.get_state());
  }
  if (fit_loop_ && fit_loop_->train_loader) state.set("train_loader", fit_loop_->train_loader->state_dict());
  if (fn_ == TrainerFn::kFitting && running_ && module_ != nullptr && module_->automatic_optimization) {
    const auto& epoch_loop = fit_loop_->epoch_loop;
    const int64_t processed = epoch_loop.batch_progress.current.processed;
    if (processed > 0 && epoch_loop.batch_only_accumulated(processed)) {
      c10::impl::GenericDict grads(c10::StringType::get(), c10::AnyType::get());
      for (const auto& p : module_->named_parameters())
        grads.insert(p.key(), p.value().grad().defined() ? IValue(p.value().grad().detach().clone()) : IValue());
      state.set("accumulated_grads", grads);
    }
  }
  return state;
}

void Trainer::apply_pending_resume() {
  if (!pending_resume_) return;
  StateDict state = std::move(*pending_resume_);
  pending_resume_.reset();
  const std::string where = "checkpoint '" + ckpt_path_ + "' key '" + kResumeKey + "'";
  if (state.contains("torch_cpu_rng")) {
    IValue rng = state.at("torch_cpu_rng");
    if (!rng.isTensor()) throw CheckpointError(where + ".torch_cpu_rng: expected a tensor");
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(rng.toTensor());
  }
  if (state.contains("accumulated_grads")) {
    StateDict grads = as_state(state.at("accumulated_grads"), where + ".accumulated_grads");
    torch::NoGradGuard no_grad;
    for (auto& p : module_->named_parameters()) {
      if (!grads.contains(p.key())) continue;
      IValue g = grads.at(p.key());
      if (g.isNone()) {
        p.value().mutable_grad() = torch::Tensor();
      } else if (g.isTensor() && g.toTensor().sizes() == p.value().sizes()) {
        p.value().mutable_grad() = g.toTensor().to(p.value().device()).clone();
      } else {
        throw CheckpointError(where + ".accumulated_grads." + p.key() + ": expected a tensor shaped like the parameter");
      }
    }
  }
}

void Trainer::save_checkpoint(const std::string& path, bool weights_only, bool async_write) {
  VOLT_CHECK(!path.empty(), "Trainer::save_checkpoint: the path is empty");
  StateDict checkpoint = dump_checkpoint(weights_only);  // every rank runs the hooks
  if (is_global_zero()) {
    if (async_write) {
      if (!checkpoint_writer_)
        checkpoint_writer_ = std::make_unique<detail::BackgroundWriter>(
            static_cast<size_t>(std::max<int64_t>(1, options_.async_checkpoint_queue_size)));
      if (!snapshot_buffers_) snapshot_buffers_ = std::make_shared<detail::SnapshotBuffers>();
      // the only work on the training path: copying the tensors; pickling and writing happen in the background
      IValue snapshot = pickle_view(checkpoint.ivalue(), snapshot_buffers_.get());
      // moved, not copied: the task must hold the only reference (see pickle_view)
      checkpoint_writer_->submit([snapshot = std::move(snapshot), path, buffers = snapshot_buffers_]() mutable {
        write_checkpoint_file(path, snapshot);
        std::vector<torch::Tensor> copies;
        std::unordered_map<const c10::TensorImpl*, bool> seen;
        collect_tensors(snapshot, copies, seen);
        snapshot = IValue();
        buffers->give_back(copies);
      });
    } else {
      wait_for_checkpoints();  // earlier background writes land first (they may target the same file)
      write_checkpoint_file(path, pickle_view(checkpoint.ivalue()));
    }
  }
  barrier("Trainer.save_checkpoint");
}

void Trainer::wait_for_checkpoints() {
  if (checkpoint_writer_) checkpoint_writer_->wait();
}

void Trainer::after_pending_checkpoint_writes(std::function<void()> task) {
  if (checkpoint_writer_ && (checkpoint_writer_->busy() || checkpoint_writer_->failed()))
    checkpoint_writer_->submit(std::move(task), /*skip_if_earlier_failed=*/true);
  else
    task();
}

// ---- ckpt_path resolution -----------------------------------------------------------------------------------------

std::string Trainer::resolve_ckpt_path(const std::string& ckpt_path_in, bool /*model_connected*/) {
  // Lightning's _parse_ckpt_path; an empty ckpt_path is Python's None, and volt always has a model passed in.
  const std::string fn = stage_name(fn_);
  std::string ckpt_path = ckpt_path_in;
  // SLURM: a requeued job resumes from its newest hpc_ckpt_<n>.ckpt (Lightning's _hpc_resume_path)
  auto hpc_resume_path = [&]() -> std::string {
    std::error_code ec;
    std::optional<int64_t> best;
    if (fs::is_directory(default_root_dir(), ec))
      for (const auto& entry : fs::directory_iterator(default_root_dir(), ec)) {
        const std::string name = entry.path().filename().string();
        const auto at = name.rfind("hpc_ckpt_");
        if (at == std::string::npos) continue;
        std::string digits;
        for (char c : name.substr(at + 9))
          if (std::isdigit(static_cast<unsigned char>(c))) digits += c;
        if (digits.empty() || digits.size() > 18) continue;
        best = std::max(best.value_or(-1), static_cast<int64_t>(std::stoll(digits)));
      }
    return best ? (fs::path(default_root_dir()) / ("hpc_ckpt_" + std::to_string(*best) + ".ckpt")).string() : "";
  };
  const char* slurm_ntasks = std::getenv("SLURM_NTASKS");
  const char* slurm_job_name = std::getenv("SLURM_JOB_NAME");
  const bool on_slurm = slurm_ntasks != nullptr && (slurm_job_name == nullptr || (std::string(slurm_job_name) != "bash" &&
                                                                                  std::string(slurm_job_name) != "interactive"));
  if (ckpt_path.empty() && on_slurm && !hpc_resume_path().empty()) ckpt_path = "hpc";
  if (ckpt_path == "hpc") {
    std::string hpc = hpc_resume_path();
    if (hpc.empty())
      throw MisconfigurationError("`." + fn + "(ckpt_path=\"hpc\")` is set but no HPC checkpoint was found. Please "
                                  "pass an exact checkpoint path to `." + fn + "(ckpt_path=...)`");
    return hpc;
  }
  const bool has_on_exception_checkpoint =
      std::any_of(callbacks_.begin(), callbacks_.end(),
                  [](const CallbackPtr& cb) { return dynamic_cast<OnExceptionCheckpoint*>(cb.get()) != nullptr; });
  if (ckpt_path.empty() && has_on_exception_checkpoint && fn_ == TrainerFn::kFitting) {
    ckpt_path = "last";
    rank_zero_warn("`." + fn + "(ckpt_path=None)` was called without a model. The last model of the previous `fit` "
                   "call will be used. You can pass `" + fn + "(ckpt_path='best')` to use the best model or `" + fn +
                   "(ckpt_path='last')` to use the last model. If you pass a value, this warning will be silenced.");
  }
  if (ckpt_path.empty()) return "";  // use the passed model without loading weights
  if (ckpt_path == "best") {
    auto checkpoints = checkpoint_callbacks();
    if (checkpoints.size() > 1)
      rank_zero_warn("`." + fn + "(ckpt_path=\"best\")` is called with Trainer configured with multiple "
                     "`ModelCheckpoint` callbacks. It will use the best checkpoint path from first checkpoint callback.");
    if (checkpoints.empty())
      throw MisconfigurationError("`." + fn + "(ckpt_path=\"best\")` is set but `ModelCheckpoint` is not configured.");
    // OnExceptionCheckpoint has no best_model_path attribute in Lightning: its "best" is None
    const bool has_best_model_path = dynamic_cast<OnExceptionCheckpoint*>(checkpoints.front()) == nullptr;
    std::string best = checkpoints.front()->best_model_path();
    if (has_best_model_path && best.empty()) {
      if (options_.fast_dev_run > 0)
        throw MisconfigurationError("You cannot execute `." + fn + "(ckpt_path=\"best\")` with `fast_dev_run=True`. "
                                    "Please pass an exact checkpoint path to `." + fn + "(ckpt_path=...)`");
      throw MisconfigurationError("`." + fn + "(ckpt_path=\"best\")` is set but `ModelCheckpoint` is not configured "
                                  "to save the best model.");
    }
    if (best.empty())
      throw MisconfigurationError("`." + fn + "()` found no path for the best weights: None. Please specify a path "
                                  "for a checkpoint `." + fn + "(ckpt_path=PATH)`");
    return best;
  }
  if (ckpt_path == "last") {
    // the newest existing file among every OnExceptionCheckpoint's file and every ModelCheckpoint's last files
    std::string newest;
    fs::file_time_type newest_time;
    for (auto* cb : checkpoint_callbacks())
      for (const auto& path : cb->last_checkpoint_candidates()) {
        std::error_code ec;
        if (path.empty() || !fs::exists(path, ec)) continue;
        auto t = fs::last_write_time(path, ec);
        if (!ec && (newest.empty() || t > newest_time)) newest = path, newest_time = t;
      }
    if (newest.empty())
      rank_zero_warn("." + fn + "(ckpt_path=\"last\") is set, but there is no last checkpoint available. No "
                     "checkpoint will be loaded. HINT: Set `ModelCheckpoint(..., save_last=True)`.");
    return newest;
  }
  return ckpt_path;
}

// ---- restore --------------------------------------------------------------------------------------------------

void Trainer::restore_modules_and_callbacks(const std::string& path) {
  rank_zero_info("Restoring states from the checkpoint path at " + path);
  wait_for_checkpoints();  // the file may still be on its way to disk
  IValue loaded = read_checkpoint_file(path);
  StateDict checkpoint = as_state(loaded, "checkpoint '" + path + "'");
  for (const char* key : {"state_dict", "pytorch-lightning_version"})
    if (!checkpoint.contains(key))
      throw CheckpointError("Checkpoint '" + path + "' has no '" + key + "' key; it is not a volt/Lightning checkpoint");
  loaded_checkpoint_ = checkpoint;

  // model: on_load_checkpoint, then the weights
  hooks_->module_load_checkpoint(checkpoint);
  StateDict weights = require_dict(checkpoint, "state_dict", path);
  // volt: a checkpoint saved while pruned (X_orig/X_mask) gets its reparametrisation back before the strict load
  for (const auto& cb : callbacks_)
    if (auto* pruning = dynamic_cast<ModelPruning*>(cb.get())) pruning->prepare_state_dict_load(*module_, weights);
  StateDict current;
  append_module_state(*module_, "", current);
  std::vector<std::string> missing, unexpected;
  for (const auto& item : current)
    if (!weights.contains(item.key().toStringRef())) missing.push_back(item.key().toStringRef());
  for (const auto& item : weights)
    if (!current.contains(item.key().toStringRef())) unexpected.push_back(item.key().toStringRef());
  if (module_->strict_loading && (!missing.empty() || !unexpected.empty())) {
    std::string message = "Error(s) in loading state_dict from checkpoint '" + path + "':";
    auto list = [](const std::vector<std::string>& keys) {
      std::string out;
      for (const auto& k : keys) out += (out.empty() ? "\"" : ", \"") + k + "\"";
      return out;
    };
    if (!unexpected.empty()) message += "\n\tUnexpected key(s) in state_dict: " + list(unexpected) + ".";
    if (!missing.empty()) message += "\n\tMissing key(s) in state_dict: " + list(missing) + ".";
    throw CheckpointError(message);
  }
  {
    torch::NoGradGuard no_grad;
    for (const auto& item : current) {
      const std::string& key = item.key().toStringRef();
      if (!weights.contains(key)) continue;
      IValue value = weights.at(key);
      if (!value.isTensor())
        throw CheckpointError("Checkpoint '" + path + "' key 'state_dict." + key + "': expected a tensor, found " +
                              value.tagKind());
      torch::Tensor target = item.value().toTensor();
      torch::Tensor source = value.toTensor();
      if (source.sizes() != target.sizes())
        throw CheckpointError(detail::concat("Checkpoint '", path, "': size mismatch for ", key,
                                             ": copying a param with shape ", source.sizes(),
                                             " from checkpoint, the shape in current model is ", target.sizes(), "."));
      target.copy_(source);
    }
  }
  // data module, then callbacks (Lightning 2.2 restores callbacks only when fitting)
  if (datamodule_ != nullptr && checkpoint.contains(datamodule_->class_name()))
    datamodule_->load_state_dict(
        as_state(checkpoint.at(datamodule_->class_name()), "checkpoint '" + path + "' key '" + datamodule_->class_name() + "'"));
  if (fn_ == TrainerFn::kFitting && checkpoint.contains("callbacks"))
    hooks_->callbacks_load_checkpoint(checkpoint, require_dict(checkpoint, "callbacks", path));
  if (fn_ == TrainerFn::kFitting) hooks_->callbacks_resume_from_checkpoint(path);  // ksuit: large files last
}

void Trainer::restore_training_state() {
  if (!loaded_checkpoint_) return;
  const StateDict& checkpoint = *loaded_checkpoint_;
  const std::string where = "checkpoint '" + ckpt_path_ + "'";
  if (checkpoint.contains("loops")) {
    StateDict loops = require_dict(checkpoint, "loops", ckpt_path_);
    auto loop_state = [&](const char* key) { return require_dict(loops, key, ckpt_path_); };
    switch (fn_) {
      case TrainerFn::kFitting: fit_loop_->load_state_dict(loop_state("fit_loop"), where + " loops.fit_loop"); break;
      case TrainerFn::kValidating:
        validate_loop_->load_state_dict(loop_state("validate_loop"), where + " loops.validate_loop");
        break;
      case TrainerFn::kTesting: test_loop_->load_state_dict(loop_state("test_loop"), where + " loops.test_loop"); break;
      case TrainerFn::kPredicting:
        predict_loop_->load_state_dict(loop_state("predict_loop"), where + " loops.predict_loop");
        break;
    }
  }
  if (fn_ != TrainerFn::kFitting) return;
  if (checkpoint.contains(kResumeKey))
    pending_resume_ = as_state(checkpoint.at(kResumeKey), where + " key '" + std::string(kResumeKey) + "'");
  if (max_epochs_ != -1 && current_epoch() > max_epochs_)
    throw MisconfigurationError(detail::concat("You restored a checkpoint with current_epoch=", current_epoch(),
                                               ", but you have set Trainer(max_epochs=", max_epochs_, ")."));
  if (!checkpoint.contains("optimizer_states"))
    throw CheckpointError("Trying to restore optimizer state but checkpoint '" + ckpt_path_ +
                          "' contains only the model. This is probably due to `ModelCheckpoint.save_weights_only` "
                          "being set to `True`.");
  IValue optimizer_states = checkpoint.at("optimizer_states");
  if (!optimizer_states.isList()) throw CheckpointError(where + " key 'optimizer_states': expected a list");
  auto states = optimizer_states.toListRef();
  for (size_t i = 0; i < optimizers_.size() && i < states.size(); ++i)
    load_optimizer_state_dict(*optimizers_[i], as_state(states[i], where + " optimizer_states[" + std::to_string(i) + "]"));
  if (!checkpoint.contains("lr_schedulers"))
    throw CheckpointError("Trying to restore learning rate scheduler state but checkpoint '" + ckpt_path_ +
                          "' contains only the model. This is probably due to `ModelCheckpoint.save_weights_only` "
                          "being set to `True`.");
  IValue schedulers = checkpoint.at("lr_schedulers");
  if (!schedulers.isList()) throw CheckpointError(where + " key 'lr_schedulers': expected a list");
  auto scheduler_states = schedulers.toListRef();
  for (size_t i = 0; i < lr_scheduler_configs_.size() && i < scheduler_states.size(); ++i)
    lr_scheduler_configs_[i].scheduler->load_state_dict(
        as_state(scheduler_states[i], where + " lr_schedulers[" + std::to_string(i) + "]"));
}

}  // namespace volt
