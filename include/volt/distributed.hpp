// The process group every rank of a distributed run shares (c10d: a TCPStore for rendezvous, Gloo for the
// collectives), and the helpers callbacks use (spec §7): rank_zero_only, barrier, broadcast, all_reduce,
// reduce_boolean_decision. Without an initialized group every helper is the single-process identity.
#pragma once
#include <torch/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace volt::distributed {

struct ProcessGroupOptions {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int node_rank = 0;
  /// Where rank 0 hosts the TCPStore (torchrun's MASTER_ADDR / MASTER_PORT).
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  /// How long a collective or the rendezvous waits for the other ranks before failing (Lightning's DDP default).
  std::chrono::milliseconds timeout{std::chrono::minutes(30)};
  /// "gloo" (CPU). "nccl" needs a CUDA build of libtorch.
  std::string backend = "gloo";
};

/// Joins the process group (once per process; later calls with the same rank and world size are no-ops).
/// Throws DistributedError when the rendezvous fails or times out.
void init_process_group(const ProcessGroupOptions& options);
bool is_initialized();
/// Leaves the group (closes the Gloo pairs and the store).
void destroy_process_group();

/// The rank of this process: the group's once initialized, else from RANK / LOCAL_RANK / SLURM_PROCID (0 if none),
/// as Lightning's rank_zero_only reads it.
int global_rank();
int local_rank();
int node_rank();
int world_size();
inline bool is_global_zero() { return global_rank() == 0; }
std::chrono::milliseconds timeout();

/// Runs `fn` only on global rank 0 (Lightning's @rank_zero_only).
template <class F>
void rank_zero_only(F&& fn) {
  if (global_rank() == 0) std::forward<F>(fn)();
}
/// Messages emitted on global rank 0 only.
void rank_zero_info(const std::string& message);
void rank_zero_warn(const std::string& message);

/// Waits until every rank reaches the barrier. `name` appears in error messages.
void barrier(const std::string& name = "");
/// Overwrites `tensor` on every rank with rank `src`'s values (same shape and dtype everywhere); returns it.
torch::Tensor broadcast(torch::Tensor tensor, int src = 0);
/// Rank `src`'s string on every rank (any length).
std::string broadcast(const std::string& value, int src = 0);
bool broadcast(bool value, int src = 0);
inline std::string broadcast(const char* value, int src = 0) { return broadcast(std::string(value), src); }

enum class ReduceOp { kSum, kMean, kMax, kMin };
/// The element-wise reduction of `tensor` over all ranks (a new tensor; `tensor` is unchanged).
torch::Tensor all_reduce(const torch::Tensor& tensor, ReduceOp op = ReduceOp::kSum);
/// In place, several reductions in flight at once (gradient buckets).
void all_reduce_(std::vector<torch::Tensor>& tensors, ReduceOp op = ReduceOp::kSum);
/// Starts an in-place all-reduce of the contiguous `tensor` and returns the function that waits for it (failures
/// as all_reduce's). Several may be in flight; every rank must start them in the same order.
std::function<void()> all_reduce_start(torch::Tensor tensor, ReduceOp op = ReduceOp::kSum);
/// Lightning's reduce_boolean_decision: all=true → every rank decided true, all=false → any rank did.
bool reduce_boolean_decision(bool decision, bool all = true);

/// Tells the other ranks that this rank failed with `what` (they name it when their next collective fails), and
/// makes this rank's own later collectives local no-ops so that its on_exception hooks cannot hang.
void report_failure(const std::string& what);
/// Whether a collective has failed or this rank reported a failure (collectives are then local no-ops).
bool is_broken();

namespace detail {
/// Log's sync_dist: the reduction of a logged value over the ranks ("mean", "sum", "max", "min").
torch::Tensor sync_tensor(const torch::Tensor& value, const std::string& reduce_fx);
}  // namespace detail

}  // namespace volt::distributed
