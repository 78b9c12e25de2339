#!/usr/bin/env python3
"""Golden data for volt's batch size finder, produced by REAL Lightning 2.2.5 on Debian's torch 1.13.

    python=$(../shared/tools/lightning-oracle/setup.sh)
    nice "$python" tools/gen_batch_size_golden.py tests/golden/callbacks

Writes batch_size.json: for each case (mode, init_val, max_trials, steps_per_trial, dataset length, the batch size
above which training_step raises "CUDA out of memory." or null for never), the size Tuner.scale_batch_size
returns, the batch sizes the trials ran with (in order; note the first trial runs with the loader built before
init_val was set, i.e. the attribute's original value 1 — Lightning 2.2.5 does not rebuild it), the "Batch size ..." info messages, and the model's
batch_size attribute afterwards. The C++ tests only read this file.
"""
import json
import logging
import os
import sys
import tempfile

import torch
from torch import nn
import lightning.pytorch as pl
from lightning.pytorch.tuner import Tuner

logging.getLogger("lightning.fabric").setLevel(logging.ERROR)
pl.LightningModule._register_sharded_tensor_state_dict_hooks_if_available = lambda self: None


class Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        msg = record.getMessage()
        if msg.startswith("Batch size") or msg.startswith("The batch size") or msg.startswith("Finished batch size"):
            self.messages.append(msg)


class Model(pl.LightningModule):
    def __init__(self, batch_size, length, fail_above):
        super().__init__()
        self.save_hyperparameters()
        self.layer = nn.Linear(2, 1)
        self.trials = []

    def training_step(self, batch, batch_idx):
        n = batch.shape[0]
        if batch_idx == 0:
            self.trials.append(n)
        if self.hparams.fail_above is not None and n > self.hparams.fail_above:
            raise RuntimeError("CUDA out of memory.")
        return self.layer(batch).sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self):
        return torch.utils.data.DataLoader(torch.ones(self.hparams.length, 2), batch_size=self.hparams.batch_size)


CASES = [
    dict(mode="power", init_val=2, max_trials=3, steps_per_trial=1, length=1000, fail_above=None),
    dict(mode="binsearch", init_val=2, max_trials=3, steps_per_trial=1, length=1000, fail_above=None),
    dict(mode="power", init_val=4, max_trials=1, steps_per_trial=1, length=1000, fail_above=None),
    dict(mode="power", init_val=2, max_trials=0, steps_per_trial=1, length=1000, fail_above=None),
    dict(mode="power", init_val=500, max_trials=10, steps_per_trial=1, length=1000, fail_above=100),
    # (length 1000 here makes Lightning 2.2.5 loop forever: the failed size 1000 cannot be lowered because the
    # "greater or equal than the length" check runs first; volt stops there instead, see batch_size_finder.hpp)
    dict(mode="binsearch", init_val=500, max_trials=10, steps_per_trial=1, length=5000, fail_above=100),
    dict(mode="power", init_val=2, max_trials=25, steps_per_trial=3, length=64, fail_above=None),
    dict(mode="binsearch", init_val=2, max_trials=25, steps_per_trial=2, length=100, fail_above=37),
    dict(mode="power", init_val=3, max_trials=25, steps_per_trial=2, length=100, fail_above=37),
    dict(mode="binsearch", init_val=64, max_trials=2, steps_per_trial=1, length=64, fail_above=None),
]


def main():
    dest = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/callbacks"
    out = []
    cap = Capture()
    log = logging.getLogger("lightning.pytorch")
    log.addHandler(cap)
    log.setLevel(logging.INFO)
    for c in CASES:
        cap.messages = []
        model = Model(c["init_val"] * 0 + 1, c["length"], c["fail_above"])
        with tempfile.TemporaryDirectory() as d:
            trainer = pl.Trainer(default_root_dir=d, max_epochs=1, logger=False, enable_checkpointing=False,
                                 enable_progress_bar=False, enable_model_summary=False)
            size = Tuner(trainer).scale_batch_size(model, mode=c["mode"], init_val=c["init_val"],
                                                   max_trials=c["max_trials"], steps_per_trial=c["steps_per_trial"])
            left = [f for f in os.listdir(d) if f.startswith(".scale_batch_size")]
        out.append(dict(c, result=size, trials=model.trials, messages=cap.messages,
                        attribute=model.hparams.batch_size, global_step=trainer.global_step,
                        temp_files_left=len(left)))
    with open(os.path.join(dest, "batch_size.json"), "w") as f:
        json.dump({"torch": torch.__version__, "lightning": pl.__version__, "cases": out}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
