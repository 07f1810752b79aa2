"""The record preview: targets split per image by the record's conventions, cells drawn from files or arrays."""

import numpy as np
from PIL import Image

from vistakit.data import Record, Targets, VisualPrompt
from vistakit.data.overlay import PALETTE, PICKED_COLOUR
from vistakit.data.preview import CELL_W, IMG_H, TEXT_H, draw_cell, draw_record, grid, record_overlays
from vistakit.geometry import Mask

SIZES = [(60, 40), (40, 40)]


def record(tmp_path, **targets):
    paths = []
    for k, (w, h) in enumerate(SIZES):
        paths.append(tmp_path / f"{k}.png")
        Image.new("RGB", (w, h), (0, 0, 0)).save(paths[-1])
    return Record(id="r", task="rec", images=[str(p) for p in paths], image_sizes=SIZES,
                  prompt="Image 1: <image>\nImage 2: <image>\nWhere is <region>?", answer="<box></box>",
                  targets=Targets(**targets), visual_prompts=[VisualPrompt("point", 1, point=[5, 5])])  # fmt: skip


def test_record_overlays_follow_the_record_conventions(tmp_path):
    mask = Mask(np.ones((40, 40), bool)).to_rle()
    rec = record(tmp_path, boxes=[[1, 2, 10, 12], [0, 0, 5, 5]], masks=[Mask(np.zeros((40, 60), bool)).to_rle(), mask],
                 image_ids=[0, 1], points=[[3, 4]], keypoints=[{"names": ["a"], "xy": [[1, 1]], "visibility": [2]}])  # fmt: skip
    first, second = record_overlays(rec)
    assert [(n, b) for n, b, _ in first.boxes] == [(0, [1, 2, 10, 12])] and [n for n, _ in second.masks] == [1]
    assert second.masks[0][1].shape == (40, 40) and first.points == [(0, [3, 4])] and len(first.keypoints) == 1
    assert not second.points and [vp.point for vp in second.regions] == [[5, 5]] and not first.regions
    assert first.picked and second.picked  # image_ids name both images


def test_a_box_goes_on_the_image_it_names_in_the_cell(tmp_path):
    cell = np.asarray(draw_record(record(tmp_path, boxes=[[10, 10, 30, 30]], image_ids=[1])))
    assert cell.shape == (IMG_H + TEXT_H, CELL_W, 3)
    side = CELL_W // 2  # two images: 144 px each, scale 144 / 60 and 144 / 40
    red = np.argwhere((cell[:IMG_H] == PALETTE[0]).all(-1))
    assert len(red) and red[:, 1].min() >= side  # only on the second image
    assert (cell[0, side + 5] == PICKED_COLOUR).all()  # the named image is framed
    assert (cell[0, 5] != PICKED_COLOUR).any()


def test_cells_from_arrays_match_cells_from_files(tmp_path):
    rec = record(tmp_path, boxes=[[10, 10, 30, 30]])
    arrays = [np.zeros((h, w, 3), np.uint8) for w, h in SIZES]
    overlays = record_overlays(rec)
    from_files = draw_cell(rec.image_paths(), SIZES, overlays, rec.task, rec.prompt, rec.answer)
    from_arrays = draw_cell(arrays, SIZES, overlays, rec.task, rec.prompt, rec.answer)
    np.testing.assert_array_equal(np.asarray(from_files), np.asarray(from_arrays))
    assert grid([rec] * 3, columns=2).size == (2 * CELL_W, 2 * (IMG_H + TEXT_H))
