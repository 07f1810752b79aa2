"""GenEval-style checks of a generated or edited image: is what the prompt asked for in the image?

GenEval (Ghosh et al., 2023) scores text-to-image models by detecting the objects in each generated image and
checking them against the prompt: the objects are there, their counts, their colours, their positions. Here the
objects an image shows come from a parser of the image (for ShapesWorld,
:func:`vistakit.data.shapesworld.parse_image.parse_image`), and what was asked from the prompt's scene spec; this
module only compares the two lists, so it works for any vocabulary.

Per image, all-or-nothing (as GenEval scores each prompt):

- ``object``: every asked shape is among the seen ones (as multisets: two circles asked need two circles);
- ``count``: the seen shapes are exactly the asked ones, as multisets (nothing missing, nothing extra);
- ``colour``: every asked (colour, shape) pair is seen (multisets);
- ``position``: the asked objects can be matched one-to-one to seen objects of the same colour and shape whose box
  centre lies in the asked cell of a 3 × 3 grid (the prompt's "top left", "on the right", "in the centre"…), the
  cell widened by ``tolerance`` of the image side on each edge;
- ``overall`` (the ``geneval`` figure): all four hold.

An edit is right (``edit``) when the seen objects match the edited scene's one-to-one — same colour and shape,
centre within ``centre_tolerance`` of the shorter side, visible area within ``area_ratio`` of the target's — with
nothing extra; ``preserve_psnr`` is the PSNR of the output against the input over the pixels the edit should not
touch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

PSNR_CAP = 100.0  # dB: an untouched region copied exactly has infinite PSNR; averages use this instead


@dataclass(frozen=True)
class Wanted:
    """One object a prompt asks for: ``colour`` and ``shape`` names, ``center`` (x, y) in pixels of the image
    (the cell a position word names is read from it), and optionally its visible ``area`` in pixels."""

    colour: str
    shape: str
    center: tuple[float, float]
    area: float | None = None


class Seen:
    """What a seen object must offer (e.g. :class:`~vistakit.data.shapesworld.parse_image.SeenObject`)."""

    colour: str
    shape: str
    centroid: tuple[float, float]
    box_center: tuple[float, float]
    area: int


def cell(xy: tuple[float, float], size: tuple[int, int]) -> tuple[int, int]:
    """(column, row) in 0..2 of the 3 × 3 grid cell holding point ``xy`` on an image of ``size`` = (W, H)."""
    w, h = size
    return min(2, max(0, int(3 * xy[0] / w))), min(2, max(0, int(3 * xy[1] / h)))


def in_cell(xy: tuple[float, float], target: tuple[int, int], size: tuple[int, int], tolerance: float) -> bool:
    """Whether ``xy`` lies in grid cell ``target`` widened by ``tolerance`` of the image side on each edge."""
    (w, h), (c, r) = size, target
    x_ok = (c * w / 3 - tolerance * w) <= xy[0] <= ((c + 1) * w / 3 + tolerance * w)
    y_ok = (r * h / 3 - tolerance * h) <= xy[1] <= ((r + 1) * h / 3 + tolerance * h)
    return x_ok and y_ok


def match_all(n_left: int, n_right: int, ok: Callable[[int, int], bool]) -> bool:
    """Whether every left item can be matched to a distinct right item with ``ok(i, j)`` (Kuhn's augmenting
    paths; fine for the handful of objects an image holds)."""
    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in range(n_right):
            if j in seen or not ok(i, j):
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    return all(augment(i, set()) for i in range(n_left))


def check_generation(
    wanted: Sequence[Wanted], seen: Sequence[Seen], size: tuple[int, int], tolerance: float = 0.05
) -> dict[str, bool]:
    """The four GenEval checks and their conjunction for one image of ``size`` = (W, H); see the module doc."""
    want_shapes = Counter(o.shape for o in wanted)
    seen_shapes = Counter(o.shape for o in seen)
    out = {
        "object": not (want_shapes - seen_shapes),
        "count": want_shapes == seen_shapes,
        "colour": not (Counter((o.colour, o.shape) for o in wanted) - Counter((o.colour, o.shape) for o in seen)),
        "position": match_all(
            len(wanted), len(seen),
            lambda i, j: (wanted[i].colour, wanted[i].shape) == (seen[j].colour, seen[j].shape)
            and in_cell(seen[j].box_center, cell(wanted[i].center, size), size, tolerance),
        ),  # fmt: skip
    }
    out["overall"] = all(out.values())
    return out


def check_edit(
    wanted: Sequence[Wanted],
    seen: Sequence[Seen],
    size: tuple[int, int],
    centre_tolerance: float = 0.1,
    area_ratio: tuple[float, float] = (0.7, 1.4),
) -> bool:
    """Whether an edited image shows exactly the edited scene's objects (see the module doc)."""
    if len(seen) != len(wanted):
        return False
    reach = centre_tolerance * min(size)

    def ok(i: int, j: int) -> bool:
        w, s = wanted[i], seen[j]
        if (w.colour, w.shape) != (s.colour, s.shape):
            return False
        if np.hypot(w.center[0] - s.centroid[0], w.center[1] - s.centroid[1]) > reach:
            return False
        return w.area is None or area_ratio[0] <= s.area / max(w.area, 1.0) <= area_ratio[1]

    return match_all(len(wanted), len(seen), ok)


def psnr(a: np.ndarray, b: np.ndarray, region: np.ndarray | None = None, cap: float = PSNR_CAP) -> float:
    """PSNR in dB of uint8 images ``a`` and ``b`` (H×W×3) over the H×W bool ``region`` (all pixels if None),
    capped at ``cap`` (identical pixels); NaN for an empty region."""
    if a.shape != b.shape:
        raise ValueError(f"PSNR needs images of one size, got {a.shape} and {b.shape}")
    diff = a.astype(np.float64) - b.astype(np.float64)
    if region is not None:
        diff = diff[region]
    if diff.size == 0:
        return float("nan")
    mse = float(np.mean(diff**2))
    return cap if mse == 0 else min(cap, 10 * np.log10(255.0**2 / mse))
