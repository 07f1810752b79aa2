"""``vistakit serve``: the model over HTTP (FastAPI). OpenAI-compatible chat completions, a plain JSON predict
route, dynamic batching across concurrent requests, and limits that turn every bad request into a 4xx.

    from vistakit import Vista
    from vistakit.serve import ServeSettings, create_app
    app = create_app(Vista.from_pretrained(), ServeSettings(max_batch_size=16))
"""

from .app import create_app
from .settings import ServeSettings

__all__ = ["ServeSettings", "create_app"]
