// Distributed data parallel with volt: `ddp_demo --devices=2` trains a small regression model on 2 local processes
// (Gloo over loopback). The same binary runs under torchrun or srun, and on several nodes (docs/distributed.md).
// The tests drive it too: --mode picks a scenario and --out a directory where every rank writes what it saw.
//
//   ddp_demo [--devices=N] [--num_nodes=M] [--max_epochs=E] [--mode=train|single|early_stop|fail|hang|unused|predict]
//            [--accumulate=K] [--bucket_cap_mb=MB] [--out=DIR] [--timeout_s=S] [--kill_after_s=S]
//            [--profiler=simple|advanced]
#include <volt/volt.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

namespace fs = std::filesystem;

namespace {

std::map<std::string, std::string> parse_args(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    if (a.rfind("--", 0) != 0 || eq == std::string::npos) {
      std::cerr << "ddp_demo: expected --name=value, got '" << a << "'\n";
      std::exit(2);
    }
    args[a.substr(2, eq - 2)] = a.substr(eq + 1);
  }
  return args;
}

// y = x·w + noise; fixed data (seeded), the same on every rank.
std::vector<torch::Tensor> make_data() {
  auto gen = at::detail::createCPUGenerator(1234);
  auto x = torch::randn({64, 4}, gen);
  auto y = x.matmul(torch::tensor({{1.0f}, {-2.0f}, {0.5f}, {3.0f}})) + 0.1 * torch::randn({64, 1}, gen);
  return {x, y};
}

class Regression : public volt::Module {
 public:
  explicit Regression(std::string mode) : mode_(std::move(mode)) {
    fc1 = register_module("fc1", torch::nn::Linear(4, 8));
    fc2 = register_module("fc2", torch::nn::Linear(8, 1));
    if (mode_ == "unused") {
      // rank 0 only uses `extra`; no rank uses `idle`
      extra = register_parameter("extra", torch::zeros({1}));
      idle = register_parameter("idle", torch::ones({3}));
    }
  }
  volt::StepOutput training_step(const volt::Batch& batch, int64_t batch_idx) override {
    auto xy = batch.toTupleRef().elements();
    const bool rank1_second_epoch = trainer().global_rank() == 1 && trainer().current_epoch() == 1 && batch_idx == 1;
    if (mode_ == "fail" && rank1_second_epoch)
      throw std::runtime_error("ddp_demo: rank 1 fails on purpose in training_step");
    if (mode_ == "hang" && rank1_second_epoch) std::this_thread::sleep_for(std::chrono::minutes(2));
    auto prediction = fc2->forward(torch::relu(fc1->forward(xy[0].toTensor())));
    if (mode_ == "unused" && trainer().global_rank() == 0) prediction = prediction + extra;
    auto loss = torch::mse_loss(prediction, xy[1].toTensor());
    volt::LogOptions synced;
    synced.sync_dist = true;
    synced.on_epoch = true;
    log("rank_mean", static_cast<double>(trainer().global_rank()), synced);  // 0.5 on both ranks with 2
    return loss;
  }
  void on_train_epoch_end() override {
    // early_stop: only rank 1 sees a metric that stops improving; rank 0's keeps improving
    double signal = trainer().global_rank() == 1 ? 1.0 : -static_cast<double>(trainer().current_epoch());
    log("signal", signal);
  }
  volt::StepOutput predict_step(const volt::Batch& batch, int64_t, int64_t) override {
    return fc2->forward(torch::relu(fc1->forward(batch.toTupleRef().elements()[0].toTensor())));
  }
  volt::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  torch::Tensor extra, idle;

 private:
  std::string mode_;
};

