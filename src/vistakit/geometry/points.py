"""Points, named keypoint sets and traces (timed point sequences)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .frames import Space, as_float_array, check_in_space


def _convert_xy(xy: np.ndarray, space: Space, normalized: bool) -> tuple[np.ndarray, Space]:
    if normalized == space.normalized:
        return xy.copy(), space
    s = space.scale()
    return (xy / s, space.as_normalized()) if normalized else (xy * s, space.as_absolute())


@dataclass(frozen=True)
class Points:
    """N×2 (x, y) points in ``space``."""

    xy: np.ndarray
    space: Space

    def __post_init__(self) -> None:
        arr = as_float_array(self.xy, (2,), "points")
        check_in_space(arr, self.space, "point coordinates")
        arr.setflags(write=False)
        object.__setattr__(self, "xy", arr)

    def __len__(self) -> int:
        return len(self.xy)

    def to(self, *, normalized: bool) -> "Points":
        return Points(*_convert_xy(self.xy, self.space, normalized))


# Visibility flags follow COCO: 0 = not labelled, 1 = labelled but occluded, 2 = labelled and visible.
VISIBILITY = (0, 1, 2)


@dataclass(frozen=True)
class Keypoints:
    """One instance's named keypoints: K×2 (x, y), K visibility flags (COCO 0/1/2) and K names.

    Coordinates of keypoints with visibility 0 are meaningless and conventionally 0.
    """

    xy: np.ndarray
    visibility: np.ndarray
    names: tuple[str, ...]
    space: Space

    def __post_init__(self) -> None:
        arr = as_float_array(self.xy, (2,), "keypoints")
        vis = np.asarray(self.visibility, dtype=np.int64).reshape(-1)
        names = tuple(str(n) for n in self.names)
        if not (len(arr) == len(vis) == len(names)):
            raise ValueError(
                f"keypoints need as many coordinates, visibility flags and names; got {len(arr)}, {len(vis)}, {len(names)}"
            )
        if len(set(names)) != len(names):
            raise ValueError(f"keypoint names must be unique, got {names}")
        if not np.isin(vis, VISIBILITY).all():
            raise ValueError(f"keypoint visibility must be 0, 1 or 2 (COCO), got {sorted(set(vis.tolist()))}")
        check_in_space(arr[vis > 0], self.space, "keypoint coordinates")
        arr.setflags(write=False)
        vis.setflags(write=False)
        object.__setattr__(self, "xy", arr)
        object.__setattr__(self, "visibility", vis)
        object.__setattr__(self, "names", names)

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def from_coco(cls, flat: Sequence[float], names: Sequence[str], space: Space) -> "Keypoints":
        """From COCO's flat ``[x1, y1, v1, x2, y2, v2, ...]`` list (absolute pixels)."""
        arr = np.asarray(flat, dtype=np.float64).reshape(-1)
        if arr.size != 3 * len(names):
            raise ValueError(f"COCO keypoints need 3 numbers per name ({len(names)} names), got {arr.size}")
        arr = arr.reshape(-1, 3)
        return cls(arr[:, :2], arr[:, 2].astype(np.int64), tuple(names), space)

    def to_coco(self) -> list[float]:
        out = np.concatenate([self.xy, self.visibility[:, None].astype(np.float64)], axis=1)
        return out.reshape(-1).tolist()

    def to(self, *, normalized: bool) -> "Keypoints":
        xy, space = _convert_xy(self.xy, self.space, normalized)
        xy[self.visibility == 0] = 0.0
        return Keypoints(xy, self.visibility, self.names, space)


@dataclass(frozen=True)
class Trace:
    """A timed point sequence (e.g. a Localized Narratives mouse trace): N×2 (x, y) and N times in seconds."""

    xy: np.ndarray
    t: np.ndarray
    space: Space

    def __post_init__(self) -> None:
        arr = as_float_array(self.xy, (2,), "trace points")
        t = np.asarray(self.t, dtype=np.float64).reshape(-1)
        if len(t) != len(arr):
            raise ValueError(f"a trace needs one time per point; got {len(arr)} points and {len(t)} times")
        if len(t) > 1 and (np.diff(t) < 0).any():
            raise ValueError("trace times must not decrease")
        check_in_space(arr, self.space, "trace coordinates")
        arr.setflags(write=False)
        t.setflags(write=False)
        object.__setattr__(self, "xy", arr)
        object.__setattr__(self, "t", t)

    def __len__(self) -> int:
        return len(self.t)

    def between(self, start: float, end: float) -> "Trace":
        """The part of the trace with start <= t <= end (seconds)."""
        keep = (self.t >= start) & (self.t <= end)
        return Trace(self.xy[keep], self.t[keep], self.space)

    def to(self, *, normalized: bool) -> "Trace":
        xy, space = _convert_xy(self.xy, self.space, normalized)
        return Trace(xy, self.t, space)
