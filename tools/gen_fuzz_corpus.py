#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (fuzz/corpus/): small checkpoints saved by Python's torch.save in the shapes
volt reads (dicts, OrderedDict state dicts, nested containers, every tensor dtype volt maps, shared storage and
views, timedelta, torch.Size, device), plus Lightning's and volt's checkpoints from tests/golden; and configs.

    build/examples/counter && /usr/bin/python3 tools/gen_fuzz_corpus.py     (Debian's python3-torch)
"""
import collections
import datetime
import pathlib
import shutil

import torch

root = pathlib.Path(__file__).resolve().parent.parent
ckpt = root / "fuzz" / "corpus" / "checkpoint_fuzzer"
ckpt.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)

base = torch.arange(6, dtype=torch.float32)
objects = {
    "scalars": {"epoch": 3, "global_step": 12, "lr": 0.1, "flag": True, "none": None, "name": "x", "raw": b"\x00\x01"},
    "nested": {"list": [1, [2, (3, 4.5)], {"k": "v"}], "tuple": (1, "a", None), "int_keys": {0: "a", 7: [1]}},
    "state_dict": collections.OrderedDict([("fc.weight", torch.randn(2, 3)), ("fc.bias", torch.zeros(2))]),
    "dtypes": {str(t): torch.ones(2, dtype=t) for t in
               (torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.int16, torch.int8,
                torch.uint8, torch.bool)},
    "views": {"base": base, "view": base[2:5], "strided": base.view(2, 3).t(), "empty": torch.empty(0, 3)},
    "parameter": {"p": torch.nn.Parameter(torch.randn(3)), "grad_free": torch.randn(2).requires_grad_(False)},
    "misc": {"td": datetime.timedelta(hours=1, seconds=3), "size": torch.Size([2, 3]), "device": torch.device("cpu")},
}
for name, obj in objects.items():
    torch.save(obj, ckpt / f"{name}.pt")
for golden in ("lightning/boring_fit.ckpt", "lightning/migration_mlp.ckpt"):
    shutil.copy(root / "tests" / "golden" / golden, ckpt / pathlib.Path(golden).name)
# volt's own: the counter example's checkpoint (build/examples/counter writes runs/counter/counter.ckpt)
volt_ckpt = pathlib.Path("runs/counter/counter.ckpt")
if volt_ckpt.exists():
    shutil.copy(volt_ckpt, ckpt / "volt_counter.ckpt")
else:
    print("run build/examples/counter here first to add volt's own checkpoint to the corpus")

config = root / "fuzz" / "corpus" / "config_fuzzer"
config.mkdir(parents=True, exist_ok=True)
shutil.copy(root / "examples" / "fashion_mnist" / "config.yaml", config / "fashion_mnist.yaml")
shutil.copy(root / "examples" / "docs" / "migration" / "config.yaml", config / "migration.yaml")
(config / "callbacks.yaml").write_text("""seed_everything: 3
trainer:
  max_epochs: 2
  limit_train_batches: 0.5
  val_check_interval: 0.25
  gradient_clip_val: 1.0
  gradient_clip_algorithm: norm
  accumulate_grad_batches: 2
  precision: 32
  profiler: simple
  non_finite_loss: raise
  callbacks:
    - class_path: ModelCheckpoint
      init_args: {monitor: val_loss, save_top_k: 2, every_n_epochs: 1, filename: "{epoch}-{val_loss:.2f}"}
    - class_path: EarlyStopping
      init_args: {monitor: val_loss, patience: 2, min_delta: 0.01, stopping_threshold: 0.1}
    - class_path: LearningRateMonitor
    - class_path: StochasticWeightAveraging
      init_args: {swa_lrs: [0.01], swa_epoch_start: 0.5}
    - class_path: Timer
      init_args: {duration: "00:01:00:00"}
    - class_path: GradientAccumulationScheduler
      init_args: {scheduling: {0: 1, 2: 4}}
    - class_path: ModelPruning
      init_args: {pruning_fn: l1_unstructured, amount: 0.5}
  logger:
    - class_path: CSVLogger
      init_args: {save_dir: logs, name: csv}
ckpt_path: last
""")
(config / "ksuit.yaml").write_text("""trainer:
  max_epochs: 1
  callbacks:
    - kind: EmaCallback
      target_factors: [0.9, 0.99]
      every_n_updates: 2
    - kind: noether.core.callbacks.BestCheckpointCallback
      metric_key: val_loss
  logger: false
""")
print("corpora written to", ckpt.parent)
