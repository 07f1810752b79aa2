"""ShapesWorld scenes: the vocabulary (shapes, colours, sizes, backgrounds), typed scene objects, exact
z-ordered masks and seeded sampling.

Coordinates are continuous pixels of the scene image (x right, y down). Objects are stored bottom to top, so a
later object hides an earlier one where they overlap; :attr:`Scene.visible_masks` is exact by construction
(the renderer paints each object's visible mask and nothing else). A scene drawn anti-aliased
(``supersample`` k > 1) is rasterised at k × its size and each pixel's *coverage* (the fraction of its k × k
sub-pixels an object shows) blends the colours; its masks are then the pixels an object covers by at least one
half, so they still match the pixels exactly (see docs/shapesworld.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Callable, Mapping, Sequence

import cv2
import numpy as np

from .canvas import Geometry
from .figures import Pose, figure_keypoints, figure_mask
from .shades import sample_shade
from .shapes import SHAPES, shape_mask

FIGURE = "figure"  # the articulated figure is an object "shape" like the others, with keypoints
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30), "orange": (245, 140, 20), "yellow": (245, 225, 30), "green": (40, 170, 50),
    "blue": (30, 80, 230), "purple": (140, 50, 200), "white": (250, 250, 250),
}  # fmt: skip
SIZES: tuple[str, ...] = ("small", "medium", "large")
# Circumradius of a shape, and half the height of a figure, as a fraction of the image's shorter side.
SHAPE_RADIUS = {"small": 0.13, "medium": 0.17, "large": 0.22}
FIGURE_HALF_HEIGHT = {"small": 0.17, "medium": 0.23, "large": 0.3}
BACKGROUNDS: tuple[str, ...] = ("plain", "gradient", "noise", "texture")
# Opt-in (``backgrounds="more"``): two more kinds and a wider range of tones, some warm (beige) or cool.
MORE_BACKGROUNDS: tuple[str, ...] = (*BACKGROUNDS, "radial", "clouds")
BACKGROUND_SETS = ("classic", "more")
MAX_SUPERSAMPLE = 8

Combo = tuple[str, str]  # (colour, shape)


class SceneSamplingError(RuntimeError):
    """The sampler could not place the required objects (the caller draws again)."""


@dataclass(frozen=True)
class Background:
    """How the empty canvas looks: ``kind`` in :data:`BACKGROUNDS`, two RGB tones, a seed for noise/texture."""

    kind: str
    tone: tuple[int, int, int]
    tone2: tuple[int, int, int]
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "tone": list(self.tone), "tone2": list(self.tone2), "seed": self.seed}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "Background":
        if obj.get("kind") not in MORE_BACKGROUNDS:
            raise ValueError(f"background kind must be one of {', '.join(MORE_BACKGROUNDS)}, got {obj.get('kind')!r}")
        return cls(
            obj["kind"],
            tuple(int(v) for v in obj["tone"]),
            tuple(int(v) for v in obj["tone2"]),
            int(obj.get("seed", 0)),
        )


@dataclass(frozen=True)
class SceneObject:
    """One object: ``shape`` (one of :data:`SHAPES` or ``"figure"``), ``colour`` and ``size`` names, ``center``
    (x, y) and ``radius`` in pixels (circumradius; half the height for a figure), ``rotation`` in radians, for
    figures a ``pose``, and ``shade``: the RGB it is painted in when not its colour's canonical one (shade jitter,
    :mod:`.shades`)."""

    shape: str
    colour: str
    size: str
    center: tuple[float, float]
    radius: float
    rotation: float = 0.0
    pose: Pose | None = None
    shade: tuple[int, int, int] | None = None

    @property
    def rgb(self) -> tuple[int, int, int]:
        """The RGB (0..255) this object is painted in."""
        return self.shade if self.shade is not None else COLOURS[self.colour]

    @property
    def is_figure(self) -> bool:
        return self.shape == FIGURE

    @property
    def noun(self) -> str:
        return self.shape

    def keypoints(self) -> np.ndarray:
        """13×2 keypoints (pixels) of a figure; raises for plain shapes."""
        if self.pose is None:
            raise ValueError(f"a {self.shape} has no keypoints; only figures do")
        return figure_keypoints(self.center, 2 * self.radius, self.pose)

    def mask(self, size: tuple[int, int]) -> np.ndarray:
        """H×W boolean mask of every pixel this object paints on an image of ``size`` = (width, height)."""
        if self.pose is not None:
            return figure_mask(self.keypoints(), 2 * self.radius, size)
        return shape_mask(self.shape, self.center, self.radius, self.rotation, size)

    def scaled(self, k: float) -> "SceneObject":
        """The same object on an image ``k`` times larger (centre and radius times ``k``)."""
        return replace(self, center=(self.center[0] * k, self.center[1] * k), radius=self.radius * k)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "shape": self.shape, "colour": self.colour, "size": self.size,
            "center": [round(self.center[0], 4), round(self.center[1], 4)], "radius": round(self.radius, 4),
            "rotation": round(self.rotation, 6),
        }  # fmt: skip
        if self.pose is not None:
            out["pose"] = self.pose.to_json()
        if self.shade is not None:
            out["shade"] = list(self.shade)
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "SceneObject":
        shape, colour, size = obj.get("shape"), obj.get("colour"), obj.get("size")
        if shape not in (*SHAPES, FIGURE):
            raise ValueError(f"object shape must be one of {', '.join((*SHAPES, FIGURE))}, got {shape!r}")
        if colour not in COLOURS:
            raise ValueError(f"object colour must be one of {', '.join(COLOURS)}, got {colour!r}")
        if size not in SIZES:
            raise ValueError(f"object size must be one of {', '.join(SIZES)}, got {size!r}")
        pose = Pose.from_json(obj["pose"]) if shape == FIGURE else None
        shade = obj.get("shade")
        if shade is not None:
            if not (isinstance(shade, list) and len(shade) == 3
                    and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in shade)):
                raise ValueError(f"object shade must be [r, g, b] integers 0..255, got {shade!r}")
            shade = (shade[0], shade[1], shade[2])
        return cls(shape, colour, size, (float(obj["center"][0]), float(obj["center"][1])), float(obj["radius"]),
                   float(obj.get("rotation", 0.0)), pose, shade)  # fmt: skip


def _visible(full: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Each mask minus the union of the masks after it (the later ones are drawn on top)."""
    if not full:
        return ()
    covered = np.zeros(full[0].shape, bool)
    out: list[np.ndarray] = []
    for m in reversed(full):
        out.append(m & ~covered)
        covered |= m
    return tuple(reversed(out))


