"""Training: settings (:class:`TrainConfig`), task-mixture sampling, the loop with atomic checkpoints, logs and
curves. Only the command line imports this package; the library (model, evaluation) never does."""

from .config import TrainConfig
from .loop import Trainer, TrainResult, train

__all__ = ["TrainConfig", "Trainer", "TrainResult", "train"]
