// Where a process sits in a multi-process run, read from the launcher's environment: volt's own launcher and
// torchrun set RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (and GROUP_RANK / NODE_RANK); SLURM sets
// SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NODEID and SLURM_JOB_NODELIST. Rendezvous is at
// MASTER_ADDR:MASTER_PORT, where rank 0 hosts c10d's TCPStore.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace volt {

struct ClusterEnvironment {
  /// "torchelastic" (volt's launcher or torchrun: RANK/WORLD_SIZE) or "slurm".
  std::string kind;
  int global_rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int node_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};

/// The environment this process was started in; nullopt when no launcher set one (a plain single process).
/// Throws MisconfigurationError for half-set or inconsistent variables (e.g. RANK without WORLD_SIZE).
std::optional<ClusterEnvironment> detect_cluster_environment();

/// The first host of a SLURM node list: "node[003-005,9],gpu1" → "node003".
std::string slurm_first_host(const std::string& nodelist);

/// A TCP port that was free a moment ago (bind to port 0 on 127.0.0.1 and read it back).
int find_free_port();

}  // namespace volt