@dataclass(frozen=True)
class Scene:
    """A ``width`` × ``height`` image: a background and objects listed bottom to top. ``scale`` is the objects'
    size relative to the image (1: the radii of :data:`SHAPE_RADIUS`; it is what new objects are placed with);
    ``supersample`` k > 1 draws the scene anti-aliased (masks: coverage >= 1/2 at k × k sub-pixels)."""

    width: int
    height: int
    background: Background
    objects: tuple[SceneObject, ...]
    scale: float = 1.0
    supersample: int = 1

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)

    def _coverage(self, hires: np.ndarray) -> np.ndarray:
        """H×W uint8 count (0..k²) of the sub-pixels set in a kH×kW mask. Area interpolation of sub-pixels worth
        k² each is their exact count (an integer mean), ~10× faster than summing over axes."""
        k = self.supersample
        return cv2.resize(hires.view(np.uint8) * np.uint8(k * k), self.size, interpolation=cv2.INTER_AREA)

    @cached_property
    def _hires_visible(self) -> tuple[np.ndarray, ...]:
        k = self.supersample
        return _visible([o.scaled(k).mask((k * self.width, k * self.height)) for o in self.objects])

    @cached_property
    def coverages(self) -> tuple[np.ndarray, ...]:
        """Each object's H×W float32 coverage in [0, 1]: the fraction of each pixel it shows (what the renderer
        blends); the visible mask as 0/1 when the scene is not supersampled."""
        if self.supersample == 1:
            return tuple(m.astype(np.float32) for m in self.visible_masks)
        k2 = float(self.supersample**2)
        return tuple((self._coverage(m) / k2).astype(np.float32) for m in self._hires_visible)

    @cached_property
    def full_masks(self) -> tuple[np.ndarray, ...]:
        """Each object's H×W mask as if nothing covered it (amodal); when supersampled, the pixels its whole
        shape covers by at least one half."""
        if self.supersample == 1:
            return tuple(o.mask(self.size) for o in self.objects)
        k = self.supersample
        return tuple(self._coverage(o.scaled(k).mask((k * self.width, k * self.height))).astype(np.int32) * 2 >= k * k
                     for o in self.objects)  # fmt: skip

    @cached_property
    def visible_masks(self) -> tuple[np.ndarray, ...]:
        """Each object's H×W mask minus everything above it in the z-order (what the image shows). When
        supersampled: the pixels it shows by at least one half (coverage >= 0.5); a pixel two objects show by
        exactly one half each goes to the upper one, so the masks stay disjoint."""
        if self.supersample == 1:
            return _visible(self.full_masks)
        half = self.supersample**2
        return _visible([self._coverage(m).astype(np.int32) * 2 >= half for m in self._hires_visible])

    def covered_above(self, index: int) -> np.ndarray:
        """H×W mask of the pixels hidden from object ``index`` by the objects drawn after it."""
        return (
            self.full_masks[index] & ~self.visible_masks[index]
            if self.objects
            else np.zeros((self.height, self.width), bool)
        )

    def keypoint_visibility(self, index: int) -> np.ndarray:
        """COCO visibility (2 visible, 1 hidden by an object above) of figure ``index``'s 13 keypoints."""
        xy = self.objects[index].keypoints()
        cols = np.floor(xy[:, 0]).astype(int).clip(0, self.width - 1)
        rows = np.floor(xy[:, 1]).astype(int).clip(0, self.height - 1)
        above = np.zeros((self.height, self.width), bool)
        for m in self.full_masks[index + 1 :]:
            above |= m
        return np.where(above[rows, cols], 1, 2)

    def with_objects(self, objects: Sequence[SceneObject]) -> "Scene":
        return replace(self, objects=tuple(objects))

    def to_json(self) -> dict[str, Any]:
        out = {"width": self.width, "height": self.height, "background": self.background.to_json(),
               "objects": [o.to_json() for o in self.objects]}  # fmt: skip
        if self.scale != 1.0:  # written only when set, so default specs keep their bytes
            out["scale"] = round(self.scale, 6)
        if self.supersample != 1:
            out["supersample"] = self.supersample
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "Scene":
        """Read a spec written by :meth:`to_json`; anything malformed raises ``ValueError`` naming the problem."""
        if not isinstance(obj, Mapping):
            raise ValueError(f"a scene spec must be an object, got {type(obj).__name__}")
        missing = [k for k in ("width", "height", "background", "objects") if k not in obj]
        if missing:
            raise ValueError(f"a scene spec needs width, height, background and objects; missing {missing}")
        try:
            w, h = int(obj["width"]), int(obj["height"])
            if w <= 0 or h <= 0:
                raise ValueError(f"scene width and height must be positive, got {w}x{h}")
            if not isinstance(obj["background"], Mapping) or not isinstance(obj["objects"], list):
                raise ValueError("a scene spec's background must be an object and its objects a list")
            for o in obj["objects"]:
                if not isinstance(o, Mapping):
                    raise ValueError(f"each scene object must be an object, got {type(o).__name__}")
            objs = tuple(SceneObject.from_json(o) for o in obj["objects"])
            bg = Background.from_json(obj["background"])
            scale, k = float(obj.get("scale", 1.0)), obj.get("supersample", 1)
        except (KeyError, TypeError, IndexError, OverflowError) as exc:
            raise ValueError(f"malformed scene spec ({type(exc).__name__}: {exc})") from None
        if not 0 < scale < 100:
            raise ValueError(f"scene scale must be a positive number, got {scale}")
        if not (isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= MAX_SUPERSAMPLE):
            raise ValueError(f"scene supersample must be an integer 1..{MAX_SUPERSAMPLE}, got {k!r}")
        return cls(w, h, bg, objs, scale, k)


