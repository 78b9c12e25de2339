// Distributed data parallel: the sampler, the launcher's environment, and real 2-process runs of
// examples/ddp_demo over Gloo on 127.0.0.1. Every child process is killed after 60 s, so a hang fails the test
// instead of blocking the suite.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <volt/volt.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>
#include <thread>

#include "support/ivalue_json.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

extern char** environ;

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_ddp_test {

namespace {

const char* kLauncherVariables[] = {"RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "NODE_RANK",
                                    "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID", "SLURM_NTASKS",
                                    "SLURM_LOCALID", "SLURM_NODEID", "SLURM_JOB_NODELIST", "SLURM_NODELIST",
                                    "SLURM_JOB_ID"};

struct ProcessResult {
  int exit_code = -1;
  bool timed_out = false;
  std::string output;
};

struct Process {
  pid_t pid;
  fs::path log;
};

// Starts `args` in its own process group with the launcher variables removed and `env` added.
Process start(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
              const fs::path& log) {
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    std::string key = entry.substr(0, entry.find('='));
    bool drop = env.count(key) > 0;
    for (const char* v : kLauncherVariables) drop |= key == v;
    if (!drop) envs.push_back(entry);
  }
  for (const auto& kv : env) envs.push_back(kv.first + "=" + kv.second);
  std::vector<std::string> argv_strings = args;
  std::vector<char*> argv, envp;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : envs) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string log_path = log.string();
  pid_t pid = ::fork();
  if (pid == 0) {
    // only async-signal-safe calls between fork and exec (the test process has libtorch's threads)
    ::setpgid(0, 0);
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  return {pid, log};
}

// Waits at most `timeout`, then kills the whole process group (the launcher's ranks included).
ProcessResult finish(const Process& p, std::chrono::seconds timeout = 60s) {
  ProcessResult result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    if (::waitpid(p.pid, &status, WNOHANG) == p.pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      result.timed_out = true;
      ::kill(-p.pid, SIGKILL);
      ::waitpid(p.pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  ::kill(-p.pid, SIGKILL);  // stragglers of the group, if any
  if (!result.timed_out) result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(p.log);
  std::stringstream text;
  text << in.rdbuf();
  result.output = text.str();
  return result;
}

std::string demo() { return std::string(VOLT_EXAMPLES_DIR) + "/ddp_demo"; }

fs::path test_root() { return fs::temp_directory_path() / ("volt_ddp_test_" + std::to_string(::getpid())); }

// Removes this process's run directories after the last test.
struct RemoveRunDirectories : ::testing::Environment {
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(test_root(), ec);
  }
};
[[maybe_unused]] ::testing::Environment* const kCleanup = ::testing::AddGlobalTestEnvironment(new RemoveRunDirectories);

fs::path fresh_dir(const std::string& name) {
  fs::path dir = test_root() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::map<std::string, std::string> read_report(const fs::path& file) {
  std::map<std::string, std::string> out;
  std::ifstream in(file);
  std::string key, value;
  while (in >> key >> value) out[key] = value;
  return out;
}

std::vector<torch::Tensor> read_weights(const fs::path& file) {
  std::vector<torch::Tensor> weights;
  torch::load(weights, file.string());
  return weights;
}

// Sets environment variables for the life of a scope (in-process tests of the environment detection).
class ScopedEnv {
 public:
  explicit ScopedEnv(const std::map<std::string, std::string>& values) {
    for (const char* v : kLauncherVariables) save(v);
    for (const auto& kv : values) save(kv.first);
    for (const char* v : kLauncherVariables) ::unsetenv(v);
    for (const auto& kv : values) ::setenv(kv.first.c_str(), kv.second.c_str(), 1);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    for (const auto& kv : saved_) {
      if (kv.second) ::setenv(kv.first.c_str(), kv.second->c_str(), 1);
      else ::unsetenv(kv.first.c_str());
    }
  }

 private:
  void save(const std::string& name) {
    if (saved_.count(name)) return;
    const char* v = std::getenv(name.c_str());
    saved_[name] = v ? std::optional<std::string>(v) : std::nullopt;
  }
  std::map<std::string, std::optional<std::string>> saved_;
};

}  // namespace

// ---- DistributedSampler against torch.utils.data.DistributedSampler (tools/gen_distributed_sampler_golden.py) ----

TEST(DistributedSampler, MatchesPyTorchIndicesForEveryRank) {
  auto cases = volt::test::read_json(std::string(VOLT_SOURCE_DIR) + "/tests/golden/distributed_sampler.json");
  ASSERT_GE(cases.size(), 6u);
  for (const auto& c : cases) {
    for (int64_t rank = 0; rank < c["num_replicas"].get<int64_t>(); ++rank) {
      volt::DistributedSamplerOptions o;
      o.num_replicas = c["num_replicas"].get<int64_t>();
      o.rank = rank;
      o.shuffle = c["shuffle"].get<bool>();
      o.seed = c["seed"].get<uint64_t>();
      o.drop_last = c["drop_last"].get<bool>();
      volt::DistributedSampler sampler(o);
      auto expected = c["indices"][static_cast<size_t>(rank)].get<std::vector<int64_t>>();
      EXPECT_EQ(sampler.indices(c["n"].get<int64_t>(), c["epoch"].get<int64_t>()), expected) << c.dump();
    }
  }
}

TEST(DistributedSampler, UnrepeatedMatchesLightningsPredictionSampler) {
  // tools/gen_unrepeated_sampler_golden.py: Lightning's UnrepeatedDistributedSampler, what predict shards with
  auto cases = volt::test::read_json(std::string(VOLT_SOURCE_DIR) + "/tests/golden/unrepeated_sampler.json");
  ASSERT_GE(cases.size(), 5u);
  for (const auto& c : cases) {
    for (int64_t rank = 0; rank < c["num_replicas"].get<int64_t>(); ++rank) {
      volt::DistributedSamplerOptions o;
      o.num_replicas = c["num_replicas"].get<int64_t>();
      o.rank = rank;
      o.shuffle = c["shuffle"].get<bool>();
      o.seed = c["seed"].get<uint64_t>();
      o.unrepeated = true;
      volt::DistributedSampler sampler(o);
      auto expected = c["indices"][static_cast<size_t>(rank)].get<std::vector<int64_t>>();
      EXPECT_EQ(sampler.indices(c["n"].get<int64_t>(), c["epoch"].get<int64_t>()), expected) << c.dump();
      EXPECT_EQ(sampler.num_samples(c["n"].get<int64_t>()), static_cast<int64_t>(expected.size()));
    }
  }
}

TEST(DistributedSampler, PredictionShardsCoverEverySampleOnce) {
  // 10 samples, batch 3, 3 ranks, unrepeated: 4/3/3 samples, nothing padded, the loader's order kept
  auto x = torch::arange(10).to(torch::kFloat).unsqueeze(1);
  volt::DataLoaderOptions o;
  o.batch_size = 3;
  o.shuffle = true;  // prediction ignores it, as Lightning predicts in order
  volt::TensorDataLoader loader({x}, o);
  std::vector<int64_t> seen;
  std::vector<int64_t> sizes;
  for (int rank = 0; rank < 3; ++rank) {
    volt::DistributedTensorDataLoader shard(loader, 3, rank, /*unrepeated=*/true);
    sizes.push_back(shard.size());
    for (int64_t b = 0; b < shard.size(); ++b) {
      const auto indices = shard.batch_indices(b).value();
      seen.insert(seen.end(), indices.begin(), indices.end());
    }
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{2, 1, 1}));
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));

  // other loaders, by batch without wrapping: 4 batches over 3 ranks → 2, 1, 1
  o.shuffle = false;
  auto inner = std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{x}, o);
  EXPECT_EQ(volt::DistributedBatchLoader(inner, 3, 0, true).size(), 2);
  volt::DistributedBatchLoader rank2(inner, 3, 2, true);
  ASSERT_EQ(rank2.size(), 1);
  EXPECT_EQ(*rank2.batch_indices(0), (std::vector<int64_t>{6, 7, 8}));
}

