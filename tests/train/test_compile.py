import json

import pytest
import torch
from torch import nn

from vistakit.train import compile as vk_compile
from vistakit.train.config import TrainConfig
from vistakit.train.loop import Trainer, describe


def _run(data, out, micro, **kw):
    cfg = TrainConfig(data=str(data), out=str(out), steps=2, batch_size=4, lr=3e-3, warmup=1, log_every=1,
                      eval_every=2, val_records=1, val_batches=1, save_every=0, tensorboard=False,
                      tokenizer_vocab=300, max_new_tokens=8, **kw).with_overrides(micro)  # fmt: skip
    trainer = Trainer(cfg, progress=False)
    trainer.run()
    lines = (out / "train" / "log.jsonl").read_text().splitlines()
    return trainer, [e["loss"] for e in map(json.loads, lines) if e["kind"] == "train"]


def _check_matches_eager(sw_data, micro, tmp_path):
    eager, eager_losses = _run(sw_data, tmp_path / "eager", micro)
    compiled, compiled_losses = _run(sw_data, tmp_path / "compiled", micro, compile=True)
    assert compiled.compiled == ["vision", "image_tokenizer", "lm"]
    assert any("compiled: vision, image_tokenizer, lm" in line for line in describe(compiled))
    # the same batches from the same initial weights: the same losses up to kernel rounding
    assert compiled_losses == pytest.approx(eager_losses, rel=1e-3)
    assert set(compiled.model.state_dict()) == set(eager.model.state_dict())  # no "_orig_mod." prefixes
    assert (tmp_path / "compiled" / "model.safetensors").is_file()


def test_compiled_training_matches_eager_and_keeps_weight_names(sw_data, micro, tmp_path, monkeypatch):
    """The whole path (trainer, dynamic shapes, autograd through the compiled blocks, eager validation) with
    graphs traced but run without generated kernels, which would take a cold machine minutes to build."""
    real = vk_compile.compile_model
    monkeypatch.setattr(vk_compile, "compile_model", lambda model: real(model, backend="aot_eager"))
    _check_matches_eager(sw_data, micro, tmp_path)


@pytest.mark.slow
def test_inductor_compiled_training_matches_eager(sw_data, micro, tmp_path):
    _check_matches_eager(sw_data, micro, tmp_path)


def test_compile_model_without_units_compiles_every_stacked_block():
    model = nn.Sequential(nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)]), nn.Linear(2, 2))
    assert vk_compile.compile_model(model) == ["0.0", "0.1"]
    assert set(model.state_dict()) == {"0.0.weight", "0.0.bias", "0.1.weight", "0.1.bias", "1.weight", "1.bias"}


def test_compile_model_compiles_the_units_a_model_names():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.head = nn.Sequential(nn.ModuleList([nn.Linear(2, 2)])), nn.Linear(2, 2)

        def compile_units(self):
            return {"body": self.body}

    model = Two()
    assert vk_compile.compile_model(model) == ["body"]
    assert model.body._compiled_call_impl is not None and model.head._compiled_call_impl is None
    assert model.body[0][0]._compiled_call_impl is None  # the unit whole, not its blocks again


def test_missing_cpp_compiler_fails_clearly(monkeypatch):
    monkeypatch.setattr(vk_compile.shutil, "which", lambda name: None)
    with pytest.raises(ValueError, match="needs a C\\+\\+ compiler"):
        vk_compile.check_compiler(torch.device("cpu"))
    vk_compile.check_compiler(torch.device("cuda"))  # GPUs compile with Triton, not a C++ compiler
