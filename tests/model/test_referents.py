"""Several relevance maps per image (``image_tokenizer.referents``): map k is trained on the k-th thing the
instruction names (VQA orders its referents; other tasks train every map on all their regions), each map brings
its own where and what tokens, and the model trains, saves and generates; bad settings fail clearly."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vistakit.data.record import Record, Targets
from vistakit.geometry import ImageTransform
from vistakit.model import Engine, ImageTokenizerConfig, VistaProcessor, build_model, load_pretrained
from vistakit.model.grounding import NO_TARGET, grounding_targets, location_embeddings, referent_instances

from .conftest import image, tiny_config


def _config(**it):
    base = ImageTokenizerConfig(kind="instruction", num_queries=4, depth=1, heads=2, dim=32, grounding=True,
                                where_tokens=True, what_token=True, referents=2)  # fmt: skip
    return tiny_config(image_tokenizer=dataclasses.replace(base, **it))


def _record(task, **targets):
    return Record("r", task, ["0.png"], [(16, 16)], "<image>\nq", targets=Targets(**targets))


TOP_LEFT, BOTTOM_RIGHT = [0.0, 0.0, 8.0, 8.0], [8.0, 8.0, 16.0, 16.0]


def test_settings_are_checked():
    for bad in (0, 9, True, 1.5):
        with pytest.raises(ValueError, match="referents must be an integer from 1 to 8"):
            _config(referents=bad)
    with pytest.raises(ValueError, match="reads each map out as where tokens"):
        _config(where_tokens=False, what_token=False)
    assert _config().tokens_per_image == 4 + 2 * (4 + 1)
    assert _config(what_token=False, referents=3).tokens_per_image == 4 + 3 * 4
    assert _config(kind="projector").tokens_per_image == 4  # the projector ignores it


def test_vqa_trains_each_map_on_its_own_referent_in_question_order():
    t = ImageTransform.fit((16, 16), 16)
    relation = _record("vqa", answers=["yes"], boxes=[TOP_LEFT, BOTTOM_RIGHT], labels=["red circle", "star"])
    assert referent_instances(relation, 2) == [[0], [1]]
    assert referent_instances(relation, 3) == [[0], [1], [1]]  # maps past the last phrase repeat it
    out = grounding_targets([relation], [[t]], grid=2, referents=2)
    assert out.shape == (1, 2, 4)
    assert out[0].tolist() == [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
    # one phrase naming two objects (a count): every map covers both
    count = _record("vqa", answers=["2"], boxes=[TOP_LEFT, BOTTOM_RIGHT], labels=["star", "star"])
    assert grounding_targets([count], [[t]], grid=2, referents=2)[0].tolist() == [[1.0, 0.0, 0.0, 1.0]] * 2


def test_other_tasks_train_every_map_on_all_their_regions():
    t = ImageTransform.fit((16, 16), 16)
    # detection labels are categories, not phrases of the instruction in order: every map gets the union
    det = _record("detection", boxes=[TOP_LEFT, BOTTOM_RIGHT], labels=["circle", "star"])
    rec = _record("rec", boxes=[TOP_LEFT], labels=["red circle"])
    caption = _record("caption", answers=["a red circle"])
    out = grounding_targets([det, rec, caption], [[t], [t], [t]], grid=2, referents=2)
    assert out[0].tolist() == [[1.0, 0.0, 0.0, 1.0]] * 2
    assert out[1].tolist() == [[1.0, 0.0, 0.0, 0.0]] * 2
    assert out[2].tolist() == [[NO_TARGET] * 4] * 2
    # with one map, the union of the VQA referents, as before
    relation = _record("vqa", answers=["yes"], boxes=[TOP_LEFT, BOTTOM_RIGHT], labels=["red circle", "star"])
    assert grounding_targets([relation], [[t]], grid=2)[0].tolist() == [[1.0, 0.0, 0.0, 1.0]]


def test_each_map_brings_its_where_and_what_tokens_in_order(tokenizer):
    torch.manual_seed(0)
    model = build_model(_config(), tokenizer)
    with torch.no_grad():  # two different queries: the maps differ
        model.image_tokenizer.relevance.query.normal_(0, 1.0)
    processor = VistaProcessor(tokenizer, model.config)
    batch = processor([[image(16, 16)], [image(20, 12, 1)]], ["<image>\nIs the red circle left of the star?"] * 2)
    with torch.no_grad():
        out = model.encode_images(batch["pixel_values"], batch["image_to_sample"], batch["instruction_ids"],
                                  batch["instruction_mask"])  # fmt: skip
    q = model.config.image_tokenizer.num_queries
    assert out.relevance.shape[:2] == (2, 2) and out.box.shape == (2, 2, 4) and out.what.shape == (2, 2, 32)
    assert not torch.allclose(out.relevance[:, 0], out.relevance[:, 1])
    rows = model.lm.get_input_embeddings().weight[model.loc_token_ids]
    for k in range(2):
        start = q + 5 * k
        assert torch.allclose(out.tokens[:, start : start + 4], location_embeddings(out.box[:, k], rows), atol=1e-6)
        assert torch.allclose(out.tokens[:, start + 4], out.what[:, k], atol=1e-6)
    assert out.tokens.shape == (2, q + 10, 32)


def test_model_with_two_maps_trains_saves_and_generates(tokenizer, tmp_path):
    torch.manual_seed(0)
    model = build_model(_config(), tokenizer)
    processor = VistaProcessor(tokenizer, model.config)
    from PIL import Image

    Image.fromarray(image(16, 16)).save(tmp_path / "0.png")
    rec = Record("r", "vqa", ["0.png"], [(16, 16)], "<image>\nIs the red circle left of the star?",
                 targets=Targets(answers=["yes"], boxes=[TOP_LEFT, BOTTOM_RIGHT], labels=["red circle", "star"]),
                 root=tmp_path)  # fmt: skip
    batch = processor.from_records([rec])
    assert batch["grounding"].shape == (1, 2, model.config.relevance_grid**2)
    out = model(**batch)
    assert out.grounding_loss is not None
    out.loss.backward()
    assert model.image_tokenizer.relevance.query.grad[0, 1].abs().sum() > 0  # the second map learns too
    model.save_pretrained(tmp_path / "ckpt", processor)
    loaded, loaded_processor = load_pretrained(tmp_path / "ckpt")
    assert loaded.config.image_tokenizer.referents == 2 and loaded.config.tokens_per_image == 14
    assert torch.equal(loaded.image_tokenizer.relevance.query, model.image_tokenizer.relevance.query)
    results = Engine(loaded, loaded_processor).generate([[image(16, 16)]], ["<image>\nWhat is it?"], max_new_tokens=6)
    assert len(results[0].token_ids) > 0
