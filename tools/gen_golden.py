#!/usr/bin/env python3
"""Golden reference data for volt's C++ test-suite, produced by REAL Lightning 2.2.5 on Debian's torch 1.13.

How to run (from the repository root; shared/ sits beside the repository):

    python=$(../shared/tools/lightning-oracle/setup.sh)     # once: venv with Lightning 2.2.5 (idempotent)
    nice "$python" tools/gen_golden.py tests/golden          # rewrites every file listed in tests/golden/README.md
    nice "$python" tools/gen_golden.py tests/golden fit_no_val stop_min_epochs   # only these (hooks scenarios)

The test-suite NEVER runs this script (it needs Python and Lightning); it only reads the committed outputs.
Regenerating is deterministic: fixed seeds, every run in a temporary directory that is removed afterwards, and no
absolute paths, timestamps or version-dependent noise in the outputs. Check with `git diff` after a rerun.

Conventions are those of shared/tools/lightning-oracle/record.py, kept exactly:
* hooks are recorded in CALL order: an entry is appended when a hook is ENTERED (spec §2.2 lists RETURN order);
* "Callback.<hook>" is the recording callback (Recorder), "<hook>" is the LightningModule;
  setup/teardown carry the stage, e.g. "Callback.setup(fit)", "teardown(validate)";
* the Recorder's state_dict returns {"calls": 1} and records "Callback.state_dict" / "Callback.load_state_dict";
* the model is a BoringModel (Linear(32, 2)) with SGD(lr=0.1) + StepLR(step_size=1), recording MODEL_HOOKS
  (which makes prepare_data and configure_model "overridden", so Lightning calls them);
* Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False), default ModelCheckpoint left on
  unless a scenario says otherwise.
Scenario-specific decisions (should_stop, returning -1, raising) live in small subclasses/callbacks below, never in
the Recorder itself.

Outputs (under OUTDIR):
  hooks/<scenario>.json                    JSON list of hook entries, one per line
  checkpoints/<name>.layout.json           recursive, key-order-preserving description of a checkpoint dict
  lightning/boring_fit.ckpt                a real Lightning checkpoint (interop test input)
  lightning/boring_fit.expected.json       what the C++ side must find in boring_fit.ckpt
"""
import json
import logging
import os
import shutil
import sys
import tempfile
import warnings

import torch
import lightning
import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.demos.boring_classes import BoringModel

warnings.filterwarnings("ignore")
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
logging.getLogger("lightning.fabric").setLevel(logging.ERROR)
# torch 1.13's torch.distributed._shard does not import on Python 3.11; Lightning only uses it for optional hooks.
pl.LightningModule._register_sharded_tensor_state_dict_hooks_if_available = lambda self: None

# --------------------------------------------------------------------------------------------------------------------
# Recording machinery (identical in behaviour to record.py)
# --------------------------------------------------------------------------------------------------------------------
CALLS = []


def _stage_suffix(kwargs):
    return f"({getattr(kwargs['stage'], 'value', kwargs['stage'])})" if "stage" in kwargs else ""


class Recorder(Callback):
    def state_dict(self):
        CALLS.append("Callback.state_dict")
        return {"calls": 1}

    def load_state_dict(self, state_dict):
        CALLS.append("Callback.load_state_dict")


def _record_cb(hook):
    def f(self, *args, **kwargs):
        CALLS.append("Callback." + hook + _stage_suffix(kwargs))
    return f


for _h in dir(Callback):
    if _h.startswith("on_") or _h in ("setup", "teardown"):
        setattr(Recorder, _h, _record_cb(_h))

MODEL_HOOKS = """configure_callbacks prepare_data setup configure_model configure_optimizers on_fit_start on_fit_end
on_train_start on_train_end on_train_epoch_start on_train_epoch_end on_train_batch_start on_train_batch_end
on_validation_start on_validation_end on_validation_epoch_start on_validation_epoch_end on_validation_batch_start
on_validation_batch_end on_test_start on_test_end on_test_epoch_start on_test_epoch_end on_test_batch_start
on_test_batch_end on_predict_start on_predict_end on_predict_epoch_start on_predict_epoch_end on_predict_batch_start
on_predict_batch_end on_before_zero_grad on_before_backward on_after_backward on_before_optimizer_step optimizer_step
optimizer_zero_grad backward configure_gradient_clipping lr_scheduler_step training_step validation_step test_step
predict_step on_save_checkpoint on_load_checkpoint on_validation_model_eval on_validation_model_zero_grad
on_test_model_eval on_predict_model_eval teardown train_dataloader val_dataloader test_dataloader
predict_dataloader on_before_batch_transfer transfer_batch_to_device on_after_batch_transfer""".split()


