#!/usr/bin/env bash
# The volt side of docs/migration.md, without Python: the project trains from the shared config, then a new run
# resumes from a checkpoint real Lightning 2.2.5 wrote for the same project (tests/golden/lightning/migration_mlp.ckpt:
# epoch 3 done, global_step 16) and trains epochs 4 and 5.
# Usage: migration_volt.sh MLP_VOLT SOURCE_DIR WORK_DIR
set -euo pipefail
exe=$1 root=$2 work=$3
config=$root/examples/docs/migration/config.yaml
rm -rf "$work" && mkdir -p "$work/fresh" "$work/from_lightning"

cd "$work/fresh"
"$exe" fit --config "$config" 2>&1 | tee fit.log
grep -q '`Trainer.fit` stopped: `max_epochs=4` reached.' fit.log
test -f runs/mlp/checkpoints/last.ckpt
ls runs/mlp/checkpoints/ | grep -q '^epoch=3-val_loss=0\.[0-9]*\.ckpt$'

cd "$work/from_lightning"
"$exe" fit --config "$config" --trainer.max_epochs=6 --ckpt_path="$root/tests/golden/lightning/migration_mlp.ckpt" \
  2>&1 | tee resume.log
grep -q 'Restoring states from the checkpoint path at .*migration_mlp.ckpt' resume.log
grep -q '`Trainer.fit` stopped: `max_epochs=6` reached.' resume.log
# it trained epochs 4 and 5 only: the best checkpoint is one of theirs, none is of an earlier epoch
test -f runs/mlp/checkpoints/last.ckpt
ls runs/mlp/checkpoints/ | grep -q '^epoch=[45]-val_loss='
if ls runs/mlp/checkpoints/ | grep -q '^epoch=[0-3]-'; then echo 'an earlier epoch was trained again'; exit 1; fi
echo "volt trained the project and resumed Lightning's checkpoint"
