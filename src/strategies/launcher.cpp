// volt::launch_processes: re-executes this program once per device with the launcher's environment set, then
// supervises: when one rank fails, the others get `kill_after` to notice (they fail at their next collective,
// naming the failed rank) before they are killed, so a run never hangs.
#include "volt/strategies/launcher.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "volt/error.hpp"
#include "volt/strategies/cluster_environment.hpp"
#include "volt/strategies/ddp.hpp"
#include "volt/trainer.hpp"

extern char** environ;

namespace volt {
namespace {

std::atomic<int> g_forward_signal{0};
extern "C" void volt_launcher_signal(int signal) { g_forward_signal.store(signal); }

std::vector<std::string> own_argv() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  std::string current;
  for (char c : all) {
    if (c == '\0') {
      args.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) args.push_back(current);
  VOLT_CHECK_T(DistributedError, !args.empty(), "volt: cannot read this program's command line from /proc/self/cmdline");
  return args;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

struct Child {
  int rank;
  pid_t pid;
  bool alive = true;
};

}  // namespace

std::optional<int> launch_processes(const TrainerOptions& options, const LaunchOptions& launch) {
  if (detect_cluster_environment()) return std::nullopt;  // started by us, torchrun or SLURM: train
  auto strategy = make_strategy(options);
  auto* ddp = dynamic_cast<DDPStrategy*>(strategy.get());
  if (ddp == nullptr || options.devices * options.num_nodes <= 1) return std::nullopt;

  const char* node_env = std::getenv("NODE_RANK");
  const int node_rank = node_env && *node_env ? std::atoi(node_env) : 0;
  VOLT_CHECK(node_rank >= 0 && node_rank < options.num_nodes, "NODE_RANK=", node_rank, " must be in [0, num_nodes=",
             options.num_nodes, ")");
  const char* addr_env = std::getenv("MASTER_ADDR");
  const char* port_env = std::getenv("MASTER_PORT");
  VOLT_CHECK(options.num_nodes == 1 || (addr_env && *addr_env && port_env && *port_env),
             "Trainer(num_nodes=", options.num_nodes, ") needs MASTER_ADDR and MASTER_PORT (the address and a free "
             "port of node 0) and NODE_RANK on every node; see docs/distributed.md");
  const std::string master_addr = addr_env && *addr_env ? addr_env : "127.0.0.1";
  const int master_port = port_env && *port_env ? std::atoi(port_env) : find_free_port();
  const int world_size = options.devices * options.num_nodes;

  std::vector<std::string> args = own_argv();
  std::vector<char*> argv = c_strings(args);
  const std::vector<std::string> overridden = {"RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "NODE_RANK",
                                               "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT"};
  std::vector<std::string> base_env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    std::string key = entry.substr(0, entry.find('='));
    if (std::find(overridden.begin(), overridden.end(), key) == overridden.end()) base_env.push_back(entry);
  }

  std::cout.flush();
  std::cerr.flush();
  std::vector<Child> children;
  for (int local = 0; local < options.devices; ++local) {
    const int rank = node_rank * options.devices + local;
    std::vector<std::string> env = base_env;
    env.push_back("RANK=" + std::to_string(rank));
    env.push_back("LOCAL_RANK=" + std::to_string(local));
    env.push_back("WORLD_SIZE=" + std::to_string(world_size));
    env.push_back("LOCAL_WORLD_SIZE=" + std::to_string(options.devices));
    env.push_back("NODE_RANK=" + std::to_string(node_rank));
    env.push_back("GROUP_RANK=" + std::to_string(node_rank));
    env.push_back("MASTER_ADDR=" + master_addr);
    env.push_back("MASTER_PORT=" + std::to_string(master_port));
    std::vector<char*> envp = c_strings(env);
    pid_t pid = ::fork();
    if (pid < 0) {
      for (auto& c : children) ::kill(c.pid, SIGKILL);
      throw DistributedError(std::string("volt: fork failed while starting rank ") + std::to_string(rank) + ": " +
                             std::strerror(errno));
    }
    if (pid == 0) {
      ::execve("/proc/self/exe", argv.data(), envp.data());
      ::_exit(127);  // exec failed
    }
    children.push_back({rank, pid});
  }

  const auto kill_after = launch.kill_after.value_or(ddp->options().timeout + std::chrono::seconds(30));
  g_forward_signal.store(0);
  auto old_int = std::signal(SIGINT, volt_launcher_signal);
  auto old_term = std::signal(SIGTERM, volt_launcher_signal);
  int result = 0;
  // after a failure (or a forwarded signal), ranks still running at this time are killed
  bool armed = false;
  auto deadline = std::chrono::steady_clock::time_point::max();
  size_t alive = children.size();
  while (alive > 0) {
    if (int sig = g_forward_signal.exchange(0)) {
      for (auto& c : children)
        if (c.alive) ::kill(c.pid, sig);
      if (!armed) deadline = std::chrono::steady_clock::now() + kill_after;
      armed = true;
    }
    for (auto& c : children) {
      if (!c.alive) continue;
      int status = 0;
      if (::waitpid(c.pid, &status, WNOHANG) != c.pid) continue;
      c.alive = false;
      --alive;
      int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      if (code != 0 && result == 0) {
        result = code;
        std::cerr << "volt: rank " << c.rank << " (pid " << c.pid << ") "
                  << (WIFEXITED(status) ? "exited with code " + std::to_string(code)
                                        : "was killed by signal " + std::to_string(WTERMSIG(status)))
                  << "; the other ranks stop at their next collective" << std::endl;
        deadline = std::chrono::steady_clock::now() + kill_after;
        armed = true;
      }
    }
    if (alive > 0 && armed && std::chrono::steady_clock::now() > deadline) {
      for (auto& c : children) {
        if (!c.alive) continue;
        std::cerr << "volt: rank " << c.rank << " (pid " << c.pid << ") did not stop within "
                  << std::chrono::duration_cast<std::chrono::seconds>(kill_after).count()
                  << " s after the failure; killing it" << std::endl;
        ::kill(c.pid, SIGKILL);
      }
      armed = false;
    }
    // short polls: the first rank to exit is usually the one that failed, and the report should name it
    if (alive > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  return result;
}

}  // namespace volt
