// The local launcher (Lightning's _SubprocessScriptLauncher, as a supervisor): `Trainer(devices=N,
// strategy="ddp")` needs one process per device. Call volt::launch_processes(options) at the top of main():
// in the process the user started it re-executes the program (/proc/self/exe with the same argv) N times with
// RANK/LOCAL_RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT set, waits, and returns the exit code main should return; in
// the started processes (or under torchrun / SLURM) it returns nullopt and the program trains as one rank.
#pragma once
#include <chrono>
#include <optional>

namespace volt {

struct TrainerOptions;

struct LaunchOptions {
  /// After one rank fails, how long the others may take to notice (they fail at their next collective) before
  /// they are killed. Unset: the DDP strategy's timeout plus 30 s.
  std::optional<std::chrono::milliseconds> kill_after;
};

/// Starts options.devices processes of this program on this node when the strategy is DDP and no launcher
/// environment (RANK/WORLD_SIZE or SLURM) is present; returns their combined exit code (0, or the first failing
/// rank's code; a rank killed by a signal gives 128 + signal). Returns nullopt when this process should train.
/// Multi-node: start the same command on every node with NODE_RANK, MASTER_ADDR and MASTER_PORT set.
std::optional<int> launch_processes(const TrainerOptions& options, const LaunchOptions& launch = {});

}  // namespace volt
