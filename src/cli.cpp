// The `volt` command: LightningCLI's subcommands, config layout and override syntax. The command line is parsed
// by hand because every option is a config path (jsonargparse's model: `--trainer.max_epochs=3` sets
// trainer.max_epochs), which an option-declaring parser such as CLI11 would only pass through as "extras".
#include "volt/cli.hpp"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "config_args.hpp"
#include "volt/callbacks/timer.hpp"
#include "volt/detail/atomic_file.hpp"
#include "volt/loggers/tensorboard_logger.hpp"
#include "volt/messages.hpp"
#include "volt/plugins.hpp"
#include "volt/strategies/launcher.hpp"
#include "volt/registry.hpp"

namespace fs = std::filesystem;

namespace volt {
namespace {

const std::vector<std::string> kSubcommands = {"fit", "validate", "test", "predict"};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// ---- config files and overrides --------------------------------------------------------------------------------

/// Merges `over` into `base` as jsonargparse does with several --config files: mappings merge key by key, anything
/// else replaces.
YAML::Node merged(const YAML::Node& base, const YAML::Node& over) {
  if (!base.IsMap() || !over.IsMap()) return YAML::Clone(over);
  YAML::Node out = YAML::Clone(base);
  for (const auto& kv : over) {
    const std::string key = kv.first.Scalar();
    out[key] = out[key].IsDefined() ? merged(out[key], kv.second) : YAML::Clone(kv.second);
  }
  return out;
}

YAML::Node load_config_file(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw ConfigError("--config " + path + ": no such file; give the path of a YAML config file");
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) throw ConfigError("--config " + path + ": cannot be read");
  return parse_config_text(text.str(), "--config " + path);
}

/// `--a.b.c=value`: sets config[a][b][c] to `value` read as YAML (so 3 is an integer, [1, 2] a list). Under model
/// and data, a key that is not class_path/init_args goes into init_args, as LightningCLI's `--model.lr` does.
void apply_override(YAML::Node& config, const std::string& dotted, const std::string& text) {
  std::vector<std::string> keys;
  std::stringstream parts(dotted);
  for (std::string key; std::getline(parts, key, '.');) {
    if (key.empty()) throw ConfigError("--" + dotted + ": empty key in the option name");
    keys.push_back(key);
  }
  if ((keys[0] == "model" || keys[0] == "data") && keys.size() > 1) {
    if (keys[1] != "class_path" && keys[1] != "init_args") keys.insert(keys.begin() + 1, "init_args");
    if (config[keys[0]].IsScalar()) {  // `model: Name` becomes `model: {class_path: Name}` to take arguments
      YAML::Node entry(YAML::NodeType::Map);
      entry["class_path"] = config[keys[0]].Scalar();
      config[keys[0]] = entry;
    }
  }
  YAML::Node value;
  try {
    value = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError("--" + dotted + ": the value '" + text + "' is not valid YAML: " + e.what());
  }
  // Walk down, creating mappings on the way. yaml-cpp's operator= writes through to the node a handle refers to,
  // so handles are moved with reset().
  YAML::Node current;
  current.reset(config);
  for (std::size_t i = 0; i + 1 < keys.size(); ++i) {
    YAML::Node next;
    next.reset(current[keys[i]]);
    if (next.IsDefined() && !next.IsNull() && !next.IsMap())
      throw ConfigError("--" + dotted + ": '" + keys[i] + "' is " + describe_yaml(next) +
                        ", not a mapping; set it as a whole in a config file");
    if (!next.IsDefined() || next.IsNull()) {
      current[keys[i]] = YAML::Node(YAML::NodeType::Map);
      next.reset(current[keys[i]]);
    }
    current.reset(next);
  }
  current[keys.back()] = value;
}

// ---- building objects --------------------------------------------------------------------------------------------

/// A `class_path` entry: `{class_path: X, init_args: {...}}`, ksuit's `{kind: X, key: value, ...}`, or just `X`.
struct ClassEntry {
  std::string class_path;
  YAML::Node init_args;
  std::string args_path;
  bool ksuit_style = false;
};

ClassEntry class_entry(const YAML::Node& node, const std::string& path, const std::string& what) {
  ClassEntry e;
  if (node.IsScalar()) {
    e.class_path = node.Scalar();
    e.args_path = path + ".init_args";
    return e;
  }
  if (!node.IsMap())
    config_error(path, "expected a " + what + " as `class_path: Name` with `init_args: {...}`, got " +
                           describe_yaml(node));
  if (node["kind"].IsDefined() && !node["class_path"].IsDefined()) {  // ksuit's factories
    e.class_path = yaml_as<std::string>(node["kind"], path + ".kind");
    e.init_args = YAML::Node(YAML::NodeType::Map);
    for (const auto& kv : node)  // ksuit's `name:` is a discriminator of its config classes, not an argument
      if (kv.first.Scalar() != "kind" && kv.first.Scalar() != "name") e.init_args[kv.first.Scalar()] = kv.second;
    e.args_path = path;
    e.ksuit_style = true;
    return e;
  }
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    if (key != "class_path" && key != "init_args")
      config_error(path + "." + key, "unknown key '" + key + "' in a " + what +
                                         " entry; valid keys: class_path, init_args (or ksuit's kind:)");
  }
  if (!node["class_path"].IsDefined())
    config_error(path, "the " + what + " entry has no `class_path`; add `class_path: <registered name>`");
  e.class_path = yaml_as<std::string>(node["class_path"], path + ".class_path");
  // (operator[] of a const node gives an invalid node for a missing key, which reset() rejects)
  if (node["init_args"].IsDefined()) e.init_args.reset(node["init_args"]);
  e.args_path = path + ".init_args";
  return e;
}

