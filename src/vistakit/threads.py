"""Thread defaults that hold when the CPU is shared: OpenMP threads that sleep while they wait.

By default OpenMP (torch's CPU thread pool) lets a waiting thread spin. With every core busy with other work, a
spinning thread takes a core from the thread it waits for: a batch-1 answer of the reference model on two
threads ran 47× slower than on one (issue 49). ``OMP_WAIT_POLICY=PASSIVE`` makes waiting threads sleep instead.
The policy is read once, when torch loads its OpenMP runtime, so it must be set before ``import torch``: the
inference doors (``vistakit predict / eval / demo / serve`` and ``from vistakit import Vista``) call
:func:`prefer_passive_waiting` first. An ``OMP_WAIT_POLICY`` already in the environment wins (``ACTIVE`` brings
the spinning back); training keeps OpenMP's default. ``benchmarks/thread_contention.py`` measures both.
"""

from __future__ import annotations

import os
import sys

INFERENCE_COMMANDS = ("predict", "eval", "demo", "serve")


def prefer_passive_waiting() -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless the environment sets a policy. True when the policy in force will
    be the environment's (torch not yet imported), False when torch was imported first (too late to change)."""
    if "torch" in sys.modules:
        return False
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return True


def inference_threads(requested: int | None = None) -> int:
    """Torch threads for an inference door: ``requested`` (a ``--threads`` flag, an API argument), else
    ``$VISTAKIT_THREADS``, else 1 — one thread answers a request as fast as two on this model's small matrices and
    never waits for a thread the OS has descheduled, so it holds up when other jobs keep the cores busy."""
    where = "threads"
    if requested is None:
        raw = os.environ.get("VISTAKIT_THREADS", "").strip()
        if not raw:
            return 1
        where = f"VISTAKIT_THREADS={raw!r}"
        try:
            requested = int(raw)
        except ValueError:
            raise ValueError(f"{where}: expected a positive whole number of threads") from None
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
        raise ValueError(f"{where} must be a positive whole number, got {requested!r}")
    return requested
