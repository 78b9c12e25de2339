// Strategy: how a run uses its processes (Lightning's strategies). SingleDeviceStrategy is the one-process
// default; DDPStrategy (strategies/ddp.hpp) replicates the module on every rank of a c10d process group.
// The Trainer calls the strategy at a few points only: before the run (setup_environment), after the optimizers
// exist (setup), around every backward (pre_backward/post_backward), when it builds a dataloader
// (process_dataloader) and on an exception (on_exception). Callbacks use the collectives.
#pragma once
#include <torch/types.h>

#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "volt/distributed.hpp"

namespace torch::optim {
class Optimizer;
}

namespace volt {

class Module;
class DataLoader;
struct TrainerOptions;

class Strategy {
 public:
  virtual ~Strategy();
  /// "single_device" or "ddp".
  virtual std::string name() const = 0;

  /// Before anything else in fit/validate/test/predict: join the process group if there is one.
  virtual void setup_environment();
  /// When fitting, once the module is on its device and the optimizers exist: every rank starts equal.
  virtual void setup(Module& module, const std::vector<std::shared_ptr<torch::optim::Optimizer>>& optimizers);
  /// Before a backward; `sync_gradients` is false inside an accumulation window (gradients stay local, like
  /// PyTorch DDP's no_sync) and true when an optimizer step is about to use them.
  virtual void pre_backward(Module& module, bool sync_gradients);
  /// After that backward, before on_after_backward: the gradients are synchronised when they were to be.
  virtual void post_backward(Module& module);
  /// Gives each rank its own shard of a train/val/test loader ("train", "val", "test", "predict").
  virtual std::shared_ptr<DataLoader> process_dataloader(std::shared_ptr<DataLoader> loader, const std::string& kind);
  /// First thing on an exception in fit/validate/test/predict (before the callbacks' on_exception).
  virtual void on_exception(const std::exception& error);

  virtual int global_rank() const;
  virtual int local_rank() const;
  virtual int node_rank() const;
  virtual int world_size() const;
  bool is_global_zero() const { return global_rank() == 0; }

  // ---- collectives (single process: identity) ----------------------------------------------------------------
  virtual void barrier(const std::string& name = "");
  virtual bool reduce_boolean_decision(bool decision, bool all = true);
  virtual torch::Tensor broadcast(torch::Tensor tensor, int src = 0);
  virtual std::string broadcast(const std::string& value, int src = 0);
  virtual bool broadcast(bool value, int src = 0);
  /// (A string literal is a string here, not a bool.)
  std::string broadcast(const char* value, int src = 0) { return broadcast(std::string(value), src); }
  /// All-reduce (a new tensor).
  virtual torch::Tensor reduce(const torch::Tensor& tensor, distributed::ReduceOp op = distributed::ReduceOp::kMean);
};

class SingleDeviceStrategy : public Strategy {
 public:
  std::string name() const override { return "single_device"; }
};

/// TrainerOptions::strategy: a name ("auto", "single_device", "ddp") or a configured instance
/// (std::make_shared<DDPStrategy>(DDPOptions{...})).
struct StrategyArg {
  StrategyArg(const char* name) : name(name) {}                         // NOLINT: implicit like Lightning's str
  StrategyArg(std::string name) : name(std::move(name)) {}              // NOLINT
  template <class S, class = std::enable_if_t<std::is_base_of<Strategy, S>::value>>
  StrategyArg(std::shared_ptr<S> strategy) : name(strategy ? strategy->name() : ""), instance(std::move(strategy)) {}  // NOLINT
  std::string name;
  std::shared_ptr<Strategy> instance;
};

/// The strategy the options ask for ("auto": DDP when devices * num_nodes > 1 or a launcher says WORLD_SIZE > 1,
/// else single device). Throws MisconfigurationError for unknown names and impossible combinations.
std::shared_ptr<Strategy> make_strategy(const TrainerOptions& options);

}  // namespace volt
