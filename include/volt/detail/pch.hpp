// Precompiled header: torch's headers dominate compile time (~20 s per translation unit without it).
#pragma once
#include <torch/torch.h>
#include <ATen/core/ivalue.h>
#include <ATen/core/Dict.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <string>
#include <vector>
#include <memory>
#include <functional>
#include <optional>
