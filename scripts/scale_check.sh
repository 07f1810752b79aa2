#!/usr/bin/env bash
# Issue 47's bar: 2-process FSDP (gloo, CPU) with LoRA on tiny random HF models (CLIP tower + Llama, the
# vistallm-7b preset's code path) agrees with DDP and with 1 process, and a run killed with kill -9 resumes to
# the same losses and weights. Prints each comparison; exits non-zero on failure. About a minute on 2 cores.
#   bash scripts/scale_check.sh            # 8 steps, kill after step 2
#   bash scripts/scale_check.sh --steps 20 --kill-after 10 --work /tmp/scale   # keep the runs to look at
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--quick)
exec env OMP_NUM_THREADS=1 "$PY" scripts/scale_check.py "${args[@]}"
