"""scripts/gpu_check.sh: its peak table, and its CPU dry run end to end (slow: two processes start)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _module():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "scripts" / "gpu_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_peak_is_read_from_the_card_name():
    mod = _module()
    assert mod.peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert mod.peak_tflops("NVIDIA A100-SXM4-40GB") == 312.0
    assert mod.peak_tflops("Some Future Card") is None


@pytest.mark.slow
def test_dry_run_trains_and_reports():
    r = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--dry-run"], capture_output=True, text=True,
                       env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert "gpu_check on CPU" in r.stdout and "samples/s" in r.stdout and "MFU n/a" in r.stdout
