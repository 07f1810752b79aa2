"""VistaModel: shapes, loss masking, image-slot checks, packing equivalence, atomic save → load round trip."""

from __future__ import annotations

import pytest
import torch

from vistakit.model import VistaModel, build_model, load_pretrained
from vistakit.model import modeling as modeling_mod

from .conftest import image, tiny_config

PROMPTS = ["<image>\nWhere is the small red circle?", "Image 1: <image>\nImage 2: <image>\nIs this statement true?"]
ANSWERS = ["<p>small red circle</p><box><loc_1><loc_2><loc_5><loc_6></box>", "true"]


def make_batch(processor, **kw):
    return processor([[image(20, 12)], [image(16, 16, 1), image(9, 30, 2)]], PROMPTS, ANSWERS, **kw)


def test_forward_shapes_and_loss(model, processor):
    batch = make_batch(processor)
    out = model(**batch)
    b, t = batch["input_ids"].shape
    assert out.logits.shape == (b, t, len(processor.tokenizer))
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    # The loss only reads positions whose label is not -100: changing the prompt labels changes nothing.
    labels = batch["labels"].clone()
    assert (labels == -100).any() and (labels != -100).any()
    loss = model(**{**batch, "labels": labels}).loss
    assert torch.allclose(loss, out.loss)
    none = model(**{**batch, "labels": torch.full_like(labels, -100)}).loss
    assert none.item() == 0.0


def test_image_tokens_reach_the_logits(model, processor):
    batch = make_batch(processor)
    other = dict(batch, pixel_values=torch.randn_like(batch["pixel_values"]))
    assert not torch.allclose(model(**batch).logits, model(**other).logits)


def test_slot_count_and_order_errors(model, processor):
    batch = make_batch(processor)
    fewer = dict(batch, pixel_values=batch["pixel_values"][:2], image_to_sample=batch["image_to_sample"][:2])
    with pytest.raises(ValueError, match=r"sample 1 has 8 <image_pad> slots but 1 image\(s\) × 4 tokens = 4"):
        model(**fewer)
    swapped = dict(batch, image_to_sample=torch.tensor([1, 0, 1]))
    with pytest.raises(ValueError, match="ordered by sample"):
        model(**swapped)
    with pytest.raises(ValueError, match="labels must be"):
        model(**dict(batch, labels=batch["labels"][:, :-1]))


def test_packing_gives_the_same_logits_and_loss(model, processor):
    batch = make_batch(processor)
    real = batch["attention_mask"].bool()
    with torch.no_grad():
        a, b = model(**batch, pack=False), model(**batch, pack=True)
    assert torch.allclose(a.logits[real], b.logits[real], atol=1e-5)
    assert torch.allclose(a.loss, b.loss, atol=1e-6)


@pytest.mark.parametrize("pack", [False, True])
def test_loss_without_logits_matches_the_full_output_layer(model, processor, pack):
    batch = make_batch(processor)
    full = model(**batch, pack=pack)
    grads_full = torch.autograd.grad(full.loss, list(model.lm.parameters()))
    fast = model(**batch, pack=pack, return_logits=False)
    assert fast.logits is None
    assert torch.allclose(fast.loss, full.loss, atol=1e-6)
    for a, b in zip(grads_full, torch.autograd.grad(fast.loss, list(model.lm.parameters()))):
        assert torch.allclose(a, b, atol=1e-6)
    none = model(**{**batch, "labels": torch.full_like(batch["labels"], -100)}, return_logits=False).loss
    assert none.item() == 0.0


def test_attention_on_the_cpu_matches_the_fused_kernel():
    from vistakit.model.vision import attention

    q, k, v = torch.randn(3, 2, 4, 5, 8).unbind(0)
    keep = torch.rand(2, 1, 1, 5) > 0.3
    keep[..., 0] = True
    for mask in (None, keep, torch.zeros(2, 1, 1, 5).masked_fill(~keep, float("-inf"))):
        ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        assert torch.allclose(attention(q, k, v, mask), ref, atol=1e-5)


def test_attention_kernel_follows_the_setting_and_the_dtype(tokenizer):
    auto = build_model(tiny_config(), tokenizer)
    assert auto.lm.config._attn_implementation == "eager"  # CPU, float32
    assert auto.double().lm.config._attn_implementation == "sdpa"  # float64: eager's masks misbehave
    assert auto.float().lm.config._attn_implementation == "eager"
    config = tiny_config()
    config.lm.attention = "sdpa"
    assert build_model(config, tokenizer).lm.config._attn_implementation == "sdpa"
    config.lm.attention = "flash"
    with pytest.raises(ValueError, match="lm.attention"):
        config.validate()


