#!/usr/bin/env python3
"""The Lightning half of vs_lightning_bench: the tiny MLP of benchmarks/vs_lightning_bench.cpp, the same data
shape, batch size, optimizer, steps and trainer settings, in Lightning 2.2.5 on Debian's torch. Prints one line:
`steps_per_second <float>`. Run by vs_lightning_bench (see `make bench`), not by the tests.
"""
import sys
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

import lightning.pytorch as pl

# torch 1.13's torch.distributed._shard does not import on Python 3.11; Lightning only uses it for optional hooks
pl.LightningModule._register_sharded_tensor_state_dict_hooks_if_available = lambda self: None
SAMPLES, BATCH, EPOCHS = 64 * 200, 64, 3


class Mlp(pl.LightningModule):
    def __init__(self, log_loss):
        super().__init__()
        self.fc1 = torch.nn.Linear(784, 128)
        self.fc2 = torch.nn.Linear(128, 10)
        self.log_loss = log_loss

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self(x), y)
        if self.log_loss:
            self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def run(log_loss):
    torch.manual_seed(0)
    x = torch.randn(SAMPLES, 784)
    y = torch.randint(0, 10, (SAMPLES,))
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH)
    trainer = pl.Trainer(max_epochs=EPOCHS, num_sanity_val_steps=0, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, enable_checkpointing=True, default_root_dir="bench_runs_lightning",
                         accelerator="cpu", devices=1)
    model = Mlp(log_loss)
    t0 = time.perf_counter()
    trainer.fit(model, loader)
    return EPOCHS * (SAMPLES // BATCH) / (time.perf_counter() - t0)


if __name__ == "__main__":
    torch.set_num_threads(1)
    log_loss = "--log" in sys.argv
    run(log_loss)  # warm-up (imports, first-call costs)
    print(f"steps_per_second {run(log_loss):.3f}")
