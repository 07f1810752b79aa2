"""Two-hop grounding for spatial relations: the anchor targets, the anchor loss and the relation term."""

from __future__ import annotations

import pytest
import torch

from vistakit.data.record import Record, Targets
from vistakit.geometry import ImageTransform, Mask
from vistakit.model import ImageTokenizerConfig, VistaProcessor, build_model
from vistakit.model.grounding import (NO_TARGET, RelationTerm, anchor_loss, anchor_targets, grounding_targets, patch_centres,
                                     relation_loss, relation_targets)

from .conftest import tiny_config

import numpy as np


def relational(root, anchor: np.ndarray | None) -> Record:
    meta = {"anchor_mask": Mask(anchor).to_rle(), "relation": "left of"} if anchor is not None else {}
    return Record("r", "rec", ["0.png"], [(16, 16)], "<image>\nWhere is the star left of the blue square?",
                  targets=Targets(boxes=[[0.0, 0.0, 8.0, 8.0]], labels=["star left of the blue square"]),
                  meta=meta, root=root)  # fmt: skip


def test_anchor_targets_cover_the_anchor_and_skip_records_without_one():
    anchor = np.zeros((16, 16), bool)
    anchor[8:, 8:] = True  # the bottom-right patch of a 2 x 2 grid
    t = [ImageTransform.fit((16, 16), 16)]
    got = anchor_targets([relational(None, anchor), relational(None, None)], [t, t], grid=2)
    assert got.tolist() == [[0.0, 0.0, 0.0, 1.0], [NO_TARGET] * 4]


def test_a_malformed_anchor_mask_names_the_record():
    bad = relational(None, None)
    bad.meta["anchor_mask"] = {"size": [16, 16], "counts": 7}
    with pytest.raises(ValueError, match="record 'r': meta.anchor_mask must be a COCO RLE"):
        anchor_targets([bad], [[ImageTransform.fit((16, 16), 16)]], grid=2)


def test_a_record_may_name_its_grounding_region_in_meta_or_none():
    region = np.zeros((16, 16), bool)
    region[:8, 8:] = True  # the top-right patch of a 2 x 2 grid
    def vqa(mask):
        return Record("q", "vqa", ["0.png"], [(16, 16)], "<image>\nIs the star left of the square?",
                      answer="yes", targets=Targets(answers=["yes"]), meta={"grounding_mask": mask})  # fmt: skip
    t = [ImageTransform.fit((16, 16), 16)]
    got = grounding_targets([vqa(Mask(region).to_rle()), vqa(None), relational(None, None)], [t, t, t], grid=2)
    assert got[:, 0].tolist() == [[0.0, 1.0, 0.0, 0.0], [0.0] * 4, [1.0, 0.0, 0.0, 0.0]]
    with pytest.raises(ValueError, match="record 'q': meta.grounding_mask must be a COCO RLE .* or null"):
        grounding_targets([vqa("everywhere")], [t], grid=2)


def test_anchor_loss_skips_rows_without_targets_and_checks_shapes():
    logits = torch.tensor([[4.0, -4.0], [0.0, 0.0]])
    targets = torch.tensor([[1.0, 0.0], [NO_TARGET, NO_TARGET]])
    assert anchor_loss(logits, targets).item() == pytest.approx(float(torch.nn.functional.softplus(torch.tensor(-4.0))), rel=1e-4)
    assert anchor_loss(logits, torch.full((2, 2), NO_TARGET)) is None
    with pytest.raises(ValueError, match="anchor targets must be"):
        anchor_loss(logits, targets[:, :1])


def test_relation_targets_name_the_relation_none_or_nothing():
    def rec(meta, images=1):
        return Record("r", "rec", [f"{k}.png" for k in range(images)], [(8, 8)] * images, "<image> " * images, meta=meta)

    recs = [rec({"relation": "below"}), rec({"relation": None}), rec({}), rec({"relation": "inside"}),
            rec({"relation": "above"}, images=2)]  # fmt: skip
    assert relation_targets(recs, [1, 1, 1, 1, 2]).tolist() == [3, 4, -100, -100, -100, -100]
    which = torch.zeros(3, 5)
    assert relation_loss(which, torch.tensor([3, -100, 4])).item() == pytest.approx(np.log(5), rel=1e-5)
    assert relation_loss(which, torch.full((3,), -100)) is None
    with pytest.raises(ValueError, match="relation targets must be"):
        relation_loss(which, torch.tensor([0]))


