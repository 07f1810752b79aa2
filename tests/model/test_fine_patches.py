"""Fine patches: the tokenizer reads a patch grid twice as fine; a coarse model switched to it computes what it did;
its relevance map, grounding targets and where box use the fine grid; bad settings fail clearly."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vistakit.model import Engine, VistaProcessor, build_model, load_pretrained
from vistakit.model.grounding import SoftBox

from .conftest import image, tiny_config

ANSWERS = ["<p>small red circle</p><box><loc_1><loc_2><loc_5><loc_6></box>",
           "<p>blue square</p><mask><poly><loc_1><loc_1><loc_6><loc_1><loc_6><loc_6></poly></mask>"]  # fmt: skip
PROMPTS = ["<image>\nWhere is the small red circle?", "<image>\nSegment the blue square."]


def _config(fine: bool, **vision):
    base = tiny_config()
    it = dataclasses.replace(base.image_tokenizer, grounding=True, where_tokens=True, fine_patches=fine)
    v = dataclasses.replace(
        base.vision, **{"image_size": 32, "patch_size": 16, "stem": "conv", "instruction_film": True, **vision}
    )
    return tiny_config(vision=v, image_tokenizer=it, canvas=v.image_size)


def _batch(processor):
    return processor([[image(32, 32)], [image(40, 24, 1)]], PROMPTS, answers=ANSWERS)


def _encode(model, batch):
    return model.encode_images(batch["pixel_values"], batch["image_to_sample"], batch["instruction_ids"],
                               batch["instruction_mask"])  # fmt: skip


def test_settings_are_checked():
    with pytest.raises(ValueError, match="fine_patches reads the conv stem's map"):
        _config(True, stem="patch")
    base = tiny_config()
    with pytest.raises(ValueError, match="needs .*kind 'instruction'"):
        dataclasses.replace(base.image_tokenizer, kind="projector", fine_patches=True).validate()
    with pytest.raises(ValueError, match="fine_patches must be true or false"):
        dataclasses.replace(base.image_tokenizer, fine_patches="yes").validate()


def test_a_coarse_model_switched_to_fine_patches_starts_unchanged(tokenizer):
    torch.manual_seed(0)
    coarse = build_model(_config(False), tokenizer).eval()
    fine = build_model(_config(True), tokenizer).eval()
    missing, unexpected = fine.load_state_dict(coarse.state_dict(), strict=False)
    assert sorted(missing) == ["image_tokenizer.fine_proj.bias", "image_tokenizer.fine_proj.weight"] and not unexpected
    assert coarse.config.relevance_grid == 2 and fine.config.relevance_grid == 4
    batch = _batch(VistaProcessor(tokenizer, coarse.config))
    with torch.no_grad():
        a, b = _encode(coarse, batch), _encode(fine, batch)
        la = coarse(**{k: v for k, v in batch.items() if k != "grounding"}).logits
        lb = fine(**{k: v for k, v in batch.items() if k != "grounding"}).logits
    assert b.relevance.shape == (2, 1, 16) and a.relevance.shape == (2, 1, 4)
    # each coarse patch's score over its 2 × 2 sub-patches; the same box, the same tokens, the same answers' logits
    repeated = a.relevance.view(2, 2, 2).repeat_interleave(2, 1).repeat_interleave(2, 2)
    assert torch.allclose(b.relevance.view(2, 4, 4), repeated, atol=1e-5)
    assert torch.allclose(b.box, a.box, atol=1e-4)
    assert torch.allclose(b.tokens, a.tokens, atol=1e-5)
    assert torch.allclose(lb, la, atol=1e-4)
    # once the stem projection learns something, sub-patches of one patch score differently
    with torch.no_grad():
        fine.image_tokenizer.fine_proj.weight.normal_(0, 0.5)
        c = _encode(fine, batch)
    blocks = c.relevance.view(2, 2, 2, 2, 2).permute(0, 1, 3, 2, 4).reshape(2, 4, 4)  # [N, coarse patch, sub-patch]
    assert (blocks.max(-1).values - blocks.min(-1).values).max() > 1e-3
    assert not torch.allclose(c.tokens, a.tokens, atol=1e-4)


def test_soft_box_of_a_repeated_map_is_the_coarse_box():
    coarse = torch.randn(3, 16) * 2
    fine = coarse.view(3, 4, 4).repeat_interleave(2, 1).repeat_interleave(2, 2).reshape(3, 64)
    box = SoftBox()
    assert torch.allclose(box(fine), box(coarse), atol=1e-5)


def test_fine_model_trains_on_fine_targets_saves_and_generates(tokenizer, tmp_path):
    torch.manual_seed(0)
    model = build_model(_config(True), tokenizer)
    processor = VistaProcessor(tokenizer, model.config)
    from PIL import Image

    from vistakit.data.record import Record, Targets

    Image.fromarray(image(32, 32)).save(tmp_path / "0.png")
    rec = Record("r", "rec", ["0.png"], [(32, 32)], PROMPTS[0], answer=ANSWERS[0],
                 targets=Targets(boxes=[[8.0, 0.0, 16.0, 8.0]]), root=tmp_path)  # fmt: skip
    batch = processor.from_records([rec])
    # the 4 × 4 grid of 8 px sub-patches (the tower's patches are 16 px): the box fills the second one exactly
    assert batch["grounding"].tolist() == [[[0.0, 1.0] + [0.0] * 14]]  # [N_img, K=1, P]
    out = model(**batch)
    assert out.grounding_loss is not None
    out.loss.backward()
    assert model.image_tokenizer.fine_proj.weight.grad.abs().sum() > 0
    assert model.vision.patch[0].weight.grad.abs().sum() > 0
    model.save_pretrained(tmp_path / "ckpt", processor)
    loaded, loaded_processor = load_pretrained(tmp_path / "ckpt")
    assert loaded.config.image_tokenizer.fine_patches
    assert torch.equal(loaded.image_tokenizer.fine_proj.weight, model.image_tokenizer.fine_proj.weight)
    results = Engine(loaded, loaded_processor).generate([[image(32, 32)]], [PROMPTS[0]], max_new_tokens=6)
    assert len(results[0].token_ids) > 0
