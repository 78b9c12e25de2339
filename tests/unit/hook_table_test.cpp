// The hook table (include/volt/hooks.hpp) is the truth for docs/hooks.md and for Module::log's rules, so it must
// list every hook the headers declare, with the declarations as written there, under the names the dispatcher
// sets, and with Lightning 2.2.5's logging rules.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "support/boring.hpp"
#include "support/ivalue_json.hpp"
#include "volt/hooks.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_hook_table_test {

using namespace volt;
using namespace volt::testing;

namespace {

std::string read_source(const std::string& relative) {
  std::ifstream in(std::string(VOLT_SOURCE_DIR) + "/" + relative);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Comments removed and every run of whitespace made one space, so declarations wrapped over lines compare equal.
std::string normalized(std::string text) {
  text = std::regex_replace(text, std::regex("//[^\n]*"), "");
  text = std::regex_replace(text, std::regex("\\s+"), " ");
  text = std::regex_replace(text, std::regex("\\( "), "(");
  return std::regex_replace(text, std::regex(" \\)"), ")");
}

// The text of `class Name ... };` in a header.
std::string class_body(const std::string& header, const std::string& name) {
  auto begin = header.find("class " + name + " ");
  auto end = header.find("\n};", begin);
  return header.substr(begin, end - begin);
}

// Names of the virtual member functions declared in `body` (destructors excluded).
std::set<std::string> virtual_names(const std::string& body) {
  std::set<std::string> out;
  std::regex decl("virtual [^;(]*?([A-Za-z_][A-Za-z0-9_]*)\\(");
  for (std::sregex_iterator it(body.begin(), body.end(), decl), end; it != end; ++it) out.insert((*it)[1]);
  return out;
}

struct Declarer {
  const char* header;
  const char* class_name;
  unsigned owner;
  const char* HookInfo::*signature;
  std::set<std::string> not_hooks;  // virtuals that are identity or configuration, not hooks
};

const std::vector<Declarer>& declarers() {
  static const std::vector<Declarer> all = {
      {"include/volt/callback.hpp", "Callback", kCallbackHook, &HookInfo::callback_signature,
       {"class_name", "state_key", "is_monitoring"}},
      {"include/volt/module.hpp", "Module", kModuleHook, &HookInfo::module_signature, {}},
      {"include/volt/data.hpp", "DataModule", kDataModuleHook, &HookInfo::datamodule_signature, {"class_name"}},
  };
  return all;
}

}  // namespace

TEST(HookTable, ListsEveryVirtualHookOfCallbackModuleAndDataModule) {
  for (const auto& d : declarers()) {
    std::string body = normalized(class_body(read_source(d.header), d.class_name));
    std::set<std::string> virtuals = virtual_names(body);
    ASSERT_GT(virtuals.size(), 5u) << d.header;
    for (const auto& name : virtuals) {
      if (d.not_hooks.count(name) || name == d.class_name) continue;  // the destructor
      const HookInfo* hook = find_hook(name);
      ASSERT_NE(hook, nullptr) << d.class_name << "::" << name << " is not in the hook table (src/hooks.cpp)";
      EXPECT_TRUE(hook->owners & d.owner) << name << " is declared by " << d.class_name
                                          << " but the table does not list it as an owner";
    }
    for (const auto& hook : hook_table()) {
      const char* signature = hook.*(d.signature);
      EXPECT_EQ(signature != nullptr, (hook.owners & d.owner) != 0)
          << hook.name << ": owners and " << d.class_name << " signature disagree";
      if (signature == nullptr) continue;
      // virtual for the hooks; Module::clip_gradients is the one plain method in the table
      bool is_virtual = body.find("virtual " + std::string(signature) + ";") != std::string::npos;
      bool is_method = body.find(" " + std::string(signature) + ";") != std::string::npos;
      EXPECT_TRUE(is_virtual || (is_method && std::string(hook.name) == "clip_gradients"))
          << "the table's declaration of " << d.class_name << "::" << hook.name << " is not in " << d.header
          << ": " << signature;
    }
  }
}

TEST(HookTable, NamesAreUniqueAndEveryEntryIsDescribed) {
  std::set<std::string> names;
  for (const auto& hook : hook_table()) {
    EXPECT_TRUE(names.insert(hook.name).second) << "duplicate entry " << hook.name;
    EXPECT_NE(hook.owners, 0u) << hook.name;
    EXPECT_FALSE(std::string(hook.runs).empty()) << hook.name;
    EXPECT_FALSE(std::string(hook.when).empty()) << hook.name;
    EXPECT_FALSE(std::string(hook.how_often).empty()) << hook.name;
  }
}

TEST(HookTable, CoversEveryHookInLightningsRecordedSequences) {
  std::set<std::string> seen;
  for (const auto& file : std::filesystem::directory_iterator(std::string(VOLT_SOURCE_DIR) + "/tests/golden/hooks")) {
    if (file.path().extension() != ".json" || file.path().stem() == "fx_validator") continue;
    for (std::string entry : golden_hooks(file.path().stem().string())) {
      if (entry.rfind("---", 0) == 0) continue;  // "--- resume ---", "--- raised: boom ---"
      if (entry.rfind("Callback.", 0) == 0) entry = entry.substr(9);
      entry = entry.substr(0, entry.find('('));
      seen.insert(entry);
    }
  }
  EXPECT_GT(seen.size(), 40u);
  for (const auto& name : seen) EXPECT_NE(find_hook(name), nullptr) << name << " (from tests/golden/hooks)";
}

namespace {

// Records, for every Callback hook, its name and what the module reports as the current hook while it runs.
class FxRecorder : public Callback {
 public:
  std::map<std::string, std::string> current;  // hook -> Module::current_hook() inside it
  bool fail_in_batch = false;
  std::string class_name() const override { return "FxRecorder"; }
  StateDict state_dict() override {
    current["state_dict"] = "";
    return {{"n", 1}};
  }
  void load_state_dict(const StateDict&) override { current["load_state_dict"] = ""; }
#define VOLT_REC(hook, ...) \
  void hook(Trainer&, Module& m __VA_ARGS__) override { current[#hook] = m.current_hook(); }
  VOLT_REC(setup, , const std::string&)
  VOLT_REC(teardown, , const std::string&)
  VOLT_REC(on_fit_start)
  VOLT_REC(on_fit_end)
  VOLT_REC(on_sanity_check_start)
  VOLT_REC(on_sanity_check_end)
  VOLT_REC(on_train_start)
  VOLT_REC(on_train_end)
  VOLT_REC(on_train_epoch_start)
  VOLT_REC(on_train_epoch_end)
  VOLT_REC(on_train_batch_start, , const Batch&, int64_t)
  VOLT_REC(on_validation_start)
  VOLT_REC(on_validation_end)
  VOLT_REC(on_validation_epoch_start)
  VOLT_REC(on_validation_epoch_end)
  VOLT_REC(on_validation_batch_start, , const Batch&, int64_t, int64_t)
  VOLT_REC(on_validation_batch_end, , const StepOutput&, const Batch&, int64_t, int64_t)
  VOLT_REC(on_test_start)
  VOLT_REC(on_test_end)
  VOLT_REC(on_test_epoch_start)
  VOLT_REC(on_test_epoch_end)
  VOLT_REC(on_test_batch_start, , const Batch&, int64_t, int64_t)
  VOLT_REC(on_test_batch_end, , const StepOutput&, const Batch&, int64_t, int64_t)
  VOLT_REC(on_predict_start)
  VOLT_REC(on_predict_end)
  VOLT_REC(on_predict_epoch_start)
  VOLT_REC(on_predict_epoch_end)
  VOLT_REC(on_predict_batch_start, , const Batch&, int64_t, int64_t)
  VOLT_REC(on_predict_batch_end, , const StepOutput&, const Batch&, int64_t, int64_t)
  VOLT_REC(on_exception, , const std::exception&)
  VOLT_REC(on_save_checkpoint, , StateDict&)
  VOLT_REC(on_load_checkpoint, , StateDict&)
  VOLT_REC(on_before_backward, , const torch::Tensor&)
  VOLT_REC(on_after_backward)
  VOLT_REC(on_before_optimizer_step, , torch::optim::Optimizer&)
  VOLT_REC(on_before_zero_grad, , torch::optim::Optimizer&)
#undef VOLT_REC
  void on_train_batch_end(Trainer&, Module& m, const StepOutput&, const Batch&, int64_t) override {
    current["on_train_batch_end"] = m.current_hook();
    if (fail_in_batch) throw std::runtime_error("boom");
  }
};

TrainerOptions small_run(const std::string& dir) {
  TrainerOptions o;
  o.default_root_dir = dir;
  o.max_epochs = 1;
  o.limit_train_batches = 2;
  o.limit_val_batches = 1;
  o.limit_test_batches = 1;
  o.limit_predict_batches = 1;
  o.num_sanity_val_steps = 1;
  o.enable_progress_bar = false;
  o.enable_model_summary = false;
  return o;
}

}  // namespace

TEST(HookTable, EveryCallbackHookRunsUnderItsTableName) {
  std::string dir = fresh_dir("hook_table_names");
  auto recorder = std::make_shared<FxRecorder>();
  torch::manual_seed(0);
  BoringModel model;
  auto o = small_run(dir);
  o.callbacks = {recorder};
  Trainer(o).fit(model);  // sanity check, training, validation, a checkpoint save
  auto o2 = small_run(dir + "/resumed");
  o2.max_epochs = 2;
  o2.callbacks = {recorder};
  Trainer resumed(o2);
  resumed.fit(model, nullptr, dir + "/checkpoints/epoch=0-step=2.ckpt");  // on_load_checkpoint, load_state_dict
  resumed.test(model);
  resumed.predict(model);
  recorder->fail_in_batch = true;
  EXPECT_THROW(Trainer(o).fit(model), std::runtime_error);  // on_exception

  for (const auto& hook : hook_table()) {
    if (!(hook.owners & kCallbackHook)) continue;
    auto it = recorder->current.find(hook.name);
    ASSERT_NE(it, recorder->current.end()) << "Callback::" << hook.name << " never ran";
    // state_dict/load_state_dict get no name of their own, as in Lightning: they run under the saving/restoring hook's
    if (std::string(hook.name) == "state_dict" || std::string(hook.name) == "load_state_dict") continue;
    EXPECT_EQ(it->second, hook.name) << "Module::current_hook() inside Callback::" << hook.name;
  }
}

TEST(HookTable, LogRulesAreLightningsFxValidator) {
  auto golden = test::golden_json("hooks/fx_validator.json");
  EXPECT_EQ(golden["lightning"], "2.2.5");
  std::set<std::string> lightning_names;
  auto mask = [](const nlohmann::json& values) {
    uint8_t m = 0;
    for (bool v : values) m |= v ? 2 : 1;
    return m;
  };
  for (const auto& entry : golden["functions"]) {
    std::string name = entry[0];
    lightning_names.insert(name);
    const HookInfo* hook = find_hook(name);
    if (name == "configure_sharded_model") {  // deprecated in Lightning; volt has no such hook
      EXPECT_EQ(hook, nullptr);
      continue;
    }
    ASSERT_NE(hook, nullptr) << name << " has a logging rule in Lightning but is not in the table";
    const auto& rule = entry[1];
    EXPECT_EQ(hook->log.allowed, !rule.is_null()) << name;
    if (rule.is_null()) continue;
    EXPECT_EQ(hook->log.on_step, mask(rule["allowed_on_step"])) << name;
    EXPECT_EQ(hook->log.on_epoch, mask(rule["allowed_on_epoch"])) << name;
    EXPECT_EQ(hook->log.default_on_step, rule["default_on_step"].get<bool>()) << name;
    EXPECT_EQ(hook->log.default_on_epoch, rule["default_on_epoch"].get<bool>()) << name;
  }
  // Hooks Lightning 2.2.5 leaves out of its table ("not implemented" there); volt refuses logging in them too.
  std::set<std::string> extra;
  for (const auto& hook : hook_table())
    if (!lightning_names.count(hook.name)) {
      extra.insert(hook.name);
      EXPECT_FALSE(hook.log.allowed) << hook.name;
    }
  EXPECT_EQ(extra, (std::set<std::string>{"on_predict_model_eval", "predict_dataloader"}));
}

TEST(HookTable, LogChecksReadTheTable) {
  for (const auto& hook : hook_table()) {
    LogOptions options;
    if (!hook.log.allowed) {
      try {
        volt::detail::check_log_allowed(hook.name, options);
        ADD_FAILURE() << "log() allowed inside " << hook.name;
      } catch (const MisconfigurationError& e) {
        EXPECT_EQ(std::string(e.what()), std::string("You can't `self.log()` inside `") + hook.name + "`.");
      }
      continue;
    }
    volt::detail::check_log_allowed(hook.name, options);
    EXPECT_EQ(*options.on_step, hook.log.default_on_step) << hook.name;
    EXPECT_EQ(*options.on_epoch, hook.log.default_on_epoch) << hook.name;
  }
  LogOptions step;
  step.on_step = true;
  try {
    volt::detail::check_log_allowed("on_validation_epoch_end", step);
    ADD_FAILURE() << "on_step=True accepted in an epoch hook";
  } catch (const MisconfigurationError& e) {
    EXPECT_STREQ(e.what(), "You can't `self.log(on_step=True)` inside `on_validation_epoch_end`, must be one of (False,)");
  }
  LogOptions none;
  EXPECT_THROW(volt::detail::check_log_allowed("resume_from_checkpoint", none), Error);
  try {
    volt::detail::check_log_allowed("not_a_hook", none);
    ADD_FAILURE() << "log() allowed in an unknown hook";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "Logging inside `not_a_hook` is not implemented.");
  }
}

}  // namespace volt_test_hook_table_test
}  // namespace
