#!/usr/bin/env python3
"""Golden data for volt's learning-rate finder, produced by REAL Lightning 2.2.5 on Debian's torch 1.13.

    python=$(../shared/tools/lightning-oracle/setup.sh)
    nice "$python" tools/gen_lr_finder_golden.py tests/golden/callbacks

Writes lr_finder.json:
  suggestions  _LRFinder.suggestion(skip_begin, skip_end) for hand-set results (lr and loss lists, some with
               NaN/inf, written as strings "nan"/"inf"/"-inf")
  runs         Tuner(trainer).lr_find(...) on a deterministic model and data (no random numbers): the recorded lrs
               and smoothed losses, the suggestion, the model's lr afterwards and global_step after the search
The C++ tests only read this file.
"""
import json
import logging
import math
import os
import sys
import tempfile

import torch
from torch import nn
import lightning.pytorch as pl
from lightning.pytorch.tuner import Tuner
from lightning.pytorch.tuner.lr_finder import _LRFinder

logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
logging.getLogger("lightning.fabric").setLevel(logging.ERROR)
pl.LightningModule._register_sharded_tensor_state_dict_hooks_if_available = lambda self: None


def enc(x):
    if isinstance(x, float) and not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


def suggestion_cases():
    cases = []

    def add(name, lrs, losses, skip_begin, skip_end):
        f = _LRFinder("exponential", 1e-8, 1.0, len(lrs))
        f.results = {"lr": lrs, "loss": losses}
        s = f.suggestion(skip_begin=skip_begin, skip_end=skip_end)
        cases.append({"name": name, "lrs": [enc(x) for x in lrs], "losses": [enc(x) for x in losses],
                      "skip_begin": skip_begin, "skip_end": skip_end, "suggestion": s,
                      "optimal_idx": f._optimal_idx})

    lin = torch.linspace(0, 2 * math.pi, 1000).tolist()
    add("sin", lin, [math.sin(x) for x in lin], 2, 2)
    for sb, se, n in [(0, 0, 0), (10, 1, 0), (0, 2, 3), (0, 1, 3), (1, 1, 3), (1, 1, 4)]:
        add(f"small_{sb}_{se}_{n}", [float(i) for i in range(n)], [float(i) for i in range(n)], sb, se)
    lrs = [1e-4 * (10 ** (i / 10)) for i in range(40)]
    curve = [2.0 - math.tanh((i - 18) / 5.0) + 0.02 * math.sin(i * 1.7) + (0.3 * (i - 32) if i > 32 else 0.0)
             for i in range(40)]
    add("curve_default", lrs, curve, 10, 1)
    add("curve_skip_0_1", lrs, curve, 0, 1)
    add("curve_skip_5_3", lrs, curve, 5, 3)
    holes = list(curve)
    for i, v in [(3, float("nan")), (12, float("inf")), (20, float("nan")), (21, float("-inf"))]:
        holes[i] = v
    add("holes_default", lrs, holes, 10, 1)
    add("holes_0_1", lrs, holes, 0, 1)
    add("holes_4_1", lrs, holes, 4, 1)
    add("flat_ties", lrs[:12], [1.0] * 12, 0, 1)
    return cases


def det(shape, scale, phase):
    n = 1
    for s in shape:
        n *= s
    return (torch.sin(torch.arange(n, dtype=torch.float32) * 0.7 + phase) * scale).reshape(shape)


class Data(torch.utils.data.Dataset):
    def __init__(self, n):
        self.x = det((n, 4), 1.0, 0.0)
        self.y = self.x.sum(1, keepdim=True) * 0.5

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class Model(pl.LightningModule):
    def __init__(self, lr=0.1, samples=64):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Linear(4, 1)
        with torch.no_grad():
            for i, p in enumerate(self.net.parameters()):
                p.copy_(det(tuple(p.shape), 0.3, float(i)))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    def train_dataloader(self):
        return torch.utils.data.DataLoader(Data(self.hparams.samples), batch_size=4)


RUNS = {
    "exp_threshold": dict(trainer=dict(max_epochs=3), kw=dict(min_lr=1e-4, max_lr=10.0, num_training=30)),
    "linear_no_threshold_acc2": dict(trainer=dict(max_epochs=3, accumulate_grad_batches=2),
                                     kw=dict(min_lr=1e-3, max_lr=0.5, num_training=15, mode="linear",
                                             early_stop_threshold=None)),
    "exp_multi_epoch": dict(trainer=dict(max_epochs=5), samples=16,
                            kw=dict(min_lr=1e-5, max_lr=0.3, num_training=12, early_stop_threshold=None)),
    "exp_high_threshold": dict(trainer=dict(max_epochs=2), kw=dict(min_lr=1e-4, max_lr=3.0, num_training=24,
                                                                   early_stop_threshold=100.0)),
}


def runs():
    out = {}
    for name, r in RUNS.items():
        model = Model(samples=r.get("samples", 64))
        weights_before = [p.detach().flatten().tolist() for p in model.parameters()]
        with tempfile.TemporaryDirectory() as d:
            trainer = pl.Trainer(default_root_dir=d, logger=False, enable_checkpointing=False,
                                 enable_progress_bar=False, enable_model_summary=False, **r["trainer"])
            finder = Tuner(trainer).lr_find(model, **r["kw"])
            left = [f for f in os.listdir(d) if f.startswith(".lr_find")]
        out[name] = {"lrs": finder.results["lr"], "losses": [enc(x) for x in finder.results["loss"]],
                     "suggestion": finder.suggestion(), "model_lr": model.hparams.lr,
                     "global_step": trainer.global_step, "weights_restored":
                         [p.detach().flatten().tolist() for p in model.parameters()] == weights_before,
                     "temp_files_left": len(left)}
    return out


def main():
    dest = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/callbacks"
    data = {"torch": torch.__version__, "lightning": pl.__version__, "suggestions": suggestion_cases(),
            "runs": runs()}
    with open(os.path.join(dest, "lr_finder.json"), "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
