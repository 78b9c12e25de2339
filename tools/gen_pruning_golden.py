#!/usr/bin/env python3
"""Golden data for volt's pruning (torch.nn.utils.prune) and ModelPruning, from Debian's torch 1.13 and REAL
Lightning 2.2.5.

    python=$(../shared/tools/lightning-oracle/setup.sh)
    nice "$python" tools/gen_pruning_golden.py tests/golden/callbacks

Writes pruning.json:
- "masks": fixed-weight layers (weights written into the file) pruned step by step with l1_unstructured,
  ln_structured (n=1/2, dim 0/1), random_* (seeded), global_unstructured and repeated prunings (PruningContainer);
  after every step the mask of every pruned tensor, plus state_dict keys before/after prune.remove.
- "fits": small deterministic Lightning fits with ModelPruning: per epoch (at on_train_epoch_end, after the
  pruning callback) every mask, parameter and effective tensor; the callback's log lines; the final state_dict
  keys and values; the state_dict keys saved in checkpoints.
"""
import json
import logging
import os
import sys
import tempfile

import torch
import torch.nn.utils.prune as prune
from torch import nn


def det(shape, scale, phase):
    n = 1
    for s in shape:
        n *= s
    return (torch.sin(torch.arange(n, dtype=torch.float32) * 0.7 + phase) * scale).reshape(shape)


def flat(t):
    return t.detach().flatten().tolist()


# ---- part 1: masks ----------------------------------------------------------------------------------------------

class Layers(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(5, 6)
        self.fc2 = nn.Linear(6, 3)
        self.conv = nn.Conv2d(2, 4, 3)
        with torch.no_grad():
            self.fc1.weight.copy_(det((6, 5), 1.0, 0.3))
            self.fc1.weight[0, 0] = 0.05   # ties in magnitude, to pin topk's choice
            self.fc1.weight[2, 3] = -0.05
            self.fc1.weight[4, 1] = 0.05
            self.fc1.bias.copy_(det((6,), 0.5, 1.1))
            self.fc2.weight.copy_(det((3, 6), 0.8, 2.0))
            self.fc2.bias.copy_(det((3,), 0.2, 0.4))
            self.conv.weight.copy_(det((4, 2, 3, 3), 0.6, 0.9))
            self.conv.bias.copy_(det((4,), 0.1, 0.0))


def layer_weights(m):
    return {k: {"shape": list(v.shape), "values": flat(v)} for k, v in m.state_dict().items()}


def masks_of(m):
    return {k: flat(v) for k, v in m.state_dict().items() if k.endswith("_mask")}


def mask_cases():
    cases = {}

    def run(name, steps, seed=None):
        m = Layers()
        if seed is not None:
            torch.manual_seed(seed)
        out = []
        for step in steps:
            step(m)
            out.append(masks_of(m))
        cases[name] = out

    L1, LN, RU, RS = prune.l1_unstructured, prune.ln_structured, prune.random_unstructured, prune.random_structured
    run("l1_repeated", [lambda m: L1(m.fc1, "weight", 0.3), lambda m: L1(m.fc1, "weight", 0.5),
                        lambda m: L1(m.fc1, "weight", 3), lambda m: L1(m.fc2, "bias", 1)])
    run("ln_dim0", [lambda m: LN(m.fc1, "weight", 0.34, n=2, dim=0), lambda m: LN(m.fc1, "weight", 1, n=2, dim=1)])
    run("ln_dim1", [lambda m: LN(m.fc1, "weight", 0.5, n=2, dim=1), lambda m: LN(m.fc1, "weight", 0.5, n=2, dim=1)])
    run("ln_conv", [lambda m: LN(m.conv, "weight", 0.5, n=1, dim=1), lambda m: LN(m.conv, "weight", 2, n=2, dim=0),
                    lambda m: LN(m.conv, "weight", 0.5, n=2, dim=-1)])
    run("l1_then_ln", [lambda m: L1(m.fc1, "weight", 0.4), lambda m: LN(m.fc1, "weight", 0.5, n=2, dim=0)])
    params = lambda m: [(m.fc1, "weight"), (m.fc1, "bias"), (m.fc2, "weight")]
    G = prune.global_unstructured
    run("global", [lambda m: G(params(m), pruning_method=prune.L1Unstructured, amount=0.4),
                   lambda m: G(params(m), pruning_method=prune.L1Unstructured, amount=0.5),
                   lambda m: G(params(m), pruning_method=prune.L1Unstructured, amount=4)])
    run("random", [lambda m: RU(m.fc2, "weight", 0.5), lambda m: RS(m.fc1, "weight", 0.5, dim=0),
                   lambda m: G([(m.fc1, "bias"), (m.fc2, "weight")], pruning_method=prune.RandomUnstructured,
                               amount=0.3)], seed=7)

    m = Layers()
    L1(m.fc1, "weight", 0.5)
    L1(m.fc1, "bias", 0.5)
    keys_pruned = list(m.state_dict().keys())
    params_pruned = [k for k, _ in m.named_parameters()]
    buffers_pruned = [k for k, _ in m.named_buffers()]
    prune.remove(m.fc1, "weight")
    prune.remove(m.fc1, "bias")
    remove = {"state_dict_keys_pruned": keys_pruned, "named_parameters_pruned": params_pruned,
              "named_buffers_pruned": buffers_pruned, "state_dict_keys_removed": list(m.state_dict().keys()),
              "fc1_weight_removed": flat(m.fc1.weight), "fc1_bias_removed": flat(m.fc1.bias)}
    return {"weights": layer_weights(Layers()), "cases": cases, "remove": remove}


# ---- part 2: fits with Lightning's ModelPruning -------------------------------------------------------------------

import lightning.pytorch as pl  # noqa: E402
from lightning.pytorch.callbacks import ModelCheckpoint, ModelPruning  # noqa: E402

logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
logging.getLogger("lightning.fabric").setLevel(logging.ERROR)
pl.LightningModule._register_sharded_tensor_state_dict_hooks_if_available = lambda self: None


class Data(torch.utils.data.Dataset):
    def __init__(self):
        self.x = det((32, 4), 1.0, 0.0)
        self.y = self.x.sum(1, keepdim=True) * 0.5

    def __len__(self):
        return 32

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class Model(pl.LightningModule):
    def __init__(self, val):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 1))
        with torch.no_grad():
            for i, (_, p) in enumerate(self.net.named_parameters()):
                p.copy_(det(tuple(p.shape), 0.5, float(i)))
        self.val = val

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self):
        return torch.utils.data.DataLoader(Data(), batch_size=8)

    def val_dataloader(self):
        return torch.utils.data.DataLoader(Data(), batch_size=16) if self.val else []


