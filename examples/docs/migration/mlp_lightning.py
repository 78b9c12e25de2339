"""The migration guide's project in Python Lightning: a small MLP classifier on three 2-D clusters.
    python mlp_lightning.py fit --config config.yaml [--trainer.max_epochs=6] [--ckpt_path=FILE]"""
import importlib
import math
import sys

import torch
import yaml
from lightning.pytorch import LightningDataModule, LightningModule, Trainer, seed_everything
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

# Only for Debian's torch 1.13 under Python 3.11, where torch.distributed._shard fails to import: Lightning uses it
# for an optional hook alone. Not needed with a current torch.
LightningModule._register_sharded_tensor_state_dict_hooks_if_available = lambda self: None


def clusters(n):
    """n points around three centres, computed without a random generator (the volt side gets the same)."""
    x, y = [], []
    for i in range(n):
        angle = 2 * math.pi * (i % 3) / 3 + 0.6 * math.sin(7 * i)
        radius = 1 + 0.3 * math.cos(5 * i)
        x.append([radius * math.cos(angle), radius * math.sin(angle)])
        y.append(i % 3)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


class MLPClassifier(LightningModule):
    def __init__(self, hidden: int = 16, lr: float = 0.05):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, 3))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        self.log("val_loss", nn.functional.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


class MLPData(LightningDataModule):
    def __init__(self, batch_size: int = 16):
        super().__init__()
        self.batch_size = batch_size
        x, y = clusters(96)
        self.train, self.val = TensorDataset(x[:64], y[:64]), TensorDataset(x[64:], y[64:])

    def train_dataloader(self):
        return DataLoader(self.train, batch_size=self.batch_size)

    def val_dataloader(self):
        return DataLoader(self.val, batch_size=self.batch_size)


def build(entry):
    """{class_path, init_args} -> an instance, as LightningCLI does."""
    module, _, name = entry["class_path"].rpartition(".")
    return getattr(importlib.import_module(module), name)(**entry.get("init_args", {}))


if __name__ == "__main__":
    sys.modules["mlp_lightning"] = sys.modules[__name__]
    assert sys.argv[1] == "fit" and sys.argv[2] == "--config", __doc__
    config = yaml.safe_load(open(sys.argv[3]))
    for override in sys.argv[4:]:  # --trainer.max_epochs=6, --ckpt_path=FILE
        keys, _, value = override[2:].partition("=")
        *parents, last = keys.split(".")
        node = config
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = yaml.safe_load(value)
    seed_everything(config["seed_everything"])
    trainer_args = dict(config["trainer"])
    trainer_args["callbacks"] = [build(c) for c in trainer_args.get("callbacks", [])]
    trainer = Trainer(**trainer_args)
    trainer.fit(build(config["model"]), datamodule=build(config["data"]), ckpt_path=config.get("ckpt_path"))
    print("best:", trainer.checkpoint_callback.best_model_path, float(trainer.checkpoint_callback.best_model_score))
