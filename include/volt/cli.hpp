// volt's LightningCLI: runs fit/validate/test/predict from YAML configs and command-line overrides.
//
//   volt fit --config cfg.yaml [--config more.yaml] [--trainer.max_epochs=3] [--model.init_args.lr 0.01]
//   volt test --config cfg.yaml --ckpt_path=last
//   volt fit --config cfg.yaml --print_config        (prints the complete config, defaults included, and exits)
//
// The config has LightningCLI's layout: `seed_everything`, `trainer` (its options, `callbacks` and `logger`
// given as `class_path` + `init_args`), `model` and `data` (a registered name as `class_path` + `init_args`) and
// `ckpt_path`. Names resolve through volt::Registry; plugins in VOLT_PLUGIN_PATH are loaded first so their names
// are known. Every problem is found before anything runs or writes: the error names the YAML path, what is wrong
// and the valid choices, and the exit status is 2.
#pragma once
#include <yaml-cpp/yaml.h>

#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "volt/trainer.hpp"

namespace volt {

/// A parsed command line: the subcommand and the merged config (files and overrides applied in order).
struct CliArgs {
  std::string subcommand;
  YAML::Node config;
  bool print_config = false;
  bool help = false;
};

/// The text of a config file (`name` says which, in messages) as a mapping; empty text is an empty mapping.
/// Throws ConfigError if it is not valid YAML or not a mapping at the top.
YAML::Node parse_config_text(const std::string& text, const std::string& name);

/// Parses `args` (without the program name). Throws ConfigError for usage errors and unreadable config files.
CliArgs parse_cli_args(const std::vector<std::string>& args);

/// Everything a run needs, built from a config; nothing has run or been written yet.
struct CliRun {
  std::string subcommand;
  std::shared_ptr<Module> model;
  std::shared_ptr<DataModule> datamodule;  // may be null: the model's own dataloader hooks are used
  std::unique_ptr<Trainer> trainer;
  std::string ckpt_path;
  std::optional<uint64_t> seed;
  /// The complete config with every default filled in (what --print_config prints and config.yaml keeps).
  YAML::Node effective_config;
};

/// Seeds (seed_everything) and builds the model, data module and trainer that `config` describes for
/// `subcommand`. Throws ConfigError naming the YAML path of the first problem.
CliRun build_cli_run(const std::string& subcommand, const YAML::Node& config);

/// The `volt` program: parses, builds, prints or runs. Returns the exit status (0 ok, 1 the run failed, 2 the
/// command line or config is invalid); messages go to `out` and `err`.
int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int run_cli(int argc, const char* const* argv);

}  // namespace volt
