// Plugins: Lightning's `lightning.pytorch.callbacks_factory` entry points, in C++. A plugin is a shared library
// that exports `volt_register_plugin`; volt loads every plugin found in the directories of VOLT_PLUGIN_PATH and in
// `<libdir>/volt/plugins` when a Trainer is built (and before the CLI reads a config), and appends the callbacks its factories return (spec §5, step 6).
//
//   // my_plugin.cpp, built as a shared library
//   #include <volt/plugins.hpp>
//   VOLT_PLUGIN(registrar) {
//     registrar.add_callbacks_factory("monitor_callbacks", [] {
//       return std::vector<volt::CallbackPtr>{std::make_shared<MyCallback1>(), std::make_shared<MyCallback2>()};
//     });
//   }
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "volt/callback.hpp"
#include "volt/registry.hpp"

namespace volt {

/// Returns callbacks to append to every Trainer (Lightning: a function listed under the entry-point group).
using CallbacksFactory = std::function<std::vector<CallbackPtr>()>;

/// What a plugin's registration function receives.
class PluginRegistrar {
 public:
  explicit PluginRegistrar(std::string plugin_path) : plugin_path_(std::move(plugin_path)) {}
  /// Registers a factory whose callbacks every Trainer appends; `name` identifies it in messages.
  void add_callbacks_factory(const std::string& name, CallbacksFactory factory);
  /// Registers a named factory that configs can use as a `class_path` (volt::Registry, with this plugin as the
  /// source named in messages).
  void add_callback(const std::string& name, Registry::CallbackFactory factory);
  void add_logger(const std::string& name, Registry::LoggerFactory factory);
  void add_model(const std::string& name, Registry::ModelFactory factory);
  void add_datamodule(const std::string& name, Registry::DataModuleFactory factory);
  const std::string& plugin_path() const { return plugin_path_; }

 private:
  std::string plugin_path_;
};

struct LoadedFactory {
  std::string name, plugin_path;
  CallbacksFactory factory;
};

/// Loads the plugins in the directories of VOLT_PLUGIN_PATH (colon-separated), then those in the installed default
/// directory (`<directory of libvolt.so>/volt/plugins`, if it exists), once per process; later calls return the
/// same list. A plugin that fails to load or register is reported with its path and reason, then skipped.
const std::vector<LoadedFactory>& plugin_callback_factories();

/// Loads one plugin file now (used by tests and by hosts that ship plugins elsewhere). Throws volt::Error with the
/// path and the reason if it cannot be loaded or has no registration function.
void load_plugin(const std::string& path);

/// Forgets every registered factory (the libraries stay loaded); for tests and hosts that reconfigure.
void reset_plugins();

/// The callbacks every registered factory returns, in plugin and registration order. A factory that throws is
/// reported with its name and plugin path as a MisconfigurationError.
std::vector<CallbackPtr> external_callbacks();

}  // namespace volt

/// Defines the registration function a plugin exports.
#define VOLT_PLUGIN(registrar) \
  extern "C" __attribute__((visibility("default"))) void volt_register_plugin(::volt::PluginRegistrar& registrar)
