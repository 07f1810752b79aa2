"""image_tokenizer.instruction_layer: the tokenizer reads the instruction's words in context (the LM's states)."""

from __future__ import annotations

import pytest
import torch

from vistakit.data.record import Record, Targets
from vistakit.model import ImageTokenizerConfig, VistaProcessor, build_model

from .conftest import tiny_config

IT = dict(kind="instruction", num_queries=4, depth=1, heads=2, dim=32, grounding=True, where_tokens=True)


def records(root, prompts: list[str]) -> list[Record]:
    from PIL import Image

    Image.new("RGB", (16, 16), (200, 30, 30)).save(root / "0.png")
    return [Record(f"r{i}", "rec", ["0.png"], [(16, 16)], f"<image>\n{p}", answer="<box><loc_1><loc_1><loc_5><loc_5></box>",
                   targets=Targets(boxes=[[0.0, 0.0, 8.0, 8.0]], labels=["x"]), root=root)  # fmt: skip
            for i, p in enumerate(prompts)]


def encode(model, batch):
    return model.encode_images(batch["pixel_values"], batch["image_to_sample"], batch["instruction_ids"],
                               batch["instruction_mask"])  # fmt: skip


def test_the_gate_starts_closed_so_a_trained_model_is_unchanged(tokenizer, tmp_path):
    torch.manual_seed(0)
    plain = build_model(tiny_config(image_tokenizer=ImageTokenizerConfig(**IT)), tokenizer)
    gated = build_model(tiny_config(image_tokenizer=ImageTokenizerConfig(**IT, instruction_layer=1)), tokenizer)
    missing, unexpected = gated.load_state_dict(plain.state_dict(), strict=False)
    assert missing == ["instruction_gate"] and unexpected == []
    batch = VistaProcessor(tokenizer, plain.config).from_records(records(tmp_path, ["Where is the small red circle?"]))
    plain.eval(), gated.eval()
    torch.testing.assert_close(encode(gated, batch).relevance, encode(plain, batch).relevance)
    out = gated(**batch)
    out.loss.backward()
    assert gated.instruction_gate.grad is not None and gated.instruction_gate.grad.abs().sum() > 0


def test_open_gate_reads_words_in_context(tokenizer, tmp_path):
    """The same last word at the same position reads differently after different words — a bag of embeddings
    with positions could not tell them apart."""
    torch.manual_seed(0)
    model = build_model(tiny_config(image_tokenizer=ImageTokenizerConfig(**IT, instruction_layer=2)), tokenizer).eval()
    batch = VistaProcessor(tokenizer, model.config).from_records(
        records(tmp_path, ["the red circle left of the blue square", "the blue circle left of the red square"]))
    ids = batch["instruction_ids"]
    assert torch.equal(torch.sort(ids[0]).values, torch.sort(ids[1]).values) and ids[0, -1] == ids[1, -1]
    states = model._instruction_states(ids, batch["instruction_mask"])
    assert states.shape == (*ids.shape, model.config.lm.hidden)
    assert not torch.allclose(states[0, -1], states[1, -1])  # the last word, in two contexts
    with torch.no_grad():
        model.instruction_gate.fill_(1.0)
    r = encode(model, batch).relevance
    assert not torch.allclose(r[0], r[1])


def test_instruction_layer_is_checked():
    with pytest.raises(ValueError, match="instruction_layer must be an integer >= 0"):
        ImageTokenizerConfig(**IT, instruction_layer=-1).validate()
    with pytest.raises(ValueError, match="instruction_layer must be an integer >= 0"):
        ImageTokenizerConfig(**IT, instruction_layer=True).validate()
    with pytest.raises(ValueError, match="needs image_tokenizer.kind 'instruction'"):
        ImageTokenizerConfig(kind="projector", instruction_layer=1).validate()
    with pytest.raises(ValueError, match=r"past the LM's last layer: expected 0..2"):
        tiny_config(image_tokenizer=ImageTokenizerConfig(**IT, instruction_layer=3))
