"""The tower's auxiliary attribute heads: per-patch attribute-word targets in training batches, the loss added to
the answers' loss from the features the model computes anyway, and the word groups stored in the checkpoint."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from PIL import Image

from vistakit.data.record import Record, Targets
from vistakit.geometry import ImageTransform, Mask
from vistakit.model import VisionConfig, VistaProcessor, build_model, load_pretrained
from vistakit.model.attributes import IGNORE, AttributeHeads, attribute_targets, load_vocab

from .conftest import tiny_config


def record(root, image: str, box: list[float], label: str, prompt: str = "What is there?") -> Record:
    return Record("r", "rec", [image], [(16, 16)], f"<image>\n{prompt}", targets=Targets(boxes=[box], labels=[label]),
                  root=root)  # fmt: skip


def test_heads_average_the_groups_that_have_targets():
    torch.manual_seed(0)
    heads = AttributeHeads(8, {"shape": ["circle", "square"], "colour": ["red", "green", "blue"]})
    features = torch.randn(2, 4, 8)
    targets = torch.full((2, 2, 4), IGNORE)
    assert heads(features, targets) is None  # nothing labelled: no loss
    targets[0, 0, :2] = 1  # only shape targets
    loss = heads(features, targets)
    expected = torch.nn.functional.cross_entropy(heads.heads["shape"](features[0, :2]), torch.tensor([1, 1]))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    targets[1, 1, 3] = 2
    both = heads(features, targets)
    colour = torch.nn.functional.cross_entropy(heads.heads["colour"](features[1, 3:]), torch.tensor([2]))
    assert both.item() == pytest.approx((expected.item() + colour.item()) / 2, rel=1e-5)
    with pytest.raises(ValueError, match="attribute targets must be"):
        heads(features, targets[:, :1])


@pytest.fixture
def attribute_model(tokenizer):
    config = tiny_config(vision=VisionConfig(kind="vit", image_size=16, patch_size=8, dim=32, depth=1, heads=2,
                                             mlp_ratio=2.0, instruction_film=True, attribute_weight=0.5,
                                             attribute_vocab="shapesworld"))  # fmt: skip
    torch.manual_seed(0)
    return build_model(config, tokenizer)


def test_training_batches_carry_targets_and_the_loss_is_added(attribute_model, tokenizer, tmp_path):
    assert set(attribute_model.config.vision.attribute_words) == {"shape", "colour", "size"}  # resolved at build
    processor = VistaProcessor(tokenizer, attribute_model.config)
    Image.new("RGB", (16, 16), (200, 30, 30)).save(tmp_path / "0.png")
    recs = [record(tmp_path, "0.png", [0.0, 0.0, 8.0, 8.0], "small red circle", "Where is the Circle?"),  # top left
            record(tmp_path, "0.png", [8.0, 0.0, 16.0, 16.0], "the star right of the blue square"),  # right column
            record(tmp_path, "0.png", [0.0, 0.0, 8.0, 8.0], "large blue square", "Find the large blue square."),
            dataclasses.replace(record(tmp_path, "0.png", [0.0, 0.0, 1.0, 1.0], "x"), task="caption",
                                targets=Targets(answers=["a red circle"]))]  # fmt: skip
    batch = processor.from_records(recs)
    words = attribute_model.config.vision.attribute_words
    targets = batch["attribute_targets"]
    assert targets.shape == (4, 3, 4)  # images × groups (shape, colour, size) × patches
    red, small = words["colour"].index("red"), words["size"].index("small")
    # the instruction names a shape: only colour and size are asked (the tower could copy a named word)
    assert targets[0].tolist() == [[IGNORE] * 4, [red, IGNORE, IGNORE, IGNORE], [small, IGNORE, IGNORE, IGNORE]]
    star = words["shape"].index("star")
    assert targets[1].tolist() == [[IGNORE, star, IGNORE, star], [IGNORE] * 4, [IGNORE] * 4]  # "blue" is not its
    assert (targets[2] == IGNORE).all() and (targets[3] == IGNORE).all()  # all named / no instances
    out = attribute_model(**batch)
    assert out.attribute_loss is not None and out.attribute_loss > 0
    plain = attribute_model(**{k: v for k, v in batch.items() if k != "attribute_targets"})
    assert plain.attribute_loss is None
    assert out.loss.item() == pytest.approx((plain.loss + 0.5 * out.attribute_loss).item(), rel=1e-5)
    attribute_model.zero_grad()
    out.attribute_loss.backward()  # it trains the tower (and the stem's instruction condition reaches it)
    assert attribute_model.vision.blocks[0].mlp[0].weight.grad.abs().sum() > 0
    assert "attribute_targets" not in processor.from_records(recs, with_answers=False)


def test_words_are_saved_so_the_checkpoint_needs_no_vocab_file(tokenizer, model, tmp_path):
    vocab = tmp_path / "groups.json"
    vocab.write_text(json.dumps({"tone": ["light", "dark", "grey"], "kind": ["cat", "dog"]}))  # not in sorted order
    config = tiny_config(vision=VisionConfig(kind="vit", image_size=16, patch_size=8, dim=32, depth=1, heads=2,
                                             mlp_ratio=2.0, attribute_weight=1.0, attribute_vocab=str(vocab)))  # fmt: skip
    built = build_model(config, tokenizer)
    assert [h.out_features for h in built.attributes.heads.values()] == [3, 2]
    built.save_pretrained(tmp_path / "ckpt", VistaProcessor(tokenizer, built.config))
    vocab.unlink()
    loaded, processor = load_pretrained(tmp_path / "ckpt")
    assert loaded.config.vision.attribute_words == {"tone": ["light", "dark", "grey"], "kind": ["cat", "dog"]}
    for group in ("tone", "kind"):  # each head reloads by its group's name, whatever order config.json keeps
        assert torch.equal(loaded.attributes.heads[group].weight, built.attributes.heads[group].weight)
    assert processor.config.vision.attribute_words == loaded.config.vision.attribute_words
    # off by default: no heads, no parameters, no targets
    assert model.attributes is None and not any("attributes" in n for n, _ in model.named_parameters())


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="attribute_weight"):
        VisionConfig(attribute_weight=-0.1).validate()
    with pytest.raises(ValueError, match="attribute_words"):
        VisionConfig(attribute_words={"shape": ["circle"]}).validate()
    with pytest.raises(FileNotFoundError, match="attribute_vocab must be 'shapesworld' or a JSON file"):
        VisionConfig(attribute_weight=1.0, attribute_vocab="nope.json").validate()
    VisionConfig(attribute_vocab="nope.json").validate()  # off: the vocabulary is not read


def test_the_general_default_names_no_vocabulary_and_shapesworld_is_opt_in():
    assert VisionConfig().attribute_vocab == ""  # ShapesWorld's words are a recipe option, not a default
    with pytest.raises(ValueError, match="vision.attribute_vocab is not set: give a JSON file of word groups"):
        VisionConfig(attribute_weight=0.5).validate()
    VisionConfig(attribute_weight=0.5, attribute_vocab="shapesworld").validate()
    VisionConfig(attribute_weight=0.5, attribute_words={"shape": ["circle", "star"]}).validate()  # from config.json


def test_scene_instances_label_every_object_of_the_image(tokenizer, tmp_path):
    """With ``attribute_instances=scene`` and ``meta.instances`` (ShapesWorld writes it) every object is taught,
    not only the task's target; the groups the instruction names stay out either way; ``targets`` (the default)
    keeps the target instances only."""
    words = load_vocab("shapesworld")
    left, right = np.zeros((16, 16), bool), np.zeros((16, 16), bool)
    left[:, :8], right[:, 8:] = True, True
    Image.new("RGB", (16, 16)).save(tmp_path / "0.png")
    rec = dataclasses.replace(
        record(tmp_path, "0.png", [0.0, 0.0, 8.0, 16.0], "red circle", "Find the red object."),
        meta={"instances": [[{"label": "small red circle", "mask": Mask(left).to_rle()},
                             {"label": "large blue star", "mask": Mask(right).to_rle()}]]},
    )  # fmt: skip
    t = [[ImageTransform((16, 16), 16, 1.0)]]
    dense = attribute_targets([rec], t, 2, words, scene=True)
    shape, colour, size = dense[0].tolist()
    assert colour == [IGNORE] * 4  # "red" is named
    assert shape == [words["shape"].index(s) for s in ("circle", "star", "circle", "star")]  # both objects
    assert size == [words["size"].index(s) for s in ("small", "large", "small", "large")]
    sparse = attribute_targets([rec], t, 2, words, scene=False)  # the target only ("red circle": no size)
    circle = words["shape"].index("circle")
    assert sparse[0].tolist() == [[circle, IGNORE, circle, IGNORE], [IGNORE] * 4, [IGNORE] * 4]
    assert VisionConfig().attribute_instances == "targets"  # checkpoints from before the setting trained so
    for bad in ({"instances": [{"label": "red circle"}]}, {"instances": [[{"label": 3, "mask": {}}]]},
                {"instances": []}):  # fmt: skip
        with pytest.raises(ValueError, match="record r: meta.instances must be one list per image"):
            attribute_targets([dataclasses.replace(rec, meta=bad)], t, 2, words, scene=True)
    with pytest.raises(ValueError, match="attribute_instances"):
        VisionConfig(attribute_instances="all").validate()
