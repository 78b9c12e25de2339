// Small shared vocabulary: batches and step outputs are IValues so callbacks receive the real batch
// (a tensor, a tuple, a list or a dict), exactly as Lightning passes Python objects.
#pragma once
#include <ATen/core/ivalue.h>

#include <memory>
#include <string>
#include <vector>

namespace volt {

class Trainer;
class Module;
class Callback;
class DataLoader;
class DataModule;
class LRScheduler;
class Logger;

using Batch = c10::IValue;
/// What a step returns: a loss tensor, a dict with "loss" (and anything else), or None.
using StepOutput = c10::IValue;
using CallbackPtr = std::shared_ptr<Callback>;

/// The trainer function being run; its string form is Lightning's stage ("fit", "validate", "test", "predict").
enum class TrainerFn { kFitting, kValidating, kTesting, kPredicting };
const char* stage_name(TrainerFn fn);

}  // namespace volt
