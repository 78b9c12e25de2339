#!/usr/bin/env python3
"""Golden data for volt's StochasticWeightAveraging, produced by REAL Lightning 2.2.5 on Debian's torch 1.13.

    python=$(../shared/tools/lightning-oracle/setup.sh)
    nice "$python" tools/gen_swa_golden.py tests/golden/callbacks

Writes swa.json. Every set-up uses deterministic weights and data (no random numbers), so the C++ test rebuilds
the same run: per epoch the lrs seen right after the callback's on_train_epoch_start and at on_train_epoch_end,
n_averaged, global_step and the weights at each epoch start; after fit the final weights (and BatchNorm running
statistics), the callback's state_dict (scheduler state without the function), trainer.max_epochs and
accumulate_grad_batches. The C++ tests only read this file.
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
from lightning.pytorch.callbacks import StochasticWeightAveraging

logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
logging.getLogger("lightning.fabric").setLevel(logging.ERROR)
pl.LightningModule._register_sharded_tensor_state_dict_hooks_if_available = lambda self: None


def det(shape, scale, phase):
    n = 1
    for s in shape:
        n *= s
    return (torch.sin(torch.arange(n, dtype=torch.float32) * 0.7 + phase) * scale).reshape(shape)


class Data(torch.utils.data.Dataset):
    def __init__(self):
        self.x = det((32, 4), 1.0, 0.0)
        self.y = self.x.sum(1, keepdim=True) * 0.5

    def __len__(self):
        return 32

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class Model(pl.LightningModule):
    def __init__(self, bn, scheduler, momentum):
        super().__init__()
        if bn:
            self.net = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
        else:
            self.net = nn.Sequential(nn.Linear(4, 1))
        with torch.no_grad():
            for i, (name, p) in enumerate(self.net.named_parameters()):
                if "1." in name and bn and name.startswith("1."):
                    continue  # BatchNorm keeps ones/zeros
                p.copy_(det(tuple(p.shape), 0.3, float(i)))
        self.scheduler = scheduler
        self.momentum = momentum

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.1, momentum=self.momentum)
        if self.scheduler:
            return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)]
        return opt

    def train_dataloader(self):
        return torch.utils.data.DataLoader(Data(), batch_size=8)


class Probe(pl.Callback):
    def __init__(self, swa):
        self.swa = swa
        self.epochs = []

    def on_train_epoch_start(self, trainer, pl_module):
        self.epochs.append({"start_lrs": [pg["lr"] for pg in trainer.optimizers[0].param_groups],
                            "weights": [p.detach().flatten().tolist() for p in pl_module.parameters()],
                            "global_step_start": trainer.global_step})

    def on_train_epoch_end(self, trainer, pl_module):
        e = self.epochs[-1]
        e["end_lrs"] = [pg["lr"] for pg in trainer.optimizers[0].param_groups]
        e["n_averaged"] = None if self.swa.n_averaged is None else int(self.swa.n_averaged)
        e["global_step_end"] = trainer.global_step


def jsonable(v):
    if isinstance(v, torch.Tensor):
        return v.tolist()
    if isinstance(v, dict):
        return [[k, jsonable(x)] for k, x in v.items()]
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if callable(v):
        return "<function>"
    return v


SETUPS = {
    "cos_int_start": dict(bn=False, scheduler=False, momentum=0.0, epochs=6,
                          kw=dict(swa_lrs=0.05, swa_epoch_start=2, annealing_epochs=2, annealing_strategy="cos")),
    "linear_fraction_swap": dict(bn=False, scheduler=True, momentum=0.0, epochs=6,
                                 kw=dict(swa_lrs=0.02, swa_epoch_start=0.5, annealing_epochs=3,
                                         annealing_strategy="linear")),
    "bn_momentum": dict(bn=True, scheduler=False, momentum=0.9, epochs=5,
                        kw=dict(swa_lrs=0.05, swa_epoch_start=3, annealing_epochs=1)),
}


def run():
    out = {}
    for name, s in SETUPS.items():
        model = Model(s["bn"], s["scheduler"], s["momentum"])
        swa = StochasticWeightAveraging(**s["kw"])
        probe = Probe(swa)
        with tempfile.TemporaryDirectory() as d:
            trainer = pl.Trainer(default_root_dir=d, max_epochs=s["epochs"], callbacks=[swa, probe], logger=False,
                                 enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
            trainer.fit(model)
        sd = swa.state_dict()
        out[name] = {
            "epochs": probe.epochs,
            "final_weights": [p.detach().flatten().tolist() for p in model.parameters()],
            "final_buffers": [[k, b.flatten().tolist()] for k, b in model.named_buffers()],
            "average_model_state": [[k, v.flatten().tolist()] for k, v in sd["average_model_state"].items()],
            "n_averaged": sd["n_averaged"],
            "latest_update_epoch": sd["latest_update_epoch"],
            "scheduler_state": jsonable(sd["scheduler_state"]),
            "max_epochs": trainer.max_epochs,
            "current_epoch": trainer.current_epoch,
            "global_step": trainer.global_step,
            "accumulate_grad_batches": trainer.accumulate_grad_batches,
        }
    return out


def main():
    dest = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/callbacks"
    data = {"torch": torch.__version__, "lightning": pl.__version__, "setups": run()}
    with open(os.path.join(dest, "swa.json"), "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
