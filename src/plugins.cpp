// Plugin loading with dlopen: the C++ counterpart of Lightning's _load_external_callbacks.
#include "volt/plugins.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <sstream>

#include "volt/error.hpp"
#include "volt/messages.hpp"

namespace fs = std::filesystem;

namespace volt {
namespace {

std::mutex& plugin_mutex() {
  static std::mutex m;
  return m;
}

std::vector<LoadedFactory>& factories() {
  static std::vector<LoadedFactory> list;
  return list;
}

std::set<std::string>& loaded_paths() {
  static std::set<std::string> paths;
  return paths;
}

// Caller holds plugin_mutex().
void load_plugin_locked(const std::string& path) {
  std::string canonical = fs::weakly_canonical(fs::absolute(path)).string();
  if (!loaded_paths().insert(canonical).second) return;  // each library registers once
  void* handle = dlopen(canonical.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    loaded_paths().erase(canonical);
    const char* reason = dlerror();
    throw Error("volt plugin '" + path + "' could not be loaded: " + (reason ? reason : "unknown dlopen error"));
  }
  using RegisterFn = void (*)(PluginRegistrar&);
  auto fn = reinterpret_cast<RegisterFn>(dlsym(handle, "volt_register_plugin"));
  if (fn == nullptr)
    throw Error("volt plugin '" + path + "' has no `volt_register_plugin` function: define it with VOLT_PLUGIN(...)");
  PluginRegistrar registrar(canonical);
  try {
    fn(registrar);
  } catch (const std::exception& e) {
    throw Error("volt plugin '" + path + "' failed to register: " + e.what());
  }
}

// Caller holds plugin_mutex(). Loads every .so of `dir` in name order; failures are reported and skipped.
void load_directory_locked(const std::string& dir) {
  std::error_code ec;
  std::vector<fs::path> libraries;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().extension() == ".so") libraries.push_back(entry.path());
  std::sort(libraries.begin(), libraries.end());  // a stable order across file systems
  for (const auto& lib : libraries) {
    try {
      load_plugin_locked(lib.string());
    } catch (const Error& e) {
      rank_zero_warn(std::string(e.what()) + "; the plugin is skipped.");
    }
  }
}

// `<directory of libvolt.so>/volt/plugins`: where `cmake --install` puts plugins, found without configuration
// wherever the installed tree was moved.
std::string installed_plugin_dir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&installed_plugin_dir), &info) == 0 || info.dli_fname == nullptr) return "";
  return (fs::path(info.dli_fname).parent_path() / "volt" / "plugins").string();
}

}  // namespace

void PluginRegistrar::add_callbacks_factory(const std::string& name, CallbacksFactory factory) {
  VOLT_CHECK(static_cast<bool>(factory), "plugin '", plugin_path_, "': callbacks factory '", name, "' is empty");
  factories().push_back({name, plugin_path_, std::move(factory)});
}

void PluginRegistrar::add_callback(const std::string& name, Registry::CallbackFactory factory) {
  Registry::global().add_callback(name, std::move(factory), "plugin '" + plugin_path_ + "'");
}
void PluginRegistrar::add_logger(const std::string& name, Registry::LoggerFactory factory) {
  Registry::global().add_logger(name, std::move(factory), "plugin '" + plugin_path_ + "'");
}
void PluginRegistrar::add_model(const std::string& name, Registry::ModelFactory factory) {
  Registry::global().add_model(name, std::move(factory), "plugin '" + plugin_path_ + "'");
}
void PluginRegistrar::add_datamodule(const std::string& name, Registry::DataModuleFactory factory) {
  Registry::global().add_datamodule(name, std::move(factory), "plugin '" + plugin_path_ + "'");
}

void load_plugin(const std::string& path) {
  std::lock_guard<std::mutex> lock(plugin_mutex());
  load_plugin_locked(path);
}

const std::vector<LoadedFactory>& plugin_callback_factories() {
  std::lock_guard<std::mutex> lock(plugin_mutex());
  static bool scanned = false;
  if (!scanned) {
    scanned = true;
    const char* env = std::getenv("VOLT_PLUGIN_PATH");
    std::stringstream dirs(env ? env : "");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      if (dir.empty()) continue;
      std::error_code ec;
      if (!fs::is_directory(dir, ec)) {
        rank_zero_warn("VOLT_PLUGIN_PATH lists '" + dir + "', which is not a directory; it is ignored.");
        continue;
      }
      load_directory_locked(dir);
    }
    std::string installed = installed_plugin_dir();
    std::error_code ec;
    if (!installed.empty() && fs::is_directory(installed, ec)) load_directory_locked(installed);
  }
  return factories();
}

void reset_plugins() {
  std::lock_guard<std::mutex> lock(plugin_mutex());
  factories().clear();
}

std::vector<CallbackPtr> external_callbacks() {
  std::vector<CallbackPtr> out;
  for (const auto& f : plugin_callback_factories()) {
    std::vector<CallbackPtr> made;
    try {
      made = f.factory();
    } catch (const std::exception& e) {
      throw MisconfigurationError("callbacks factory '" + f.name + "' of plugin '" + f.plugin_path +
                                  "' failed: " + e.what());
    }
    for (auto& cb : made) {
      VOLT_CHECK(cb != nullptr, "callbacks factory '", f.name, "' of plugin '", f.plugin_path,
                 "' returned a null callback");
      out.push_back(std::move(cb));
    }
  }
  return out;
}

}  // namespace volt
