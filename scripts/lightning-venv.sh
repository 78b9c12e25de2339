#!/usr/bin/env bash
# A Python with Lightning 2.2.5 (the last line that supports torch 1.13) over Debian's python3-torch, for the
# benchmark against Lightning. A venv that reuses the system packages; idempotent; prints the venv's python.
set -euo pipefail
VENV=${VOLT_LIGHTNING_VENV:-$HOME/.cache/volt-lightning-bench}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import lightning' 2>/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  need=""
  for p in python3-torch python3-venv python3-yaml python3-tqdm python3-fsspec python3-packaging; do
    dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
  done
  if [ -n "$need" ]; then apt-get update -qq >&2 && apt-get install -y -qq $need >&2; fi
  /usr/bin/python3 -m venv --system-site-packages "$VENV" >&2
  # --no-deps: Debian's torch calls itself 1.13.0a0, which pip's resolver treats as older than 1.13.0
  "$VENV/bin/pip" install -q --no-deps lightning==2.2.5 lightning-utilities==0.10.1 torchmetrics==1.2.1 >&2
fi
echo "$VENV/bin/python"