TEST(DistributedSampler, RejectsARankOutsideTheReplicas) {
  volt::DistributedSamplerOptions o;
  o.num_replicas = 2;
  o.rank = 2;
  EXPECT_THROW(volt::DistributedSampler{o}, volt::MisconfigurationError);
}

TEST(DistributedSampler, ShardedLoadersGiveEveryRankTheSameNumberOfBatches) {
  // 10 samples, batch 3, 3 ranks: each rank gets 4 samples (2 padded in all) → 2 batches
  auto x = torch::arange(10).to(torch::kFloat).unsqueeze(1);
  volt::DataLoaderOptions o;
  o.batch_size = 3;
  volt::TensorDataLoader loader({x}, o);
  std::vector<int64_t> seen;
  for (int rank = 0; rank < 3; ++rank) {
    volt::DistributedTensorDataLoader shard(loader, 3, rank);
    ASSERT_EQ(shard.size(), 2);
    for (int64_t b = 0; b < shard.size(); ++b) {
      const auto indices = shard.batch_indices(b).value();
      seen.insert(seen.end(), indices.begin(), indices.end());
    }
    EXPECT_TRUE(torch::equal(shard.batch(0).toTensor().squeeze(1),
                             torch::tensor({rank, rank + 3, rank + 6}).to(torch::kFloat)));
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9}));  // 0 and 1 repeated as padding

  // any other loader is sharded by batch, wrapping around: 4 batches over 3 ranks → 2 each
  auto inner = std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{x}, o);
  volt::DistributedBatchLoader rank2(inner, 3, 2);
  ASSERT_EQ(rank2.size(), 2);
  EXPECT_EQ(*rank2.batch_indices(0), (std::vector<int64_t>{6, 7, 8}));
  EXPECT_EQ(*rank2.batch_indices(1), (std::vector<int64_t>{3, 4, 5}));  // batch 5 wraps to batch 1
}

