#!/usr/bin/env python3
"""Golden data for volt's built-in callbacks (ModelCheckpoint, EarlyStopping, Timer, OnExceptionCheckpoint), produced
by REAL Lightning 2.2.5 on Debian's torch 1.13.

How to run (from the repository root; shared/ sits beside the repository):

    python=$(../shared/tools/lightning-oracle/setup.sh)            # once: venv with Lightning 2.2.5 (idempotent)
    nice "$python" tools/gen_callback_golden.py tests/golden       # rewrites tests/golden/callbacks/*.json

The C++ tests (tests/unit/callback_golden_test.cpp) only read the outputs. Every file is deterministic: no timings,
no absolute paths (the run directory prints as "<root>"), floats as float.hex() in the tagged-JSON convention of
tools/gen_optim_vectors.py (tests/support/ivalue_json.hpp decodes it).

Outputs (under OUTDIR/callbacks/):
  scenarios.json  a list of runs. Each scenario describes its inputs (the scripted model, the callbacks with their
                  Lightning arguments, the Trainer arguments of every run, ckpt_path) and what real Lightning did
                  after each run: the error text if the run raised, current_epoch, global_step, should_stop,
                  max_epochs, every file under the run directory (symlinks as "name -> target"), the (epoch,
                  global_step) of every checkpoint written (recorded in the module's on_save_checkpoint), the
                  callback messages (warnings and infos whose text starts with one of MESSAGE_PREFIXES), each
                  callback's state_key and state_dict(), and, for the files named in "inspect", the checkpoint's
                  top-level keys and its "callbacks" entry.
  vectors.json    pure functions: ModelCheckpoint.format_checkpoint_name for many templates/values/format specs,
                  str() and repr() of datetime.timedelta, Timer duration parsing, state keys, constructor errors.

The scripted model is BoringModel (Linear(32, 2), SGD(lr=0.1) + StepLR(step_size=1), 64 random samples of batch size
1) that logs `key` = table[min(current_epoch, len(table) - 1)] from `where` ("validation_step",
"on_train_epoch_end" or "training_step"); "no_steps" makes training_step return None (no optimizer step ever);
"raise_at_step" raises RuntimeError("boom") in training_step at that global step; "manual" turns automatic
optimization off (with "no_steps", nothing ever steps: global_step stays 0). Trainer: logger=False, no progress
bar, no model summary, default_root_dir=<root>.
"""
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import warnings
from datetime import timedelta

import torch
import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint, OnExceptionCheckpoint, Timer
from lightning.pytorch.demos.boring_classes import BoringModel

# torch 1.13's torch.distributed._shard does not import on Python 3.11; Lightning only uses it for optional hooks.
pl.LightningModule._register_sharded_tensor_state_dict_hooks_if_available = lambda self: None

# --------------------------------------------------------------------------------------------------------------------
# Message capture: every warning and every INFO log record, in emission order
# --------------------------------------------------------------------------------------------------------------------
MESSAGES = []
MESSAGE_PREFIXES = [
    "Epoch ", "Metric ", "Monitored metric ", "Stopping threshold reached", "Divergence threshold reached",
    "Early stopping conditioned", "`ModelCheckpoint(", "Checkpoint directory ", "The dirpath has changed",
    "Time limit reached", "Ignoring `Trainer(max_time", "`.fit(ckpt_path=None)`", '.fit(ckpt_path="last")',
    "Trainer was signaled to stop", "[rank: ",
]


class _Capture(logging.Handler):
    def emit(self, record):
        MESSAGES.append(record.getMessage())


logging.getLogger().addHandler(_Capture())
logging.getLogger().setLevel(logging.INFO)
for _name in ("lightning", "lightning.pytorch", "lightning.fabric", "lightning_utilities"):
    logging.getLogger(_name).setLevel(logging.INFO)
    logging.getLogger(_name).propagate = True
for _name in list(logging.root.manager.loggerDict):  # no console noise
    for _h in list(getattr(logging.getLogger(_name), "handlers", [])):
        logging.getLogger(_name).removeHandler(_h)
warnings.showwarning = lambda message, *args, **kwargs: MESSAGES.append(str(message))
warnings.simplefilter("always")


# --------------------------------------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------------------------------------
ROOT = None  # the running scenario's directory, printed as "<root>"


def rel(s):
    return s.replace(ROOT, "<root>") if isinstance(s, str) and ROOT else s


