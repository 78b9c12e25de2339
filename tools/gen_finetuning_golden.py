#!/usr/bin/env python3
"""Golden data for volt's BaseFinetuning / BackboneFinetuning, produced by REAL Lightning 2.2.5 on Debian's torch 1.13.

    python=$(../shared/tools/lightning-oracle/setup.sh)
    nice "$python" tools/gen_finetuning_golden.py tests/golden/callbacks

Writes finetuning.json: for each BackboneFinetuning set-up (model: backbone = Sequential(Linear(32, 32, bias=False),
BatchNorm1d(32), ReLU()), head = Linear(32, 2); SGD over the trainable params lr 0.1, optional StepLR(1, gamma)),
per epoch the lr of every param group right after the callback's on_train_epoch_start, and the callback's
state_dict after fit (param-group records in Python's key order). Also the helper scenarios of
test_finetuning_callback.py (group lrs and param counts after unfreeze_and_add_param_group).
The C++ tests only read this file.
"""
import json
import logging
import os
import sys
import tempfile
import warnings

import torch
from torch import nn
import lightning.pytorch as pl
from lightning.pytorch.callbacks import BackboneFinetuning, BaseFinetuning

logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
logging.getLogger("lightning.fabric").setLevel(logging.ERROR)
pl.LightningModule._register_sharded_tensor_state_dict_hooks_if_available = lambda self: None


class Data(torch.utils.data.Dataset):
    def __init__(self):
        self.x = torch.randn(16, 32)

    def __len__(self):
        return 16

    def __getitem__(self, i):
        return self.x[i]


class Model(pl.LightningModule):
    def __init__(self, gamma):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(32, 32, bias=False), nn.BatchNorm1d(32), nn.ReLU())
        self.head = nn.Linear(32, 2)
        self.gamma = gamma

    def training_step(self, batch, batch_idx):
        out = self.head(self.backbone(batch))
        return torch.nn.functional.mse_loss(out, torch.ones_like(out))

    def configure_optimizers(self):
        opt = torch.optim.SGD(filter(lambda p: p.requires_grad, self.parameters()), lr=0.1)
        if self.gamma is None:
            return opt
        return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=self.gamma)]

    def train_dataloader(self):
        return torch.utils.data.DataLoader(Data(), batch_size=8)


class Probe(pl.Callback):
    def __init__(self):
        self.lrs = []

    def on_train_epoch_start(self, trainer, pl_module):
        self.lrs.append([pg["lr"] for pg in trainer.optimizers[0].param_groups])


def jsonable(v):
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v


def records(sd):
    # key order matters: keep it as a list of [key, value] pairs
    out = {}
    for idx, groups in sd["internal_optimizer_metadata"].items():
        out[str(idx)] = [[[k, jsonable(v)] for k, v in g.items()] for g in groups]
    return out


SETUPS = {
    "steplr_u3": dict(gamma=0.7, epochs=8, kw=dict(unfreeze_backbone_at_epoch=3)),
    "constant_u2": dict(gamma=None, epochs=7, kw=dict(unfreeze_backbone_at_epoch=2)),
    "initial_lr_no_align": dict(gamma=None, epochs=6,
                                kw=dict(unfreeze_backbone_at_epoch=1, backbone_initial_lr=0.03, should_align=False,
                                        lambda_func=lambda e: 1.5)),
    "ratio_steplr_u0": dict(gamma=0.9, epochs=5,
                            kw=dict(unfreeze_backbone_at_epoch=0, backbone_initial_ratio_lr=0.5, train_bn=False)),
}


def run_backbone():
    out = {}
    for name, s in SETUPS.items():
        torch.manual_seed(0)
        model = Model(s["gamma"])
        cb = BackboneFinetuning(**s["kw"])
        probe = Probe()
        with tempfile.TemporaryDirectory() as d:
            trainer = pl.Trainer(default_root_dir=d, max_epochs=s["epochs"], callbacks=[cb, probe], logger=False,
                                 enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
            trainer.fit(model)
        sd = cb.state_dict()
        out[name] = {"lrs": probe.lrs, "metadata": records(sd), "previous_backbone_lr": sd["previous_backbone_lr"],
                     "group_sizes": [len(pg["params"]) for pg in trainer.optimizers[0].param_groups]}
    return out


class Helper(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(32, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 2))


def run_helpers():
    # test_unfreeze_and_add_param_group_function, with the warning count
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 32, bias=False), nn.Linear(32, 32, bias=False), nn.Linear(32, 32, bias=False),
                          nn.Linear(32, 32, bias=False), nn.Linear(32, 2, bias=False), nn.BatchNorm1d(2))
    BaseFinetuning.freeze(model, train_bn=False)
    opt = torch.optim.SGD(model[0].parameters(), lr=0.01)
    steps = []
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        BaseFinetuning.unfreeze_and_add_param_group(model[0], opt)
        steps.append({"groups": [[pg["lr"], len(pg["params"])] for pg in opt.param_groups], "warnings": len(w)})
        BaseFinetuning.unfreeze_and_add_param_group(model[1], opt)
        steps.append({"groups": [[pg["lr"], len(pg["params"])] for pg in opt.param_groups], "warnings": len(w)})
        BaseFinetuning.unfreeze_and_add_param_group(model, opt, lr=100, train_bn=False)
        steps.append({"groups": [[pg["lr"], len(pg["params"])] for pg in opt.param_groups], "warnings": len(w)})
        msg = str(w[0].message)
    return {"unfreeze_steps": steps, "warning": msg}


def main():
    dest = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/callbacks"
    data = {"torch": torch.__version__, "lightning": pl.__version__, "backbone": run_backbone(), "helpers": run_helpers()}
    with open(os.path.join(dest, "finetuning.json"), "w") as f:
        json.dump(data, f, indent=1, sort_keys=False)
        f.write("\n")


if __name__ == "__main__":
    main()
