// The training process of the kill test (tests/unit/reliability_test.cpp, KillTest): a tiny model with dropout and
// a shuffled loader that checkpoints after every optimizer step and resumes from "last" when one exists.
//
//   kill_child train <dir> <max_steps>   trains in this process (resuming from <dir>/checkpoints/last.ckpt if
//                                        present); at the end writes <dir>/final.pt, the weights
//   kill_child serve <dir> <max_steps>   reads a line per run from stdin; for each forks a worker that does what
//                                        `train` does, prints "pid <n>", and once the worker has ended prints
//                                        "exit <code>" (or "signal <n>"). The test SIGKILLs the workers.
//
// `serve` exists for speed: a new process pays libtorch's start-up (~0.5 s), a fork of this one (which has run no
// torch operation, so no thread pool exists yet) starts in a millisecond, so 50 kills fit in a few seconds. Each
// worker is still a separate process that the kernel kills mid-write with SIGKILL.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <cstdlib>
#include <iostream>
#include <string>

#include <volt/detail/atomic_file.hpp>
#include <volt/volt.hpp>

namespace {

struct DropoutNet : volt::Module {
  DropoutNet() {
    fc1 = register_module("fc1", torch::nn::Linear(8, 16));
    drop = register_module("drop", torch::nn::Dropout(0.3));
    fc2 = register_module("fc2", torch::nn::Linear(16, 1));
    data = torch::randn({32, 8}, at::detail::createCPUGenerator(11));
  }
  torch::Tensor forward(const torch::Tensor& x) { return fc2->forward(drop->forward(torch::relu(fc1->forward(x)))); }
  volt::StepOutput training_step(const volt::Batch& batch, int64_t) override {
    const torch::Tensor x = batch.toTensor();
    return torch::mse_loss(forward(x), x.sum(1, /*keepdim=*/true));
  }
  volt::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  }
  std::shared_ptr<volt::DataLoader> train_dataloader() override {
    volt::DataLoaderOptions o;
    o.batch_size = 4;
    o.shuffle = true;
    o.seed = 5;
    return std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{data}, o);
  }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  torch::nn::Dropout drop{nullptr};
  torch::Tensor data;
};

int train(const std::string& dir, int64_t max_steps) {
  torch::set_num_threads(1);
  torch::manual_seed(7);
  DropoutNet model;
  volt::TrainerOptions o;
  o.default_root_dir = dir;
  o.max_steps = max_steps;
  o.max_epochs = -1;
  o.accumulate_grad_batches = 2;
  o.seed = 7;
  o.deterministic = true;
  o.enable_progress_bar = false;
  o.enable_model_summary = false;
  volt::ModelCheckpointOptions every_step;
  every_step.dirpath = dir + "/checkpoints";
  every_step.every_n_train_steps = 1;
  every_step.save_last = true;
  o.callbacks = {std::make_shared<volt::ModelCheckpoint>(every_step)};
  volt::Trainer trainer(o);
  const bool resume = std::filesystem::exists(dir + "/checkpoints/last.ckpt");
  trainer.fit(model, nullptr, resume ? "last" : "");
  volt::StateDict weights;
  for (const auto& p : model.named_parameters()) weights.set(p.key(), p.value().detach());
  volt::detail::atomic_write_file(dir + "/final.pt", torch::pickle_save(weights.ivalue()));
  return 0;
}

int serve(const std::string& dir, int64_t max_steps) {
  std::string line;
  while (std::getline(std::cin, line)) {
    std::fflush(stdout);
    pid_t pid = ::fork();
    if (pid < 0) return 3;
    if (pid == 0) {
      // stdout carries the protocol: the worker's messages go to <dir>/worker.log
      std::filesystem::create_directories(dir);
      int log = ::open((dir + "/worker.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (log >= 0) ::dup2(log, 1), ::dup2(log, 2);
      int code = 1;
      try {
        code = train(dir, max_steps);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "kill_child worker: %s\n", e.what());
      }
      std::fflush(stderr);
      ::_exit(code);
    }
    std::printf("pid %d\n", static_cast<int>(pid));
    std::fflush(stdout);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status)) std::printf("signal %d\n", WTERMSIG(status));
    else std::printf("exit %d\n", WEXITSTATUS(status));
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: kill_child train|serve <dir> <max_steps>\n");
    return 2;
  }
  const std::string mode = argv[1];
  const int64_t max_steps = std::atoll(argv[3]);
  if (mode == "train") return train(argv[2], max_steps);
  if (mode == "serve") return serve(argv[2], max_steps);
  std::fprintf(stderr, "kill_child: unknown mode '%s'\n", mode.c_str());
  return 2;
}
