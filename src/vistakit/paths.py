"""Where to find files without arguments: the shipped reference checkpoint, and the shared real-data samples
(``shared/data`` beside the repository)."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "VISTAKIT_SHARED_DATA"
# The tiny model shipped in the package: the default of Vista.from_pretrained() and of the CLI's --checkpoint.
REFERENCE_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "reference"


def shared_data_dir() -> Path:
    """The ``shared/data`` folder: ``$VISTAKIT_SHARED_DATA``, else the first ``shared/data`` found walking up from
    the working directory or from this package (the repository layout puts ``shared/`` beside the checkout)."""
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env)
        if not path.is_dir():
            raise FileNotFoundError(f"${ENV_VAR} points to {path}, which is not a directory")
        return path
    for start in (Path.cwd(), Path(__file__).resolve()):
        for parent in (start, *start.parents):
            cand = parent / "shared" / "data"
            if cand.is_dir():
                return cand
    raise FileNotFoundError(
        f"cannot find the shared data folder (shared/data beside the repository); set ${ENV_VAR} to its path"
    )


def coco_tiny_instances() -> Path:
    return shared_data_dir() / "coco_tiny" / "annotations" / "instances_train2017.json"
