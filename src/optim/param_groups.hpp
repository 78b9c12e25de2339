// Private: what the schedulers need from optimizer_state.cpp beyond the public param-group helpers.
#pragma once
#include <torch/optim/optimizer.h>

namespace volt {
namespace detail {

/// Records, for every group that has none yet, how Python would lay out its dict (key order, int vs float),
/// judged from the current values against the optimizer's defaults. Schedulers call it before they change any
/// value (OneCycleLR's momentum), so the guess sees the group as it was created.
void remember_group_layouts(torch::optim::Optimizer& optimizer);

}  // namespace detail
}  // namespace volt