// The batches one process sees when it trains on the concatenation of every rank's batch i (DDP's global batch).
class ConcatenatedShards : public volt::DataLoader {
 public:
  ConcatenatedShards(const volt::TensorDataLoader& loader, int world_size) {
    for (int r = 0; r < world_size; ++r)
      shards_.push_back(std::make_shared<volt::DistributedTensorDataLoader>(loader, world_size, r));
  }
  int64_t size() const override { return shards_[0]->size(); }
  void set_epoch(int64_t epoch) override {
    for (auto& s : shards_) s->set_epoch(epoch);
  }
  volt::Batch batch(int64_t index) override {
    std::vector<torch::Tensor> xs, ys;
    for (auto& s : shards_) {
      auto b = s->batch(index).toTupleRef().elements();
      xs.push_back(b[0].toTensor());
      ys.push_back(b[1].toTensor());
    }
    return c10::ivalue::Tuple::create({torch::cat(xs), torch::cat(ys)});
  }

 private:
  std::vector<std::shared_ptr<volt::DistributedTensorDataLoader>> shards_;
};

// Records, per rank, what the tests check.
struct Recorder : volt::Callback {
  int train_epoch_ends = 0;
  bool progress_bar_enabled = false;
  void on_train_start(volt::Trainer& trainer, volt::Module&) override {
    progress_bar_enabled = trainer.progress_bar_callback() && trainer.progress_bar_callback()->is_enabled();
  }
  void on_train_epoch_end(volt::Trainer&, volt::Module&) override { ++train_epoch_ends; }
  void on_exception(volt::Trainer& trainer, volt::Module&, const std::exception& e) override {
    std::ofstream(out_dir / ("exception_rank" + std::to_string(trainer.global_rank()) + ".txt")) << e.what() << "\n";
  }
  fs::path out_dir;
};

// predict: each rank writes the dataset indices it predicted (Lightning's pattern: one file per rank).
struct IndexWriter : volt::BasePredictionWriter {
  IndexWriter() : volt::BasePredictionWriter("epoch") {}
  void write_on_epoch_end(volt::Trainer& trainer, volt::Module&, const std::vector<volt::IValue>& predictions,
                          const std::vector<std::vector<std::vector<int64_t>>>& batch_indices) override {
    std::ofstream file(out_dir / ("predicted_rank" + std::to_string(trainer.global_rank()) + ".txt"));
    for (const auto& batch : batch_indices.at(0))
      for (int64_t index : batch) file << index << "\n";
    file << "batches " << predictions.size() << "\n";
  }
  fs::path out_dir;
};

}  // namespace

