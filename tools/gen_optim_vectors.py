#!/usr/bin/python3
"""Golden vectors for volt's LR schedulers, produced by PyTorch itself.

Run with Debian's Python, which has torch 1.13:
    /usr/bin/python3 tools/gen_optim_vectors.py > tests/golden/optim_vectors.json

For every case (a scheduler with one parameter set) it records the lr of each param group after construction and
after each of STEPS steps, the momentum where OneCycleLR cycles it, and the scheduler's and optimizer's state dicts
halfway (for resuming in C++ from Python's state) and at the end (for comparing layouts). Floats are written with
float.hex so the C++ test can compare bit for bit; values are tagged so Python types survive JSON:
    None/bool/int/str/list as JSON, float -> {"float": hex}, tuple -> {"tuple": [...]},
    dict -> {"dict": [[key, value], ...]} (keeps order and int keys), tensor -> {"tensor": {...}},
    bound method -> {"method": name}.
"""
import json
import sys
import types
import warnings

import torch
from torch.optim import lr_scheduler

STEPS = 25
MID = 12
GROUP_LRS = [0.1, 0.5]

# Named lr_lambdas, mirrored in tests/unit/lr_scheduler_test.cpp.
LAMBDAS = {
    "pow095": lambda epoch: 0.95 ** epoch,
    "inv": lambda epoch: 1 / (epoch + 1),
    "piecewise": lambda epoch: 0.5 if epoch < 10 else 0.25,
}

# (name, scheduler, kwargs, optimizer, optimizer kwargs, metrics for ReduceLROnPlateau)
PLATEAU_METRICS = [1.0, 0.9, 0.8, 0.8, 0.81, 0.79, 0.8, 0.8, 0.8, 0.7, 0.7, 0.7, 0.7, 0.7, 0.6, 0.65, 0.65, 0.65,
                   0.65, 0.65, 0.65, 0.5, 0.5, 0.5, 0.5]
PLATEAU_MAX_METRICS = [0.1, 0.2, 0.22, 0.24, 0.3, 0.31, 0.32, 0.33, 0.5, 0.5, 0.5, 0.5, 0.56, 0.6, 0.6, 0.6, 0.6, 0.7,
                       0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]
CASES = [
    ("StepLR/3", "StepLR", {"step_size": 3}, "SGD", {}, None),
    ("StepLR/5_gamma0.5", "StepLR", {"step_size": 5, "gamma": 0.5}, "SGD", {"momentum": 0.9}, None),
    ("MultiStepLR/repeated", "MultiStepLR", {"milestones": [2, 5, 5, 9]}, "SGD", {}, None),
    ("MultiStepLR/unsorted_gamma0.7", "MultiStepLR", {"milestones": [10, 4, 17], "gamma": 0.7}, "SGD", {}, None),
    ("ExponentialLR/0.9", "ExponentialLR", {"gamma": 0.9}, "SGD", {}, None),
    ("ExponentialLR/0.77", "ExponentialLR", {"gamma": 0.77}, "Adam", {}, None),
    ("CosineAnnealingLR/10", "CosineAnnealingLR", {"T_max": 10}, "SGD", {}, None),
    ("CosineAnnealingLR/7_eta_min", "CosineAnnealingLR", {"T_max": 7, "eta_min": 0.001}, "SGD", {}, None),
    ("LinearLR/defaults", "LinearLR", {}, "SGD", {}, None),
    ("LinearLR/decay", "LinearLR", {"start_factor": 0.5, "end_factor": 0.1, "total_iters": 10}, "SGD", {}, None),
    ("ConstantLR/defaults", "ConstantLR", {}, "SGD", {}, None),
    ("ConstantLR/0.5_8", "ConstantLR", {"factor": 0.5, "total_iters": 8}, "SGD", {}, None),
    ("LambdaLR/one", "LambdaLR", {"lr_lambda": "pow095"}, "SGD", {}, None),
    ("LambdaLR/per_group", "LambdaLR", {"lr_lambda": ["inv", "piecewise"]}, "SGD", {}, None),
    ("OneCycleLR/cos_sgd", "OneCycleLR", {"max_lr": 1.0, "total_steps": 25}, "SGD", {"momentum": 0.9}, None),
    ("OneCycleLR/linear_three_phase_adam", "OneCycleLR",
     {"max_lr": [0.5, 0.8], "total_steps": 30, "anneal_strategy": "linear", "three_phase": True}, "Adam", {}, None),
    ("OneCycleLR/epochs_no_momentum", "OneCycleLR",
     {"max_lr": 0.3, "epochs": 5, "steps_per_epoch": 6, "cycle_momentum": False, "pct_start": 0.25,
      "div_factor": 10.0, "final_div_factor": 100.0}, "SGD", {}, None),
    ("OneCycleLR/rmsprop", "OneCycleLR", {"max_lr": 0.01, "total_steps": 40, "pct_start": 0.4}, "RMSprop", {},
     None),
    ("ReduceLROnPlateau/patience2", "ReduceLROnPlateau", {"patience": 2}, "SGD", {}, PLATEAU_METRICS),
    ("ReduceLROnPlateau/max_abs_cooldown", "ReduceLROnPlateau",
     {"mode": "max", "threshold_mode": "abs", "threshold": 0.05, "cooldown": 2, "patience": 1, "factor": 0.5,
      "min_lr": [0.01, 0.2]}, "SGD", {}, PLATEAU_MAX_METRICS),
    ("ReduceLROnPlateau/eps_min_lr", "ReduceLROnPlateau",
     {"factor": 0.5, "patience": 0, "min_lr": 0.02, "eps": 0.01}, "SGD", {}, PLATEAU_METRICS),
]