@dataclass(frozen=True)
class SceneConfig:
    """What scenes may contain. ``holdout`` lists (colour, shape) pairs that ordinary sampling never produces
    (the compositional split asks for them explicitly).

    How they look (every option off by default, and then nothing extra is drawn from the random stream, so
    default scenes are those of before the options existed): ``geometry`` the image sizes (default: ``size`` ×
    ``size``; :class:`~.canvas.Geometry`); ``object_scale`` a (low, high) range each scene draws its objects'
    size relative to the image from (size words then compare objects within a scene); ``supersample`` k > 1
    draws anti-aliased; ``shade_jitter`` in [0, 1] how far each object's shade may move inside its colour's
    region (:mod:`.shades`); ``backgrounds`` ``classic`` or ``more`` (:data:`MORE_BACKGROUNDS`, wider tones)."""

    size: int = 64
    min_objects: int = 1
    max_objects: int = 5
    shapes: tuple[str, ...] = SHAPES
    colours: tuple[str, ...] = tuple(COLOURS)
    holdout: frozenset[Combo] = field(default_factory=frozenset)
    min_visible: float = 0.6  # every object keeps at least this fraction of its own pixels visible
    min_pixels: int = 6
    # Every object's visible box is at least this fraction of the image on each side: 0.19 × size is ~190
    # location bins at B = 1000, where bin-centre rounding alone keeps a decoded box's IoU >= 0.99.
    min_box: float = 0.19
    geometry: Geometry | None = None
    object_scale: tuple[float, float] = (1.0, 1.0)
    supersample: int = 1
    shade_jitter: float = 0.0
    backgrounds: str = "classic"

    @property
    def canvas(self) -> Geometry:
        """The image sizes scenes are drawn at."""
        return self.geometry if self.geometry is not None else Geometry.square(self.size)

    def __post_init__(self) -> None:
        if not 16 <= self.size <= 1024:
            raise ValueError(f"scene size must be 16..1024 pixels, got {self.size}")
        lo, hi = self.object_scale
        if not 0.5 <= lo <= hi <= 1.5:
            raise ValueError(f"object_scale must be (low, high) with 0.5 <= low <= high <= 1.5, got {lo}, {hi}")
        if not 1 <= self.supersample <= MAX_SUPERSAMPLE:
            raise ValueError(f"supersample must be 1..{MAX_SUPERSAMPLE}, got {self.supersample}")
        if not 0.0 <= self.shade_jitter <= 1.0:
            raise ValueError(f"shade_jitter must be in [0, 1] (0: canonical colours, 1: anywhere in the colour's "
                             f"region), got {self.shade_jitter}")  # fmt: skip
        if self.backgrounds not in BACKGROUND_SETS:
            raise ValueError(f"backgrounds must be one of {', '.join(BACKGROUND_SETS)}, got {self.backgrounds!r}")
        if not 1 <= self.min_objects <= self.max_objects:
            raise ValueError(f"need 1 <= min_objects <= max_objects, got {self.min_objects}, {self.max_objects}")
        for c, s in self.holdout:
            if c not in COLOURS or s not in (*SHAPES, FIGURE):
                raise ValueError(f"holdout pair must be (colour, shape) from the vocabulary, got {(c, s)!r}")