// ---- the launcher's environment ------------------------------------------------------------------------------------

TEST(ClusterEnvironment, ReadsTorchrunVariables) {
  ScopedEnv env({{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"}, {"GROUP_RANK", "1"},
                 {"MASTER_ADDR", "10.0.0.5"}, {"MASTER_PORT", "29511"}});
  auto e = volt::detect_cluster_environment();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind, "torchelastic");
  EXPECT_EQ(e->global_rank, 3);
  EXPECT_EQ(e->world_size, 4);
  EXPECT_EQ(e->local_rank, 1);
  EXPECT_EQ(e->node_rank, 1);
  EXPECT_EQ(e->master_addr, "10.0.0.5");
  EXPECT_EQ(e->master_port, 29511);
  EXPECT_EQ(volt::distributed::global_rank(), 3);  // rank_zero_only reads the same variables before a group exists
}

TEST(ClusterEnvironment, ReadsSlurmVariables) {
  ScopedEnv env({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"}, {"SLURM_NODEID", "2"},
                 {"SLURM_JOB_NODELIST", "gpu[007-010,12],cpu1"}, {"SLURM_JOB_ID", "1234567"}});
  auto e = volt::detect_cluster_environment();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->kind, "slurm");
  EXPECT_EQ(e->global_rank, 5);
  EXPECT_EQ(e->world_size, 8);
  EXPECT_EQ(e->local_rank, 1);
  EXPECT_EQ(e->node_rank, 2);
  EXPECT_EQ(e->master_addr, "gpu007");
  EXPECT_EQ(e->master_port, 15000 + 4567);  // Lightning's SLURMEnvironment default port
  EXPECT_EQ(volt::slurm_first_host("node1,node2"), "node1");
  EXPECT_EQ(volt::slurm_first_host("a[3,5-6]"), "a3");
}