def tensors_of(module):
    out = {"state_dict": [[k, flat(v)] for k, v in module.state_dict().items()],
           "effective": []}
    for name, sub in module.named_modules():
        for p in ("weight", "bias"):
            if hasattr(sub, p + "_orig"):
                out["effective"].append([name + "." + p, flat(getattr(sub, p))])
    return out


class Probe(pl.Callback):
    def __init__(self):
        self.epochs = []

    def on_train_epoch_end(self, trainer, pl_module):
        self.epochs.append(tensors_of(pl_module))


class Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


SETUPS = {
    "global_l1_float": dict(val=False, epochs=3, kw=dict(pruning_fn="l1_unstructured", amount=0.3, verbose=2,
                                                         make_pruning_permanent=False,
                                                         use_lottery_ticket_hypothesis=False)),
    "local_int_schedule_lth": dict(val=False, epochs=4,
                                   kw=dict(pruning_fn="l1_unstructured", use_global_unstructured=False,
                                           amount=lambda e: [2, 0, 3, 1][e], apply_pruning=lambda e: e != 2, parameter_names=["weight"],
                                           use_lottery_ticket_hypothesis=True, verbose=1,
                                           make_pruning_permanent=True)),
    "ln_structured_on_validation": dict(val=True, epochs=3,
                                        kw=dict(pruning_fn="ln_structured", use_global_unstructured=False,
                                                pruning_dim=0, pruning_norm=2, amount=0.25, verbose=2,
                                                prune_on_train_epoch_end=False, parameter_names=["weight"],
                                                use_lottery_ticket_hypothesis=lambda e: e % 2 == 1,
                                                make_pruning_permanent=False)),
    "checkpoint_permanent": dict(val=False, epochs=2, checkpoint=True,
                                 kw=dict(pruning_fn="l1_unstructured", amount=0.5,
                                         use_lottery_ticket_hypothesis=False, make_pruning_permanent=True)),
}


def fits():
    out = {}
    cap = Capture()
    log = logging.getLogger("lightning.pytorch.callbacks.pruning")
    log.addHandler(cap)
    log.setLevel(logging.INFO)
    log.propagate = False
    for name, s in SETUPS.items():
        cap.lines = []
        model = Model(s["val"])
        probe = Probe()
        callbacks = [ModelPruning(**s["kw"]), probe]
        with tempfile.TemporaryDirectory() as d:
            if s.get("checkpoint"):
                callbacks.append(ModelCheckpoint(dirpath=d, filename="{epoch}", save_top_k=-1))
            trainer = pl.Trainer(default_root_dir=d, max_epochs=s["epochs"], callbacks=callbacks, logger=False,
                                 enable_checkpointing=bool(s.get("checkpoint")), enable_progress_bar=False,
                                 enable_model_summary=False, num_sanity_val_steps=2 if s["val"] else 0)
            trainer.fit(model)
            saved = {}
            if s.get("checkpoint"):
                for f in sorted(os.listdir(d)):
                    if f.endswith(".ckpt"):
                        sd = torch.load(os.path.join(d, f))["state_dict"]
                        saved[f] = [[k, flat(v)] for k, v in sd.items()]
        out[name] = {"epochs": probe.epochs, "logs": list(cap.lines), "final": tensors_of(model),
                     "checkpoints": saved}
    return out


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/callbacks"
    data = {"torch_version": torch.__version__, "lightning_version": pl.__version__, "masks": mask_cases(),
            "fits": fits()}
    with open(os.path.join(outdir, "pruning.json"), "w") as f:
        json.dump(data, f, indent=None, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
