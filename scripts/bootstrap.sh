#!/usr/bin/env bash
# Creates .venv (once) and installs vistakit with its test extras into it. Idempotent and offline-friendly:
# it only reaches the package registry for what is not installed yet.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.vistakit-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/pip install --quiet --upgrade pip >/dev/null 2>&1 || true
  # torch first, pinned: this machine installs the CPU build from local disk; pyproject only asks for
  # torch>=2.2, so a GPU machine that already has its own CUDA build keeps it.
  .venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/pip install --quiet "torch==2.13.0"
  .venv/bin/pip install --quiet -e ".[test]"
  touch "$stamp"
fi