TEST(ClusterEnvironment, NoLauncherMeansOneProcess) {
  ScopedEnv env(std::map<std::string, std::string>{});
  EXPECT_FALSE(volt::detect_cluster_environment().has_value());
  volt::TrainerOptions o;
  EXPECT_EQ(volt::make_strategy(o)->name(), "single_device");
  EXPECT_FALSE(volt::launch_processes(o).has_value());  // nothing to launch for one device
}

TEST(ClusterEnvironment, HalfSetOrInconsistentVariablesAreClearErrors) {
  {
    ScopedEnv env(std::map<std::string, std::string>{{"RANK", "0"}});
    EXPECT_THROW(volt::detect_cluster_environment(), volt::MisconfigurationError);
  }
  {
    ScopedEnv env({{"RANK", "2"}, {"WORLD_SIZE", "2"}});
    EXPECT_THROW(volt::detect_cluster_environment(), volt::MisconfigurationError);
  }
  {
    ScopedEnv env({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "http"}});
    EXPECT_THROW(volt::detect_cluster_environment(), volt::MisconfigurationError);
  }
}

TEST(StrategySelection, NamesAndDeviceCountsAreChecked) {
  ScopedEnv env(std::map<std::string, std::string>{});
  volt::TrainerOptions o;
  o.devices = 2;
  EXPECT_EQ(volt::make_strategy(o)->name(), "ddp");  // auto
  o.strategy = "single_device";
  EXPECT_THROW(volt::make_strategy(o), volt::MisconfigurationError);
  o.strategy = "fsdp";
  EXPECT_THROW(volt::make_strategy(o), volt::MisconfigurationError);
  o.strategy = "ddp";
  o.devices = 0;
  EXPECT_THROW(volt::make_strategy(o), volt::MisconfigurationError);
}

TEST(StrategySelection, DdpWithoutALaunchSaysHowToLaunch) {
  ScopedEnv env(std::map<std::string, std::string>{});
  volt::TrainerOptions o;
  o.devices = 2;
  o.strategy = "ddp";
  o.enable_progress_bar = o.enable_model_summary = o.enable_checkpointing = false;
  o.max_epochs = 1;
  volt::Trainer trainer(o);
  struct Tiny : volt::Module {
    Tiny() { fc = register_module("fc", torch::nn::Linear(1, 1)); }
    volt::StepOutput training_step(const volt::Batch& b, int64_t) override { return fc->forward(b.toTensor()).sum(); }
    volt::OptimizerConfig configure_optimizers() override {
      return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.1));
    }
    torch::nn::Linear fc{nullptr};
  } model;
  auto loader = std::make_shared<volt::TensorDataLoader>(std::vector<torch::Tensor>{torch::ones({4, 1})});
  try {
    trainer.fit(model, loader);
    FAIL() << "fit without a launch must fail";
  } catch (const volt::MisconfigurationError& e) {
    EXPECT_NE(std::string(e.what()).find("volt::launch_processes"), std::string::npos) << e.what();
  }
}

TEST(StrategySelection, LauncherWorldSizeMustMatchDevicesTimesNodes) {
  ScopedEnv env({{"RANK", "0"}, {"WORLD_SIZE", "3"}, {"MASTER_PORT", "29999"}});
  volt::DDPStrategy ddp;
  ddp.set_topology(2, 1);
  EXPECT_THROW(ddp.setup_environment(), volt::MisconfigurationError);
}

// ---- 2 processes over Gloo on loopback ----------------------------------------------------------------------------

