"""The lean decoding step over a static KV cache gives the same greedy tokens as Hugging Face's forward (the
engine with ``lean=False``): on the tiny model (constrained location spans, a batch whose answers end at
different lengths, so rows leave the batch) and on the shipped reference model for a handful of records."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vistakit.model import Engine
from vistakit.model.language import returned_cache
from vistakit.model.static_cache import StaticDecoder, fused_weights, supports

from .conftest import image

PROMPTS = [f"<image>\nWhere is object {k}?" for k in range(5)] + ["Image 1: <image>\nImage 2: <image>\nIs it true?"]
IMAGES = [[image(12 + k, 16, k)] for k in range(5)] + [[image(16, 16, 1), image(9, 30, 2)]]


def nudged(model, processor, seed: int, eos_scale: float):
    """The tiny model (float32), nudged to write location spans and ``</s>`` (seeds and scales picked so that
    the answers of one batch end at different steps)."""
    tok = processor.tokenizer
    structure = [tok.convert_tokens_to_ids(t) for t in ("<box>", "<mask>", "<poly>", "<point>", "</box>", "</poly>")]
    locs = [tok.convert_tokens_to_ids(f"<loc_{k}>") for k in range(8)]
    with torch.no_grad():
        g = torch.Generator().manual_seed(seed)
        head = model.lm.get_output_embeddings().weight
        head[structure + locs] = torch.randn(len(structure) + len(locs), head.shape[1], generator=g) * 2
        head[tok.eos_token_id] = torch.randn(head.shape[1], generator=g) * eos_scale
    return model


def same_answers(old, new) -> None:
    for a, b in zip(old, new):
        assert a.token_ids == b.token_ids, (a.text, b.text)
        assert np.allclose(a.token_scores, b.token_scores, atol=1e-5)
        assert a.score == pytest.approx(b.score, abs=1e-4)


@pytest.mark.parametrize(("constrained", "seed", "eos_scale"), [(True, 1, 3.0), (False, 0, 2.0)])
def test_lean_greedy_equals_hugging_face_forward(model, processor, constrained, seed, eos_scale):
    model = nudged(model, processor, seed, eos_scale)
    old = Engine(model, processor, lean=False).generate(IMAGES, PROMPTS, max_new_tokens=30, constrained=constrained)
    new = Engine(model, processor).generate(IMAGES, PROMPTS, max_new_tokens=30, constrained=constrained)
    same_answers(old, new)
    lengths = [len(r.token_ids) for r in new]
    assert min(lengths) < max(lengths) < 30, lengths  # answers ended at different steps: rows left the batch
    if constrained:
        assert any("<loc_" in r.text for r in new)


def test_rows_leaving_the_batch_do_not_change_the_others(model, processor):
    model = nudged(model, processor, 0, 2.0)
    engine = Engine(model, processor)
    together = engine.generate(IMAGES, PROMPTS, max_new_tokens=30, constrained=False)
    assert len(together[5].token_ids) > len(together[3].token_ids)
    for i in (3, 5):
        alone = engine.generate(IMAGES[i : i + 1], PROMPTS[i : i + 1], max_new_tokens=30, constrained=False)[0]
        assert alone.token_ids == together[i].token_ids


def test_static_decoder_step_matches_the_lm_logits(model, processor):
    """Three lean steps against the LM's full forward over the prompt plus the fed tokens."""
    batch = processor(IMAGES[:3], PROMPTS[:3], padding_side="left")
    mask = batch["attention_mask"]
    with torch.no_grad():
        embeds = model.embed(batch["pixel_values"], batch["image_to_sample"], batch["input_ids"],
                             batch["instruction_ids"], batch["instruction_mask"])  # fmt: skip
        out = model.lm(inputs_embeds=embeds, attention_mask=mask, position_ids=model.position_ids(mask), use_cache=True)
        decoder = StaticDecoder(model.lm, returned_cache(out), mask, 3)
        fed = torch.tensor([[5, 6, 7], [8, 9, 10], [11, 12, 13]])
        for j in range(3):
            logits, hidden = decoder.step(fed[:, j], hidden=True)
        full_mask = torch.cat([mask, mask.new_ones(3, 3)], 1)
        full = torch.cat([embeds, model.lm.get_input_embeddings()(fed)], 1)
        ref = model.lm(inputs_embeds=full, attention_mask=full_mask, position_ids=model.position_ids(full_mask))
        assert torch.allclose(logits, ref.logits[:, -1], atol=1e-5)
        assert hidden.shape == (3, model.config.lm.hidden)
        with pytest.raises(RuntimeError, match="static cache"):
            decoder.step(fed[:, 0])


