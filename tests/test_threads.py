"""Thread defaults of the inference doors: one torch thread unless asked, OpenMP threads that sleep while they
wait (set before torch loads, never over the environment's choice), clear errors on a bad setting."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from vistakit.threads import inference_threads


def test_inference_threads_default_flag_and_environment(monkeypatch):
    monkeypatch.delenv("VISTAKIT_THREADS", raising=False)
    assert inference_threads() == 1
    assert inference_threads(3) == 3
    monkeypatch.setenv("VISTAKIT_THREADS", "2")
    assert inference_threads() == 2 and inference_threads(1) == 1
    monkeypatch.setenv("VISTAKIT_THREADS", "two")
    with pytest.raises(ValueError, match="VISTAKIT_THREADS='two'"):
        inference_threads()
    with pytest.raises(ValueError, match="positive whole number, got 0"):
        inference_threads(0)


def _policy_after(code: str, env: dict[str, str]) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code + "\nimport os; print(os.environ.get('OMP_WAIT_POLICY'))"],
                         env={**clean, **env}, capture_output=True, text=True, check=True)  # fmt: skip
    return out.stdout.strip().splitlines()[-1]


def test_the_api_asks_for_passive_waiting_before_torch_loads_unless_told_otherwise():
    assert _policy_after("from vistakit import Vista", {}) == "PASSIVE"
    assert _policy_after("from vistakit import Vista", {"OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"
    assert _policy_after("import torch\nfrom vistakit import Vista", {}) == "None"  # too late: left alone
