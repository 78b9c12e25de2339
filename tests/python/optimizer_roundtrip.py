#!/usr/bin/python3
"""Python half of tests/unit/optimizer_state_test.cpp (run by /usr/bin/python3, which has torch 1.13).

    optimizer_roundtrip.py CONFIG_JSON DIR

CONFIG_JSON describes the optimizer (the same file the C++ test builds from). DIR holds cpp.pt, which volt wrote
with torch::pickle_save after N steps: {"optimizer": state, "scheduler": state or None, "weights": [tensors]}.

1. C++ -> Python: runs the same N steps in PyTorch and checks that volt's state dicts equal PyTorch's own (keys,
   order, types; floats exactly, tensors within 1e-6) and that they load into PyTorch's optimizer and scheduler.
   Exits 1 with a message on the first difference.
2. Python -> C++: writes python.pt with the state after N steps and the weights after N and after N+M steps, in a
   form libtorch 1.13's torch::pickle_load reads (see save_for_libtorch), for the C++ test to resume from.
"""
import copy
import json
import math
import pickle
import sys
import types
import warnings

import torch

SHAPES = [[[3, 2], [4]], [[5]]]  # parameters of group 0 and group 1; indices 0, 1, 2 across groups


def initial_weight(index, shape):
    n = math.prod(shape)
    values = [0.5 * math.sin(1.0 + 0.37 * i + 1.1 * index) for i in range(n)]
    return torch.tensor(values, dtype=torch.float64).to(torch.float32).reshape(shape)


def gradient(index, shape, step):
    n = math.prod(shape)
    values = [math.cos(0.3 * step + 0.11 * i + 0.7 * index) + 0.05 * step for i in range(n)]
    return torch.tensor(values, dtype=torch.float64).to(torch.float32).reshape(shape)


def py_kwargs(kwargs):
    return {k: tuple(v) if k == "betas" else v for k, v in kwargs.items()}


def build(config):
    params, groups, index = [], [], 0
    for shapes, group_kwargs in zip(SHAPES, config["groups"]):
        group = []
        for shape in shapes:
            p = torch.nn.Parameter(initial_weight(index, shape))
            params.append((index, shape, p))
            group.append(p)
            index += 1
        groups.append({"params": group, **py_kwargs(group_kwargs)})
    optimizer = getattr(torch.optim, config["optimizer"])(groups, **py_kwargs(config["defaults"]))
    scheduler = None
    if config.get("scheduler"):
        s = dict(config["scheduler"])
        scheduler = getattr(torch.optim.lr_scheduler, s.pop("type"))(optimizer, **s)
    return params, optimizer, scheduler


def run(params, optimizer, scheduler, first, last):
    for step in range(first, last + 1):
        for index, shape, p in params:
            p.grad = gradient(index, shape, step)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()


class Mismatch(Exception):
    pass


def compare(mine, theirs, path):
    """PyTorch's value `mine` against volt's `theirs`: same type, keys in the same order, equal values."""
    if type(mine) is not type(theirs):
        raise Mismatch(f"{path}: PyTorch has {type(mine).__name__} {mine!r}, volt {type(theirs).__name__} {theirs!r}")
    if isinstance(mine, dict):
        if list(mine.keys()) != list(theirs.keys()):
            raise Mismatch(f"{path}: keys differ\n  PyTorch: {list(mine.keys())}\n  volt:    {list(theirs.keys())}")
        for key in mine:
            compare(mine[key], theirs[key], f"{path}[{key!r}]")
    elif isinstance(mine, (list, tuple)):
        if len(mine) != len(theirs):
            raise Mismatch(f"{path}: PyTorch has {len(mine)} items, volt {len(theirs)}")
        for i, (a, b) in enumerate(zip(mine, theirs)):
            compare(a, b, f"{path}[{i}]")
    elif isinstance(mine, torch.Tensor):
        if mine.dtype != theirs.dtype or mine.shape != theirs.shape:
            raise Mismatch(f"{path}: PyTorch has {mine.dtype} {list(mine.shape)}, "
                           f"volt {theirs.dtype} {list(theirs.shape)}")
        if not torch.allclose(mine, theirs, rtol=1e-6, atol=1e-6):
            diff = (mine.double() - theirs.double()).abs().max().item()
            raise Mismatch(f"{path}: tensors differ by up to {diff}\n  PyTorch: {mine}\n  volt:    {theirs}")
    elif mine != theirs:  # ints, floats (exactly: the same doubles on both sides), bools, str, None
        raise Mismatch(f"{path}: PyTorch has {mine!r}, volt {theirs!r}")