YAML::Node entry_yaml(const std::string& name, const InitArgs& args) {
  YAML::Node out(YAML::NodeType::Map);
  out["class_path"] = name;
  out["init_args"] = args.effective();
  return out;
}

/// Writes the run's config to `<log_dir>/config.yaml` at setup, as LightningCLI's SaveConfigCallback does.
class SaveConfigCallback : public Callback {
 public:
  explicit SaveConfigCallback(YAML::Node config) : config_(std::move(config)) {}
  std::string class_name() const override { return "SaveConfigCallback"; }
  void setup(Trainer& trainer, Module&, const std::string&) override {
    if (already_saved_) return;
    const std::string log_dir =
        trainer.loggers().empty() ? trainer.default_root_dir() : trainer.loggers().front()->log_dir();
    const fs::path path = fs::path(log_dir) / "config.yaml";
    if (trainer.is_global_zero() && fs::exists(path))
      throw std::runtime_error("SaveConfigCallback expected " + path.string() +
                               " to NOT exist. Aborting to avoid overwriting results of a previous run. You can "
                               "delete the previous config file or give the loggers another version.");
    if (trainer.is_global_zero()) {
      fs::create_directories(log_dir);
      YAML::Emitter emitter;
      emitter << config_;
      detail::atomic_write_file(path.string(), std::string(emitter.c_str()) + "\n");
    }
    already_saved_ = true;
  }

 private:
  YAML::Node config_;
  bool already_saved_ = false;
};

std::vector<CallbackPtr> build_callbacks(const YAML::Node& node, const std::string& path, YAML::Node& shown) {
  std::vector<CallbackPtr> out;
  shown = YAML::Node(YAML::NodeType::Sequence);
  if (!node.IsDefined() || node.IsNull()) return out;
  // yaml-cpp's operator= writes through to the node a handle refers to; reset() rebinds the handle
  YAML::Node list(YAML::NodeType::Sequence);
  if (node.IsMap() || node.IsScalar()) list.push_back(node);  // one callback given without a list
  else list.reset(node);
  if (!list.IsSequence()) config_error(path, "expected a list of callbacks, got " + describe_yaml(node));
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string item = path + "[" + std::to_string(i) + "]";
    ClassEntry e = class_entry(list[i], item, "callback");
    InitArgs args(e.init_args, e.args_path);
    out.push_back(Registry::global().make_callback(e.class_path, args, item + (e.ksuit_style ? ".kind" : ".class_path")));
    shown.push_back(entry_yaml(Registry::global().resolve("callback", e.class_path), args));
  }
  return out;
}

std::vector<std::shared_ptr<Logger>> build_loggers(const YAML::Node& node, const std::string& path,
                                                   const std::string& default_root_dir, YAML::Node& shown) {
  std::vector<std::shared_ptr<Logger>> out;
  bool enabled = true;
  if (!node.IsDefined() || node.IsNull() || (node.IsScalar() && YAML::convert<bool>::decode(node, enabled))) {
    // Lightning's logger=True: its default logger (TensorBoard, which volt writes without extra packages)
    shown = enabled;
    if (enabled) out.push_back(std::make_shared<TensorBoardLogger>(default_root_dir));
    return out;
  }
  YAML::Node list(YAML::NodeType::Sequence);
  if (node.IsMap() || node.IsScalar()) list.push_back(node);
  else list.reset(node);
  if (!list.IsSequence())
    config_error(path, "expected true, false, a logger or a list of loggers, got " + describe_yaml(node));
  shown = YAML::Node(YAML::NodeType::Sequence);
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string item = node.IsSequence() ? path + "[" + std::to_string(i) + "]" : path;
    ClassEntry e = class_entry(list[i], item, "logger");
    InitArgs args(e.init_args, e.args_path);
    out.push_back(Registry::global().make_logger(e.class_path, args, item + ".class_path"));
    shown.push_back(entry_yaml(Registry::global().resolve("logger", e.class_path), args));
  }
  return out;
}