@dataclass(frozen=True)
class Want:
    """A partial object description for the sampler: fixed attributes (None = free)."""

    shape: str | None = None
    colour: str | None = None
    size: str | None = None


Predicate = Callable[[str, str, str], bool]  # (shape, colour, size) -> allowed?


# Tints of ``backgrounds="more"``: none, warm (beige), cool; every channel then stays <= 215 (value <= 0.85) so a
# white object (value >= 0.92) still stands out.
_TINTS = ((0, 0, 0), (14, 6, -16), (-8, 0, 10))
_MAX_TONE = 215


def sample_background(rng: np.random.Generator, backgrounds: str = "classic") -> Background:
    """A neutral, low-saturation background so every object colour stands out against it; ``more`` also draws
    the radial and cloud kinds and tones from 50 to 200 (some beige, some cool)."""
    if backgrounds == "more":
        kind = MORE_BACKGROUNDS[int(rng.integers(len(MORE_BACKGROUNDS)))]
        base = rng.integers(50, 201) + np.asarray(_TINTS[int(rng.integers(len(_TINTS)))])
        tone = tuple(int(v) for v in np.clip(base + rng.integers(-8, 9, 3), 0, _MAX_TONE))
        tone2 = tuple(int(v) for v in np.clip(np.asarray(tone) + rng.integers(-45, 46), 0, _MAX_TONE))
        return Background(kind, tone, tone2, int(rng.integers(2**31)))
    kind = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    base = rng.integers(70, 160)
    tint = rng.integers(-12, 13, 3)
    tone = tuple(int(v) for v in np.clip(base + tint, 0, 255))
    tone2 = tuple(int(v) for v in np.clip(np.asarray(tone) + rng.integers(-45, 46), 0, 255))
    return Background(kind, tone, tone2, int(rng.integers(2**31)))