class Model(BoringModel):
    def configure_optimizers(self):
        opt = torch.optim.SGD(self.layer.parameters(), lr=0.1)
        return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1)]


def _record_model(hook):
    base = getattr(Model, hook)

    def f(self, *args, **kwargs):
        CALLS.append(hook + _stage_suffix(kwargs))
        return base(self, *args, **kwargs)
    return f


for _h in MODEL_HOOKS:
    setattr(Model, _h, _record_model(_h))


def make_trainer(out, callbacks=None, **kw):
    args = dict(default_root_dir=out, enable_progress_bar=False, enable_model_summary=False, logger=False,
                callbacks=[Recorder()] if callbacks is None else callbacks)
    args.update(kw)
    return pl.Trainer(**args)


# --------------------------------------------------------------------------------------------------------------------
# Scenario helpers (the decisions are taken here, not in the Recorder)
# --------------------------------------------------------------------------------------------------------------------
class StopInTrainBatchEnd(Callback):
    """Sets trainer.should_stop in on_train_batch_end of the first batch of the run (epoch 0, batch 0).
    Placed after the Recorder, so "Callback.on_train_batch_end" is recorded before the flag is set."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.current_epoch == 0 and batch_idx == 0:
            trainer.should_stop = True


class StopOnFitStart(Callback):
    def on_fit_start(self, trainer, pl_module):
        trainer.should_stop = True


class MinusOneModel(Model):
    """on_train_batch_start returns -1 for batch_idx == 1 (ends the epoch early)."""

    def on_train_batch_start(self, batch, batch_idx):
        super().on_train_batch_start(batch, batch_idx)  # recorded wrapper
        return -1 if batch_idx == 1 else None


class RaisingRecorder(Recorder):
    """The Recorder, plus: raises RuntimeError("boom") in on_train_batch_end at batch_idx 1 (after recording it)."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        if batch_idx == 1:
            raise RuntimeError("boom")


def _ckpt(out, name):
    return os.path.join(out, "checkpoints", name)


# Each scenario gets a fresh temporary directory `out` and returns {layout_name: checkpoint_path} for the checkpoints
# whose layout is written to checkpoints/<layout_name>.layout.json (or {}).
def sc_fit_sanity(out):
    make_trainer(out, max_epochs=2, limit_train_batches=2, limit_val_batches=1, num_sanity_val_steps=1).fit(Model())
    return {"fit_sanity.epoch=1-step=4": _ckpt(out, "epoch=1-step=4.ckpt")}


def sc_fit_accum2_clip(out):
    make_trainer(out, max_epochs=1, limit_train_batches=4, limit_val_batches=1, num_sanity_val_steps=0,
                 accumulate_grad_batches=2, gradient_clip_val=0.5, enable_checkpointing=False).fit(Model())
    return {}


def _eval_scenario(fn):
    def sc(out):
        t = make_trainer(out, limit_val_batches=2, limit_test_batches=2, limit_predict_batches=2)
        getattr(t, fn)(Model())
        return {}
    return sc


def sc_resume_epoch_end(out):
    make_trainer(out, max_epochs=1, limit_train_batches=2, limit_val_batches=0).fit(Model())
    ckpt = _ckpt(out, "epoch=0-step=2.ckpt")
    CALLS.append("--- resume ---")
    make_trainer(out, max_epochs=2, limit_train_batches=2, limit_val_batches=0).fit(Model(), ckpt_path=ckpt)
    return {}