def test_patch_centres_are_row_major():
    assert patch_centres(4).tolist() == [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]
    with pytest.raises(ValueError, match="square grid"):
        patch_centres(5)


def test_relation_term_starts_at_zero_and_learns_to_pick_the_star_left_of_the_anchor():
    """Two identical 'stars' (patch features equal) either side of an anchor on a 4 x 4 grid: only the offset
    from the anchor can tell them apart, and the term learns to score the left one higher."""
    torch.manual_seed(0)
    dim, p = 16, 16
    term = RelationTerm(dim)
    star, anchor_feat = torch.randn(dim), torch.randn(dim)
    q = torch.nn.Parameter(torch.randn(1, 2, dim))  # what the head's pooling reads for the anchor and the relation
    patches = torch.zeros(8, p, dim)
    cols = torch.randint(1, 3, (8,))  # the anchor in column 1 or 2 of row 1; the stars at its columns 0 and 3
    for n, c in enumerate(cols.tolist()):
        patches[n, 4 + c] = anchor_feat
        patches[n, 4 + 0] = star
        patches[n, 4 + 3] = star
    out, a, which = term(patches, q.expand(8, -1, -1))
    assert which.shape == (8, 5)
    assert out.abs().max().item() == 0.0 and a.shape == (8, p)
    opt = torch.optim.Adam([*term.parameters(), q], lr=1e-2)
    for _ in range(150):
        out, a, _ = term(patches, q.expand(8, -1, -1))
        anchor_t = torch.zeros(8, p)
        anchor_t[torch.arange(8), 4 + cols] = 1.0
        loss = anchor_loss(a, anchor_t) - (out[:, 4] - out[:, 7]).clamp(max=4).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    out, _, _ = term(patches, q.expand(8, -1, -1))
    assert bool((out[:, 4] > out[:, 7] + 1.0).all())


def test_relations_model_trains_the_anchor_and_starts_where_the_plain_one_is(tokenizer, tmp_path):
    from PIL import Image

    Image.new("RGB", (16, 16), (200, 30, 30)).save(tmp_path / "0.png")
    anchor = np.zeros((16, 16), bool)
    anchor[:8, 8:] = True
    rec = relational(tmp_path, anchor)
    its = {}
    for relations in (False, True):
        config = tiny_config(image_tokenizer=ImageTokenizerConfig(kind="instruction", num_queries=4, depth=1, heads=2,
                                                                  dim=32, grounding=True, relations=relations))  # fmt: skip
        torch.manual_seed(0)
        model = build_model(config, tokenizer)
        batch = VistaProcessor(tokenizer, model.config).from_records([rec])
        its[relations] = (model, batch)
    model, batch = its[True]
    assert batch["anchor_grounding"].tolist() == [[0.0, 1.0, 0.0, 0.0]]
    assert batch["relation_labels"].tolist() == [0]
    assert "anchor_grounding" not in its[False][1]
    plain, _ = its[False]
    plain.load_state_dict(model.state_dict(), strict=False)  # the shared weights; the relation term starts at zero
    out, ref = model(**batch), plain(**its[False][1])
    assert out.anchor_loss is not None and out.anchor_loss > 0
    assert out.grounding_loss.item() == pytest.approx(ref.grounding_loss.item(), rel=1e-5)
    assert out.relation_loss.item() == pytest.approx(np.log(5), rel=1e-4)  # uniform at first
    assert out.loss.item() == pytest.approx(ref.loss.item() + out.anchor_loss.item() + out.relation_loss.item(), rel=1e-5)


def test_relations_need_grounding():
    with pytest.raises(ValueError, match="relations"):
        ImageTokenizerConfig(relations=True).validate()
    with pytest.raises(ValueError, match="relations must be true or false"):
        ImageTokenizerConfig(grounding=True, relations="yes").validate()


