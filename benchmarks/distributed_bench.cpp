// Distributed data parallel: one process against two on loopback (Gloo), measured in one run, for the tiny MLP
// and the Fashion-MNIST CNN. Each process uses one thread; with two processes each trains on half the data with
// the same per-process batch, so the ideal is 2x the samples per second of one process (on a machine with at
// least two free cores). Printed per workload:
//   - samples/s with 1 and 2 processes and their ratio (the scaling; 2.0 is perfect);
//   - the all-reduce share of a step: the time a step waits for the gradient all-reduce after its backward pass
//     (the profiler's [Strategy]DDPStrategy.post_backward, what the overlap with the backward leaves), and the
//     time one blocking all-reduce of all the gradients takes, both as a share of the training step.
//
// The program is its own launcher (volt::launch_processes): the process you start measures one process, then runs
// two copies of itself as ranks 0 and 1; rank 0 writes its figures to a file the first process prints.
#include <volt/volt.hpp>

#include "fashion_cnn.hpp"
#include "tiny_mlp.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace {

using bench::seconds_since;

struct Figures {
  double samples_per_second = 0, step_ms = 0, post_backward_ms = 0, all_reduce_ms = 0;
};

struct Workload {
  std::string name;
  torch::Tensor x, y;
  int64_t batch, epochs;
  Figures (*run)(const Workload&, bool ddp);  // measure<its model>
};

// No checkpoints, logger, progress bar or summary: the loop, the step and the gradient reduction only.
volt::TrainerOptions options_for(int64_t epochs, bool ddp) {
  volt::TrainerOptions o;
  o.max_epochs = epochs;
  o.num_sanity_val_steps = 0;
  o.default_root_dir = "bench_runs/distributed";
  o.enable_checkpointing = false;
  o.enable_model_summary = false;
  o.enable_progress_bar = false;
  if (ddp) {
    o.devices = 2;
    o.strategy = "ddp";
  }
  return o;
}

// Trains `w` in this process (one rank of two when launched, else alone): first plain for the throughput, then
// with the simple profiler for the per-step shares.
template <class Model>
Figures measure(const Workload& w, bool ddp) {
  Figures f;
  auto data = std::vector<torch::Tensor>{w.x, w.y};
  volt::DataLoaderOptions batches;
  batches.batch_size = w.batch;
  {
    torch::manual_seed(0);
    Model model;
    volt::Trainer trainer(options_for(w.epochs, ddp));
    auto t0 = std::chrono::steady_clock::now();
    trainer.fit(model, std::make_shared<volt::TensorDataLoader>(data, batches));
    if (ddp) volt::distributed::barrier("bench.fit");  // the slower rank decides
    f.samples_per_second = static_cast<double>(w.x.size(0) * w.epochs) / seconds_since(t0);
  }
  torch::manual_seed(0);
  Model model;
  auto o = options_for(w.epochs, ddp);
  auto profiler = std::make_shared<volt::SimpleProfiler>("bench_runs/distributed", "profile");  // a file, not stdout
  o.profiler = profiler;
  volt::Trainer trainer(o);
  trainer.fit(model, std::make_shared<volt::TensorDataLoader>(data, batches));
  std::map<std::string, volt::SimpleProfiler::Record> records(profiler->records().begin(), profiler->records().end());
  const auto& batch = records["run_training_batch"];
  f.step_ms = 1e3 * batch.total_seconds / static_cast<double>(batch.count);
  const auto& wait = records["[Strategy]DDPStrategy.post_backward"];
  if (wait.count > 0) f.post_backward_ms = 1e3 * wait.total_seconds / static_cast<double>(wait.count);
  if (ddp) {  // one blocking all-reduce of every gradient, as if nothing overlapped it
    std::vector<torch::Tensor> flat;
    for (const auto& p : model.parameters()) flat.push_back(p.detach().flatten());
    auto all = torch::cat(flat);
    for (int i = 0; i < 5; ++i) volt::distributed::all_reduce(all);  // warm-up
    const int reps = 50;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) volt::distributed::all_reduce(all);
    f.all_reduce_ms = 1e3 * seconds_since(t0) / reps;
  }
  return f;
}

std::vector<Workload> workloads() {
  std::vector<Workload> out;
  out.push_back({"tiny MLP 784-128-10, synthetic data, batch 64 per process",
                 torch::randn({bench::kSamples, 784}, at::detail::createCPUGenerator(1)),
                 torch::randint(0, 10, {bench::kSamples}, at::detail::createCPUGenerator(2), torch::kLong),
                 bench::kBatch, 2, &measure<bench::Mlp>});
  if (auto images = bench::fashion_mnist_train(64 * 100))
    out.push_back({"Fashion-MNIST CNN conv16-conv32-fc10, 6400 images, batch 64 per process", images->first,
                   images->second, 64, 2, &measure<bench::Cnn>});
  return out;
}

}  // namespace

int main() {
  torch::set_num_threads(1);
  const bool is_rank = std::getenv("RANK") != nullptr;
  if (!is_rank)
    std::printf("distributed: 1 process vs 2 (Gloo on loopback), 1 thread each, %ld cores\n",
                ::sysconf(_SC_NPROCESSORS_ONLN));
  const std::vector<Workload> work = workloads();  // the data, made once per process (the same in every one)
  std::vector<Figures> single;
  std::string results;
  if (!is_rank) {
    for (const auto& w : work) single.push_back(w.run(w, false));
    results = (std::filesystem::temp_directory_path() / ("volt_distributed_bench_" + std::to_string(::getpid())))
                  .string();
    ::setenv("VOLT_BENCH_RESULTS", results.c_str(), 1);  // the ranks inherit it
  }
  if (auto code = volt::launch_processes(options_for(1, true))) {
    // the first process: the ranks have finished; rank 0 left its figures in `results`
    std::ifstream in(results);
    std::vector<Figures> ddp;
    Figures f;
    while (in >> f.samples_per_second >> f.step_ms >> f.post_backward_ms >> f.all_reduce_ms) ddp.push_back(f);
    std::filesystem::remove(results);
    if (*code != 0 || ddp.size() != single.size()) {
      std::printf("distributed: the 2-process run failed (exit code %d)\n", *code);
      return 1;
    }
    for (size_t i = 0; i < ddp.size(); ++i) {
      std::printf("%s\n", work[i].name.c_str());
      std::printf("  1 process                 %8.0f samples/s   step %.3f ms\n", single[i].samples_per_second,
                  single[i].step_ms);
      std::printf("  2 processes               %8.0f samples/s   step %.3f ms   ratio %.2f (ideal 2.00)\n",
                  ddp[i].samples_per_second, ddp[i].step_ms, ddp[i].samples_per_second / single[i].samples_per_second);
      std::printf("  all-reduce wait after backward  %.3f ms   share of the step %.1f%%\n", ddp[i].post_backward_ms,
                  100 * ddp[i].post_backward_ms / ddp[i].step_ms);
      std::printf("  one blocking all-reduce of all gradients  %.3f ms   share of the step %.1f%%\n",
                  ddp[i].all_reduce_ms, 100 * ddp[i].all_reduce_ms / ddp[i].step_ms);
    }
    return 0;
  }
  // a rank
  std::ostringstream out;
  for (const auto& w : work) {
    auto f = w.run(w, true);
    out << f.samples_per_second << " " << f.step_ms << " " << f.post_backward_ms << " " << f.all_reduce_ms << "\n";
  }
  if (volt::distributed::global_rank() == 0) std::ofstream(std::getenv("VOLT_BENCH_RESULTS")) << out.str();
  return 0;
}