namespace {
// Trains with DDP on 2 ranks and with one process on the concatenated batches; returns the DDP run's output.
std::string expect_ddp_matches_one_process(const fs::path& dir, const std::vector<std::string>& extra) {
  std::vector<std::string> ddp_args = {demo(), "--mode=train", "--devices=2", "--out=" + (dir / "ddp").string()};
  std::vector<std::string> single_args = {demo(), "--mode=single", "--out=" + (dir / "single").string()};
  ddp_args.insert(ddp_args.end(), extra.begin(), extra.end());
  single_args.insert(single_args.end(), extra.begin(), extra.end());
  auto ddp = finish(start(ddp_args, {}, dir / "ddp.log"));
  EXPECT_FALSE(ddp.timed_out) << ddp.output;
  EXPECT_EQ(ddp.exit_code, 0) << ddp.output;
  auto single = finish(start(single_args, {}, dir / "single.log"));
  EXPECT_EQ(single.exit_code, 0) << single.output;
  if (ddp.exit_code != 0 || single.exit_code != 0) return ddp.output;

  auto w0 = read_weights(dir / "ddp" / "weights_rank0.pt");
  auto w1 = read_weights(dir / "ddp" / "weights_rank1.pt");
  auto ws = read_weights(dir / "single" / "weights_rank0.pt");
  EXPECT_EQ(w0.size(), 4u);
  EXPECT_EQ(w1.size(), w0.size());
  EXPECT_EQ(ws.size(), w0.size());
  for (size_t i = 0; i < std::min({w0.size(), w1.size(), ws.size()}); ++i) {
    EXPECT_TRUE(torch::equal(w0[i], w1[i])) << "parameter " << i << " differs between the ranks";
    EXPECT_TRUE(torch::allclose(w0[i], ws[i], /*rtol=*/1e-4, /*atol=*/1e-5))
        << "parameter " << i << ": DDP\n" << w0[i] << "\none process\n" << ws[i];
  }
  return ddp.output;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}
}  // namespace

TEST(DDPTwoProcesses, WeightsAgreeAndMatchOneProcessOnTheConcatenatedBatches) {
  auto dir = fresh_dir("train");
  const std::string output = expect_ddp_matches_one_process(dir, {});
  EXPECT_EQ(count(output, "Trainable params"), 1u) << output;  // the model summary only on rank 0

  auto r0 = read_report(dir / "ddp" / "rank0.txt");
  auto r1 = read_report(dir / "ddp" / "rank1.txt");
  EXPECT_EQ(r0["global_rank"], "0");
  EXPECT_EQ(r1["global_rank"], "1");
  EXPECT_EQ(r1["local_rank"], "1");
  EXPECT_EQ(r0["world_size"], "2");
  EXPECT_EQ(r0["train_epoch_ends"], "3");  // every hook runs on every rank
  EXPECT_EQ(r1["train_epoch_ends"], "3");
  EXPECT_EQ(r0["progress_bar_enabled"], "1");  // the progress bar only on rank 0
  EXPECT_EQ(r1["progress_bar_enabled"], "0");
  EXPECT_EQ(r0["rank_mean"], "0.5");  // log(sync_dist=true) of the rank: the mean over both ranks
  EXPECT_EQ(r1["rank_mean"], "0.5");
  // exactly one checkpoint file per save (3 epochs, save_top_k=-1), written by rank 0 only
  std::vector<std::string> files;
  for (const auto& f : fs::directory_iterator(dir / "ddp" / "checkpoints")) files.push_back(f.path().filename());
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"epoch=0-step=4.ckpt", "epoch=1-step=8.ckpt", "epoch=2-step=12.ckpt"}));
}

TEST(DDPTwoProcesses, GradientAccumulationMatchesOneProcess) {
  // accumulate 2 batches: the averaged accumulated gradients equal one process's on the concatenated batches
  auto dir = fresh_dir("accumulate");
  expect_ddp_matches_one_process(dir, {"--accumulate=2", "--max_epochs=2", "--profiler=simple"});
  // the profiler records the wait for the gradient all-reduce after every backward of a DDP run, not on one device
  auto ddp = read_report(dir / "ddp" / "rank0.txt"), single = read_report(dir / "single" / "rank0.txt");
  EXPECT_EQ(ddp["backward_calls"], "8");  // 2 epochs of 4 batches per rank
  EXPECT_EQ(ddp["post_backward_calls"], "8");
  EXPECT_EQ(single["backward_calls"], "8");  // one process on both ranks' batches concatenated: as many steps
  EXPECT_EQ(single["post_backward_calls"], "0");
}

