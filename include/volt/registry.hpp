// Factories by name: what a YAML config's `class_path` resolves to (LightningCLI finds classes by import path; C++
// has no imports, so every class a config can name is registered here). volt's built-ins are registered explicitly
// in src/registry_builtins.cpp; programs and plugins add their own:
//
//   volt::Registry::global().add_model("MyModel", [](volt::InitArgs& args) {
//     return std::make_shared<MyModel>(args.get<double>("lr", 1e-3));
//   });
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "volt/callback.hpp"
#include "volt/config.hpp"

namespace volt {

class Logger;
class Module;
class DataModule;

class Registry {
 public:
  using CallbackFactory = std::function<CallbackPtr(InitArgs&)>;
  using LoggerFactory = std::function<std::shared_ptr<Logger>(InitArgs&)>;
  using ModelFactory = std::function<std::shared_ptr<Module>(InitArgs&)>;
  using DataModuleFactory = std::function<std::shared_ptr<DataModule>(InitArgs&)>;

  /// The process-wide registry, with volt's built-ins registered on first use.
  static Registry& global();

  /// Registers `name`; `source` says where it came from in messages (a plugin path, "volt"). Registering a name
  /// that another source registered is a MisconfigurationError; the same source may replace its own entry.
  void add_callback(const std::string& name, CallbackFactory factory, const std::string& source = "program");
  void add_logger(const std::string& name, LoggerFactory factory, const std::string& source = "program");
  void add_model(const std::string& name, ModelFactory factory, const std::string& source = "program");
  void add_datamodule(const std::string& name, DataModuleFactory factory, const std::string& source = "program");

  /// Builds the object named `class_path` from `args`, then checks that every given argument was used.
  /// `path` is the YAML path of the class_path (for messages). A name that is not registered is a ConfigError
  /// listing the registered names. `class_path` may carry a Python package prefix
  /// ("lightning.pytorch.callbacks.EarlyStopping"), which is ignored when the full name is not registered.
  CallbackPtr make_callback(const std::string& class_path, InitArgs& args, const std::string& path) const;
  std::shared_ptr<Logger> make_logger(const std::string& class_path, InitArgs& args, const std::string& path) const;
  std::shared_ptr<Module> make_model(const std::string& class_path, InitArgs& args, const std::string& path) const;
  std::shared_ptr<DataModule> make_datamodule(const std::string& class_path, InitArgs& args,
                                              const std::string& path) const;

  std::vector<std::string> callback_names() const;
  std::vector<std::string> logger_names() const;
  std::vector<std::string> model_names() const;
  std::vector<std::string> datamodule_names() const;
  /// The registered name `class_path` resolves to for `kind` ("callback", "logger", "model", "datamodule"), or "".
  std::string resolve(const std::string& kind, const std::string& class_path) const;

  /// Removes every entry whose source is `source` (tests, plugins being reset).
  void remove_source(const std::string& source);

 private:
  template <class T>
  struct Entry {
    std::function<std::shared_ptr<T>(InitArgs&)> factory;
    std::string source;
  };
  template <class T>
  using Table = std::map<std::string, Entry<T>>;
  template <class T>
  static void add(Table<T>& table, const char* kind, const std::string& name,
                  std::function<std::shared_ptr<T>(InitArgs&)> factory, const std::string& source);
  template <class T>
  static std::shared_ptr<T> make(const Table<T>& table, const char* kind, const std::string& class_path,
                                 InitArgs& args, const std::string& path);
  template <class T>
  static std::string resolve_in(const Table<T>& table, const std::string& class_path);

  Table<Callback> callbacks_;
  Table<Logger> loggers_;
  Table<Module> models_;
  Table<DataModule> datamodules_;
};

/// Registers volt's built-in callbacks, loggers, models and data modules (called by Registry::global()).
void register_builtins(Registry& registry);

}  // namespace volt
