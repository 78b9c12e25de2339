#include "volt/registry.hpp"

#include "volt/data.hpp"
#include "volt/module.hpp"
#include "volt/trainer.hpp"

namespace volt {

Registry& Registry::global() {
  static Registry* registry = [] {
    auto* r = new Registry();  // never destroyed: plugins' factories may outlive static destruction order
    register_builtins(*r);
    return r;
  }();
  return *registry;
}

template <class T>
void Registry::add(Table<T>& table, const char* kind, const std::string& name,
                   std::function<std::shared_ptr<T>(InitArgs&)> factory, const std::string& source) {
  VOLT_CHECK(!name.empty(), "a ", kind, " factory needs a name");
  VOLT_CHECK(static_cast<bool>(factory), "the ", kind, " factory '", name, "' is empty");
  auto it = table.find(name);
  if (it != table.end() && it->second.source != source)
    throw MisconfigurationError(std::string("the ") + kind + " name '" + name + "' from " + source +
                                " is already registered by " + it->second.source +
                                "; register it under another name");
  table[name] = Entry<T>{std::move(factory), source};
}

template <class T>
std::string Registry::resolve_in(const Table<T>& table, const std::string& class_path) {
  if (table.count(class_path)) return class_path;
  auto dot = class_path.rfind('.');
  if (dot != std::string::npos && table.count(class_path.substr(dot + 1))) return class_path.substr(dot + 1);
  return "";
}

template <class T>
std::shared_ptr<T> Registry::make(const Table<T>& table, const char* kind, const std::string& class_path,
                                  InitArgs& args, const std::string& path) {
  std::string name = resolve_in(table, class_path);
  if (name.empty()) {
    std::string names;
    for (const auto& kv : table) names += (names.empty() ? "" : ", ") + kv.first;
    config_error(path, std::string("'") + class_path + "' is not a registered " + kind + "; registered " + kind +
                           "s: " + (names.empty() ? "(none)" : names) +
                           ". Register your own with volt::Registry::global().add_" + kind +
                           " or a plugin in VOLT_PLUGIN_PATH");
  }
  std::shared_ptr<T> made;
  try {
    made = table.at(name).factory(args);
  } catch (const ConfigError&) {
    if (args.missing_required()) args.check_all_used(name);  // the cause: a missing (or misspelled) argument
    throw;
  } catch (const std::exception& e) {
    if (args.missing_required()) args.check_all_used(name);
    config_error(args.path(), "could not build " + name + ": " + e.what());
  }
  if (!made) config_error(path, "the " + std::string(kind) + " factory '" + name + "' returned nothing");
  args.check_all_used(name);
  return made;
}

void Registry::add_callback(const std::string& name, CallbackFactory factory, const std::string& source) {
  add(callbacks_, "callback", name, std::move(factory), source);
}
void Registry::add_logger(const std::string& name, LoggerFactory factory, const std::string& source) {
  add(loggers_, "logger", name, std::move(factory), source);
}
void Registry::add_model(const std::string& name, ModelFactory factory, const std::string& source) {
  add(models_, "model", name, std::move(factory), source);
}
void Registry::add_datamodule(const std::string& name, DataModuleFactory factory, const std::string& source) {
  add(datamodules_, "datamodule", name, std::move(factory), source);
}

CallbackPtr Registry::make_callback(const std::string& class_path, InitArgs& args, const std::string& path) const {
  return make(callbacks_, "callback", class_path, args, path);
}
std::shared_ptr<Logger> Registry::make_logger(const std::string& class_path, InitArgs& args,
                                              const std::string& path) const {
  return make(loggers_, "logger", class_path, args, path);
}
std::shared_ptr<Module> Registry::make_model(const std::string& class_path, InitArgs& args,
                                             const std::string& path) const {
  return make(models_, "model", class_path, args, path);
}
std::shared_ptr<DataModule> Registry::make_datamodule(const std::string& class_path, InitArgs& args,
                                                      const std::string& path) const {
  return make(datamodules_, "datamodule", class_path, args, path);
}

namespace {
template <class Table>
std::vector<std::string> keys(const Table& table) {
  std::vector<std::string> out;
  for (const auto& kv : table) out.push_back(kv.first);
  return out;
}
template <class Table>
void erase_source(Table& table, const std::string& source) {
  for (auto it = table.begin(); it != table.end();) it = it->second.source == source ? table.erase(it) : std::next(it);
}
}  // namespace

std::vector<std::string> Registry::callback_names() const { return keys(callbacks_); }
std::vector<std::string> Registry::logger_names() const { return keys(loggers_); }
std::vector<std::string> Registry::model_names() const { return keys(models_); }
std::vector<std::string> Registry::datamodule_names() const { return keys(datamodules_); }

std::string Registry::resolve(const std::string& kind, const std::string& class_path) const {
  if (kind == "callback") return resolve_in(callbacks_, class_path);
  if (kind == "logger") return resolve_in(loggers_, class_path);
  if (kind == "model") return resolve_in(models_, class_path);
  if (kind == "datamodule") return resolve_in(datamodules_, class_path);
  throw MisconfigurationError("Registry::resolve: unknown kind '" + kind +
                              "'; use callback, logger, model or datamodule");
}

void Registry::remove_source(const std::string& source) {
  erase_source(callbacks_, source);
  erase_source(loggers_, source);
  erase_source(models_, source);
  erase_source(datamodules_, source);
}

}  // namespace volt