TEST(DDPTwoProcesses, OneBucketPerParameterStartsDuringBackwardAndStillMatches) {
  // buckets of ~10 bytes: every parameter gets its own bucket, so all-reduces start during the backward pass and
  // several are in flight at once; the result must not change
  const std::string output =
      expect_ddp_matches_one_process(fresh_dir("small_buckets"), {"--bucket_cap_mb=0.00001", "--max_epochs=2"});
  EXPECT_NE(output.find("gradient buckets 4, started during backward 4"), std::string::npos) << output;
}

TEST(DDPTwoProcesses, AParameterUnusedOnOneRankOrOnAllRanksNeitherHangsNorDiverges) {
  // `extra` is used by rank 0 only (rank 1 contributes zeros to its average); `idle` by no rank (its gradient stays
  // undefined, so SGD leaves it alone, as in one process)
  auto dir = fresh_dir("unused");
  auto run = finish(start({demo(), "--mode=unused", "--devices=2", "--max_epochs=2", "--bucket_cap_mb=0.00001",
                           "--out=" + dir.string()},
                          {}, dir / "log"));
  ASSERT_FALSE(run.timed_out) << run.output;
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // idle's bucket never becomes ready, so it and the bucket after it start when the backward has finished
  EXPECT_EQ(count(run.output, "gradient buckets 6, started during backward 4"), 2u) << run.output;
  auto w0 = read_weights(dir / "weights_rank0.pt");
  auto w1 = read_weights(dir / "weights_rank1.pt");
  ASSERT_EQ(w0.size(), 6u);
  for (size_t i = 0; i < w0.size(); ++i) EXPECT_TRUE(torch::equal(w0[i], w1[i])) << "parameter " << i;
  // parameters() lists the module's own parameters before its children's: extra, idle, fc1.*, fc2.*
  EXPECT_FALSE(torch::equal(w0[0], torch::zeros({1}))) << "extra got no gradient";
  EXPECT_TRUE(torch::equal(w0[1], torch::ones({3}))) << "idle was updated";
}

TEST(DDPTwoProcesses, PredictionIsShardedWithoutRepeatingASample) {
  auto dir = fresh_dir("predict");
  auto run = finish(start({demo(), "--mode=predict", "--devices=2", "--out=" + dir.string()}, {}, dir / "log"));
  ASSERT_FALSE(run.timed_out) << run.output;
  ASSERT_EQ(run.exit_code, 0) << run.output;
  std::vector<int64_t> all;
  std::map<int, std::vector<int64_t>> per_rank;
  std::map<int, std::string> batches;
  for (int rank = 0; rank < 2; ++rank) {
    std::ifstream in(dir / ("predicted_rank" + std::to_string(rank) + ".txt"));
    std::string word;
    while (in >> word) {
      if (word == "batches") in >> batches[rank];
      else per_rank[rank].push_back(std::stoll(word));
    }
    all.insert(all.end(), per_rank[rank].begin(), per_rank[rank].end());
  }
  EXPECT_EQ(per_rank[0].size(), 32u);
  EXPECT_EQ(per_rank[1].size(), 31u);
  EXPECT_EQ(per_rank[1].front(), 1);  // rank 1: samples 1, 3, 5, ...
  EXPECT_EQ(per_rank[1].back(), 61);
  EXPECT_EQ(batches[0], "4");
  EXPECT_EQ(batches[1], "4");
  std::sort(all.begin(), all.end());
  std::vector<int64_t> expected(63);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(all, expected);
}