def encode(value):
    """A Python value as tagged JSON (see the module docstring)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return {"float": value.hex()}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [encode(v) for v in value]}
    if isinstance(value, dict):  # also Counter and OrderedDict
        return {"dict": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, torch.Tensor):
        flat = value.detach().double().reshape(-1).tolist()
        return {"tensor": {"dtype": str(value.dtype), "shape": list(value.shape), "values": [x.hex() for x in flat]}}
    if isinstance(value, types.MethodType):
        return {"method": value.__func__.__name__}
    raise TypeError(f"cannot encode {type(value).__name__}")


def make_optimizer(kind, kwargs):
    params = [torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(3))]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, GROUP_LRS)]
    return getattr(torch.optim, kind)(groups, **kwargs)


def make_scheduler(kind, kwargs, optimizer):
    kwargs = dict(kwargs)
    if kind == "LambdaLR":
        names = kwargs.pop("lr_lambda")
        kwargs["lr_lambda"] = [LAMBDAS[n] for n in names] if isinstance(names, list) else LAMBDAS[names]
    return getattr(lr_scheduler, kind)(optimizer, **kwargs)


def momenta(optimizer):
    out = []
    for group in optimizer.param_groups:
        out.append(group["betas"][0] if "betas" in group else group.get("momentum", 0.0))
    return [float(m).hex() for m in out]


def run_case(name, kind, kwargs, opt_kind, opt_kwargs, metrics):
    optimizer = make_optimizer(opt_kind, opt_kwargs)
    scheduler = make_scheduler(kind, kwargs, optimizer)
    lrs = [[g["lr"].hex() for g in optimizer.param_groups]]
    moms = [momenta(optimizer)]
    case = {"name": name, "scheduler": kind, "kwargs": kwargs, "optimizer": opt_kind,
            "optimizer_kwargs": opt_kwargs, "group_lrs": GROUP_LRS, "steps": STEPS, "mid_step": MID}
    if metrics is not None:
        case["metrics"] = [float(m).hex() for m in metrics]
    for step in range(1, STEPS + 1):
        optimizer.step()  # no gradients: changes nothing, but keeps PyTorch's call order
        if metrics is not None:
            scheduler.step(metrics[step - 1])
        else:
            scheduler.step()
        lrs.append([g["lr"].hex() for g in optimizer.param_groups])
        moms.append(momenta(optimizer))
        if step == MID:
            case["mid_state"] = encode(scheduler.state_dict())
            case["mid_optimizer"] = encode(optimizer.state_dict())
    case["lrs"] = lrs
    case["momentum"] = moms
    case["final_state"] = encode(scheduler.state_dict())
    case["final_optimizer"] = encode(optimizer.state_dict())
    return case


def main():
    warnings.simplefilter("ignore")  # PyTorch warns about lr_scheduler.step() order with gradient-free steps
    doc = {
        "generator": "tools/gen_optim_vectors.py",
        "torch_version": torch.__version__,
        "lambdas": {"pow095": "0.95 ** epoch", "inv": "1 / (epoch + 1)", "piecewise": "0.5 if epoch < 10 else 0.25"},
        "cases": [run_case(*c) for c in CASES],
    }
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
