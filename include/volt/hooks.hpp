// The hook table: every hook volt fires (Callback, Module and DataModule hooks), when and how often it fires, its
// C++ signature, and whether Module::log may be called inside it (Lightning 2.2.5's _FxValidator). It is the one
// source of these facts: Module::log checks its rules here (src/results.cpp), docs/hooks.md is printed from it
// (tools/gen_hook_reference.cpp), and tests/unit/hook_table_test.cpp checks it against the headers, the dispatcher
// and Lightning's own table.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace volt {

/// Who declares a hook (bits of HookInfo::owners).
enum HookOwner : unsigned { kCallbackHook = 1, kModuleHook = 2, kDataModuleHook = 4 };

/// The values Module::log accepts for on_step and on_epoch inside a hook, and the defaults it fills in.
struct LogRule {
  /// false: log() inside the hook is a MisconfigurationError ("You can't `self.log()` inside `<hook>`.").
  bool allowed;
  /// Bit 1: false is allowed, bit 2: true is allowed.
  uint8_t on_step;
  uint8_t on_epoch;
  bool default_on_step;
  bool default_on_epoch;
};

/// Training-step hooks: step or epoch, default per step.
inline constexpr LogRule kLogPerStep{true, 3, 3, true, false};
/// Evaluation-step hooks: step or epoch, default per epoch.
inline constexpr LogRule kLogPerEvalStep{true, 3, 3, false, true};
/// Start/end hooks of loops and epochs: per epoch only.
inline constexpr LogRule kLogPerEpoch{true, 1, 2, false, true};
inline constexpr LogRule kNoLog{false, 0, 0, false, false};

struct HookInfo {
  /// The hook's name, which is also Module::current_hook() while it runs (what log() is checked against).
  const char* name;
  /// HookOwner bits.
  unsigned owners;
  /// The runs it fires in: "fit", "validate", "test", "predict" (comma separated), or "fit (resume)" and the like.
  const char* runs;
  /// When it fires, relative to its neighbours.
  const char* when;
  /// How often it fires.
  const char* how_often;
  /// The declarations, exactly as in include/volt/callback.hpp, module.hpp and data.hpp (nullptr: not declared
  /// there). A test checks that each appears in its header.
  const char* callback_signature;
  const char* module_signature;
  const char* datamodule_signature;
  LogRule log;
};

/// Every hook, in the order a fit run meets them (then evaluation, predict, checkpoints, exceptions).
const std::vector<HookInfo>& hook_table();
/// The entry named `name`, or nullptr: log() inside an unknown name is "not implemented" (Lightning's RuntimeError).
const HookInfo* find_hook(const std::string& name);
/// Lightning's tuple repr of the allowed values: "(False, True)", "(False,)" or "(True,)".
std::string log_values_repr(uint8_t allowed);

}  // namespace volt