TEST(DDPTwoProcesses, EarlyStoppingSeenByOneRankStopsBothAtTheSameEpoch) {
  auto dir = fresh_dir("early_stop");
  auto run = finish(start({demo(), "--mode=early_stop", "--devices=2", "--out=" + dir.string()}, {}, dir / "log"));
  ASSERT_FALSE(run.timed_out) << run.output;
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // rank 1's signal never improves (patience 1 → stop after epoch 1); rank 0's improves every epoch
  EXPECT_EQ(read_report(dir / "rank0.txt")["current_epoch"], "2");
  EXPECT_EQ(read_report(dir / "rank1.txt")["current_epoch"], "2");
}

TEST(DDPTwoProcesses, AFailingRankEndsTheRunWithAClearErrorAndNoHang) {
  auto dir = fresh_dir("fail");
  auto run = finish(start({demo(), "--mode=fail", "--devices=2", "--timeout_s=20", "--out=" + dir.string()}, {},
                          dir / "log"));
  ASSERT_FALSE(run.timed_out) << run.output;
  EXPECT_NE(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("rank 1 failed: ddp_demo: rank 1 fails on purpose"), std::string::npos) << run.output;
  // on_exception ran on both ranks; rank 0's error names rank 1
  std::ifstream e0(dir / "exception_rank0.txt"), e1(dir / "exception_rank1.txt");
  std::string m0((std::istreambuf_iterator<char>(e0)), {}), m1((std::istreambuf_iterator<char>(e1)), {});
  EXPECT_NE(m0.find("rank 1 failed"), std::string::npos) << m0;
  EXPECT_NE(m1.find("fails on purpose"), std::string::npos) << m1;
}

TEST(DDPTwoProcesses, AHangingRankMakesTheOthersFailAfterTheTimeout) {
  // rank 1 stops answering (sleeps in training_step); rank 0's next collective gives up after --timeout_s, and the
  // launcher kills rank 1 --kill_after_s later
  auto dir = fresh_dir("hang");
  auto run = finish(start({demo(), "--mode=hang", "--devices=2", "--timeout_s=3", "--kill_after_s=2",
                           "--out=" + dir.string()},
                          {}, dir / "log"));
  ASSERT_FALSE(run.timed_out) << run.output;
  EXPECT_NE(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("volt: the all_reduce on rank 0 failed"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("within the timeout (3 s, DDPOptions::timeout)"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("volt: rank 1 (pid"), std::string::npos) << run.output;  // killed by the launcher
  EXPECT_TRUE(fs::exists(dir / "exception_rank0.txt"));
}

TEST(DDPTwoProcesses, TorchrunStyleEnvironmentIsRespected) {
  // Two processes started the way torchrun starts them: the launcher stays out of the way, the ranks rendezvous.
  auto dir = fresh_dir("torchrun");
  const std::string port = std::to_string(volt::find_free_port());
  std::vector<Process> ranks;
  for (int r = 0; r < 2; ++r)
    ranks.push_back(start({demo(), "--mode=train", "--devices=2", "--max_epochs=1", "--out=" + dir.string()},
                          {{"RANK", std::to_string(r)}, {"LOCAL_RANK", std::to_string(r)}, {"WORLD_SIZE", "2"},
                           {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", port}},
                          dir / ("log" + std::to_string(r))));
  for (int r = 0; r < 2; ++r) {
    auto result = finish(ranks[static_cast<size_t>(r)]);
    ASSERT_FALSE(result.timed_out) << result.output;
    EXPECT_EQ(result.exit_code, 0) << result.output;
    auto report = read_report(dir / ("rank" + std::to_string(r) + ".txt"));
    EXPECT_EQ(report["global_rank"], std::to_string(r));
    EXPECT_EQ(report["world_size"], "2");
  }
  EXPECT_TRUE(torch::equal(read_weights(dir / "weights_rank0.pt")[0], read_weights(dir / "weights_rank1.pt")[0]));
}

}  // namespace volt_test_ddp_test
}  // namespace