def test_suppress_mode_only_pushes_down_and_unknown_modes_are_refused():
    torch.manual_seed(0)
    term = RelationTerm(16, mode="suppress")
    with torch.no_grad():
        term.which.bias.copy_(torch.tensor([6.0, 0.0, 0.0, 0.0, 0.0]))  # "left of"
    out, _, _ = term(torch.randn(2, 16, 16), torch.randn(2, 2, 16))
    assert out.max().item() <= 0.0 and out.min().item() < -1.0
    assert (out == 0).any()  # patches on the named side keep their score
    with pytest.raises(ValueError, match="relation mode"):
        RelationTerm(16, mode="multiply")


def test_anchor_tokens_write_the_anchor_box_after_the_where_tokens(tokenizer, tmp_path):
    from PIL import Image

    from vistakit.model.grounding import location_embeddings

    Image.new("RGB", (16, 16), (200, 30, 30)).save(tmp_path / "0.png")
    anchor = np.zeros((16, 16), bool)
    anchor[:8, 8:] = True
    it = dict(kind="instruction", num_queries=4, depth=1, heads=2, dim=32, grounding=True, where_tokens=True,
              relations=True)  # fmt: skip
    torch.manual_seed(0)
    model = build_model(tiny_config(image_tokenizer=ImageTokenizerConfig(**it, anchor_tokens=True)), tokenizer)
    assert model.tokens_per_image == 4 + 4 + 4
    batch = VistaProcessor(tokenizer, model.config).from_records([relational(tmp_path, anchor)])
    out = model(**batch)
    assert torch.isfinite(out.loss) and out.anchor_loss is not None
    images = model.encode_images(batch["pixel_values"], batch["image_to_sample"], batch["instruction_ids"],
                                 batch["instruction_mask"])  # fmt: skip
    assert images.tokens.shape[1] == 12 and images.anchor_box.shape == (1, 4)
    rows = model.lm.get_input_embeddings().weight[model.loc_token_ids]
    torch.testing.assert_close(images.tokens[:, -4:], location_embeddings(images.anchor_box, rows))
    # without relations (or where tokens) there is no anchor box to write
    with pytest.raises(ValueError, match="anchor_tokens writes .*relations=true"):
        ImageTokenizerConfig(**{**it, "relations": False}, anchor_tokens=True).validate()
    with pytest.raises(ValueError, match="anchor_tokens must be true or false"):
        ImageTokenizerConfig(**it, anchor_tokens="yes").validate()


def test_the_comparison_token_follows_the_anchor_box_and_reads_the_two_boxes_offset(tokenizer, tmp_path):
    from PIL import Image

    from vistakit.model.grounding import ComparisonToken

    # features: the named box a left of and smaller than the anchor b
    a, b = torch.tensor([[0.0, 0.0, 0.25, 0.25]]), torch.tensor([[0.5, 0.0, 1.0, 0.5]])
    f = ComparisonToken.features(a, b)
    torch.testing.assert_close(f[0, :2], torch.tensor([4 * (0.125 - 0.75), 4 * (0.125 - 0.25)]))
    assert f[0, 2].item() == pytest.approx(np.log(0.5)) and f[0, 4].item() == pytest.approx(np.log(0.25))
    head = ComparisonToken(8)
    assert head(a, b).abs().max().item() == 0.0  # a no-op until trained
    with pytest.raises(ValueError, match="two \\[N, 4\\] boxes"):
        head(a, b[:, :3])

    Image.new("RGB", (16, 16), (200, 30, 30)).save(tmp_path / "0.png")
    anchor = np.zeros((16, 16), bool)
    anchor[:8, 8:] = True
    it = dict(kind="instruction", num_queries=4, depth=1, heads=2, dim=32, grounding=True, where_tokens=True,
              relations=True, anchor_tokens=True)  # fmt: skip
    torch.manual_seed(0)
    model = build_model(tiny_config(image_tokenizer=ImageTokenizerConfig(**it, comparison_token=True)), tokenizer)
    assert model.tokens_per_image == 4 + 4 + 4 + 1
    with torch.no_grad():
        model.image_tokenizer.comparison.mlp[2].bias.fill_(1.0)
    batch = VistaProcessor(tokenizer, model.config).from_records([relational(tmp_path, anchor)])
    out = model(**batch)
    assert torch.isfinite(out.loss)
    images = model.encode_images(batch["pixel_values"], batch["image_to_sample"], batch["instruction_ids"],
                                 batch["instruction_mask"])  # fmt: skip
    assert images.tokens.shape[1] == 13 and images.comparison.shape == (1, model.config.lm.hidden)
    torch.testing.assert_close(images.tokens[:, -1], images.comparison.to(images.tokens.dtype))
    out.loss.backward()  # the token trains
    assert model.image_tokenizer.comparison.mlp[2].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="comparison_token compares .*anchor_tokens=true"):
        ImageTokenizerConfig(**{**it, "anchor_tokens": False}, comparison_token=True).validate()
    with pytest.raises(ValueError, match="comparison_token must be true or false"):
        ImageTokenizerConfig(**it, comparison_token=1).validate()


