#!/usr/bin/env python3
"""Golden action names and call counts of Lightning 2.2.5's SimpleProfiler for scripted runs (volt's profiler test).

How to run (from the repository root; shared/ sits beside the repository):

    python=$(../shared/tools/lightning-oracle/setup.sh)
    nice "$python" tools/gen_profiler_golden.py tests/golden/profiler

Writes one JSON object per scenario, <scenario>.json: {action name: number of calls}, keys sorted. Only names and
counts are compared by the C++ test (tests/unit/profiler_test.cpp); durations are not recorded. Deterministic: no
times, paths or versions in the output.

The run: a BoringModel (SGD lr=0.1, no scheduler), one user callback `Counter` (state_key "Counter"), logger=False,
no progress bar, no model summary, checkpointing off unless the scenario says so; 2 epochs of 3 training batches
with 2 validation batches (and the default 2-batch sanity check).
"""
import json
import logging
import os
import sys
import tempfile
import warnings

import torch
import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.demos.boring_classes import BoringModel as _Boring
from lightning.pytorch.profilers import SimpleProfiler

warnings.filterwarnings("ignore")
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
logging.getLogger("lightning.fabric").setLevel(logging.ERROR)
pl.LightningModule._register_sharded_tensor_state_dict_hooks_if_available = lambda self: None


class BoringModel(_Boring):  # the class name is part of the action names: "[LightningModule]BoringModel.<hook>"
    def configure_optimizers(self):
        return torch.optim.SGD(self.layer.parameters(), lr=0.1)


class Counter(Callback):
    def __init__(self):
        self.batches = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.batches += 1

    def state_dict(self):
        return {"batches": self.batches}


class Quiet(SimpleProfiler):
    def describe(self):  # keep the recorded durations, print nothing
        pass


def run(fn, checkpointing=False):
    torch.manual_seed(0)
    profiler = Quiet()
    with tempfile.TemporaryDirectory() as out:
        trainer = pl.Trainer(default_root_dir=out, max_epochs=2, limit_train_batches=3, limit_val_batches=2,
                             limit_test_batches=2, limit_predict_batches=2, logger=False, enable_progress_bar=False,
                             enable_model_summary=False, enable_checkpointing=checkpointing, callbacks=[Counter()],
                             profiler=profiler)
        getattr(trainer, fn)(BoringModel())
    return {k: len(v) for k, v in sorted(profiler.recorded_durations.items())}


SCENARIOS = {
    "fit": lambda: run("fit"),
    "fit_checkpoint": lambda: run("fit", checkpointing=True),
    "validate": lambda: run("validate"),
    "test": lambda: run("test"),
    "predict": lambda: run("predict"),
}


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    for name, scenario in SCENARIOS.items():
        with open(os.path.join(outdir, name + ".json"), "w") as f:
            json.dump(scenario(), f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
