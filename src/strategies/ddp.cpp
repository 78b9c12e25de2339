// DDPStrategy: rendezvous, rank 0's state to every rank, bucketed gradient all-reduce, sharded loaders.
#include "volt/strategies/ddp.hpp"

#include <torch/torch.h>

#include <sstream>

#include "volt/data.hpp"
#include "volt/error.hpp"
#include "volt/messages.hpp"
#include "volt/module.hpp"
#include "volt/strategies/distributed_sampler.hpp"
#include "gradient_reducer.hpp"

namespace volt {
namespace {

// Groups tensors into buckets of one dtype and at most cap_bytes (a tensor bigger than the cap gets its own).
std::vector<std::vector<torch::Tensor>> buckets(const std::vector<torch::Tensor>& tensors, double cap_bytes) {
  std::vector<std::vector<torch::Tensor>> out;
  std::map<c10::ScalarType, size_t> open;  // dtype → index of its open bucket
  std::map<c10::ScalarType, double> filled;
  for (const auto& t : tensors) {
    auto dtype = t.scalar_type();
    double bytes = static_cast<double>(t.numel() * t.element_size());
    auto it = open.find(dtype);
    if (it == open.end() || filled[dtype] + bytes > cap_bytes) {
      out.emplace_back();
      open[dtype] = out.size() - 1;
      filled[dtype] = 0;
    }
    out[open[dtype]].push_back(t);
    filled[dtype] += bytes;
  }
  return out;
}

// Flattens each bucket, runs `reduce` on the flat buffers (all at once), and copies the results back.
void through_flat_buckets(const std::vector<torch::Tensor>& tensors, double cap_bytes,
                          const std::function<void(std::vector<torch::Tensor>&)>& reduce) {
  auto groups = buckets(tensors, cap_bytes);
  std::vector<torch::Tensor> flats;
  for (const auto& g : groups) {
    std::vector<torch::Tensor> views;
    for (const auto& t : g) views.push_back(t.reshape({-1}));
    flats.push_back(torch::cat(views).contiguous());
  }
  reduce(flats);
  for (size_t b = 0; b < groups.size(); ++b) {
    int64_t offset = 0;
    for (auto& t : groups[b]) {
      t.copy_(flats[b].slice(0, offset, offset + t.numel()).view_as(t));
      offset += t.numel();
    }
  }
}

}  // namespace

DDPStrategy::~DDPStrategy() = default;

DDPStrategy::DDPStrategy(DDPOptions options) : options_(std::move(options)) {
  VOLT_CHECK(options_.timeout.count() > 0, "DDPOptions::timeout must be positive");
  VOLT_CHECK(options_.bucket_cap_mb > 0, "DDPOptions::bucket_cap_mb must be positive, got ", options_.bucket_cap_mb);
  environment_ = detect_cluster_environment();
}

void DDPStrategy::set_topology(int devices, int num_nodes) {
  devices_ = devices;
  num_nodes_ = num_nodes;
}

void DDPStrategy::setup_environment() {
  const int expected = devices_ * num_nodes_;
  environment_ = detect_cluster_environment();
  if (!environment_) {
    VOLT_CHECK(expected == 1, "Trainer(devices=", devices_, ", num_nodes=", num_nodes_, ", strategy='ddp') needs ",
               expected, " processes, but this one was not started by a launcher (no RANK/WORLD_SIZE or SLURM "
               "variables). Call `if (auto code = volt::launch_processes(options)) return *code;` at the start of "
               "main() (it re-executes the program once per device), or start it with torchrun or srun.");
    return;  // one process: nothing to synchronise
  }
  // devices/num_nodes left at their defaults accept the launcher's world size (torchrun --nproc_per_node=N)
  VOLT_CHECK(expected == 1 || environment_->world_size == expected, "The launcher started ",
             environment_->world_size, " processes (", environment_->kind, " environment: WORLD_SIZE/SLURM_NTASKS) but "
             "Trainer(devices=", devices_, ", num_nodes=", num_nodes_, ") expects ", expected,
             "; make devices * num_nodes match the number of processes");
  if (environment_->world_size == 1) return;
  distributed::ProcessGroupOptions pg;
  pg.rank = environment_->global_rank;
  pg.world_size = environment_->world_size;
  pg.local_rank = environment_->local_rank;
  pg.node_rank = environment_->node_rank;
  pg.master_addr = environment_->master_addr;
  pg.master_port = environment_->master_port;
  pg.timeout = options_.timeout;
  pg.backend = options_.process_group_backend;
  distributed::init_process_group(pg);
}

void DDPStrategy::setup(Module& module, const std::vector<std::shared_ptr<torch::optim::Optimizer>>& optimizers) {
  if (world_size() <= 1) return;
  reducer_ = std::make_unique<detail::GradientReducer>(options_.bucket_cap_mb * 1024 * 1024);
  torch::NoGradGuard no_grad;
  // rank 0's parameters and buffers everywhere (PyTorch DDP's constructor does the same)
  std::vector<torch::Tensor> state;
  for (const auto& p : module.parameters()) state.push_back(p.detach());
  for (const auto& b : module.buffers()) state.push_back(b.detach());
  const double cap = options_.bucket_cap_mb * 1024 * 1024;
  through_flat_buckets(state, cap, [](std::vector<torch::Tensor>& flats) {
    for (auto& flat : flats) distributed::broadcast(flat, 0);
  });
  if (!options_.broadcast_optimizer_state) return;
  for (const auto& optimizer : optimizers) {
    std::string bytes;
    if (is_global_zero()) {
      try {
        torch::serialize::OutputArchive archive;
        optimizer->save(archive);
        std::ostringstream out;
        archive.save_to(out);
        bytes = out.str();
      } catch (const std::exception& e) {
        rank_zero_warn(std::string("DDP: the optimizer state could not be serialised and is not broadcast: ") +
                       e.what());
      }
    }
    bytes = distributed::broadcast(bytes, 0);
    if (bytes.empty() || is_global_zero()) continue;
    std::istringstream in(bytes);
    torch::serialize::InputArchive archive;
    archive.load_from(in);
    optimizer->load(archive);
  }
}

void DDPStrategy::pre_backward(Module& module, bool sync_gradients) {
  if (!reducer_) return;
  reducer_->prepare(module.parameters(), sync_gradients);
}

void DDPStrategy::post_backward(Module&) {
  if (reducer_) reducer_->finish();
}

std::shared_ptr<DataLoader> DDPStrategy::process_dataloader(std::shared_ptr<DataLoader> loader,
                                                            const std::string& kind) {
  if (!loader || world_size() <= 1 || !use_distributed_sampler) return loader;
  // prediction: no padding, so no sample is predicted twice (Lightning's UnrepeatedDistributedSampler)
  const bool unrepeated = kind == "predict";
  if (auto* tensors = dynamic_cast<TensorDataLoader*>(loader.get()))
    return std::make_shared<DistributedTensorDataLoader>(*tensors, world_size(), global_rank(), unrepeated);
  return std::make_shared<DistributedBatchLoader>(loader, world_size(), global_rank(), unrepeated);
}

size_t DDPStrategy::gradient_bucket_count() const { return reducer_ ? reducer_->bucket_count() : 0; }
size_t DDPStrategy::buckets_started_during_backward() const {
  return reducer_ ? reducer_->started_during_backward() : 0;
}

void DDPStrategy::on_exception(const std::exception& error) { distributed::report_failure(error.what()); }

int DDPStrategy::global_rank() const { return environment_ ? environment_->global_rank : 0; }
int DDPStrategy::local_rank() const { return environment_ ? environment_->local_rank : 0; }
int DDPStrategy::node_rank() const { return environment_ ? environment_->node_rank : 0; }
int DDPStrategy::world_size() const { return environment_ ? environment_->world_size : 1; }

void DDPStrategy::barrier(const std::string& name) { distributed::barrier(name); }
bool DDPStrategy::reduce_boolean_decision(bool decision, bool all) {
  return distributed::reduce_boolean_decision(decision, all);
}
torch::Tensor DDPStrategy::broadcast(torch::Tensor tensor, int src) { return distributed::broadcast(tensor, src); }
std::string DDPStrategy::broadcast(const std::string& value, int src) { return distributed::broadcast(value, src); }
bool DDPStrategy::broadcast(bool value, int src) { return distributed::broadcast(value, src); }
torch::Tensor DDPStrategy::reduce(const torch::Tensor& tensor, distributed::ReduceOp op) {
  return distributed::all_reduce(tensor, op);
}

}  // namespace volt