def test_the_anchor_what_token_pools_the_anchor_map_through_the_what_mlp(tokenizer, tmp_path):
    from PIL import Image

    Image.new("RGB", (16, 16), (200, 30, 30)).save(tmp_path / "0.png")
    anchor = np.zeros((16, 16), bool)
    anchor[:8, 8:] = True
    it = dict(kind="instruction", num_queries=4, depth=1, heads=2, dim=32, grounding=True, where_tokens=True,
              relations=True, anchor_tokens=True, what_token=True)  # fmt: skip
    torch.manual_seed(0)
    cfg = ImageTokenizerConfig(**it, anchor_what=True, comparison_token=True)
    model = build_model(tiny_config(image_tokenizer=cfg), tokenizer)
    assert model.tokens_per_image == 4 + (4 + 1) + (4 + 1 + 1)
    batch = VistaProcessor(tokenizer, model.config).from_records([relational(tmp_path, anchor)])
    assert torch.isfinite(model(**batch).loss)
    images = model.encode_images(batch["pixel_values"], batch["image_to_sample"], batch["instruction_ids"],
                                 batch["instruction_mask"])  # fmt: skip
    # the anchor's what token is the what MLP over the tower's features weighted by softmax(anchor logits)
    pooled = torch.einsum("np,npd->nd", images.anchor.float().softmax(-1), images.features.float())
    want = model.image_tokenizer.what(pooled)
    torch.testing.assert_close(images.anchor_what, want)
    torch.testing.assert_close(images.tokens[:, -2], want.to(images.tokens.dtype))  # then the comparison token
    with pytest.raises(ValueError, match="anchor_what pools .*what_token=true"):
        ImageTokenizerConfig(**{**it, "what_token": False}, anchor_what=True).validate()
    with pytest.raises(ValueError, match="anchor_what must be true or false"):
        ImageTokenizerConfig(**it, anchor_what="no").validate()


def test_a_relational_comparison_token_reads_the_offset_along_the_named_relation():
    from vistakit.model.grounding import ComparisonToken

    a, b = torch.tensor([[0.0, 0.0, 0.25, 0.25]]), torch.tensor([[0.5, 0.0, 1.0, 0.5]])  # a left of and above b
    directions = torch.tensor(RelationTerm.DIRECTIONS)  # left of, right of, above, below
    head = ComparisonToken(8, relational=True)
    seen = []
    head.mlp[0].register_forward_hook(lambda m, x, y: seen.append(x[0]))
    for named, sign in ((0, 1.0), (1, -1.0)):  # "left of" holds, "right of" does not
        which = torch.full((1, 5), -30.0)
        which[0, named] = 30.0
        head(a, b, which, directions)
        assert seen[-1].shape == (1, 6) and seen[-1][0, 5].item() * sign > 0
    which = torch.full((1, 5), -30.0)
    which[0, 4] = 30.0  # "none": no offset along anything
    head(a, b, which, directions)
    assert abs(seen[-1][0, 5].item()) < 1e-6
    with pytest.raises(ValueError, match="needs the relation term's which logits"):
        head(a, b)
    with pytest.raises(ValueError, match="comparison_relation adds a feature .*comparison_token=true"):
        ImageTokenizerConfig(kind="instruction", grounding=True, where_tokens=True, relations=True, anchor_tokens=True,
                             comparison_relation=True).validate()  # fmt: skip