def encode(value):
    """Tagged JSON (tools/gen_optim_vectors.py), with the run directory replaced by "<root>" in every string."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return rel(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return {"float": value.hex()}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [encode(v) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, torch.Tensor):
        flat = value.detach().double().reshape(-1).tolist()
        return {"tensor": {"dtype": str(value.dtype), "shape": list(value.shape), "values": [x.hex() for x in flat]}}
    raise TypeError(f"cannot encode {type(value).__name__}")


def number(v):
    """Table entries: numbers, or "nan"/"inf"/"-inf" (JSON has no literal for them)."""
    return float(v)


# --------------------------------------------------------------------------------------------------------------------
# The scripted model and the scenario runner
# --------------------------------------------------------------------------------------------------------------------
SAVES = []


class Scripted(BoringModel):
    def __init__(self, spec):
        super().__init__()
        self.table = [number(v) for v in spec.get("table", [0.0])]
        self.key = spec.get("key", "val_loss")
        self.where = spec.get("where", "validation_step")
        self.no_steps = spec.get("no_steps", False)
        self.raise_at_step = spec.get("raise_at_step")
        self.automatic_optimization = not spec.get("manual", False)

    def value(self):
        return self.table[min(self.current_epoch, len(self.table) - 1)]

    def training_step(self, batch, batch_idx):
        if self.raise_at_step is not None and self.global_step == self.raise_at_step:
            raise RuntimeError("boom")
        if self.where == "training_step":
            self.log(self.key, self.value())
        if self.no_steps:
            return None
        return super().training_step(batch, batch_idx)

    def validation_step(self, batch, batch_idx):
        if self.where == "validation_step":
            self.log(self.key, self.value())
        return super().validation_step(batch, batch_idx)

    def on_train_epoch_end(self):
        if self.where == "on_train_epoch_end":
            self.log(self.key, self.value())

    def on_save_checkpoint(self, checkpoint):
        SAVES.append([checkpoint["epoch"], checkpoint["global_step"]])


def make_callback(spec):
    kind, args = spec["type"], dict(spec.get("args", {}))
    for key in ("dirpath",):
        if args.get(key) is not None:
            args[key] = os.path.join(ROOT, args[key])
    if kind == "ModelCheckpoint":
        if "train_time_interval" in args:
            args["train_time_interval"] = timedelta(**args["train_time_interval"])
        return ModelCheckpoint(**args)
    if kind == "EarlyStopping":
        return EarlyStopping(**args)
    if kind == "Timer":
        return Timer(**args)
    if kind == "OnExceptionCheckpoint":
        return OnExceptionCheckpoint(**args)
    raise ValueError(kind)


def list_files(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            relpath = os.path.relpath(path, root)
            if os.path.islink(path):
                out.append(relpath + " -> " + os.readlink(path))
            elif os.path.isfile(path):
                out.append(relpath)
    return sorted(out)


def callback_summary(cb):
    out = {"type": type(cb).__name__, "state_key": cb.state_key}
    if isinstance(cb, Timer):
        state = cb.state_dict()
        out["state_types"] = {"dict": [[k, type(v).__name__] for k, v in state["time_elapsed"].items()]}
        out["duration"] = None if cb._duration is None else encode(float(cb._duration))
    elif isinstance(cb, OnExceptionCheckpoint):
        out["ckpt_path"] = rel(cb.ckpt_path)
    else:
        out["state"] = encode(cb.state_dict())
    if isinstance(cb, EarlyStopping):
        out["min_delta"] = encode(float(cb.min_delta))
    return out


def checkpoint_summary(path):
    ckpt = torch.load(path, map_location="cpu")
    out = {"keys": list(ckpt.keys()), "epoch": ckpt["epoch"], "global_step": ckpt["global_step"]}
    if "callbacks" in ckpt:
        states = {}
        for key, state in ckpt["callbacks"].items():
            if key == "Timer":  # times are not reproducible: keep the layout only
                state = {"time_elapsed": {k: type(v).__name__ for k, v in state["time_elapsed"].items()}}
            states[key] = state
        out["callbacks"] = encode(states)
    return out


def run_scenario(sc):
    global ROOT
    ROOT = os.path.realpath(tempfile.mkdtemp(prefix="volt_cb_"))
    results = []
    try:
        for run in sc["runs"]:
            torch.manual_seed(0)
            MESSAGES.clear()
            SAVES.clear()
            specs = run.get("callbacks", sc.get("callbacks", []))
            kwargs = dict(default_root_dir=ROOT, logger=False, enable_progress_bar=False, enable_model_summary=False)
            kwargs.update(sc.get("trainer", {}))
            kwargs.update(run.get("trainer", {}))
            ckpt_path = run.get("ckpt_path")
            if ckpt_path is not None:
                ckpt_path = ckpt_path.replace("<root>", ROOT)
            expect = {"error": None}
            trainer = None
            try:
                callbacks = [make_callback(s) for s in specs]
                kwargs["callbacks"] = callbacks
                trainer = pl.Trainer(**kwargs)
                trainer.fit(Scripted(run.get("model", sc.get("model", {}))), ckpt_path=ckpt_path)
            except Exception as e:  # noqa: BLE001 - the error text is part of the golden data
                expect["error"] = rel(str(e))
            if trainer is not None:
                expect["current_epoch"] = trainer.current_epoch
                expect["global_step"] = trainer.global_step
                expect["should_stop"] = trainer.should_stop
                expect["max_epochs"] = trainer.max_epochs
                expect["callbacks"] = [callback_summary(cb) for cb in trainer.callbacks
                                       if isinstance(cb, (ModelCheckpoint, EarlyStopping, Timer, OnExceptionCheckpoint))]
            expect["files"] = list_files(ROOT)
            expect["saves"] = list(SAVES)
            expect["messages"] = [rel(m) for m in MESSAGES if any(m.startswith(p) for p in MESSAGE_PREFIXES)]
            inspect = {}
            for name in run.get("inspect", []):
                inspect[name] = checkpoint_summary(os.path.join(ROOT, name))
            expect["inspect"] = inspect
            results.append(expect)
    finally:
        shutil.rmtree(ROOT)
        ROOT = None
    out = dict(sc)
    out["runs"] = [dict(run, expect=expect) for run, expect in zip(sc["runs"], results)]
    return out


def MC(**args):
    return {"type": "ModelCheckpoint", "args": args}


def ES(**args):
    return {"type": "EarlyStopping", "args": args}


def TIMER(**args):
    return {"type": "Timer", "args": args}


def OEC(**args):
    return {"type": "OnExceptionCheckpoint", "args": args}


T2 = dict(limit_train_batches=2, limit_val_batches=2)

SCENARIOS = [
    # ---- ModelCheckpoint: triggers ----------------------------------------------------------------------------------
    dict(name="mc_default", doc="the Trainer's own ModelCheckpoint(): top-1 without a monitor keeps the newest file",
         trainer=dict(max_epochs=3, limit_train_batches=5, limit_val_batches=1), runs=[{}]),
    *[dict(name=f"mc_every_n_epochs_{e}", doc="every_n_epochs=e with save_top_k=-1",
           callbacks=[MC(filename="{epoch}", save_top_k=-1, every_n_epochs=e)],
           trainer=dict(max_epochs=5, limit_train_batches=2, limit_val_batches=1), runs=[{}]) for e in (0, 1, 2, 3)],
    dict(name="mc_every_n_train_steps", doc="step trigger only: no epoch-end saves",
         callbacks=[MC(every_n_train_steps=3, save_top_k=-1)],
         trainer=dict(max_epochs=2, limit_train_batches=4, limit_val_batches=1), runs=[{}]),
    dict(name="mc_steps_and_last_no_double_save", doc="the epoch-end save is skipped at a global step already saved",
         callbacks=[MC(every_n_train_steps=2, save_top_k=-1, save_last=True)],
         trainer=dict(max_epochs=2, limit_train_batches=4, limit_val_batches=1), runs=[{}]),
    dict(name="mc_train_time_interval_tiny", doc="train_time_interval=1us: every batch is due",
         callbacks=[MC(train_time_interval={"microseconds": 1}, save_top_k=-1)],
         trainer=dict(max_epochs=1, limit_train_batches=3, limit_val_batches=1), runs=[{}]),
    dict(name="mc_train_time_interval_zero", doc="a zero timedelta is falsy in 2.2.5: no time trigger, no epoch trigger",
         callbacks=[MC(train_time_interval={}, save_top_k=-1)],
         trainer=dict(max_epochs=1, limit_train_batches=3, limit_val_batches=1), runs=[{}]),
    dict(name="mc_no_steps", doc="training_step returns None: the optimizer still steps, so global_step grows",
         model=dict(no_steps=True), trainer=dict(max_epochs=2, limit_train_batches=2, limit_val_batches=1),
         runs=[{}]),
    dict(name="mc_manual_no_steps", doc="global_step stays 0, which counts as saved already: no checkpoint at all",
         model=dict(no_steps=True, manual=True), trainer=dict(max_epochs=2, limit_train_batches=2, limit_val_batches=1),
         runs=[{}]),
    dict(name="mc_check_val_every_2", doc="check_val_every_n_epoch=2: saves after validation only",
         callbacks=[MC(monitor="epoch", filename="{epoch}", save_top_k=-1)],
         trainer=dict(max_epochs=5, limit_train_batches=2, limit_val_batches=1, check_val_every_n_epoch=2),
         runs=[{}]),
    dict(name="mc_val_check_interval", doc="val_check_interval=0.2: a save after each validation",
         callbacks=[MC(save_top_k=-1)],
         trainer=dict(max_epochs=1, limit_train_batches=10, limit_val_batches=1, val_check_interval=0.2), runs=[{}]),
    dict(name="mc_val_check_interval_no_val_batches", doc="no validation batches: saves at train epoch end",
         callbacks=[MC(save_top_k=-1)],
         trainer=dict(max_epochs=2, limit_train_batches=4, limit_val_batches=0, val_check_interval=0.5), runs=[{}]),
    dict(name="mc_val_check_interval_int_1", doc="val_check_interval=1 (int) == 1.0, so train-epoch-end saving",
         callbacks=[MC(save_top_k=-1)],
         trainer=dict(max_epochs=1, limit_train_batches=3, limit_val_batches=1, val_check_interval=1), runs=[{}]),
    dict(name="mc_save_on_train_epoch_end_true", callbacks=[MC(save_top_k=-1, save_on_train_epoch_end=True)],
         trainer=dict(max_epochs=2, limit_train_batches=4, limit_val_batches=1, val_check_interval=0.5), runs=[{}]),
    dict(name="mc_save_on_train_epoch_end_false", callbacks=[MC(save_top_k=-1, save_on_train_epoch_end=False)],
         trainer=dict(max_epochs=2, limit_train_batches=4, limit_val_batches=1, val_check_interval=0.5), runs=[{}]),
    # ---- ModelCheckpoint: top-k ---------------------------------------------------------------------------------------
    dict(name="mc_topk_all_epoch_max", callbacks=[MC(monitor="epoch", mode="max", filename="{epoch}", save_top_k=-1)],
         trainer=dict(max_epochs=3, **T2), runs=[{"inspect": ["checkpoints/epoch=2.ckpt"]}]),
    dict(name="mc_topk_scripted", doc="top-2 by val_loss with a tie and a NaN, verbose messages",
         model=dict(table=[5, 4, 4, 6, "nan", 3, 3.5]),
         callbacks=[MC(monitor="val_loss", save_top_k=2, filename="{epoch}-{val_loss:.2f}", verbose=True)],
         trainer=dict(max_epochs=7, **T2), runs=[{}]),
    dict(name="mc_topk_max_mode", model=dict(table=[0.5, 0.25, 0.75, 0.75, 0.125, 1.0], key="val_acc"),
         callbacks=[MC(monitor="val_acc", mode="max", save_top_k=3, verbose=True)],
         trainer=dict(max_epochs=6, **T2), runs=[{}]),
    dict(name="mc_nan_first", doc="NaN is stored as +inf (min mode) and replaced by real values",
         model=dict(table=["nan", "nan", 3, 2]), callbacks=[MC(monitor="val_loss", save_top_k=2)],
         trainer=dict(max_epochs=4, **T2), runs=[{}]),
    dict(name="mc_topk_train_metric", doc="monitor a training_step metric with every_n_train_steps",
         model=dict(table=[3, 1, 2], key="train_loss", where="training_step"),
         callbacks=[MC(monitor="train_loss", save_top_k=2, every_n_train_steps=1, filename="{step}-{train_loss:.1f}")],
         trainer=dict(max_epochs=3, limit_train_batches=2, limit_val_batches=0), runs=[{}]),
    dict(name="mc_topk0_last_twice", doc="save_top_k=0 + save_last: last.ckpt, then last-v1.ckpt from a new Trainer",
         callbacks=[MC(save_top_k=0, save_last=True)], trainer=dict(max_epochs=3, **T2),
         runs=[{}, {"inspect": ["checkpoints/last-v1.ckpt"]}]),
    dict(name="mc_version_counter", callbacks=[MC(filename="{epoch}", save_top_k=-1)],
         trainer=dict(max_epochs=2, **T2), runs=[{}, {}]),
    dict(name="mc_no_version_counter", callbacks=[MC(filename="{epoch}", save_top_k=-1, enable_version_counter=False)],
         trainer=dict(max_epochs=2, **T2), runs=[{}, {}]),
    dict(name="mc_none_monitor_fixed_name", doc="monitor None overwrites its own previous best, no -v1",
         callbacks=[MC(filename="model")], trainer=dict(max_epochs=3, **T2), runs=[{}]),
    dict(name="mc_last_link", callbacks=[MC(save_last="link", save_top_k=-1)], trainer=dict(max_epochs=3, **T2),
         runs=[{}]),
    dict(name="mc_last_link_monitor", model=dict(table=[3, 4, 2, 5]),
         callbacks=[MC(save_last="link", monitor="val_loss", save_top_k=1)], trainer=dict(max_epochs=4, **T2),
         runs=[{}]),
    dict(name="mc_weights_only", callbacks=[MC(save_weights_only=True, save_last=True)],
         trainer=dict(max_epochs=1, **T2), runs=[{"inspect": ["checkpoints/epoch=0-step=2.ckpt",
                                                              "checkpoints/last.ckpt"]}]),
    dict(name="mc_monitor_missing_no_val", doc="warned once, nothing saved",
         callbacks=[MC(monitor="missing_a")], trainer=dict(max_epochs=2, limit_train_batches=2, limit_val_batches=0),
         runs=[{}]),
    dict(name="mc_monitor_missing_after_val", doc="raised once validation has run",
         callbacks=[MC(monitor="missing_b")], trainer=dict(max_epochs=2, **T2), runs=[{}]),
    dict(name="mc_resume_same_dir", doc="spec 1.9.6: the resumed-from file survives, step=2 rotates out",
         callbacks=[MC(dirpath="ckpts", monitor="step", mode="max", save_top_k=2, every_n_train_steps=2)],
         trainer=dict(limit_train_batches=10, limit_val_batches=0),
         runs=[{"trainer": {"max_steps": 5}},
               {"trainer": {"max_steps": 8}, "ckpt_path": "<root>/ckpts/epoch=0-step=4.ckpt"}]),
    dict(name="mc_resume_new_dir", doc="spec 1.9.6: files outside the current dirpath are never deleted",
         trainer=dict(limit_train_batches=10, limit_val_batches=0),
         runs=[{"trainer": {"max_steps": 5},
                "callbacks": [MC(dirpath="ckpts", monitor="step", mode="max", save_top_k=2, every_n_train_steps=2)]},
               {"trainer": {"max_steps": 8}, "ckpt_path": "<root>/ckpts/epoch=0-step=4.ckpt",
                "callbacks": [MC(dirpath="ckpts2", monitor="step", mode="max", save_top_k=2,
                                 every_n_train_steps=2)]}]),
    dict(name="mc_resume_topk_continues", model=dict(table=[5, 3, 4, 2, 6, 1]),
         callbacks=[MC(monitor="val_loss", save_top_k=2, save_last=True)], trainer=T2,
         runs=[{"trainer": {"max_epochs": 3}},
               {"trainer": {"max_epochs": 6}, "ckpt_path": "<root>/checkpoints/last.ckpt",
                "inspect": ["checkpoints/last.ckpt"]}]),
    dict(name="mc_resume_last_keyword", doc='ckpt_path="last" finds last.ckpt', model=dict(table=[5, 3, 4, 2]),
         callbacks=[MC(monitor="val_loss", save_top_k=1, save_last=True)], trainer=T2,
         runs=[{"trainer": {"max_epochs": 2}}, {"trainer": {"max_epochs": 4}, "ckpt_path": "last"}]),
    dict(name="mc_resume_last_keyword_nothing", doc='ckpt_path="last" without a last checkpoint: warning, no restore',
         callbacks=[MC(monitor="val_loss")], trainer=dict(max_epochs=1, **T2), runs=[{"ckpt_path": "last"}]),
    # ---- EarlyStopping ------------------------------------------------------------------------------------------------
    dict(name="es_patience_a", model=dict(table=[6, 5, 5, 5, 5, 5]),
         callbacks=[ES(monitor="val_loss", patience=3, verbose=True)], trainer=dict(max_epochs=10, **T2), runs=[{}]),
    dict(name="es_patience_b", model=dict(table=[6, 5, 4, 4, 3, 3]),
         callbacks=[ES(monitor="val_loss", patience=1, verbose=True)], trainer=dict(max_epochs=10, **T2), runs=[{}]),
    dict(name="es_patience_c", model=dict(table=[6, 5, 6, 5, 5, 5]),
         callbacks=[ES(monitor="val_loss", patience=3, verbose=True)], trainer=dict(max_epochs=10, **T2), runs=[{}]),
    dict(name="es_train_epoch_end", model=dict(table=[6, 5, 5, 5, 5, 5], where="on_train_epoch_end"),
         callbacks=[ES(monitor="val_loss", patience=3, check_on_train_epoch_end=True, verbose=True)],
         trainer=dict(max_epochs=10, limit_train_batches=2, limit_val_batches=0), runs=[{}]),
    dict(name="es_no_threshold", model=dict(table=[8, 4, 2, 3, 4, 5, 8, 10]),
         callbacks=[ES(monitor="val_loss", verbose=True)], trainer=dict(max_epochs=10, **T2), runs=[{}]),
    dict(name="es_stopping_threshold", model=dict(table=[9, 8, 7, 6, 5, 6, 4, 3, 2, 1]),
         callbacks=[ES(monitor="val_loss", stopping_threshold=2.9, verbose=True)], trainer=dict(max_epochs=12, **T2),
         runs=[{}]),
    dict(name="es_divergence_threshold", model=dict(table=[9, 4, 2, 16, 1, 1, 1]),
         callbacks=[ES(monitor="val_loss", divergence_threshold=15.9, verbose=True)],
         trainer=dict(max_epochs=10, **T2), runs=[{}]),
    dict(name="es_max_mode_thresholds", model=dict(table=[1, 2, 0.5, 3, 9], key="val_acc"),
         callbacks=[ES(monitor="val_acc", mode="max", stopping_threshold=8.5, divergence_threshold=0.75,
                       verbose=True)],
         trainer=dict(max_epochs=10, **T2), runs=[{}]),
    dict(name="es_inf", model=dict(table=[4, 3, "inf", 1]), callbacks=[ES(monitor="val_loss", verbose=True)],
         trainer=dict(max_epochs=10, **T2), runs=[{}]),
    dict(name="es_nan", model=dict(table=[4, 3, "nan", 1]), callbacks=[ES(monitor="val_loss", verbose=True)],
         trainer=dict(max_epochs=10, **T2), runs=[{}]),
    dict(name="es_nan_unchecked", doc="check_finite=False: NaN is never an improvement",
         model=dict(table=[4, 3, "nan", 2, 2, 2]),
         callbacks=[ES(monitor="val_loss", check_finite=False, patience=2, verbose=True)],
         trainer=dict(max_epochs=10, **T2), runs=[{}]),
    dict(name="es_max_min_delta", model=dict(table=[1, 1.25, 2, 2.25, 2.5, 3.5, 3.5], key="val_acc"),
         callbacks=[ES(monitor="val_acc", mode="max", min_delta=0.5, patience=2, verbose=True)],
         trainer=dict(max_epochs=10, **T2), runs=[{}]),
    dict(name="es_min_min_delta", model=dict(table=[4, 3.75, 3, 2.875, 2.5, 2.25]),
         callbacks=[ES(monitor="val_loss", min_delta=0.25, patience=2, verbose=True)],
         trainer=dict(max_epochs=10, **T2), runs=[{}]),
    dict(name="es_val_check_interval", doc="checks at every validation, twice an epoch; stops mid-epoch",
         model=dict(table=[6, 5, 5, 5, 5]), callbacks=[ES(monitor="val_loss", patience=2, verbose=True)],
         trainer=dict(max_epochs=10, limit_train_batches=4, limit_val_batches=2, val_check_interval=0.5), runs=[{}]),
    dict(name="es_check_val_every_2", model=dict(table=[6, 5, 5, 5, 5, 5, 5, 5, 5, 5]),
         callbacks=[ES(monitor="val_loss", patience=2, verbose=True)],
         trainer=dict(max_epochs=12, check_val_every_n_epoch=2, **T2), runs=[{}]),
    dict(name="es_not_strict", callbacks=[ES(monitor="nope_es", strict=False, verbose=True)],
         trainer=dict(max_epochs=2, **T2), runs=[{}]),
    dict(name="es_strict_missing", callbacks=[ES(monitor="nope_es_strict")], trainer=dict(max_epochs=2, **T2),
         runs=[{}]),
    dict(name="es_min_epochs", model=dict(table=[6, 5, 5, 5, 5, 5, 5, 5]),
         callbacks=[ES(monitor="val_loss", patience=1, verbose=True)],
         trainer=dict(max_epochs=10, min_epochs=5, **T2), runs=[{}]),
    dict(name="es_two_callbacks", model=dict(table=[6, 5, 4, 3, 2, 1, 0.5]),
         callbacks=[ES(monitor="val_loss", patience=3), ES(monitor="val_loss", mode="max", patience=2)],
         trainer=dict(max_epochs=10, **T2), runs=[{}]),
    dict(name="es_resume", doc="wait_count and best_score come back from the checkpoint",
         model=dict(table=[6, 5, 5, 5, 5, 5, 5]),
         callbacks=[ES(monitor="val_loss", patience=3, verbose=True), MC(save_last=True)], trainer=T2,
         runs=[{"trainer": {"max_epochs": 3}, "inspect": ["checkpoints/last.ckpt"]},
               {"trainer": {"max_epochs": 10}, "ckpt_path": "<root>/checkpoints/last.ckpt"}]),
    # ---- Timer ---------------------------------------------------------------------------------------------------------
    dict(name="timer_max_time_zero", doc="Trainer(max_time=0) stops in on_fit_start; max_epochs stays -1",
         trainer=dict(max_time="00:00:00:00", **T2), runs=[{}]),
    dict(name="timer_zero_epoch_interval", callbacks=[TIMER(duration="00:00:00:00", interval="epoch")],
         trainer=dict(max_epochs=3, **T2), runs=[{}]),
    dict(name="timer_dict_zero_quiet", callbacks=[TIMER(duration={"seconds": 0}, verbose=False)],
         trainer=dict(max_epochs=3, **T2), runs=[{}]),
    dict(name="timer_ignored_max_time", doc="a Timer in callbacks wins over max_time (info message)",
         callbacks=[TIMER(duration="01:00:00:00")], trainer=dict(max_time="00:00:00:00", max_steps=3, **T2),
         runs=[{"inspect": ["checkpoints/epoch=1-step=3.ckpt"]}]),
    dict(name="timer_no_duration", callbacks=[TIMER()], trainer=dict(max_epochs=2, **T2), runs=[{}]),
    dict(name="timer_max_time_far", doc="a far limit: max_epochs resolves to -1 and max_steps stops the run",
         trainer=dict(max_time={"days": 1}, max_steps=3, **T2), runs=[{}]),
    # ---- OnExceptionCheckpoint -------------------------------------------------------------------------------------
    dict(name="oec_raise_then_resume", doc="saved on the exception; a plain fit() then resumes from it ('last') "
         "and teardown deletes it",
         callbacks=[OEC(dirpath="oe")], trainer=dict(max_epochs=3, **T2),
         runs=[{"model": {"raise_at_step": 3}, "inspect": ["oe/on_exception.ckpt"]}, {}]),
    dict(name="oec_custom_name_success", callbacks=[OEC(dirpath="oe", filename="crash"), MC(save_last=True)],
         trainer=dict(max_epochs=1, **T2), runs=[{}]),
    dict(name="oec_with_checkpointing_off", callbacks=[OEC(dirpath="oe")],
         trainer=dict(max_epochs=1, enable_checkpointing=False, **T2), runs=[{}]),
    # ---- end to end --------------------------------------------------------------------------------------------------
    dict(name="e2e_topk_early_stopping", doc="ModelCheckpoint(val_loss, top 2, last) + EarlyStopping(val_loss, 2)",
         model=dict(table=[1.0, 0.8, 0.9, 0.6, 0.7, 0.65, 0.5, 0.4]),
         callbacks=[MC(monitor="val_loss", save_top_k=2, save_last=True),
                    ES(monitor="val_loss", patience=2)],
         trainer=dict(max_epochs=20, **T2), runs=[{"inspect": ["checkpoints/last.ckpt"]}]),
]




# --------------------------------------------------------------------------------------------------------------------
# vectors.json: pure functions
# --------------------------------------------------------------------------------------------------------------------
def _tensor(spec):
    value, dtype = spec
    return torch.tensor(float(value) if dtype.startswith("float") else int(value), dtype=getattr(torch, dtype))


def format_vectors():
    vectors = []
    values = [("0.123456", "float32"), ("-2.5", "float32"), ("1e-07", "float32"), ("123456.789", "float64"),
              ("inf", "float32"), ("-inf", "float64"), ("nan", "float32"), ("0", "int64"), ("7", "int32"),
              ("-12", "int64"), ("1234567", "int64"), ("0.5", "float64"), ("2.0", "float32"),
              ("1e16", "float64"), ("0.0001", "float64")]
    specs = ["", ".2f", ".4f", ".0f", "03d", "d", "5d", "+d", ".4e", ".2E", "+.3f", ">10.2f", "<8.1f", "^9.2f",
             "*^11.3f", "=+10.2f", "08.3f", " .2f", ",d", "_d", ",.2f", ".3", ".3g", "g", "e", "%", ".1%", "x",
             "#x", "b", "o", "X", "#o", "10", "<5", "f", "G", ".10g", "#.3g", "012,.1f", "+", "08,d", "09,d", "_x",
             "_b", "015_.2f", "#010x", "=+08d", ".0%", "#.0f", "F", "E", "-", ".2d", ",x", "c"]
    for value, dtype in values:
        for spec in specs:
            filename = "{m:" + spec + "}" if spec else "{m}"
            vectors.append({"filename": filename, "metrics": {"m": [value, dtype]}})
    templates = [
        ("", {"epoch": ["3", "int64"], "step": ["2", "int64"]}, True, None),
        ("", {}, True, None),
        ("{epoch:03d}-{acc}", {"epoch": ["3", "int64"], "acc": ["0.03", "float32"]}, True, None),
        ("{epoch:03d}-{epoch_test:03d}", {"epoch": ["3", "int64"], "epoch_test": ["3", "int64"]}, True, None),
        ("{epoch}_{val/loss:.5f}", {"epoch": ["4", "int64"], "val/loss": ["0.03", "float32"]}, True, None),
        ("epoch={epoch:03d}-val_acc={val/acc}", {"epoch": ["3", "int64"], "val/acc": ["0.03", "float32"]}, False,
         None),
        ("mAP@0.50={val/mAP@0.50:.4f}", {"val/mAP@0.50": ["0.2", "float32"]}, False, None),
        ("{missing:d}", {}, True, None),
        ("{missing}", {}, True, None),
        ("name", {}, True, 3),
        ("{epoch}-{epoch}", {"epoch": ["5", "int32"]}, True, None),
        ("{epoch}-{epoch}", {"epoch": ["5", "int32"]}, False, 1),
        ("prefix-{val_loss:.3f}-suffix", {"val_loss": ["1.23456", "float32"]}, True, None),
        ("{step:05d}-{train_loss:.1f}", {"step": ["42", "int32"], "train_loss": ["0.25", "float32"]}, True, 2),
        ("{a.b:.2f}", {"a.b": ["1.5", "float32"]}, True, None),
        ("x{epoch}y{step}z", {"epoch": ["1", "int64"], "step": ["9", "int64"]}, False, None),
        ("{{literal}}-{epoch}", {"epoch": ["1", "int64"]}, False, None),
        ("{val_loss:.2f}", {"val_loss": ["nan", "float32"]}, True, None),
        ("{epoch:.2f}", {"epoch": ["3", "int64"]}, True, None),
        ("{loss:d}", {"loss": ["1.5", "float32"]}, True, None),
        ("{loss:q}", {"loss": ["1.5", "float32"]}, True, None),
    ]
    for filename, metrics, auto, ver in templates:
        vectors.append({"filename": filename, "metrics": metrics, "auto_insert_metric_name": auto, "ver": ver})
    for v in vectors:
        v.setdefault("auto_insert_metric_name", True)
        v.setdefault("ver", None)
        cb = ModelCheckpoint(filename=v["filename"], auto_insert_metric_name=v["auto_insert_metric_name"])
        metrics = {k: _tensor(s) for k, s in v["metrics"].items()}
        try:
            v["expected"] = cb.format_checkpoint_name(metrics, ver=v["ver"])
        except Exception as e:  # noqa: BLE001
            v["error"] = f"{type(e).__name__}: {e}"
    return vectors


def timedelta_vectors():
    out = []
    seconds = [0, 1, 59, 60, 61, 3599, 3600, 3661, 86399, 86400, 86401, 90061, 172800, 1e6, 0.5, 1.5, 1e-6, 2.5e-6,
               0.0000005, 123456.789, -1, -86401, -0.5, 31536000.25]
    for s in seconds:
        td = timedelta(seconds=s)
        out.append({"seconds": encode(float(s)), "repr": repr(td), "str": str(td),
                    "total_seconds": encode(td.total_seconds())})
    parts = [{"days": 1, "hours": 2, "minutes": 3, "seconds": 4}, {"weeks": 52, "milliseconds": 1},
             {"weeks": 52, "days": 1}, {"minutes": 90}, {"hours": 0.5}, {"microseconds": 1},
             {"days": -1, "seconds": 5}, {}]
    for p in parts:
        td = timedelta(**p)
        out.append({"parts": p, "repr": repr(td), "str": str(td), "total_seconds": encode(td.total_seconds())})
    return out


def timer_vectors():
    out = []
    for duration in ["00:00:00:22", "01:00:00:00", "12:34:56:65", " 1:2:3:4 ", "0:0:0:0", "100:00:00:00",
                     "1:2:3:4:5", "6:00:00", "60 minutes", "00:-1:00:00", "+1:00:00:00", "1_0:00:00:00", "",
                     {"seconds": 1337}, {"weeks": 52, "days": 1}, {"minutes": 1.5}, None]:
        v = {"duration": duration}
        try:
            t = Timer(duration=duration)
            v["seconds"] = None if t._duration is None else encode(float(t._duration))
        except Exception as e:  # noqa: BLE001
            v["error"] = type(e).__name__
        out.append(v)
    for interval in ["step", "epoch", "invalid", "STEP"]:
        v = {"interval": interval}
        try:
            Timer(interval=interval)
            v["ok"] = True
        except Exception as e:  # noqa: BLE001
            v["ok"] = False
            v["error"] = str(e).replace("epoch, step", "step, epoch")  # set order is random; volt prints step first
        out.append(v)
    return out


def state_key_vectors():
    out = []
    for args in [{}, {"monitor": "val_loss"}, {"monitor": "val_acc", "mode": "max"}, {"every_n_train_steps": 5},
                 {"every_n_epochs": 3}, {"every_n_train_steps": 0, "every_n_epochs": 0},
                 {"train_time_interval": {"minutes": 1}}, {"train_time_interval": {"seconds": 1.5}},
                 {"train_time_interval": {"days": 2, "microseconds": 7}}, {"monitor": "it's"}]:
        a = dict(args)
        if "train_time_interval" in a:
            a["train_time_interval"] = timedelta(**a["train_time_interval"])
        out.append({"type": "ModelCheckpoint", "args": args, "state_key": ModelCheckpoint(**a).state_key})
    for args in [{"monitor": "val_loss"}, {"monitor": "val_acc", "mode": "max"}, {"monitor": "x", "min_delta": 0.1}]:
        cb = EarlyStopping(**args)
        out.append({"type": "EarlyStopping", "args": args, "state_key": cb.state_key,
                    "min_delta": encode(float(cb.min_delta))})
    out.append({"type": "Timer", "args": {}, "state_key": Timer().state_key})
    out.append({"type": "OnExceptionCheckpoint", "args": {"dirpath": "d"},
                "state_key": OnExceptionCheckpoint("d").state_key})
    return out


def constructor_errors():
    out = []
    cases = [
        ("ModelCheckpoint", {"mode": "avg"}), ("ModelCheckpoint", {"save_top_k": -2}),
        ("ModelCheckpoint", {"every_n_train_steps": -1}), ("ModelCheckpoint", {"every_n_epochs": -3}),
        ("ModelCheckpoint", {"every_n_train_steps": 2, "every_n_epochs": 3}),
        ("ModelCheckpoint", {"every_n_epochs": 2, "train_time_interval": {"minutes": 1}}),
        ("ModelCheckpoint", {"every_n_train_steps": 1, "train_time_interval": {"seconds": 1.5}}),
        ("ModelCheckpoint", {"save_top_k": 2}), ("ModelCheckpoint", {"save_top_k": 3, "mode": "bad"}),
        ("ModelCheckpoint", {"every_n_train_steps": 0, "every_n_epochs": 3}),
        ("ModelCheckpoint", {"train_time_interval": {"seconds": 5}}),
        ("EarlyStopping", {"monitor": "x", "mode": "avg"}), ("EarlyStopping", {"monitor": "x", "patience": -1}),
        ("OnExceptionCheckpoint", {"dirpath": "d", "filename": ""}),
    ]
    for kind, args in cases:
        a = dict(args)
        if "train_time_interval" in a:
            a["train_time_interval"] = timedelta(**a["train_time_interval"])
        v = {"type": kind, "args": args}
        try:
            {"ModelCheckpoint": ModelCheckpoint, "EarlyStopping": EarlyStopping,
             "OnExceptionCheckpoint": OnExceptionCheckpoint}[kind](**a)
            v["error"] = None
        except Exception as e:  # noqa: BLE001
            v["error"] = str(e)
        out.append(v)
    return out


def write(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=1, allow_nan=False)
        f.write("\n")


def main():
    outdir = os.path.join(sys.argv[1] if len(sys.argv) > 1 else "tests/golden", "callbacks")
    os.makedirs(outdir, exist_ok=True)
    write(os.path.join(outdir, "scenarios.json"), [run_scenario(sc) for sc in SCENARIOS])
    write(os.path.join(outdir, "vectors.json"), {
        "format_checkpoint_name": format_vectors(), "timedelta": timedelta_vectors(), "timer": timer_vectors(),
        "state_keys": state_key_vectors(), "constructor_errors": constructor_errors()})


if __name__ == "__main__":
    main()