/// The `trainer:` section: TrainerOptions' fields with Lightning's names.
TrainerOptions trainer_options(const YAML::Node& node, YAML::Node& shown) {
  InitArgs a(node, "trainer");
  TrainerOptions o;
  o.max_epochs = a.get("max_epochs", o.max_epochs);
  o.min_epochs = a.get("min_epochs", o.min_epochs);
  o.max_steps = a.get("max_steps", o.max_steps);
  o.min_steps = a.get("min_steps", o.min_steps);
  o.max_time = detail::duration_arg(a, "max_time");
  o.limit_train_batches = detail::batch_limit_arg(a, "limit_train_batches", o.limit_train_batches);
  o.limit_val_batches = detail::batch_limit_arg(a, "limit_val_batches", o.limit_val_batches);
  o.limit_test_batches = detail::batch_limit_arg(a, "limit_test_batches", o.limit_test_batches);
  o.limit_predict_batches = detail::batch_limit_arg(a, "limit_predict_batches", o.limit_predict_batches);
  o.val_check_interval = detail::batch_limit_arg(a, "val_check_interval", o.val_check_interval);
  o.check_val_every_n_epoch = a.get("check_val_every_n_epoch", o.check_val_every_n_epoch);
  o.num_sanity_val_steps = a.get("num_sanity_val_steps", o.num_sanity_val_steps);
  o.accumulate_grad_batches = a.get("accumulate_grad_batches", o.accumulate_grad_batches);
  o.gradient_clip_val = a.get("gradient_clip_val", o.gradient_clip_val);
  o.gradient_clip_algorithm = a.get("gradient_clip_algorithm", o.gradient_clip_algorithm);
  o.log_every_n_steps = a.get("log_every_n_steps", o.log_every_n_steps);
  o.enable_checkpointing = a.get("enable_checkpointing", o.enable_checkpointing);
  o.enable_progress_bar = a.get("enable_progress_bar", o.enable_progress_bar);
  o.enable_model_summary = a.get("enable_model_summary", o.enable_model_summary);
  o.default_root_dir = a.get("default_root_dir", o.default_root_dir);
  o.deterministic = a.get("deterministic", o.deterministic);
  {  // fast_dev_run: bool or int, as in Lightning
    YAML::Node fdr = a.raw("fast_dev_run", YAML::Node(false));
    bool flag = false;
    if (fdr.IsDefined() && !fdr.IsNull()) {
      if (fdr.IsScalar() && YAML::convert<bool>::decode(fdr, flag))
        o.fast_dev_run = flag ? 1 : 0;
      else
        o.fast_dev_run = yaml_as<int64_t>(fdr, a.path_of("fast_dev_run"));
    }
  }
  o.accelerator = a.get("accelerator", o.accelerator);
  {  // devices: an int, or "auto" (one device on CPU)
    YAML::Node devices = a.raw("devices", YAML::Node(o.devices));
    if (devices.IsDefined() && !devices.IsNull()) {
      if (devices.IsScalar() && devices.Scalar() == "auto") o.devices = 1;
      else o.devices = yaml_as<int>(devices, a.path_of("devices"));
    }
  }
  o.num_nodes = a.get("num_nodes", o.num_nodes);
  o.strategy = a.get("strategy", o.strategy.name);
  // profiler: null (off, Lightning's default), "simple" or "advanced"; other names fail when the Trainer is built
  if (auto profiler = a.get("profiler", std::optional<std::string>())) o.profiler = *profiler;
  o.slow_callback_warning = a.get("slow_callback_warning", o.slow_callback_warning);
  o.non_finite_loss = a.get("non_finite_loss", o.non_finite_loss);
  o.use_distributed_sampler = a.get("use_distributed_sampler", o.use_distributed_sampler);
  o.inference_mode = a.get("inference_mode", o.inference_mode);
  o.barebones = a.get("barebones", o.barebones);
  YAML::Node callbacks_shown, loggers_shown;
  o.callbacks = build_callbacks(a.raw("callbacks"), "trainer.callbacks", callbacks_shown);
  o.loggers = build_loggers(a.raw("logger"), "trainer.logger", o.default_root_dir, loggers_shown);
  a.check_all_used("the Trainer");
  shown = a.effective();
  shown["callbacks"] = callbacks_shown;
  shown["logger"] = loggers_shown;
  return o;
}

}  // namespace

