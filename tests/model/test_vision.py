"""The from-scratch ViT: shapes, fixed sin-cos positions, input checks; the registry of towers."""

from __future__ import annotations

import pytest
import torch

from vistakit.model import VisionConfig
from vistakit.model.vision import VISION_TOWERS, build_vision, sincos_2d


def test_vit_shapes_and_fixed_positions():
    vit = build_vision(VisionConfig(image_size=16, patch_size=4, dim=32, depth=1, heads=2))
    out = vit(torch.randn(3, 3, 16, 16))
    assert out.shape == (3, 16, 32)
    assert "pos" not in dict(vit.named_parameters()) and "pos" not in vit.state_dict()  # fixed, never saved


def test_patches_are_row_major_and_local():
    torch.manual_seed(0)
    vit = build_vision(VisionConfig(image_size=16, patch_size=8, dim=16, depth=0, heads=2))
    x = torch.zeros(1, 3, 16, 16)
    y = x.clone()
    y[0, :, 0:8, 8:16] = 1.0  # the top-right patch: index 1 in row-major order
    changed = (vit(x) - vit(y)).abs().sum(-1)[0]
    assert changed.argmax().item() == 1 and (changed > 1e-6).sum().item() == 1


def test_sincos_positions_are_distinct():
    pos = sincos_2d(4, 16)
    assert pos.shape == (16, 16)
    assert torch.cdist(pos, pos).add(torch.eye(16)).min() > 0.1
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_2d(4, 6)


def test_bad_input_shape_is_named():
    vit = build_vision(VisionConfig(image_size=16, patch_size=8, dim=16, depth=1, heads=2))
    with pytest.raises(ValueError, match=r"\[N, 3, 16, 16\], got \[2, 3, 32, 32\]"):
        vit(torch.zeros(2, 3, 32, 32))


def test_registry_lists_kinds_and_hf_needs_a_directory(tmp_path):
    assert {"vit", "hf_clip", "hf_siglip"} <= set(VISION_TOWERS.names())
    with pytest.raises(FileNotFoundError, match="vision.hf_path"):
        build_vision(VisionConfig(kind="hf_clip", hf_path=str(tmp_path / "none")))


def test_conv_stem_reaches_the_patch_grid_and_stays_mostly_local():
    torch.manual_seed(0)
    vit = build_vision(VisionConfig(image_size=32, patch_size=8, dim=32, depth=0, heads=2, stem="conv"))
    assert vit(torch.randn(2, 3, 32, 32)).shape == (2, 16, 32)
    x = torch.zeros(1, 3, 32, 32)
    y = x.clone()
    y[0, :, 2:6, 26:30] = 1.0  # inside the top-right patch (row 0, column 3): index 3
    changed = (vit(x) - vit(y)).abs().sum(-1)[0] > 1e-6
    assert changed[3]
    assert set(changed.nonzero()[:, 0].tolist()) <= {2, 3, 6, 7}  # only its neighbours: the stem's receptive field


def test_conv_stem_needs_a_power_of_two_patch():
    with pytest.raises(ValueError, match="power of 2, got 12"):
        VisionConfig(image_size=48, patch_size=12, dim=32, depth=1, heads=2, stem="conv").validate()
    with pytest.raises(ValueError, match="stem"):
        VisionConfig(stem="resnet").validate()


@pytest.mark.parametrize("stem", ["conv", "patch"])
def test_instruction_film_starts_as_the_plain_vit_and_then_conditions_on_the_instruction(stem):
    torch.manual_seed(0)
    config = VisionConfig(image_size=16, patch_size=4, dim=32, depth=2, heads=2, stem=stem, instruction_film=True)
    vit = build_vision(config)
    plain = build_vision(VisionConfig(image_size=16, patch_size=4, dim=32, depth=2, heads=2, stem=stem))
    plain.load_state_dict({k: v for k, v in vit.state_dict().items() if not k.startswith("film.")})
    x, a, b = torch.randn(2, 3, 16, 16), torch.randn(2, 32), torch.randn(2, 32)
    torch.testing.assert_close(vit(x, a), plain(x))  # zero-initialised modulation: exactly the plain tower
    with torch.no_grad():
        vit.film.weight.normal_(0, 0.1)
    assert not torch.allclose(vit(x, a), vit(x, b), atol=1e-4)  # now the instruction changes the features
    vit(x, a).sum().backward()
    assert vit.film.weight.grad is not None and vit.film.weight.grad.abs().sum() > 0


def test_instruction_film_needs_its_condition_and_a_vit():
    vit = build_vision(VisionConfig(image_size=16, patch_size=8, dim=16, depth=1, heads=2, instruction_film=True))
    with pytest.raises(ValueError, match=r"condition \[N=2, 16\], got None"):
        vit(torch.zeros(2, 3, 16, 16))
    with pytest.raises(ValueError, match=r"got \[2, 8\]"):
        vit(torch.zeros(2, 3, 16, 16), torch.zeros(2, 8))
    with pytest.raises(ValueError, match="instruction_film conditions the from-scratch ViT only"):
        VisionConfig(kind="hf_clip", instruction_film=True).validate()


def test_instruction_cross_attention_starts_as_the_plain_vit_and_reads_word_order():
    torch.manual_seed(0)
    kw = dict(image_size=16, patch_size=4, dim=32, depth=2, heads=2, stem="conv")
    vit = build_vision(VisionConfig(**kw, instruction_cross_attention=True))
    plain = build_vision(VisionConfig(**kw))
    missing = plain.load_state_dict(vit.state_dict(), strict=False)
    assert not missing.missing_keys and all("cross" in k or "norm_words" in k for k in missing.unexpected_keys)
    x, words, mask = torch.randn(2, 3, 16, 16), torch.randn(2, 5, 32), torch.ones(2, 5, dtype=torch.bool)
    torch.testing.assert_close(vit(x, words=words, words_mask=mask), plain(x))  # zero-initialised output map
    for block in vit.blocks:
        with torch.no_grad():
            block.cross.out.weight.normal_(0, 0.1)
    reordered = words[:, [1, 0, 2, 3, 4]]  # the same words, two swapped: positions make it a different instruction
    assert not torch.allclose(vit(x, words=words, words_mask=mask), vit(x, words=reordered, words_mask=mask), atol=1e-4)
    mask[0, 3:] = False  # padding is not read
    padded = words.clone()
    padded[0, 3:] = 100.0
    torch.testing.assert_close(vit(x, words=words, words_mask=mask)[0], vit(x, words=padded, words_mask=mask)[0])
    assert torch.isfinite(vit(x, words=words, words_mask=torch.zeros(2, 5, dtype=torch.bool))).all()  # no words
    vit(x, words=words, words_mask=mask).sum().backward()
    assert vit.blocks[0].cross.out.weight.grad.abs().sum() > 0


def test_instruction_cross_attention_needs_its_words_and_a_vit():
    vit = build_vision(VisionConfig(image_size=16, patch_size=8, dim=16, depth=1, heads=2,
                                    instruction_cross_attention=True))  # fmt: skip
    with pytest.raises(ValueError, match=r"words \[N=2, L, 16\], got None"):
        vit(torch.zeros(2, 3, 16, 16))
    with pytest.raises(ValueError, match=r"words_mask must be \[N, L\] = \[2, 3\], got \[2, 4\]"):
        vit(torch.zeros(2, 3, 16, 16), words=torch.zeros(2, 3, 16), words_mask=torch.ones(2, 4))
    with pytest.raises(ValueError, match="instruction_cross_attention conditions the from-scratch ViT only"):
        VisionConfig(kind="hf_siglip", instruction_cross_attention=True).validate()