def sc_resume_max_steps(out):
    make_trainer(out, max_steps=1, limit_train_batches=4, limit_val_batches=0).fit(Model())
    ckpt = _ckpt(out, "epoch=0-step=1.ckpt")
    CALLS.append("--- resume ---")
    make_trainer(out, max_steps=3, limit_train_batches=4, limit_val_batches=0).fit(Model(), ckpt_path=ckpt)
    # Both files survive: the resumed ModelCheckpoint gets best_k_models etc. back from the checkpoint but not
    # best_model_path, so its top-1 save at step 3 has no "previous" file to delete.
    return {"resume_max_steps.epoch=0-step=1": ckpt,
            "resume_max_steps.epoch=0-step=3": _ckpt(out, "epoch=0-step=3.ckpt")}


def sc_fit_no_sanity(out):
    make_trainer(out, max_epochs=1, limit_train_batches=2, limit_val_batches=1, num_sanity_val_steps=0).fit(Model())
    return {}


def sc_fit_no_val(out):
    make_trainer(out, max_epochs=1, limit_train_batches=2, limit_val_batches=0).fit(Model())
    return {}


def sc_accum2_odd(out):
    make_trainer(out, max_epochs=1, limit_train_batches=3, limit_val_batches=0, accumulate_grad_batches=2,
                 enable_checkpointing=False).fit(Model())
    return {}


def sc_stop_in_batch_end(out):
    make_trainer(out, callbacks=[Recorder(), StopInTrainBatchEnd()], max_epochs=3, limit_train_batches=3,
                 limit_val_batches=1, num_sanity_val_steps=0).fit(Model())
    return {"stop_in_batch_end.epoch=0-step=1": _ckpt(out, "epoch=0-step=1.ckpt")}


def sc_stop_min_epochs(out):
    make_trainer(out, callbacks=[Recorder(), StopInTrainBatchEnd()], max_epochs=3, min_epochs=2,
                 limit_train_batches=3, limit_val_batches=1, num_sanity_val_steps=0).fit(Model())
    return {}


def sc_stop_on_fit_start(out):
    make_trainer(out, callbacks=[Recorder(), StopOnFitStart()], max_epochs=2, limit_train_batches=2).fit(Model())
    return {}


def sc_batch_start_minus_one(out):
    make_trainer(out, max_epochs=2, limit_train_batches=3, limit_val_batches=1, num_sanity_val_steps=0).fit(
        MinusOneModel())
    return {"batch_start_minus_one.epoch=1-step=2": _ckpt(out, "epoch=1-step=2.ckpt")}


def sc_exception_in_batch_end(out):
    try:
        make_trainer(out, callbacks=[RaisingRecorder()], max_epochs=1, limit_train_batches=3,
                     limit_val_batches=0).fit(Model())
    except RuntimeError as e:
        CALLS.append(f"--- raised: {e} ---")
    else:
        raise AssertionError("exception_in_batch_end: fit did not raise")
    return {}


def sc_validate_zero_batches(out):
    make_trainer(out, limit_val_batches=0).validate(Model())
    return {}


def sc_max_steps_mid_epoch(out):
    make_trainer(out, max_steps=3, limit_train_batches=2, max_epochs=5, limit_val_batches=0).fit(Model())
    return {}


class KeepCheckpoints(Callback):
    """Copies every checkpoint file present at each on_train_batch_start into <out>/kept/, so that a checkpoint that
    the top-1 ModelCheckpoint later deletes can still be described. Records nothing and changes no hook order."""

    def __init__(self, out):
        self.src, self.dst = os.path.join(out, "checkpoints"), os.path.join(out, "kept")

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if os.path.isdir(self.src):
            os.makedirs(self.dst, exist_ok=True)
            for f in os.listdir(self.src):
                shutil.copyfile(os.path.join(self.src, f), os.path.join(self.dst, f))


def sc_val_check_interval(out):
    make_trainer(out, callbacks=[Recorder(), KeepCheckpoints(out)], max_epochs=1, limit_train_batches=4,
                 val_check_interval=2, limit_val_batches=1, num_sanity_val_steps=0).fit(Model())
    # Both saves come from ModelCheckpoint.on_validation_end (val_check_interval != 1.0): step 2 in the middle of
    # the epoch (kept by copy, the top-1 save at step 4 deletes it), step 4 at the last batch, before
    # on_train_epoch_end.
    return {"val_check_interval.epoch=0-step=2": os.path.join(out, "kept", "epoch=0-step=2.ckpt"),
            "val_check_interval.epoch=0-step=4": _ckpt(out, "epoch=0-step=4.ckpt")}


