// The single-process strategy and make_strategy (Lightning's _AcceleratorConnector, for CPU).
#include "volt/strategies/strategy.hpp"

#include <cstdlib>

#include "volt/data.hpp"
#include "volt/error.hpp"
#include "volt/strategies/cluster_environment.hpp"
#include "volt/strategies/ddp.hpp"
#include "volt/trainer.hpp"

namespace volt {

Strategy::~Strategy() = default;
void Strategy::setup_environment() {}
void Strategy::setup(Module&, const std::vector<std::shared_ptr<torch::optim::Optimizer>>&) {}
void Strategy::pre_backward(Module&, bool) {}
void Strategy::post_backward(Module&) {}
std::shared_ptr<DataLoader> Strategy::process_dataloader(std::shared_ptr<DataLoader> loader, const std::string&) {
  return loader;
}
void Strategy::on_exception(const std::exception&) {}
int Strategy::global_rank() const { return 0; }
int Strategy::local_rank() const { return 0; }
int Strategy::node_rank() const { return 0; }
int Strategy::world_size() const { return 1; }
void Strategy::barrier(const std::string&) {}
bool Strategy::reduce_boolean_decision(bool decision, bool) { return decision; }
torch::Tensor Strategy::broadcast(torch::Tensor tensor, int) { return tensor; }
std::string Strategy::broadcast(const std::string& value, int) { return value; }
bool Strategy::broadcast(bool value, int) { return value; }
torch::Tensor Strategy::reduce(const torch::Tensor& tensor, distributed::ReduceOp) { return tensor.clone(); }

std::shared_ptr<Strategy> make_strategy(const TrainerOptions& options) {
  VOLT_CHECK(options.devices >= 1, "Trainer(devices=", options.devices, ") must be >= 1 (processes per node)");
  VOLT_CHECK(options.num_nodes >= 1, "Trainer(num_nodes=", options.num_nodes, ") must be >= 1");
  const int processes = options.devices * options.num_nodes;
  std::shared_ptr<Strategy> strategy = options.strategy.instance;
  std::string name = options.strategy.name;
  if (!strategy) {
    if (name == "auto") {
      auto env = detect_cluster_environment();
      name = processes > 1 || (env && env->world_size > 1) ? "ddp" : "single_device";
    }
    if (name == "single_device") strategy = std::make_shared<SingleDeviceStrategy>();
    else if (name == "ddp") strategy = std::make_shared<DDPStrategy>();
    else
      throw MisconfigurationError("Trainer(strategy='" + name + "') is not known; use 'auto', 'single_device' or "
                                  "'ddp' (or a Strategy instance)");
  }
  if (auto* ddp = dynamic_cast<DDPStrategy*>(strategy.get())) {
    ddp->set_topology(options.devices, options.num_nodes);
    ddp->use_distributed_sampler = options.use_distributed_sampler;
  } else {
    VOLT_CHECK(processes == 1, "Trainer(devices=", options.devices, ", num_nodes=", options.num_nodes,
               ", strategy='", strategy->name(), "') runs one process; use strategy='ddp' (or 'auto') for ",
               processes, " processes");
  }
  return strategy;
}

}  // namespace volt
