"""Sharded training's pieces that run in one process (:mod:`vistakit.train.sharded`), and the scale check that
runs two (slow: ``bash scripts/scale_check.sh``)."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from vistakit.train import sharded
from vistakit.train.distributed import SINGLE

ROOT = Path(__file__).resolve().parents[2]


def test_clip_grad_norm_matches_torch_on_whole_parameters():
    torch.manual_seed(0)
    a = [torch.nn.Parameter(torch.randn(5, 3)) for _ in range(3)] + [torch.nn.Parameter(torch.tensor(2.0))]
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    for p, q in zip(a, b):
        p.grad = torch.randn_like(p) * 3
        q.grad = p.grad.clone()
    a[1].grad = b[1].grad = None  # a parameter without a gradient is skipped by both
    want = torch.nn.utils.clip_grad_norm_(b, 1.0)
    got = sharded.clip_grad_norm(a, 1.0)
    assert float(got) == pytest.approx(float(want), rel=1e-5)
    assert all(p.grad is None or torch.allclose(p.grad, q.grad, atol=1e-6) for p, q in zip(a, b))


def test_blocks_are_the_hf_no_split_modules_and_checkpointing_switches_on():
    lm = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                      num_attention_heads=2))  # fmt: skip
    model = torch.nn.Module()
    model.lm = lm
    assert sharded.block_classes(model) == {"LlamaDecoderLayer"}
    assert sharded.enable_activation_checkpointing(model) == ["lm"]
    assert getattr(lm, "is_activation_checkpointing", None) or lm.is_gradient_checkpointing  # transformers 5 / 4
    with pytest.raises(ValueError, match="activation_checkpointing: no part"):
        sharded.enable_activation_checkpointing(torch.nn.Linear(2, 2))


def test_average_in_one_process_returns_the_values():
    assert sharded.average([], [1.5, 2.0], SINGLE) == [1.5, 2.0]


def test_restoring_a_checkpoint_without_shards_says_how_to_resume(tmp_path):
    with pytest.raises(FileNotFoundError, match="not written by parallel=fsdp"):
        sharded.restore(tmp_path, torch.nn.Linear(2, 2), None, None)  # type: ignore[arg-type]


@pytest.mark.slow
def test_scale_check_passes():
    """2-process gloo FSDP + LoRA on tiny random HF models: agrees with DDP and 1 process, resumes after kill -9."""
    r = subprocess.run(["bash", str(ROOT / "scripts" / "scale_check.sh")], capture_output=True, text=True,
                       env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"}, timeout=900)  # fmt: skip
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "scale check passed" in r.stdout