SCENARIOS = {
    "fit_sanity": sc_fit_sanity,
    "fit_accum2_clip": sc_fit_accum2_clip,
    "validate": _eval_scenario("validate"),
    "test": _eval_scenario("test"),
    "predict": _eval_scenario("predict"),
    "resume_epoch_end": sc_resume_epoch_end,
    "resume_max_steps": sc_resume_max_steps,
    "fit_no_sanity": sc_fit_no_sanity,
    "fit_no_val": sc_fit_no_val,
    "accum2_odd": sc_accum2_odd,
    "stop_in_batch_end": sc_stop_in_batch_end,
    "stop_min_epochs": sc_stop_min_epochs,
    "stop_on_fit_start": sc_stop_on_fit_start,
    "batch_start_minus_one": sc_batch_start_minus_one,
    "exception_in_batch_end": sc_exception_in_batch_end,
    "validate_zero_batches": sc_validate_zero_batches,
    "max_steps_mid_epoch": sc_max_steps_mid_epoch,
    "val_check_interval": sc_val_check_interval,
}

# --------------------------------------------------------------------------------------------------------------------
# Checkpoint description
# --------------------------------------------------------------------------------------------------------------------
VERSION_KEY = "pytorch-lightning_version"


def _is_path(s, roots):
    return any(r and s.startswith(r) for r in roots)


def describe(obj, roots, key=None):
    """Recursive, order-preserving description. dict -> [[key, desc], ...] (non-str keys as repr strings),
    list/tuple -> [desc, ...], scalar -> {"type", "value"}, tensor -> {"type": "tensor", "dtype", "shape"}.
    The Lightning version becomes "<version>", path strings (under the run's temp dir) become "<path>"."""
    if isinstance(obj, dict):
        return [[k if isinstance(k, str) and not _is_path(k, roots) else ("<path>" if isinstance(k, str) else repr(k)),
                 describe(v, roots, k)] for k, v in obj.items()]
    if isinstance(obj, (list, tuple)):
        return [describe(v, roots) for v in obj]
    if isinstance(obj, torch.Tensor):
        return {"type": "tensor", "dtype": str(obj.dtype).replace("torch.", ""), "shape": list(obj.shape)}
    if obj is None:
        return {"type": "NoneType", "value": None}
    if isinstance(obj, bool):
        return {"type": "bool", "value": obj}
    if isinstance(obj, int):
        return {"type": "int", "value": obj}
    if isinstance(obj, float):
        if obj != obj or obj in (float("inf"), float("-inf")):
            return {"type": "float", "value": repr(obj)}  # JSON has no inf/nan: written as the string "inf"/"nan"
        return {"type": "float", "value": obj}
    if isinstance(obj, str):
        if key == VERSION_KEY:
            return {"type": "str", "value": "<version>"}
        return {"type": "str", "value": "<path>" if _is_path(obj, roots) else obj}
    raise TypeError(f"cannot describe {type(obj).__name__}: {obj!r}")


def load_ckpt(path):
    return torch.load(path, map_location="cpu")


# --------------------------------------------------------------------------------------------------------------------
# boring_fit.ckpt: a real checkpoint for the C++ interop tests
# --------------------------------------------------------------------------------------------------------------------
class Counter(Callback):
    """The docs' example (extensions/callbacks_state.rst): two instances, distinguished by state_key."""

    def __init__(self, what="epochs", verbose=True):
        self.what = what
        self.verbose = verbose
        self.state = {"epochs": 0, "batches": 0}

    @property
    def state_key(self):
        # note: we do not include `verbose` here on purpose
        return self._generate_state_key(what=self.what)

    def on_train_epoch_end(self, *args, **kwargs):
        if self.what == "epochs":
            self.state["epochs"] += 1

    def on_train_batch_end(self, *args, **kwargs):
        if self.what == "batches":
            self.state["batches"] += 1

    def load_state_dict(self, state_dict):
        self.state.update(state_dict)

    def state_dict(self):
        return self.state.copy()


class BoringFitModel(BoringModel):
    def __init__(self, hidden_dim=32, lr=0.1, momentum=0.9, name="boring", use_bias=True, dims=(32, 2)):
        super().__init__()  # self.layer = Linear(32, 2)
        self.save_hyperparameters()

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.layer.parameters(), lr=self.hparams.lr, momentum=self.hparams.momentum)
        return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1)]