def test_fused_weights_follow_weight_changes(model):
    first = fused_weights(model.lm)
    assert fused_weights(model.lm) is first  # cached
    with torch.no_grad():
        model.lm.model.layers[0].self_attn.k_proj.weight.add_(1.0)
    second = fused_weights(model.lm)
    assert second is not first
    q = model.lm.model.layers[0].self_attn.q_proj.weight.shape[0]
    assert torch.equal(second[0][0][q : 2 * q], model.lm.model.layers[0].self_attn.k_proj.weight)


def test_supports_names_what_it_cannot_run(model):
    assert supports(model.lm) is None
    assert "Llama" in supports(torch.nn.Linear(2, 2))


def test_reference_model_lean_equals_hugging_face_forward(tmp_path):
    """The shipped model on six ShapesWorld test records (mixed tasks, one batch): the same tokens both ways."""
    from vistakit import Vista
    from vistakit.data import RecordDataset
    from vistakit.data.shapesworld.generate import GenerateConfig, generate_split

    vista = Vista.from_pretrained(device="cpu")
    generate_split(tmp_path, GenerateConfig(split="test", n=6, seed=11))
    batch = vista.processor.from_records(list(RecordDataset(tmp_path)), with_answers=False)
    old = Engine(vista.engine.model, vista.processor, lean=False).generate_batch(batch, max_new_tokens=48)
    new = vista.engine.generate_batch(batch, max_new_tokens=48)
    same_answers(old, new)


def test_painting_reuses_what_decoding_kept(tmp_path):
    """The mask decoder fed the hidden states kept while decoding paints what it paints after running the model
    again over prompt + answer (the reference model, four segmentation records)."""
    from vistakit import Vista
    from vistakit.data import RecordDataset
    from vistakit.data.shapesworld.generate import GenerateConfig, generate_split

    engine = Vista.from_pretrained(device="cpu").engine
    generate_split(tmp_path, GenerateConfig(split="test", n=12, seed=2, tasks=("res", "gres")))
    batch = engine.processor.from_records(list(RecordDataset(tmp_path))[:4], with_answers=False)
    results = engine.generate_batch(batch, max_new_tokens=96)
    assert all(r.trace is not None for r in results)
    kept = engine.paint_masks(batch, results)
    for r in results:
        r.trace = None  # forces the second model run
    again = engine.paint_masks(batch, results)
    painted = [(a, b) for x, y in zip(kept, again) if x is not None for a, b in zip(x, y) if a is not None]
    assert painted and [x is None for x in kept] == [y is None for y in again]
    for a, b in painted:
        assert np.abs(a.probs - b.probs).max() < 1e-4


def test_vista_predict_paints_without_running_the_model_again(tmp_path, monkeypatch):
    """One request through the API: the vision tower and the LM run once (painting reuses what decoding kept)."""
    from vistakit import Vista
    from vistakit.data import RecordDataset
    from vistakit.data.shapesworld.generate import GenerateConfig, generate_split

    vista = Vista.from_pretrained(device="cpu")
    generate_split(tmp_path, GenerateConfig(split="test", n=4, seed=2, tasks=("res",)))
    rec = next(iter(RecordDataset(tmp_path)))
    calls = {"tower": 0}
    tower = vista.engine.model.vision.forward
    monkeypatch.setattr(vista.engine.model.vision, "forward", lambda *a, **k: calls.update(tower=calls["tower"] + 1)
                        or tower(*a, **k))  # fmt: skip
    monkeypatch.setattr(vista.engine.model, "paint_masks", lambda *a, **k: pytest.fail("the model ran again"))
    result = vista.predict(rec.image_paths()[0], rec.prompt.replace("<image>\n", ""), task="res")
    assert len(result.masks) >= 1 and calls["tower"] == 1
