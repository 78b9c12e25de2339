// Learning-rate schedulers with PyTorch's formulas and state_dict layout, and optimizer state in PyTorch's
// Python layout ({"state": {param_index: {...}}, "param_groups": [{..., "params": [indices]}]}), so checkpoints
// move between volt and Python in both directions.
//
// Umbrella header:
//   volt/optim/lr_scheduler.hpp     LRScheduler and StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR,
//                                   ConstantLR, LambdaLR, OneCycleLR, ReduceLROnPlateau
//   volt/optim/optimizer_state.hpp  optimizer_state_dict, load_optimizer_state_dict, param-group extras
#pragma once
#include "volt/optim/lr_scheduler.hpp"
#include "volt/optim/optimizer_state.hpp"
#include "volt/optim/swa_utils.hpp"
