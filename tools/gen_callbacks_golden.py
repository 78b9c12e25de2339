#!/usr/bin/env python3
"""Golden data for volt's built-in callbacks (part 1), produced by REAL Lightning 2.2.5 (and tqdm 4.64) on Debian's
torch 1.13.

    python=$(../shared/tools/lightning-oracle/setup.sh)        # once: venv with Lightning 2.2.5 (idempotent)
    nice "$python" tools/gen_callbacks_golden.py tests/golden/callbacks

Writes (deterministic; no paths, no timestamps):
  model_summary.json   ModelSummary tables (str(summarize(model, max_depth))) and their columns/totals for the
                       models that tests/unit/model_summary_test.cpp rebuilds in libtorch
  lr_monitor.json      LearningRateMonitor names, lr histories, logged (step, metrics) calls, warnings and errors for
                       the set-ups that tests/unit/lr_monitor_test.cpp rebuilds
  tqdm.json            Lightning's Tqdm.format_num and tqdm's format_meter with Lightning's bar format, for fixed
                       n/total/elapsed/ncols, as tests/unit/progress_bar_test.cpp checks them
The C++ tests only read these files.
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
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm, TQDMProgressBar
from lightning.pytorch.demos.boring_classes import BoringModel
from lightning.pytorch.loggers.logger import Logger
from lightning.pytorch.utilities.model_summary import summarize

logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
logging.getLogger("lightning.fabric").setLevel(logging.ERROR)
pl.LightningModule._register_sharded_tensor_state_dict_hooks_if_available = lambda self: None


# ---- ModelSummary ---------------------------------------------------------------------------------------------------
class Boring(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(32, 2)


class ConvNet(pl.LightningModule):
    """features: conv/bn/relu/conv (no bias); head: linear/relu/linear; frozen: linear without grad; scale: a
    parameter on the root (shows as "other params")."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 16, 3), nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, 32, 3, bias=False))
        self.head = nn.Sequential(nn.Linear(512, 1000), nn.ReLU(), nn.Linear(1000, 10))
        self.frozen = nn.Linear(10, 10)
        for p in self.frozen.parameters():
            p.requires_grad_(False)
        self.scale = nn.Parameter(torch.ones(7))


