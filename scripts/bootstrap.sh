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
  .venv/bin/pip install --quiet -e ".[test]"
  touch "$stamp"
fi
