"""Tasks: one object per file, registered in :data:`~vistakit.tasks.base.TASKS`; look one up with
:func:`get_task`. Importing this package registers every task."""

from .base import TASKS, Prediction, Task, get_task, register_task, task_names
from . import (  # noqa: F401  (each module registers its task)
    attcoseg,
    caption,
    coseg,
    detection,
    edit,
    generate,
    grec,
    gres,
    grounded_caption,
    nlvr,
    pose,
    rec,
    reg,
    res,
    vqa,
    which_image,
)

__all__ = ["TASKS", "Prediction", "Task", "get_task", "register_task", "task_names"]