int main(int argc, char** argv) {
  auto args = parse_args(argc, argv);
  const std::string mode = args.count("mode") ? args["mode"] : "train";
  const fs::path out = args.count("out") ? args["out"] : "ddp_demo_out";

  volt::TrainerOptions options;
  options.devices = mode == "single" ? 1 : std::stoi(args.count("devices") ? args["devices"] : "2");
  options.num_nodes = std::stoi(args.count("num_nodes") ? args["num_nodes"] : "1");
  volt::DDPOptions ddp;
  ddp.timeout = std::chrono::seconds(std::stoi(args.count("timeout_s") ? args["timeout_s"] : "60"));
  if (args.count("bucket_cap_mb")) ddp.bucket_cap_mb = std::stod(args["bucket_cap_mb"]);
  auto strategy = std::make_shared<volt::DDPStrategy>(ddp);
  if (mode != "single") options.strategy = strategy;
  // volt's launcher: in the process the user started, run one process per device and return their exit code
  volt::LaunchOptions launch;
  if (args.count("kill_after_s")) launch.kill_after = std::chrono::seconds(std::stoi(args["kill_after_s"]));
  if (auto code = volt::launch_processes(options, launch)) return *code;

  torch::set_num_threads(1);
  options.max_epochs = std::stoi(args.count("max_epochs") ? args["max_epochs"] : "3");
  options.accumulate_grad_batches = std::stoi(args.count("accumulate") ? args["accumulate"] : "1");
  options.enable_progress_bar = true;
  options.num_sanity_val_steps = 0;
  options.default_root_dir = out.string();
  if (args.count("profiler")) options.profiler = args["profiler"];
  auto recorder = std::make_shared<Recorder>();
  recorder->out_dir = out;
  volt::ModelCheckpointOptions checkpoints;
  checkpoints.dirpath = (out / "checkpoints").string();
  checkpoints.save_top_k = -1;  // one file per epoch
  options.callbacks = {recorder, std::make_shared<volt::ModelCheckpoint>(checkpoints)};
  if (mode == "early_stop") {
    volt::EarlyStoppingOptions stop;
    stop.monitor = "signal";
    stop.patience = 1;
    options.max_epochs = 10;
    options.callbacks.push_back(std::make_shared<volt::EarlyStopping>(stop));
  }
  fs::create_directories(out);

  // Each rank starts from different weights: DDP must broadcast rank 0's (the single run uses rank 0's seed).
  const char* rank_env = std::getenv("RANK");
  torch::manual_seed(1 + (rank_env ? std::atoi(rank_env) : 0));
  Regression model(mode);
  auto data = make_data();
  volt::DataLoaderOptions batches;
  batches.batch_size = 8;
  batches.shuffle = true;
  batches.seed = 7;
  auto loader = std::make_shared<volt::TensorDataLoader>(data, batches);

  try {
    volt::Trainer trainer(options);
    if (mode == "predict") {
      // 63 samples over 2 ranks: 32 and 31, none twice
      auto writer = std::make_shared<IndexWriter>();
      writer->out_dir = out;
      options.callbacks = {writer};
      volt::Trainer predictor(options);
      volt::DataLoaderOptions in_order;
      in_order.batch_size = 8;
      predictor.predict(model, std::make_shared<volt::TensorDataLoader>(
                                   std::vector<torch::Tensor>{data[0].slice(0, 0, 63), data[1].slice(0, 0, 63)},
                                   in_order));
      return 0;
    }
    if (mode == "single") {
      const int world = std::stoi(args.count("as_world") ? args["as_world"] : "2");
      trainer.fit(model, std::make_shared<ConcatenatedShards>(*loader, world));
    } else {
      trainer.fit(model, loader);
    }
    const int rank = trainer.global_rank();
    std::vector<torch::Tensor> weights;
    for (const auto& p : model.parameters()) weights.push_back(p.detach().clone());
    torch::save(weights, (out / ("weights_rank" + std::to_string(rank) + ".pt")).string());
    std::ofstream report(out / ("rank" + std::to_string(rank) + ".txt"));
    auto metrics = trainer.callback_metrics();
    report << "global_rank " << trainer.global_rank() << "\n"
           << "local_rank " << trainer.local_rank() << "\n"
           << "world_size " << trainer.world_size() << "\n"
           << "current_epoch " << trainer.current_epoch() << "\n"
           << "train_epoch_ends " << recorder->train_epoch_ends << "\n"
           << "progress_bar_enabled " << recorder->progress_bar_enabled << "\n"
           << "rank_mean " << metrics.at("rank_mean").item<double>() << "\n";
    if (auto* simple = dynamic_cast<const volt::SimpleProfiler*>(&trainer.profiler())) {
      auto counts = simple->counts();  // the gradient all-reduce waits (recorded with several processes only)
      report << "post_backward_calls " << counts["[Strategy]DDPStrategy.post_backward"] << "\n"
             << "backward_calls " << counts[std::string("[Strategy]") + (options.devices > 1 ? "DDP" : "SingleDevice") +
                                           "Strategy.backward"]
             << "\n";
    }
    std::cout << "ddp_demo: rank " << rank << " of " << trainer.world_size() << " finished "
              << trainer.current_epoch() << " epochs; gradient buckets " << strategy->gradient_bucket_count()
              << ", started during backward " << strategy->buckets_started_during_backward() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "ddp_demo: rank " << volt::distributed::global_rank() << ": " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
