"""write_dataset: the dataset folder layout, image placement, and refusal of empty or unsafe output."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from vistakit.data.convert import Conversion, RecordBuilder, converter_names, get_converter, write_dataset
from vistakit.data.record import Targets


def _conv(tmp_path) -> Conversion:
    src = tmp_path / "src.png"
    Image.new("RGB", (8, 6)).save(src)
    conv = Conversion(source="test")
    rec = RecordBuilder().build("caption", "r0", ["images/a.png"], [(8, 6)], Targets(answers=["a cat"]))
    conv.add("val", rec)
    conv.image_sources = {"images/a.png": src, "images/missing.png": None}
    return conv


@pytest.mark.parametrize("mode", ["symlink", "copy"])
def test_layout_and_images(tmp_path, mode):
    info = write_dataset(_conv(tmp_path), tmp_path / "out", mode)
    out = tmp_path / "out"
    assert (out / "val.jsonl").is_file() and (out / "images" / "a.png").is_file()
    assert (out / "images" / "a.png").is_symlink() == (mode == "symlink")
    on_disk = json.loads((out / "dataset.json").read_text())
    assert on_disk == info and info["format"] == "vistakit" and info["bins"] == 1000
    assert info["splits"] == {"val": 1} and info["tasks"] == {"caption": 1} and info["images_missing"] == 1


def test_refuses_empty_and_bad_split(tmp_path):
    empty = Conversion(source="src")
    empty.skip("image not found", 3)
    with pytest.raises(ValueError, match=r"no records converted from src \(image not found: 3\)"):
        write_dataset(empty, tmp_path / "o")
    conv = _conv(tmp_path)
    conv.splits = {"../evil": conv.splits["val"]}
    with pytest.raises(ValueError, match="plain file name"):
        write_dataset(conv, tmp_path / "o")
    with pytest.raises(ValueError, match="image mode"):
        write_dataset(_conv(tmp_path), tmp_path / "o", "hardlink")


def test_registry_lists_every_format():
    from vistakit.commands.data_convert import FORMATS

    assert tuple(converter_names()) == FORMATS
    with pytest.raises(KeyError, match="unknown converter 'coco'; known: coco-attcoseg, coco-captions"):
        get_converter("coco")