def make_boring_fit(tmp, dest):
    """Trains in `tmp` with a RELATIVE default_root_dir, so the ModelCheckpoint state stored in the file holds
    relative paths only ("checkpoints", "checkpoints/boring_fit.ckpt"), never the temp dir."""
    torch.manual_seed(0)
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        model = BoringFitModel(hidden_dim=32, lr=0.1, momentum=0.9, name="boring", use_bias=True, dims=[32, 2])
        trainer = pl.Trainer(default_root_dir=".", enable_progress_bar=False, enable_model_summary=False, logger=False,
                             max_epochs=2, limit_train_batches=3, limit_val_batches=1,
                             callbacks=[Counter(what="epochs"), Counter(what="batches"),
                                        ModelCheckpoint(filename="boring_fit")])
        trainer.fit(model)
        src = os.path.join(tmp, "checkpoints", "boring_fit.ckpt")
    finally:
        os.chdir(cwd)
    shutil.copyfile(src, dest)


def _hex_list(t):
    return [float(x).hex() for x in t.detach().reshape(-1).tolist()]


def _plain(obj):
    """JSON-able plain copy of a checkpoint value (dict order kept; non-str keys as repr; tensors described)."""
    if isinstance(obj, dict):
        return {k if isinstance(k, str) else repr(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        d = {"tensor": True, "dtype": str(obj.dtype).replace("torch.", ""), "shape": list(obj.shape)}
        if obj.numel() <= 8 and obj.is_floating_point():  # small ones only (layer.bias-sized); weights: see below
            d["values_hex"] = _hex_list(obj)
        return d
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return repr(obj)
    return obj


def boring_fit_expected(path):
    ck = load_ckpt(path)
    opt = ck["optimizer_states"][0]
    sd = ck["state_dict"]
    return {
        "about": "What volt's C++ side must find in boring_fit.ckpt (written by tools/gen_golden.py). JSON objects "
                 "keep the checkpoint's key order; *_keys lists give the order explicitly. Floats in values_hex are "
                 "float.hex() of the float32 values widened to double.",
        "file": "boring_fit.ckpt",
        "top_level_keys": list(ck.keys()),
        "epoch": ck["epoch"],
        "global_step": ck["global_step"],
        "pytorch-lightning_version": ck[VERSION_KEY],
        "callbacks_keys": list(ck["callbacks"].keys()),
        "callbacks": _plain(ck["callbacks"]),
        "hparams_name": ck.get("hparams_name"),
        "hyper_parameters_keys": list(ck["hyper_parameters"].keys()),
        "hyper_parameters": _plain(ck["hyper_parameters"]),
        "loops_keys": list(ck["loops"].keys()),
        "loops": _plain(ck["loops"]),
        "optimizer_states_len": len(ck["optimizer_states"]),
        "optimizer_keys": list(opt.keys()),
        "optimizer_param_groups": _plain(opt["param_groups"]),
        "optimizer_state_keys": {repr(k): list(v.keys()) for k, v in opt["state"].items()},
        "optimizer_state": _plain(opt["state"]),
        "lr_schedulers": _plain(ck["lr_schedulers"]),
        "state_dict_keys": list(sd.keys()),
        "state_dict_shapes": {k: list(v.shape) for k, v in sd.items()},
        "state_dict_dtypes": {k: str(v.dtype).replace("torch.", "") for k, v in sd.items()},
        "layer.bias_hex": _hex_list(sd["layer.bias"]),
        "layer.weight_hex": _hex_list(sd["layer.weight"]),
    }


# --------------------------------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------------------------------
def write_json_lines(path, seq):
    with open(path, "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(x) for x in seq) + "\n]\n")


def _compact(obj, indent=0):
    """Readable JSON: anything that fits in 100 characters (e.g. a [key, {"type": ...}] pair) or a flat container
    that fits in 160 stays on one line; larger containers are broken over lines, one element per line."""
    flat = json.dumps(obj)
    if not isinstance(obj, (list, dict)):
        return flat
    is_leaf = not isinstance(obj, (list, dict)) or all(not isinstance(v, (list, dict)) for v in
                                                         (obj.values() if isinstance(obj, dict) else obj))
    if (is_leaf and len(flat) <= 160) or len(flat) <= 100:
        return flat
    pad = " " * (indent + 1)
    if is_leaf and isinstance(obj, list):  # long flat list (e.g. hex floats): several elements per line
        lines, cur = [], []
        for v in obj:
            if cur and len(", ".join(cur + [json.dumps(v)])) > 110:
                lines.append(", ".join(cur))
                cur = []
            cur.append(json.dumps(v))
        lines.append(", ".join(cur))
        return "[\n" + ",\n".join(pad + ln for ln in lines) + "\n" + " " * indent + "]"
    if isinstance(obj, dict):
        items = [f"{pad}{json.dumps(k)}: {_compact(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}" if items else "{}"
    items = [pad + _compact(v, indent + 1) for v in obj]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]" if items else "[]"


def write_json(path, obj):
    text = _compact(obj)
    assert json.loads(text) == obj
    with open(path, "w") as f:
        f.write(text + "\n")


def run_scenario(name, outdir):
    CALLS.clear()
    torch.manual_seed(0)
    tmp = tempfile.mkdtemp(prefix=f"volt-golden-{name}-")
    try:
        layouts = SCENARIOS[name](tmp)
        write_json_lines(os.path.join(outdir, "hooks", name + ".json"), CALLS)
        for lname, path in layouts.items():
            if not os.path.exists(path):
                found = [os.path.relpath(os.path.join(d, f), tmp) for d, _, fs in os.walk(tmp) for f in fs]
                raise FileNotFoundError(f"{name}: {os.path.relpath(path, tmp)} not written; found {found}")
            roots = [tmp, os.path.realpath(tmp)]
            write_json(os.path.join(outdir, "checkpoints", lname + ".layout.json"), describe(load_ckpt(path), roots))
        print(f"{name}: {len(CALLS)} calls; layouts: {', '.join(layouts) or '-'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_extra_layouts(outdir):
    # fit_accum2_clip with the default ModelCheckpoint ON (the hooks scenario has it off): global_step counts
    # optimizer steps (2) while batch progress counts 4 batches.
    CALLS.clear()
    torch.manual_seed(0)
    tmp = tempfile.mkdtemp(prefix="volt-golden-accum2-")
    try:
        make_trainer(tmp, max_epochs=1, limit_train_batches=4, limit_val_batches=1, num_sanity_val_steps=0,
                     accumulate_grad_batches=2, gradient_clip_val=0.5).fit(Model())
        path = _ckpt(tmp, "epoch=0-step=2.ckpt")
        write_json(os.path.join(outdir, "checkpoints", "accum2_clip.epoch=0-step=2.layout.json"),
                   describe(load_ckpt(path), [tmp, os.path.realpath(tmp)]))
        print("accum2_clip layout written")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    CALLS.clear()


def run_boring_fit(outdir):
    tmp = tempfile.mkdtemp(prefix="volt-golden-boring-")
    try:
        dest = os.path.join(outdir, "lightning", "boring_fit.ckpt")
        make_boring_fit(tmp, dest)
        write_json(os.path.join(outdir, "lightning", "boring_fit.expected.json"), boring_fit_expected(dest))
        # its ModelCheckpoint paths are relative to the run directory ("./checkpoints/..."): "<path>" as well
        write_json(os.path.join(outdir, "checkpoints", "boring_fit.layout.json"),
                   describe(load_ckpt(dest), [tmp, os.path.realpath(tmp), "./"]))
        print(f"boring_fit.ckpt: {os.path.getsize(dest)} bytes")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    outdir, only = argv[1], argv[2:]
    assert lightning.__version__ == "2.2.5", f"expected Lightning 2.2.5, got {lightning.__version__}"
    for sub in ("hooks", "checkpoints", "lightning"):
        os.makedirs(os.path.join(outdir, sub), exist_ok=True)
    unknown = [n for n in only if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s): {unknown}; known: {list(SCENARIOS)}")
    for name in only or SCENARIOS:
        run_scenario(name, outdir)
    if not only:
        run_extra_layouts(outdir)
        run_boring_fit(outdir)


if __name__ == "__main__":
    main(sys.argv)