class SceneSampler:
    """Draws scenes from a :class:`SceneConfig` with a caller-supplied ``numpy.random.Generator``."""

    def __init__(self, config: SceneConfig) -> None:
        self.cfg = config

    def _attrs(
        self, rng: np.random.Generator, want: Want, allow: Predicate | None, shapes: Sequence[str]
    ) -> tuple[str, str, str]:
        for _ in range(200):
            shape = want.shape or shapes[int(rng.integers(len(shapes)))]
            colour = want.colour or self.cfg.colours[int(rng.integers(len(self.cfg.colours)))]
            size = want.size or SIZES[int(rng.integers(len(SIZES)))]
            if want.colour is None or want.shape is None:  # explicitly wanted pairs may be held out ones
                if (colour, shape) in self.cfg.holdout:
                    continue
            if allow is None or allow(shape, colour, size):
                return shape, colour, size
        raise SceneSamplingError(f"no object fits {want} under the constraints")

    def shade(self, rng: np.random.Generator, colour: str) -> tuple[int, int, int] | None:
        """A jittered shade of ``colour``, or None (the canonical colour; nothing drawn) without shade jitter."""
        if self.cfg.shade_jitter <= 0:
            return None
        return sample_shade(colour, COLOURS[colour], rng, self.cfg.shade_jitter)

    def _place(self, rng: np.random.Generator, scene: Scene, shape: str, colour: str, size: str) -> SceneObject:
        w, h = scene.size
        side = min(w, h) * scene.scale  # sizes are fractions of the shorter side
        if shape == FIGURE:
            r = FIGURE_HALF_HEIGHT[size] * side
            cx = rng.uniform(0.45 * r + 1, w - 0.45 * r - 1)
            cy = rng.uniform(0.62 * r + 1, h - 0.92 * r - 1)  # head reaches 0.55 r up, feet ~0.85 r down
            obj = SceneObject(shape, colour, size, (float(cx), float(cy)), float(r), 0.0, Pose.sample(rng))
        else:
            r = SHAPE_RADIUS[size] * side * rng.uniform(0.92, 1.08)
            cx, cy = rng.uniform(r + 1, np.array([w - r - 1, h - r - 1]))
            obj = SceneObject(shape, colour, size, (float(cx), float(cy)), float(r), float(rng.uniform(0, 2 * np.pi)))
        shade = self.shade(rng, colour)
        return obj if shade is None else replace(obj, shade=shade)

    def _ok(self, scene: Scene) -> bool:
        """Every object keeps enough visible pixels, and same-coloured objects never overlap (they would read as
        one blob)."""
        by_colour: dict[str, np.ndarray] = {}
        for obj, full, vis in zip(scene.objects, scene.full_masks, scene.visible_masks):
            a, v = int(full.sum()), int(vis.sum())
            if v < self.cfg.min_pixels or v < self.cfg.min_visible * a:
                return False
            rows, cols = np.flatnonzero(vis.any(axis=1)), np.flatnonzero(vis.any(axis=0))
            min_box = self.cfg.min_box * min(scene.size) * min(1.0, scene.scale)  # of the shorter side
            if min(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 < min_box:
                return False
            seen = by_colour.get(obj.colour)
            if seen is not None and (seen & full).any():
                return False
            by_colour[obj.colour] = full if seen is None else seen | full
        return True

    def sample(
        self,
        rng: np.random.Generator,
        n: int | None = None,
        wants: Sequence[Want] = (),
        allow: Predicate | None = None,
        shapes: Sequence[str] | None = None,
    ) -> Scene:
        """A scene with ``n`` objects (default: uniform in the config's range, at least ``len(wants)``): one for
        each ``Want`` plus random others passing ``allow``, in random z-order, none hidden past
        ``min_visible``. Random extras that cannot be placed are left out; a ``Want`` that cannot be placed
        raises :class:`SceneSamplingError`."""
        shapes = tuple(shapes or self.cfg.shapes)
        if n is None:
            n = int(rng.integers(self.cfg.min_objects, self.cfg.max_objects + 1))
        n = max(n, len(wants))
        specs = [(self._attrs(rng, w, None, shapes), True) for w in wants]
        specs += [(self._attrs(rng, Want(), allow, shapes), False) for _ in range(n - len(wants))]
        order = rng.permutation(len(specs))
        scene = self.empty_scene(rng)
        for k in order:
            (shape, colour, size), required = specs[int(k)]
            try:
                scene = self._add(rng, scene, shape, colour, size)
            except SceneSamplingError:
                if required:
                    raise
        return scene

    def empty_scene(self, rng: np.random.Generator) -> Scene:
        """A scene with no objects yet: its size, object scale and background drawn as the config says (a fixed
        geometry, no scale range and classic backgrounds draw exactly what scenes drew before those options)."""
        w, h = self.cfg.canvas.sample(rng)
        lo, hi = self.cfg.object_scale
        scale = float(rng.uniform(lo, hi)) if (lo, hi) != (1.0, 1.0) else 1.0
        return Scene(w, h, sample_background(rng, self.cfg.backgrounds), (), scale, self.cfg.supersample)

    def _add(self, rng: np.random.Generator, scene: Scene, shape: str, colour: str, size: str) -> Scene:
        for _ in range(30):
            cand = scene.with_objects((*scene.objects, self._place(rng, scene, shape, colour, size)))
            if self._ok(cand):
                return cand
        raise SceneSamplingError(f"could not place a {size} {colour} {shape}")

    def add_object(self, rng: np.random.Generator, scene: Scene, want: Want, allow: Predicate | None = None) -> Scene:
        """``scene`` with one more object (on top) fitting ``want``; raises :class:`SceneSamplingError` when it
        cannot be placed without hiding another object past ``min_visible``."""
        shape, colour, size = self._attrs(rng, want, allow, self.cfg.shapes)
        return self._add(rng, scene, shape, colour, size)

    def is_valid(self, scene: Scene) -> bool:
        """Every object inside the image and visible enough (the sampler's own acceptance test)."""
        for o, m in zip(scene.objects, scene.full_masks):
            if int(m.sum()) < o.radius:  # mostly outside the image
                return False
        return self._ok(scene)