def test_save_load_round_trip_gives_identical_logits(model, processor, tmp_path):
    batch = make_batch(processor)
    path = model.save_pretrained(tmp_path / "ckpt", processor)
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in path.iterdir()}
    loaded, proc2 = load_pretrained(path)
    assert loaded.config == model.config
    batch2 = make_batch(proc2)
    assert torch.equal(batch2["input_ids"], batch["input_ids"])
    with torch.no_grad():
        assert torch.equal(loaded(**batch2).logits, model(**batch).logits)


def test_save_replaces_a_checkpoint_atomically(model, processor, tmp_path, monkeypatch):
    path = tmp_path / "ckpt"
    model.save_pretrained(path, processor)
    before = (path / "model.safetensors").read_bytes()
    with torch.no_grad():
        next(model.parameters()).add_(1.0)

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(modeling_mod, "save_model", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        model.save_pretrained(path, processor)
    assert (path / "model.safetensors").read_bytes() == before  # the old checkpoint is intact
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]  # no temporary folder left behind
    VistaModel.from_pretrained(path)
    monkeypatch.undo()
    model.save_pretrained(path, processor)  # an existing checkpoint is replaced
    assert (path / "model.safetensors").read_bytes() != before


def test_save_refuses_a_folder_with_other_files(model, tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a checkpoint's"):
        model.save_pretrained(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_load_errors_name_the_problem(model, tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint directory"):
        load_pretrained(tmp_path / "missing")
    model.save_pretrained(tmp_path / "ckpt")
    (tmp_path / "ckpt" / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no model.safetensors"):
        VistaModel.from_pretrained(tmp_path / "ckpt")


def test_mismatched_weights_are_refused(model, tokenizer, tmp_path):
    model.save_pretrained(tmp_path / "ckpt")
    bigger = build_model(tiny_config(max_images=2), tokenizer)
    bigger.config.lm.layers = 3
    other = build_model(bigger.config, tokenizer)
    other.save_pretrained(tmp_path / "other")
    (tmp_path / "ckpt" / "config.json").write_bytes((tmp_path / "other" / "config.json").read_bytes())
    with pytest.raises(ValueError, match="does not match its config.json"):
        VistaModel.from_pretrained(tmp_path / "ckpt")


def test_build_needs_a_tokenizer(config):
    with pytest.raises(ValueError, match="pass the tokenizer"):
        build_model(config)


def test_location_rows_start_ordered():
    """sincos loc init: <loc_k> rows of a new model are closer to their neighbours than to far bins."""
    import torch

    from vistakit.model.modeling import init_location_rows

    emb = torch.nn.Embedding(100, 32)
    head = torch.nn.Linear(32, 100, bias=False)

    class LM(torch.nn.Module):
        def get_input_embeddings(self):
            return emb

        def get_output_embeddings(self):
            return head

    ids = list(range(10, 74))  # 64 bins
    init_location_rows(LM(), ids)
    for w in (emb.weight.detach(), head.weight.detach()):
        rows = torch.nn.functional.normalize(w[ids], dim=1)
        sim = rows @ rows.T
        assert (sim.diagonal(1) > sim[0, 32]).all()
        assert abs(float(w[ids].std()) - float(w[:10].std())) < 0.5 * float(w[:10].std())


@pytest.mark.parametrize("conditioning", ["instruction_film", "instruction_cross_attention"])
def test_instruction_conditioning_makes_the_patch_features_depend_on_the_instruction(
    conditioning, tokenizer, processor, tmp_path
):
    torch.manual_seed(0)
    config = tiny_config()
    config.vision.stem = "conv"
    setattr(config.vision, conditioning, True)
    model = build_model(config, tokenizer).eval()
    with torch.no_grad():  # as after some training (the maps start at zero)
        if conditioning == "instruction_film":
            model.vision.film.weight.normal_(0, 0.1)
        else:
            for block in model.vision.blocks:
                block.cross.out.weight.normal_(0, 0.1)
    batch = make_batch(processor)
    seen = {}
    model.vision.register_forward_hook(lambda m, i, o: seen.__setitem__("patches", o))
    model(**batch)
    a = seen["patches"]
    flipped = {k: batch[k].flip(0) for k in ("instruction_ids", "instruction_mask")}
    other = dict(batch, **flipped)
    model(**other)
    assert not torch.allclose(a[0], seen["patches"][0])  # sample 0's image, now read for sample 1's instruction
    path = model.save_pretrained(tmp_path / "ckpt", processor)
    loaded, _ = load_pretrained(path)
    assert getattr(loaded.config.vision, conditioning)
    with torch.no_grad():
        assert torch.equal(loaded(**batch).logits, model(**batch).logits)
