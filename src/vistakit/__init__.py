"""vistakit: one vision-language model for coarse and fine-grained tasks.

    from vistakit import Vista
    result = Vista.from_pretrained().predict("scene.png", "Where is the red circle?", task="rec")
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Request", "Result", "Vista", "__version__"]

_API = ("Request", "Result", "Vista")


def __getattr__(name: str) -> Any:
    # Lazy: ``import vistakit`` (and the CLI's --help) stays light; the API pulls in numpy, PIL and geometry.
    if name in _API:
        from .threads import prefer_passive_waiting

        prefer_passive_waiting()  # before torch loads: OpenMP threads sleep while they wait (threads.py)
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'vistakit' has no attribute {name!r}")
