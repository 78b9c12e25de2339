"""Records Lightning 2.2.5's results table (trainer.validate/test, verbose=True, without `rich`).

    python=$(../shared/tools/lightning-oracle/setup.sh); COLUMNS=<n> $python tools/gen_print_results.py

Writes tests/golden/print_results/<scenario>.txt: the exact stdout of each scenario, and <scenario>.json: the
metrics the C++ test feeds to volt's print_results. The C++ test (tests/unit/print_results_test.cpp) sets COLUMNS
to the value recorded in the JSON.
"""
import contextlib
import io
import json
import os
import sys

import torch
import lightning.pytorch as pl
from lightning.pytorch.core.module import LightningModule
from lightning.pytorch.demos.boring_classes import BoringModel, RandomDataset

# torch 1.13's sharded-tensor import fails on Python 3.11 (platform-notes.md)
LightningModule._register_sharded_tensor_state_dict_hooks_if_available = lambda self: None
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "print_results")


class OneLoader(BoringModel):
    def test_step(self, batch, batch_idx):
        out = self(batch)
        self.log("test_loss", torch.nn.functional.mse_loss(out, torch.ones_like(out)))
        self.log("test_acc", torch.tensor(0.915))
        self.log("a_long_metric_name_that_is_longer_than_25", 3.0)
        self.log("count", torch.tensor(7))


class TwoLoaders(BoringModel):
    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        out = self(batch)
        self.log("val_loss", torch.nn.functional.mse_loss(out, torch.ones_like(out)))
        if dataloader_idx == 1:
            self.log("only_second", 0.25, add_dataloader_idx=True)

    def val_dataloader(self):
        return [torch.utils.data.DataLoader(RandomDataset(32, 64), batch_size=2) for _ in range(2)]


def record(name, model, fn):
    torch.manual_seed(0)
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False,
                         enable_checkpointing=False, limit_test_batches=2, limit_val_batches=2)
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        results = getattr(trainer, fn)(model, verbose=True)
    with open(os.path.join(OUT, name + ".txt"), "w") as f:
        f.write(captured.getvalue())
    metrics = [{k: {"value": v, "int": isinstance(v, int)} for k, v in r.items()} for r in results]
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump({"stage": "test" if fn == "test" else "validate", "columns": int(os.environ["COLUMNS"]),
                   "results": metrics}, f, indent=1)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    columns = os.environ["COLUMNS"]
    record(f"test_one_loader_{columns}", OneLoader(), "test")
    record(f"validate_two_loaders_{columns}", TwoLoaders(), "validate")
