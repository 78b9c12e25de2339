// The process-wide c10d group (TCPStore rendezvous + ProcessGroupGloo) and the collectives callbacks use.
// ProcessGroupGloo.hpp declares anything only with USE_C10D_GLOO, which Torch's CMake package defines for every
// target (with USE_DISTRIBUTED); Gloo's own headers come from libgloo-dev.
#include "volt/distributed.hpp"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#include <cstdlib>
#include <cstring>
#include <thread>

#include "volt/error.hpp"
#include "volt/messages.hpp"

namespace volt::distributed {
namespace {

const char* kFailedKey = "volt/failed";

struct Group {
  ProcessGroupOptions options;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  bool broken = false;          // a collective failed or this rank failed: collectives are local no-ops now
  std::string failure;          // why, for later messages
};

Group& group() {
  static Group g;
  return g;
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

int env_rank() {
  for (const char* name : {"RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"})
    if (const char* v = std::getenv(name); v && *v) return std::atoi(v);
  return 0;
}

bool active() {
  auto& g = group();
  return g.pg && !g.broken;
}

// Another rank's failure as it published it, waiting briefly: it writes the key before its process exits, but its
// exit may reach us (as a closed connection) before the key does.
std::string published_failure() {
  auto& g = group();
  if (!g.store) return "";
  try {
    for (int i = 0; i < 40; ++i) {
      if (g.store->check({kFailedKey})) {
        auto bytes = g.store->get(kFailedKey);
        return std::string(bytes.begin(), bytes.end());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  } catch (const std::exception&) {
    return "rank 0 (which hosts the TCPStore at " + g.options.master_addr + ":" +
           std::to_string(g.options.master_port) + ") is unreachable; it probably failed or exited";
  }
  return "";
}

// Waits for one collective; a failure (a peer died, or the timeout passed) becomes a DistributedError naming the
// rank that failed when it said so, and later collectives on this rank become no-ops so on_exception cannot hang.
void wait_for(const std::string& what, const c10::intrusive_ptr<c10d::Work>& work) {
  auto& g = group();
  try {
    work->wait();
  } catch (const std::exception& e) {
    std::string failed = published_failure();
    g.broken = true;
    std::string rank = std::to_string(g.options.rank);
    g.failure = failed.empty()
                    ? "volt: the " + what + " on rank " + rank + " failed: " + e.what() +
                          ". Another rank probably died, or did not reach the same collective within the timeout (" +
                          std::to_string(g.options.timeout.count() / 1000) + " s, DDPOptions::timeout)."
                    : "volt: " + failed + " — rank " + rank + " stops too (its " + what + " could not complete).";
    throw DistributedError(g.failure);
  }
}

void run(const std::string& what, const std::function<c10::intrusive_ptr<c10d::Work>()>& start) {
  wait_for(what, start());
}

c10d::ReduceOp to_c10d(ReduceOp op) {
  switch (op) {
    case ReduceOp::kMax: return c10d::ReduceOp::MAX;
    case ReduceOp::kMin: return c10d::ReduceOp::MIN;
    default: return c10d::ReduceOp::SUM;
  }
}

std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
  if (const char* iface = std::getenv("GLOO_SOCKET_IFNAME"); iface && *iface)
    return c10d::ProcessGroupGloo::createDeviceForInterface(iface);
  // one machine: loopback; several: the address this host's name resolves to, as torch.distributed does
  if (master_addr == "127.0.0.1" || master_addr == "localhost")
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

void init_process_group(const ProcessGroupOptions& o) {
  auto& g = group();
  if (g.pg) {
    VOLT_CHECK_T(DistributedError, g.options.rank == o.rank && g.options.world_size == o.world_size,
                 "volt: this process already joined a process group as rank ", g.options.rank, " of ",
                 g.options.world_size, "; it cannot join again as rank ", o.rank, " of ", o.world_size);
    return;
  }
  VOLT_CHECK_T(DistributedError, o.world_size >= 1 && o.rank >= 0 && o.rank < o.world_size, "volt: rank ", o.rank,
               " is not in [0, WORLD_SIZE=", o.world_size, "); check RANK and WORLD_SIZE");
  VOLT_CHECK_T(DistributedError, o.master_port > 0 && o.master_port < 65536, "volt: MASTER_PORT=", o.master_port,
               " is not a TCP port");
  VOLT_CHECK_T(DistributedError, o.backend == "gloo",
               "volt: process group backend '", o.backend, "' is not available in this build; Debian's libtorch is "
               "CPU-only, so use 'gloo' (NCCL needs a CUDA build of libtorch)");
  g.options = o;
  g.broken = false;
  g.failure.clear();
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(o.master_port);
    store_options.isServer = o.rank == 0;
    store_options.numWorkers = static_cast<std::size_t>(o.world_size);
    store_options.waitWorkers = true;
    store_options.timeout = o.timeout;
    g.store = c10::make_intrusive<c10d::TCPStore>(o.master_addr, store_options);
    auto pg_options = c10d::ProcessGroupGloo::Options::create(o.timeout);
    pg_options->devices.push_back(gloo_device(o.master_addr));
    g.pg = c10::make_intrusive<c10d::ProcessGroupGloo>(g.store, o.rank, o.world_size, pg_options);
  } catch (const std::exception& e) {
    g.pg.reset();
    g.store.reset();
    throw DistributedError(volt::detail::concat("volt: rank ", o.rank, " of ", o.world_size,
                                          " could not join the process group at ", o.master_addr, ":",
                                          o.master_port, ": ", e.what(),
                                          ". Check that every rank uses the same MASTER_ADDR/MASTER_PORT and "
                                          "WORLD_SIZE, and that rank 0 is running."));
  }
}

bool is_initialized() { return static_cast<bool>(group().pg); }

void destroy_process_group() {
  auto& g = group();
  g.pg.reset();
  g.store.reset();
  g.broken = false;
  g.failure.clear();
}

int global_rank() { return is_initialized() ? group().options.rank : env_rank(); }
int local_rank() { return is_initialized() ? group().options.local_rank : env_int("LOCAL_RANK", 0); }
int node_rank() { return is_initialized() ? group().options.node_rank : 0; }
int world_size() { return is_initialized() ? group().options.world_size : 1; }
std::chrono::milliseconds timeout() { return group().options.timeout; }

void rank_zero_info(const std::string& message) { volt::rank_zero_info(message); }
void rank_zero_warn(const std::string& message) { volt::rank_zero_warn(message); }

void barrier(const std::string& name) {
  if (!active() || world_size() == 1) return;
  run("barrier" + (name.empty() ? std::string() : " '" + name + "'"), [] { return group().pg->barrier(); });
}

torch::Tensor broadcast(torch::Tensor tensor, int src) {
  if (!active() || world_size() == 1) return tensor;
  std::vector<torch::Tensor> tensors{tensor.is_contiguous() ? tensor : tensor.contiguous()};
  c10d::BroadcastOptions opts;
  opts.rootRank = src;
  run("broadcast", [&] { return group().pg->broadcast(tensors, opts); });
  if (!tensor.is_contiguous()) tensor.copy_(tensors[0]);
  return tensor;
}

std::string broadcast(const std::string& value, int src) {
  if (!active() || world_size() == 1) return value;
  auto size = broadcast(torch::tensor({static_cast<int64_t>(value.size())}, torch::kLong), src);
  auto bytes = torch::zeros({size.item<int64_t>()}, torch::kUInt8);
  if (global_rank() == src) std::memcpy(bytes.data_ptr(), value.data(), value.size());
  broadcast(bytes, src);
  return std::string(static_cast<const char*>(bytes.data_ptr()), static_cast<size_t>(bytes.numel()));
}

bool broadcast(bool value, int src) {
  if (!active() || world_size() == 1) return value;
  return broadcast(torch::tensor({value ? 1 : 0}, torch::kInt), src).item<int>() != 0;
}

torch::Tensor all_reduce(const torch::Tensor& tensor, ReduceOp op) {
  if (!active() || world_size() == 1) return tensor.clone();
  torch::Tensor t = tensor.clone().contiguous();
  if (op == ReduceOp::kMean && !t.is_floating_point()) t = t.to(torch::kFloat);
  std::vector<torch::Tensor> tensors{t};
  c10d::AllreduceOptions opts;
  opts.reduceOp = to_c10d(op);
  run("all_reduce", [&] { return group().pg->allreduce(tensors, opts); });
  if (op == ReduceOp::kMean) t.div_(world_size());
  return t;
}

std::function<void()> all_reduce_start(torch::Tensor tensor, ReduceOp op) {
  if (!active() || world_size() == 1) return [] {};
  VOLT_CHECK_T(DistributedError, tensor.is_contiguous(), "volt: all_reduce_start needs a contiguous tensor");
  c10d::AllreduceOptions opts;
  opts.reduceOp = to_c10d(op);
  std::vector<torch::Tensor> single{tensor};
  auto work = group().pg->allreduce(single, opts);
  return [work, tensor, op]() mutable {
    wait_for("all_reduce", work);
    if (op == ReduceOp::kMean) tensor.div_(world_size());
  };
}

void all_reduce_(std::vector<torch::Tensor>& tensors, ReduceOp op) {
  std::vector<std::function<void()>> pending;
  for (auto& t : tensors) pending.push_back(all_reduce_start(t, op));
  for (auto& wait : pending) wait();
}

bool reduce_boolean_decision(bool decision, bool all) {
  if (!active() || world_size() == 1) return decision;
  int64_t votes = all_reduce(torch::tensor({decision ? 1 : 0}, torch::kLong), ReduceOp::kSum).item<int64_t>();
  return all ? votes == world_size() : votes > 0;
}

void report_failure(const std::string& what) {
  auto& g = group();
  if (!g.pg || g.broken) return;  // single process, or a failed collective already explains it
  g.broken = true;
  g.failure = "rank " + std::to_string(g.options.rank) + " failed: " + what;
  try {
    if (g.store->check({kFailedKey})) return;  // another rank failed first: its report stands
    g.store->set(kFailedKey, std::vector<uint8_t>(g.failure.begin(), g.failure.end()));
    g.store->check({kFailedKey});  // a round trip: the value has reached the store before this process exits
  } catch (const std::exception&) {
    // the store host is gone; the others will report that instead
  }
}

bool is_broken() { return group().broken; }

namespace detail {
torch::Tensor sync_tensor(const torch::Tensor& value, const std::string& reduce_fx) {
  if (!active() || world_size() == 1) return value;
  ReduceOp op = reduce_fx == "max" ? ReduceOp::kMax
                : reduce_fx == "min" ? ReduceOp::kMin
                : reduce_fx == "sum" ? ReduceOp::kSum
                                     : ReduceOp::kMean;
  return all_reduce(value, op);
}
}  // namespace detail

}  // namespace volt::distributed
