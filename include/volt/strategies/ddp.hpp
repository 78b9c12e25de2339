// DDPStrategy: distributed data parallel over a c10d process group (Gloo on CPU). Every rank holds a full replica;
// rank 0's parameters, buffers and optimizer state are broadcast at the start of fit; after each backward that
// ends an accumulation window the gradients are averaged with bucketed all-reduces that start during the
// backward pass, as soon as a bucket's gradients are ready; each rank trains on its own
// shard of the data (DistributedSampler). Failures name the failed rank and never hang past `timeout`.
#pragma once
#include <chrono>
#include <optional>

#include "volt/strategies/cluster_environment.hpp"
#include "volt/strategies/strategy.hpp"

namespace volt {
namespace detail {
class GradientReducer;
}

struct DDPOptions {
  /// How long a collective (or the rendezvous) waits for the other ranks (Lightning's default: 30 minutes).
  std::chrono::milliseconds timeout{std::chrono::minutes(30)};
  /// Gradient bucket size for the all-reduce (PyTorch DDP's bucket_cap_mb): smaller buckets start earlier in the
  /// backward pass, larger ones make fewer collectives.
  double bucket_cap_mb = 25.0;
  /// "gloo" (the only backend of a CPU build) or "nccl" (CUDA builds).
  std::string process_group_backend = "gloo";
  /// Also broadcast rank 0's optimizer state at the start of fit.
  bool broadcast_optimizer_state = true;
};

class DDPStrategy : public Strategy {
 public:
  explicit DDPStrategy(DDPOptions options = {});
  ~DDPStrategy() override;
  std::string name() const override { return "ddp"; }
  /// The number of processes per node and of nodes the Trainer was given (checked against the environment).
  void set_topology(int devices, int num_nodes);

  void setup_environment() override;
  void setup(Module& module, const std::vector<std::shared_ptr<torch::optim::Optimizer>>& optimizers) override;
  void pre_backward(Module& module, bool sync_gradients) override;
  void post_backward(Module& module) override;
  std::shared_ptr<DataLoader> process_dataloader(std::shared_ptr<DataLoader> loader, const std::string& kind) override;
  void on_exception(const std::exception& error) override;

  int global_rank() const override;
  int local_rank() const override;
  int node_rank() const override;
  int world_size() const override;

  using Strategy::broadcast;
  void barrier(const std::string& name = "") override;
  bool reduce_boolean_decision(bool decision, bool all = true) override;
  torch::Tensor broadcast(torch::Tensor tensor, int src = 0) override;
  std::string broadcast(const std::string& value, int src = 0) override;
  bool broadcast(bool value, int src = 0) override;
  torch::Tensor reduce(const torch::Tensor& tensor, distributed::ReduceOp op = distributed::ReduceOp::kMean) override;

  const DDPOptions& options() const { return options_; }
  /// The gradient buckets of the current layout (0 before fit or with one process), and how many of them started
  /// their all-reduce during the last synchronised backward rather than after it: how much the communication
  /// overlapped the backward pass.
  size_t gradient_bucket_count() const;
  size_t buckets_started_during_backward() const;
  /// Whether dataloaders get a DistributedSampler (TrainerOptions::use_distributed_sampler).
  bool use_distributed_sampler = true;

 private:
  DDPOptions options_;
  int devices_ = 1, num_nodes_ = 1;
  std::optional<ClusterEnvironment> environment_;
  std::unique_ptr<detail::GradientReducer> reducer_;  // created by setup when there are several ranks
};

}  // namespace volt