class _LibtorchPickler(pickle._Pickler):
    """libtorch 1.13's unpickler lacks SETITEM and APPEND, which pickle uses for one-item dicts and lists;
    this pickler always writes the batched MARK ... SETITEMS / APPENDS forms, which it reads."""

    def _batch_setitems(self, items):
        items = list(items)
        if items:
            self.write(pickle.MARK)
            for key, value in items:
                self.save(key)
                self.save(value)
            self.write(pickle.SETITEMS)

    def _batch_appends(self, items):
        items = list(items)
        if items:
            self.write(pickle.MARK)
            for item in items:
                self.save(item)
            self.write(pickle.APPENDS)


def save_for_libtorch(obj, path):
    """torch.save that torch::pickle_load (libtorch 1.13) can read: plain dicts, lists, tuples, numbers, str,
    None and tensors (which torch.save still writes as usual)."""
    torch.save(obj, path, pickle_module=types.SimpleNamespace(Pickler=_LibtorchPickler, __name__="volt_pickle"))


def main():
    warnings.simplefilter("ignore")
    config_path, directory = sys.argv[1], sys.argv[2]
    with open(config_path) as f:
        config = json.load(f)
    n, m = config["n"], config["m"]

    params, optimizer, scheduler = build(config)
    run(params, optimizer, scheduler, 1, n)
    mine = optimizer.state_dict()
    theirs = torch.load(f"{directory}/cpp.pt")
    try:
        compare(mine, theirs["optimizer"], "optimizer.state_dict()")
        if scheduler is not None:
            compare(scheduler.state_dict(), theirs["scheduler"], "scheduler.state_dict()")
        for (index, _, p), w in zip(params, theirs["weights"]):
            compare(p.detach(), w, f"weights[{index}]")
        # volt's state also loads into PyTorch's own objects and continues there like PyTorch's state does.
        params2, optimizer2, scheduler2 = build(config)
        with torch.no_grad():
            for (_, _, p2), (_, _, p) in zip(params2, params):
                p2.copy_(p)
        optimizer2.load_state_dict(theirs["optimizer"])
        if scheduler2 is not None:
            scheduler2.load_state_dict(theirs["scheduler"])
    except Mismatch as e:
        print(f"{config['name']}: volt's state differs from PyTorch's:\n{e}", file=sys.stderr)
        return 1

    state_n = copy.deepcopy(optimizer.state_dict())
    scheduler_n = copy.deepcopy(scheduler.state_dict()) if scheduler is not None else None
    weights_n = [p.detach().clone() for _, _, p in params]
    run(params, optimizer, scheduler, n + 1, n + m)
    run(params2, optimizer2, scheduler2, n + 1, n + m)
    for (index, _, p), (_, _, p2) in zip(params, params2):
        if not torch.allclose(p, p2, rtol=1e-6, atol=1e-6):
            print(f"{config['name']}: PyTorch resumed from volt's state diverges at weights[{index}]:\n"
                  f"  {p}\n  {p2}", file=sys.stderr)
            return 1
    save_for_libtorch({"optimizer": state_n, "scheduler": scheduler_n, "weights_n": weights_n,
                       "weights_final": [p.detach().clone() for _, _, p in params]}, f"{directory}/python.pt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
