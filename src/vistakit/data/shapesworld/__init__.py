"""ShapesWorld: a seeded procedural world of shapes and stick figures with exact masks, from which every task's
records are derived (see :mod:`.generate`)."""

from .canvas import Geometry
from .generate import DEFAULT_HOLDOUT, DEFAULT_SIZE, SPLIT_STREAMS, GenerateConfig, generate_split, task_names
from .render import render
from .scene import COLOURS, SHAPES, SIZES, Scene, SceneConfig, SceneObject, SceneSampler

__all__ = [
    "DEFAULT_HOLDOUT", "DEFAULT_SIZE", "SPLIT_STREAMS", "GenerateConfig", "generate_split", "task_names", "render",
    "COLOURS", "SHAPES", "SIZES", "Scene", "SceneConfig", "SceneObject", "SceneSampler", "Geometry",
]  # fmt: skip
