import numpy as np
import pytest

from vistakit.metrics.geneval import Wanted, cell, check_edit, check_generation, in_cell, match_all, psnr


class Obj:
    def __init__(self, colour, shape, xy, area=100):
        self.colour, self.shape, self.centroid, self.box_center, self.area = colour, shape, xy, xy, area


SIZE = (90, 60)


def test_cell_and_tolerance():
    assert cell((5, 5), SIZE) == (0, 0)
    assert cell((89, 59), SIZE) == (2, 2)
    assert cell((45, 30), SIZE) == (1, 1)
    assert in_cell((31.0, 10.0), (0, 0), SIZE, 0.05)  # 1 px past the border, within 4.5 px of tolerance
    assert not in_cell((40.0, 10.0), (0, 0), SIZE, 0.05)


def test_match_all_needs_distinct_partners():
    assert match_all(2, 2, lambda i, j: True)
    assert not match_all(2, 2, lambda i, j: j == 0)  # both want the same partner
    assert match_all(2, 3, lambda i, j: (i, j) in {(0, 0), (0, 1), (1, 0)})  # needs re-routing 0 → 1


def test_generation_checks_each_fail_alone():
    wanted = [Wanted("red", "circle", (10, 10)), Wanted("blue", "star", (80, 50))]
    right = [Obj("red", "circle", (12, 9)), Obj("blue", "star", (78, 52))]
    assert check_generation(wanted, right, SIZE) == dict.fromkeys(("object", "count", "colour", "position", "overall"),
                                                                  True)  # fmt: skip
    recoloured = [Obj("green", "circle", (12, 9)), Obj("blue", "star", (78, 52))]
    r = check_generation(wanted, recoloured, SIZE)
    assert r["object"] and r["count"] and not r["colour"] and not r["position"] and not r["overall"]
    moved = [Obj("red", "circle", (80, 50)), Obj("blue", "star", (10, 10))]
    r = check_generation(wanted, moved, SIZE)
    assert r["colour"] and not r["position"]
    extra = right + [Obj("red", "square", (45, 30))]
    r = check_generation(wanted, extra, SIZE)
    assert r["object"] and not r["count"] and not r["overall"]
    missing = right[:1]
    r = check_generation(wanted, missing, SIZE)
    assert not r["object"] and not r["count"]


def test_edit_checks_colour_place_size_and_extras():
    wanted = [Wanted("red", "circle", (10, 10), area=100.0)]
    assert check_edit(wanted, [Obj("red", "circle", (12, 10), area=110)], SIZE)
    assert not check_edit(wanted, [Obj("red", "circle", (40, 40), area=100)], SIZE)  # moved
    assert not check_edit(wanted, [Obj("red", "circle", (10, 10), area=180)], SIZE)  # wrong size
    assert not check_edit(wanted, [Obj("red", "circle", (10, 10)), Obj("red", "star", (50, 50))], SIZE)


def test_psnr():
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    assert psnr(a, b) == 100.0
    b[0, 0] = 255
    region = np.ones((4, 4), bool)
    assert psnr(a, b, region) == pytest.approx(10 * np.log10(255**2 / (255**2 / 16)))
    region[0, 0] = False
    assert psnr(a, b, region) == 100.0  # the changed pixel is outside the region
    with pytest.raises(ValueError, match="one size"):
        psnr(a, np.zeros((2, 2, 3), np.uint8))