CliArgs parse_cli_args(const std::vector<std::string>& args) {
  CliArgs out;
  out.config = YAML::Node(YAML::NodeType::Map);
  std::size_t i = 0;
  if (args.empty()) throw ConfigError("expected a subcommand: one of " + join(kSubcommands) + " (try --help)");
  if (args[0] == "--help" || args[0] == "-h") {
    out.help = true;
    return out;
  }
  out.subcommand = args[i++];
  if (std::find(kSubcommands.begin(), kSubcommands.end(), out.subcommand) == kSubcommands.end())
    throw ConfigError("unknown subcommand '" + out.subcommand + "'; choose one of " + join(kSubcommands));
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      out.help = true;
      continue;
    }
    if (arg == "-c") {
      if (i + 1 >= args.size()) throw ConfigError("-c needs a value: -c cfg.yaml");
      out.config = merged(out.config, load_config_file(args[++i]));
      continue;
    }
    if (arg.rfind("--", 0) != 0)
      throw ConfigError("unexpected argument '" + arg + "'; options look like --config cfg.yaml or --trainer.max_epochs=3");
    std::string name = arg.substr(2), value;
    auto eq = name.find('=');
    bool has_value = eq != std::string::npos;
    if (has_value) value = name.substr(eq + 1), name = name.substr(0, eq);
    if (name == "print_config") {
      out.print_config = true;
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) throw ConfigError("--" + name + " needs a value: --" + name + "=<value>");
      value = args[++i];
    }
    if (name == "config" || name == "c") out.config = merged(out.config, load_config_file(value));
    else apply_override(out.config, name, value);
  }
  return out;
}

YAML::Node parse_config_text(const std::string& text, const std::string& name) {
  YAML::Node node;
  try {
    node = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(name + ": not valid YAML: " + e.what());
  }
  if (node.IsNull()) return YAML::Node(YAML::NodeType::Map);
  if (!node.IsMap())
    throw ConfigError(name + ": expected a mapping at the top (trainer:, model:, data:, ...), got " +
                      describe_yaml(node));
  return node;
}

CliRun build_cli_run(const std::string& subcommand, const YAML::Node& config_in) {
  YAML::Node config = config_in.IsDefined() && !config_in.IsNull() ? config_in : YAML::Node(YAML::NodeType::Map);
  if (!config.IsMap()) config_error("", "the config must be a mapping, got " + describe_yaml(config));
  std::vector<std::string> valid = {"seed_everything", "trainer", "model", "data", "ckpt_path"};
  for (const auto& kv : config) {
    const std::string key = kv.first.Scalar();
    if (std::find(valid.begin(), valid.end(), key) == valid.end())
      config_error(key, "unknown top-level key '" + key + "' for `volt " + subcommand + "`; valid keys: " + join(valid));
  }
  CliRun run;
  run.subcommand = subcommand;
  YAML::Node shown(YAML::NodeType::Map);

  // seed_everything: true draws a seed (LightningCLI's default), an integer is used, false leaves torch alone.
  {
    YAML::Node seed = config["seed_everything"];
    bool flag = true;
    if (seed.IsDefined() && !seed.IsNull() && seed.IsScalar() && YAML::convert<bool>::decode(seed, flag)) {
      if (flag) run.seed = std::random_device{}();  // (yaml-cpp's booleans are true/false/yes/no/on/off, not 0/1)
    } else if (seed.IsDefined() && !seed.IsNull()) {
      run.seed = yaml_as<uint64_t>(seed, "seed_everything");
    } else {
      run.seed = std::random_device{}();
    }
    shown["seed_everything"] = run.seed ? YAML::Node(*run.seed) : YAML::Node(false);
  }

  YAML::Node trainer_shown;
  TrainerOptions options = trainer_options(config["trainer"], trainer_shown);
  shown["trainer"] = trainer_shown;

  // The model and data are built after seeding, so their initial weights follow seed_everything.
  if (run.seed) torch::manual_seed(*run.seed);
  YAML::Node model = config["model"];
  if (!model.IsDefined() || model.IsNull())
    config_error("model", "is required: add `model: {class_path: <name>, init_args: {...}}`; registered models: " +
                              join(Registry::global().model_names()));
  ClassEntry m = class_entry(model, "model", "model");
  InitArgs model_args(m.init_args, m.args_path);
  run.model = Registry::global().make_model(m.class_path, model_args, "model.class_path");
  shown["model"] = entry_yaml(Registry::global().resolve("model", m.class_path), model_args);

  YAML::Node data = config["data"];
  if (data.IsDefined() && !data.IsNull()) {
    ClassEntry d = class_entry(data, "data", "data module");
    InitArgs data_args(d.init_args, d.args_path);
    run.datamodule = Registry::global().make_datamodule(d.class_path, data_args, "data.class_path");
    shown["data"] = entry_yaml(Registry::global().resolve("datamodule", d.class_path), data_args);
  } else {
    shown["data"] = YAML::Node(YAML::NodeType::Null);
  }

  YAML::Node ckpt = config["ckpt_path"];
  if (ckpt.IsDefined() && !ckpt.IsNull()) run.ckpt_path = yaml_as<std::string>(ckpt, "ckpt_path");
  shown["ckpt_path"] = run.ckpt_path.empty() ? YAML::Node(YAML::NodeType::Null) : YAML::Node(run.ckpt_path);
  if (!run.ckpt_path.empty() && run.ckpt_path != "last" && run.ckpt_path != "best" && run.ckpt_path != "hpc" &&
      !fs::is_regular_file(run.ckpt_path))
    config_error("ckpt_path", "'" + run.ckpt_path + "' is not a file; give a checkpoint path, \"last\" or \"best\"");

  run.effective_config = shown;
  if (options.fast_dev_run == 0) options.callbacks.push_back(std::make_shared<SaveConfigCallback>(YAML::Clone(shown)));
  run.trainer = std::make_unique<Trainer>(std::move(options));
  return run;
}