class Big(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(2000, 2000)
        self.decoder = nn.Linear(2000, 2000)
        self.embedding = nn.Embedding(100000, 64)


class Shared(pl.LightningModule):
    """The same Linear registered twice: Python lists and counts it once."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = self.a
        self.block = nn.Sequential(nn.Linear(4, 8), nn.Sequential(nn.Linear(8, 8), nn.Tanh()))


def model_summaries():
    out = {}
    for name, cls, depths in [("boring", Boring, [1, -1]), ("convnet", ConvNet, [0, 1, 2, -1]),
                              ("big", Big, [1]), ("shared", Shared, [1, 2, 3, -1])]:
        model = cls()
        for depth in depths:
            s = summarize(model, max_depth=depth)
            out[f"{name}/{depth}"] = {
                "model": name, "max_depth": depth, "table": str(s),
                "columns": [[h, list(v)] for h, v in s._get_summary_data()],
                "total_parameters": s.total_parameters, "trainable_parameters": s.trainable_parameters,
                "model_size": s.model_size,
            }
    return out


# ---- LearningRateMonitor --------------------------------------------------------------------------------------------
class RecordingLogger(Logger):
    def __init__(self):
        super().__init__()
        self.calls = []

    @property
    def name(self):
        return "recording"

    @property
    def version(self):
        return 0

    def log_metrics(self, metrics, step=None):
        self.calls.append([step, {k: float(v) for k, v in sorted(metrics.items())}])

    def log_hyperparams(self, params, *args, **kwargs):
        pass


class LRModel(BoringModel):
    """BoringModel whose optimizers come from a named set-up (mirrored in tests/unit/lr_monitor_test.cpp)."""

    def __init__(self, setup):
        super().__init__()
        self.setup_name = setup
        if setup in ("two_adams_manual", "mixed_manual"):
            self.automatic_optimization = False

    def training_step(self, batch, batch_idx):
        if self.automatic_optimization:
            return super().training_step(batch, batch_idx)
        for opt in self.optimizers():
            opt.zero_grad()
            loss = self.step(batch)
            self.manual_backward(loss)
            opt.step()

    def configure_optimizers(self):
        w, b = self.layer.weight, self.layer.bias
        s = self.setup_name
        if s == "sgd_steplr":
            opt = torch.optim.SGD(self.parameters(), lr=0.1)
            return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)]
        if s == "sgd_steplr_step_interval":
            opt = torch.optim.SGD(self.parameters(), lr=0.1)
            sch = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
            return [opt], [{"scheduler": sch, "interval": "step"}]
        if s == "no_scheduler":
            return torch.optim.SGD(self.parameters(), lr=0.1)
        if s == "adam_two_groups":
            opt = torch.optim.Adam([{"params": [w]}, {"params": [b], "lr": 0.02, "weight_decay": 0.5}], lr=0.01)
            return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)]
        if s == "sgd_named_group":
            opt = torch.optim.SGD([{"params": self.parameters(), "name": "linear"}], lr=0.1, momentum=0.9,
                                  weight_decay=0.01)
            return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1)]
        if s == "scheduler_named":
            opt = torch.optim.SGD(self.parameters(), lr=0.1)
            sch = torch.optim.lr_scheduler.StepLR(opt, step_size=1)
            return [opt], [{"scheduler": sch, "name": "my_logging_name"}]
        if s == "two_adams_manual":
            o1 = torch.optim.Adam([w], lr=0.01)
            o2 = torch.optim.Adam([b], lr=0.02)
            return [o1, o2], [torch.optim.lr_scheduler.StepLR(o1, step_size=1),
                              torch.optim.lr_scheduler.StepLR(o2, step_size=1)]
        if s == "mixed_manual":
            o1 = torch.optim.SGD([w], lr=0.1, momentum=0.5)
            o2 = torch.optim.Adam([b], lr=0.01, betas=(0.8, 0.99))
            o3 = torch.optim.AdamW([w], lr=0.03)
            o4 = torch.optim.Adam([b], lr=0.04)
            return [o1, o2, o3, o4], [torch.optim.lr_scheduler.StepLR(o1, step_size=1),
                                      {"scheduler": torch.optim.lr_scheduler.StepLR(o2, step_size=1), "name": "named"}]
        if s == "adagrad":
            return torch.optim.Adagrad(self.parameters(), lr=0.1)
        if s == "duplicate_group_names":
            return torch.optim.SGD([{"params": [w], "name": "a"}, {"params": [b], "name": "a"}], lr=0.1)
        raise ValueError(s)


LR_SCENARIOS = [
    # name, set-up, monitor kwargs, trainer kwargs
    ("sgd_steplr_default", "sgd_steplr", {}, {}),
    ("sgd_steplr_step", "sgd_steplr", {"logging_interval": "step"}, {}),
    ("sgd_steplr_epoch", "sgd_steplr", {"logging_interval": "epoch"}, {}),
    ("sgd_steplr_step_interval", "sgd_steplr_step_interval", {}, {}),
    ("sgd_steplr_log_every_3", "sgd_steplr", {"logging_interval": "step"}, {"log_every_n_steps": 3}),
    ("no_scheduler", "no_scheduler", {}, {}),
    ("adam_two_groups", "adam_two_groups", {"log_momentum": True, "log_weight_decay": True}, {}),
    ("sgd_named_group", "sgd_named_group", {"log_momentum": True, "log_weight_decay": True}, {}),
    ("scheduler_named", "scheduler_named", {}, {}),
    ("two_adams_manual", "two_adams_manual", {"logging_interval": "step"}, {}),
    ("mixed_manual", "mixed_manual", {"log_momentum": True}, {}),
    ("adagrad", "adagrad", {"log_momentum": True}, {}),
    ("duplicate_group_names", "duplicate_group_names", {}, {}),
]


def lr_monitor_runs():
    out = {}
    for name, setup, monitor_kwargs, trainer_kwargs in LR_SCENARIOS:
        torch.manual_seed(0)
        logger = RecordingLogger()
        monitor = LearningRateMonitor(**monitor_kwargs)
        kwargs = dict(max_epochs=3, limit_train_batches=4, limit_val_batches=0, log_every_n_steps=1,
                      enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
        kwargs.update(trainer_kwargs)
        error = None
        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trainer = pl.Trainer(default_root_dir=tmp, logger=logger, callbacks=[monitor], **kwargs)
            try:
                trainer.fit(LRModel(setup))
            except Exception as e:  # noqa: BLE001
                error = str(e)
        out[name] = {
            "setup": setup, "monitor": monitor_kwargs, "trainer": {**dict(max_epochs=3, limit_train_batches=4,
                                                                           log_every_n_steps=1), **trainer_kwargs},
            "lrs": [[k, v] for k, v in monitor.lrs.items()],
            "last_momentum_values": [[k, v] for k, v in monitor.last_momentum_values.items()],
            "last_weight_decay_values": [[k, v] for k, v in monitor.last_weight_decay_values.items()],
            "logged": logger.calls,
            "callback_metrics": {k: float(v) for k, v in sorted(trainer.callback_metrics.items())},
            "warnings": [str(w.message) for w in caught if "momentum" in str(w.message)],
            "error": error,
        }
    return out


# ---- tqdm -----------------------------------------------------------------------------------------------------------
def tqdm_data():
    values = [0, 1, 5, 12345, 123456, -3, 1.0, 0.1, 0.123, 1e-3, 1e-5, 2.3456, 123456.0, 0.5, -0.5, 100.0, 1234.5678,
              float("inf"), float("nan"), "1.0", "10000", "abc", "1", "", "0.1234567"]
    nums = [[repr(v) if isinstance(v, float) else v, type(v).__name__, Tqdm.format_num(v)] for v in values]
    meters = []
    for n, total, elapsed, ncols, desc, postfix in [
            (0, 32, 0.0, 80, "Epoch 0", ""), (16, 32, 2.0, 80, "Epoch 0", "v_num=0, loss=0.123"),
            (32, 32, 4.5, 80, "Epoch 1", "v_num=0, loss=0.100"), (1, 3, 0.5, 100, "Validation DataLoader 0", ""),
            (7, 9, 3725.0, 120, "Testing DataLoader 0", ""), (3, 7, 1.0, None, "Predicting DataLoader 0", ""),
            (5, None, 1.0, 80, "Sanity Checking", ""), (0, None, 0.0, 80, "Training", ""),
            (10, 10, 1.0, 40, "A very long description that does not fit", "v_num=7")]:
        line = Tqdm.format_meter(n, total, elapsed, ncols=ncols, prefix=desc, bar_format=TQDMProgressBar.BAR_FORMAT,
                                 postfix=postfix or None)
        meters.append({"n": n, "total": total, "elapsed": elapsed, "ncols": ncols, "desc": desc, "postfix": postfix,
                       "line": line})
    return {"format_num": nums, "format_meter": meters}


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/callbacks"
    os.makedirs(outdir, exist_ok=True)
    for fname, data in [("model_summary.json", model_summaries()), ("lr_monitor.json", lr_monitor_runs()),
                        ("tqdm.json", tqdm_data())]:
        with open(os.path.join(outdir, fname), "w") as f:
            json.dump(data, f, indent=1, ensure_ascii=False, allow_nan=True)
            f.write("\n")
        print("wrote", os.path.join(outdir, fname))


if __name__ == "__main__":
    main()
