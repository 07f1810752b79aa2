#!/usr/bin/env bash
# Train the vistallm-7b architecture at base size (random weights, bf16) for a few hundred steps on one GPU and
# print samples/s and MFU against the card's bf16 peak (scripts/gpu_check.py says how both are computed).
#   bash scripts/gpu_check.sh                       # size base, 300 steps, batch 16
#   bash scripts/gpu_check.sh --size 7b --batch 4   # the 7B LM (needs ~112 GB of AdamW state: an H200, or shard)
#   bash scripts/gpu_check.sh --dry-run             # the script itself, on the CPU, in seconds
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python
exec "$PY" scripts/gpu_check.py "$@"
