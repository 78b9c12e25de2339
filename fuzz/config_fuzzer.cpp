// libFuzzer target: volt's YAML config loader (the `volt` command's --config) on any text: parse it, then build
// the trainer, callbacks, loggers and data module it describes. Every input must either build or raise
// volt::ConfigError / volt::MisconfigurationError naming the problem.
//
// Left out on purpose, so that a run stays in memory and on this machine: the model section is replaced by a small
// fixed model (a model's size is the user's to choose), processes and nodes stay at 1 (a DDP trainer would wait
// for peers), and nothing is fitted, so no file is written.
#include <cstddef>
#include <cstdint>
#include <string>

#include "volt/cli.hpp"
#include "volt/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    YAML::Node config = volt::parse_config_text(std::string(reinterpret_cast<const char*>(data), size), "fuzz input");
    YAML::Node model(YAML::NodeType::Map);
    model["class_path"] = "ImageClassifier";
    model["init_args"]["channels"].push_back(2);
    model["init_args"]["hidden"] = 8;
    config["model"] = model;
    if (config["trainer"].IsMap()) {
      config["trainer"]["devices"] = 1;
      config["trainer"]["num_nodes"] = 1;
      config["trainer"]["strategy"] = "auto";
    }
    for (const char* subcommand : {"fit", "validate"}) volt::build_cli_run(subcommand, config);
  } catch (const volt::ConfigError&) {
  } catch (const volt::MisconfigurationError&) {
  }
  return 0;
}