namespace {

void print_help(std::ostream& out) {
  auto& r = Registry::global();
  out << "usage: volt {fit,validate,test,predict} [--config CONFIG.yaml ...] [--print_config] [--KEY.PATH=VALUE ...]\n"
         "\n"
         "Runs a Trainer built from YAML configs, as LightningCLI does. Later configs and overrides win.\n"
         "  --config, -c FILE    a YAML config: seed_everything, trainer, model, data, ckpt_path\n"
         "  --print_config       print the complete config (defaults filled in) and exit\n"
         "  --trainer.max_epochs=3, --model.init_args.lr=0.01, --ckpt_path=last, ...\n"
         "\n"
         "registered models:      " << join(r.model_names()) << "\n"
      << "registered data:        " << join(r.datamodule_names()) << "\n"
      << "registered callbacks:   " << join(r.callback_names()) << "\n"
      << "registered loggers:     " << join(r.logger_names()) << "\n"
      << "(plugins in VOLT_PLUGIN_PATH add more)\n";
}

}  // namespace

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CliRun run;
  try {
    plugin_callback_factories();  // plugins register their names before the config is read
    CliArgs parsed = parse_cli_args(args);
    if (parsed.help) {
      print_help(out);
      return 0;
    }
    run = build_cli_run(parsed.subcommand, parsed.config);
    if (parsed.print_config) {
      YAML::Emitter emitter;
      emitter << run.effective_config;
      out << emitter.c_str() << "\n";
      return 0;
    }
  } catch (const std::exception& e) {  // volt::ConfigError and friends; anything else is still a bad config
    err << "volt: error: " << e.what() << "\n";
    return 2;
  }
  try {
    // devices > 1 with DDP: this process becomes the launcher of one process per device (each runs this same
    // command line and trains as one rank), as Lightning's subprocess launcher does
    if (auto status = launch_processes(run.trainer->options())) return *status;
    if (run.seed) rank_zero_info("Seed set to " + std::to_string(*run.seed));
    Trainer& trainer = *run.trainer;
    if (run.subcommand == "fit") trainer.fit(*run.model, run.datamodule.get(), run.ckpt_path);
    else if (run.subcommand == "validate") trainer.validate(*run.model, run.datamodule.get(), run.ckpt_path);
    else if (run.subcommand == "test") trainer.test(*run.model, run.datamodule.get(), run.ckpt_path);
    else trainer.predict(*run.model, run.datamodule.get(), run.ckpt_path);
    return 0;
  } catch (const std::exception& e) {
    err << "volt " << run.subcommand << ": error: " << e.what() << "\n";
    return 1;
  }
}

int run_cli(int argc, const char* const* argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return run_cli(args, std::cout, std::cerr);
}

}  // namespace volt
