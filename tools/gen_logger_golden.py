"""Writes tests/golden/loggers/*: what Lightning 2.2.5's CSVLogger writes for a fixed logging pattern.

Run with the oracle's python: python=$(/work/shared/tools/lightning-oracle/setup.sh); $python tools/gen_logger_golden.py
The logged values are deterministic (no data dependence), so volt's run of the same pattern must match byte for byte.
Pattern: 4 train batches x 2 epochs, log_every_n_steps=2, 2 val batches, no sanity check;
train_a = 0.1 * batch_idx (on_step and on_epoch), val_b = 0.5 + batch_idx (epoch mean), hparams {lr: 0.1, name: boring,
layers: [32, 2], flag: true}.
"""
import os
import shutil
import sys
import tempfile
import warnings

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader

warnings.filterwarnings("ignore")
# torch 1.13's sharded_tensor dataclasses fail to import on Python 3.11 (as in gen_callbacks_golden.py)
LightningModule._register_sharded_tensor_state_dict_hooks_if_available = lambda self: None
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden", "loggers")


class Model(LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(32, 2)

    def training_step(self, batch, batch_idx):
        self.log("train_a", 0.1 * batch_idx, on_step=True, on_epoch=True)
        return self.layer(batch).sum()

    def validation_step(self, batch, batch_idx):
        self.log("val_b", 0.5 + batch_idx)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self):
        return DataLoader(torch.randn(4, 32), batch_size=1)

    def val_dataloader(self):
        return DataLoader(torch.randn(2, 32), batch_size=1)


def main():
    root = tempfile.mkdtemp()
    try:
        logger = CSVLogger(root)
        # (save_hyperparameters trips over torch 1.13's dataclasses on Python 3.11; the logger call is what it does)
        logger.log_hyperparams({"lr": 0.1, "name": "boring", "layers": [32, 2], "flag": True})
        trainer = Trainer(max_epochs=2, log_every_n_steps=2, num_sanity_val_steps=0, logger=logger,
                          enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
        trainer.fit(Model())
        os.makedirs(OUT, exist_ok=True)
        for f in ("metrics.csv", "hparams.yaml"):
            shutil.copyfile(os.path.join(root, "lightning_logs", "version_0", f), os.path.join(OUT, "csv_" + f))
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    sys.exit(main())
