// Plugins: shared libraries whose callbacks factories every Trainer uses (Lightning's callbacks_factory entry points).
#include <gtest/gtest.h>

#include <fstream>

#include "support/boring.hpp"
#include "volt/plugins.hpp"

// One namespace per file: unity builds compile several test files as one translation unit.
namespace {
namespace volt_test_plugin_test {

using namespace volt;
using namespace volt::testing;

namespace {
const std::string kPlugins = VOLT_PLUGINS_DIR;

class Plugins : public ::testing::Test {
 protected:
  void TearDown() override { reset_plugins(); }  // other suites in this process must not see them
};

std::vector<std::string> names(const Trainer& t) {
  std::vector<std::string> out;
  for (const auto& cb : t.callbacks()) out.push_back(cb->class_name());
  return out;
}
}  // namespace

TEST_F(Plugins, ALoadedPluginAddsItsCallbacksToEveryTrainer) {
  load_plugin(kPlugins + "/monitor_plugin.so");
  load_plugin(kPlugins + "/monitor_plugin.so");  // loading twice registers once
  TrainerOptions o;
  o.enable_progress_bar = false;
  Trainer trainer(o);
  // after the defaults, before the checkpoint callbacks are moved last (spec §5)
  EXPECT_EQ(names(trainer), (std::vector<std::string>{"ModelSummary", "FitReport", "ModelCheckpoint"}));
}

TEST_F(Plugins, ALibraryWithoutTheRegistrationFunctionNamesPathAndReason) {
  try {
    load_plugin(kPlugins + "/broken_plugin.so");
    FAIL() << "expected volt::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("broken_plugin.so"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("has no `volt_register_plugin` function"), std::string::npos) << e.what();
  }
  try {
    load_plugin(kPlugins + "/no_such_plugin.so");
    FAIL() << "expected volt::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_plugin.so' could not be loaded"), std::string::npos) << e.what();
  }
}

TEST_F(Plugins, VoltPluginPathIsScannedAtTrainerConstruction) {
  // A fresh process: the scan happens once per process, at the first Trainer.
  std::string dir = fresh_dir("plugin_path");
  std::string cmd = "cd '" + dir + "' && VOLT_PLUGIN_PATH='" + kPlugins + ":/nonexistent' " +
                    std::string(VOLT_EXAMPLES_DIR) + "/first_program > out.txt 2> err.txt";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream out(dir + "/out.txt"), err(dir + "/err.txt");
  std::string text((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  std::string warnings((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("[monitor plugin] fit started"), std::string::npos) << text;
  EXPECT_NE(text.find("[monitor plugin] fit ended at epoch 3, step 24"), std::string::npos) << text;
  // the broken library in the same directory is reported with its path and skipped; the bad directory too
  EXPECT_NE(warnings.find("broken_plugin.so' has no `volt_register_plugin` function"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("'/nonexistent', which is not a directory"), std::string::npos) << warnings;
}

}  // namespace volt_test_plugin_test
}  // namespace
