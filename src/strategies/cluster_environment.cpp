// Reading the launcher's environment: volt's launcher / torchrun (RANK, WORLD_SIZE, ...) and SLURM.
#include "volt/strategies/cluster_environment.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "volt/error.hpp"

namespace volt {
namespace {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

int env_int(const char* name, std::optional<int> fallback = std::nullopt) {
  auto v = env(name);
  if (!v) {
    VOLT_CHECK(fallback.has_value(), "the environment variable ", name, " is not set; a distributed launch sets it");
    return *fallback;
  }
  char* end = nullptr;
  long n = std::strtol(v->c_str(), &end, 10);
  VOLT_CHECK(end != v->c_str() && *end == '\0' && n >= 0 && n < (1L << 30), "the environment variable ", name, "='",
             *v, "' is not a non-negative integer");
  return static_cast<int>(n);
}

}  // namespace

std::string slurm_first_host(const std::string& nodelist) {
  // "name[003-005,9],other" → "name003"; "a,b" → "a"
  std::string first;
  int depth = 0;
  for (char c : nodelist) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0) break;
    first += c;
  }
  auto open = first.find('[');
  if (open == std::string::npos) return first;
  std::string prefix = first.substr(0, open);
  std::string range = first.substr(open + 1, first.find(']') - open - 1);
  std::string head = range.substr(0, range.find_first_of(",-"));
  return prefix + head;
}

std::optional<ClusterEnvironment> detect_cluster_environment() {
  ClusterEnvironment e;
  if (env("RANK") || env("WORLD_SIZE")) {
    VOLT_CHECK(env("RANK") && env("WORLD_SIZE"), "RANK and WORLD_SIZE must be set together (torchrun sets both); "
               "found only ", env("RANK") ? "RANK" : "WORLD_SIZE");
    e.kind = "torchelastic";
    e.global_rank = env_int("RANK");
    e.world_size = env_int("WORLD_SIZE");
    e.local_rank = env_int("LOCAL_RANK", 0);
    e.node_rank = env("GROUP_RANK") ? env_int("GROUP_RANK") : env_int("NODE_RANK", 0);
    e.master_addr = env("MASTER_ADDR").value_or("127.0.0.1");
    e.master_port = env_int("MASTER_PORT", 29500);
  } else if (env("SLURM_PROCID") && env("SLURM_NTASKS")) {
    e.kind = "slurm";
    e.global_rank = env_int("SLURM_PROCID");
    e.world_size = env_int("SLURM_NTASKS");
    e.local_rank = env_int("SLURM_LOCALID", 0);
    e.node_rank = env_int("SLURM_NODEID", 0);
    auto nodelist = env("SLURM_JOB_NODELIST") ? env("SLURM_JOB_NODELIST") : env("SLURM_NODELIST");
    e.master_addr = env("MASTER_ADDR").value_or(nodelist ? slurm_first_host(*nodelist) : "127.0.0.1");
    // Lightning's SLURMEnvironment: MASTER_PORT, else 15000 + the job id's last 4 digits
    if (env("MASTER_PORT")) {
      e.master_port = env_int("MASTER_PORT");
    } else {
      std::string job = env("SLURM_JOB_ID").value_or("0");
      e.master_port = 15000 + std::atoi(job.substr(job.size() > 4 ? job.size() - 4 : 0).c_str());
    }
  } else {
    return std::nullopt;
  }
  VOLT_CHECK(e.world_size >= 1 && e.global_rank < e.world_size, "the launcher's rank ", e.global_rank,
             " is not below its world size ", e.world_size, " (", e.kind, " environment)");
  VOLT_CHECK(e.master_port > 0 && e.master_port < 65536, "MASTER_PORT=", e.master_port, " is not a TCP port");
  return e;
}

int find_free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  VOLT_CHECK_T(DistributedError, fd >= 0, "volt: cannot open a socket to find a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  VOLT_CHECK_T(DistributedError, ok, "volt: cannot bind a socket on 127.0.0.1 to find a free port");
  return ntohs(addr.sin_port);
}

}  // namespace volt
