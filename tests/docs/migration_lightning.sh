#!/usr/bin/env bash
# docs/migration.md both ways with real Lightning: the Python project trains from the shared config; volt resumes
# Lightning's checkpoint; Python reads volt's checkpoint with torch.load and Lightning resumes from it. Needs a
# Lightning 2.2.5 interpreter (the oracle venv, or VOLT_LIGHTNING_PYTHON); without one it exits 77 (ctest: skipped).
# Usage: migration_lightning.sh MLP_VOLT SOURCE_DIR WORK_DIR
set -euo pipefail
exe=$1 root=$2 work=$3
python=${VOLT_LIGHTNING_PYTHON:-${VOLT_ORACLE_VENV:-$HOME/.cache/volt-lightning-oracle}/bin/python}
if [ ! -x "$python" ] || ! "$python" -c 'import lightning' > /dev/null 2>&1; then
  echo "SKIP: no Lightning interpreter at $python (python=\$(shared/tools/lightning-oracle/setup.sh) installs one)"
  exit 77
fi
project=$root/examples/docs/migration
rm -rf "$work" && mkdir -p "$work/lightning" "$work/volt" "$work/lightning_again"

# 1. Lightning trains 4 epochs
cd "$work/lightning"
"$python" "$project/mlp_lightning.py" fit --config "$project/config.yaml" 2>&1 | tail -3

# 2. volt resumes Lightning's last.ckpt and trains epochs 4 and 5
cd "$work/volt"
"$exe" fit --config "$project/config.yaml" --trainer.max_epochs=6 \
  --ckpt_path="$work/lightning/runs/mlp/checkpoints/last.ckpt" 2>&1 | tail -3

# 3. volt's last.ckpt in Python: torch.load, the weights into the Lightning module, then Lightning resumes it
cd "$work/lightning_again"
"$python" - "$project" "$work/volt/runs/mlp/checkpoints/last.ckpt" <<'PY'
import sys, torch
sys.path.insert(0, sys.argv[1])
import mlp_lightning
checkpoint = torch.load(sys.argv[2])
assert checkpoint["epoch"] == 5 and checkpoint["global_step"] == 24, (checkpoint["epoch"], checkpoint["global_step"])
assert set(checkpoint["callbacks"]) == {"EarlyStopping{'monitor': 'val_loss', 'mode': 'min'}",
    "ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min', 'every_n_train_steps': 0, 'every_n_epochs': 1, "
    "'train_time_interval': None}"}, list(checkpoint["callbacks"])
model = mlp_lightning.MLPClassifier(**checkpoint["hyper_parameters"])
model.load_state_dict(checkpoint["state_dict"])  # strict: the same parameter names
x, y = mlp_lightning.clusters(96)
accuracy = (model.net(x[64:]).argmax(1) == y[64:]).float().mean().item()
print("volt's weights in the Lightning module: val accuracy", accuracy)
assert accuracy > 0.9
PY
"$python" "$project/mlp_lightning.py" fit --config "$project/config.yaml" --trainer.max_epochs=8 \
  --ckpt_path="$work/volt/runs/mlp/checkpoints/last.ckpt" 2>&1 | tail -3
"$python" -c "
import torch
c = torch.load('runs/mlp/checkpoints/last.ckpt')
assert (c['epoch'], c['global_step']) == (7, 32), (c['epoch'], c['global_step'])
print('Lightning resumed volt\'s checkpoint and trained epochs 6 and 7')"
