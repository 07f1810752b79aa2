"""Data-parallel training: several processes, each on its share of every batch, gradients averaged each step.

Two ways to start it, the same code underneath:

    vistakit train --procs 2 --threads 1 ...                # N local processes (CPU: gloo), started for you
    torchrun --nproc_per_node 8 -m vistakit train ...      # any launcher that sets RANK / WORLD_SIZE / MASTER_*

Each process builds the same model (same seed; rank 0's weights are then broadcast, and the tokenizers are
checked equal), draws the same global batch of ``batch_size`` records (a pure function of the step) and keeps
every ``world``-th record of it, ``records[rank::world]``; after the backward pass(es) the gradients are averaged
across processes in one flat all-reduce, so every process takes the same optimizer step. The loss is the mean
of the processes' batch-share means, as with ``grad_accum`` micro-batches. Only rank 0 writes: logs, validation,
checkpoints, the final model; :func:`check_in_sync` guards against processes drifting apart at every checkpoint.

What it is for: one process per GPU on a GPU machine or cluster (torchrun), and more cores than one process keeps
busy on a CPU. On the project's 2-core development machine it does not pay: ``python benchmarks/data_parallel.py``
gives two processes of one thread about the rate of one process of two (docs/training.md).
"""

from __future__ import annotations

import datetime
import hashlib
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
TIMEOUT = datetime.timedelta(hours=2)  # a rank waits this long for the others (rank 0 validating, saving)


@dataclass(frozen=True)
class Context:
    """Where this process stands: ``rank`` of ``world`` processes (``local_rank`` on its machine)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this process writes (logs, checkpoints, the final model, printed lines)."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


SINGLE = Context()


def env_context() -> Context:
    """The context the environment describes (``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK``, as torchrun sets
    them); a single process without them. Bad values raise ``ValueError`` naming the variable."""
    if "WORLD_SIZE" not in os.environ:
        return SINGLE
    values = {}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        raw = os.environ.get(name, "0" if name == "LOCAL_RANK" else None)
        try:
            values[name] = int(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"data-parallel training: environment variable {name} must be an integer, "
                             f"got {raw!r}") from None  # fmt: skip
    ctx = Context(values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"])
    if ctx.world < 1 or not 0 <= ctx.rank < ctx.world:
        raise ValueError(f"data-parallel training: RANK must be in 0..WORLD_SIZE-1, got RANK={ctx.rank}, "
                         f"WORLD_SIZE={ctx.world}")  # fmt: skip
    return ctx


def init(ctx: Context, device: torch.device) -> torch.device:
    """Join the process group of ``ctx`` (gloo on the CPU, nccl on CUDA) and return this process's device
    (``cuda`` becomes ``cuda:LOCAL_RANK``). A single process does nothing."""
    if not ctx.active:
        return device
    for name in ("MASTER_ADDR", "MASTER_PORT"):
        if not os.environ.get(name):
            raise ValueError(f"data-parallel training: {name} is not set (torchrun and `vistakit train --procs` "
                             f"set it; by hand, export MASTER_ADDR=127.0.0.1 MASTER_PORT=29500)")  # fmt: skip
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, rank=ctx.rank, world_size=ctx.world, timeout=TIMEOUT)
    return device


def shutdown(ctx: Context) -> None:
    if ctx.active and dist.is_initialized():
        dist.destroy_process_group()


def share(records: Sequence[Any], ctx: Context, cost: Callable[[Any], float] | None = None) -> list[Any]:
    """This process's share of a batch (in batch order): with ``cost``, the records are dealt so the processes'
    summed costs come out close (longest first, each to the least-loaded process, with equal counts), since every
    step waits for the slowest process; without, every ``world``-th record from ``rank``."""
    if not ctx.active:
        return list(records)
    if cost is None:
        return list(records[ctx.rank :: ctx.world])
    per = -(-len(records) // ctx.world)
    load, count, mine = [0.0] * ctx.world, [0] * ctx.world, []
    for i in sorted(range(len(records)), key=lambda i: (-cost(records[i]), i)):
        r = min((r for r in range(ctx.world) if count[r] < per), key=lambda r: (load[r], r))
        load[r] += cost(records[i])
        count[r] += 1
        if r == ctx.rank:
            mine.append(i)
    return [records[i] for i in sorted(mine)]


def broadcast_model(model: torch.nn.Module, ctx: Context) -> None:
    """Give every process rank 0's parameters and buffers."""
    if not ctx.active:
        return
    with torch.no_grad():
        for t in [*model.parameters(), *model.buffers()]:
            dist.broadcast(t.data, src=0)


def check_same(value: str, what: str, ctx: Context) -> None:
    """Raise ``RuntimeError`` unless every process has the same ``value`` (a short string, e.g. a hash)."""
    if not ctx.active:
        return
    values: list[Any] = [None] * ctx.world
    dist.all_gather_object(values, value)
    if len(set(values)) > 1:
        raise RuntimeError(f"data-parallel training: the processes disagree on {what} ({values}); "
                           f"each must build the same model from the same data")  # fmt: skip


def tokenizer_digest(tokenizer: Any) -> str:
    """A hash of a tokenizer's vocabulary (token → id)."""
    vocab = sorted(tokenizer.get_vocab().items())
    return hashlib.sha1(repr(vocab).encode("utf-8")).hexdigest()[:16]


def average_gradients(params: Sequence[torch.nn.Parameter], ctx: Context, scalars: Sequence[float] = ()) -> list[float]:
    """Average the gradients of ``params`` across processes in place (a missing gradient counts as zeros and is
    created), and ``scalars`` with them (one all-reduce in all); returns the averaged scalars."""
    if not ctx.active:
        return list(scalars)
    if not params:
        raise ValueError("average_gradients needs the trainable parameters")
    device = params[0].device
    flat = torch.cat([p.grad.reshape(-1).float() if p.grad is not None else torch.zeros(p.numel(), device=device)
                      for p in params] + [torch.tensor([float(s) for s in scalars], device=device)])  # fmt: skip
    dist.all_reduce(flat)
    flat /= ctx.world
    offset = 0
    for p in params:
        n = p.numel()
        chunk = flat[offset : offset + n].view_as(p).to(p.dtype)
        if p.grad is None:
            p.grad = chunk.clone()
        else:
            p.grad.copy_(chunk)
        offset += n
    return flat[offset:].tolist()


def average_present(values: dict[str, float | None], names: Sequence[str]) -> list[float]:
    """``[value or 0, 1 if present else 0]`` for each of ``names``: the scalars :func:`mean_of_present` reads back
    after :func:`average_gradients` (a loss some processes' shares lack is averaged over those that had it)."""
    out: list[float] = []
    for name in names:
        v = values.get(name)
        out += [0.0, 0.0] if v is None else [float(v), 1.0]
    return out


def mean_of_present(averaged: Sequence[float], names: Sequence[str]) -> dict[str, float]:
    """Read back :func:`average_present` scalars after averaging: name → mean over the processes that had it."""
    out = {}
    for k, name in enumerate(names):
        total, count = averaged[2 * k], averaged[2 * k + 1]
        if count > 0:
            out[name] = total / count
    return out


def check_in_sync(model: torch.nn.Module, ctx: Context, step: int) -> None:
    """Raise ``RuntimeError`` if the processes' parameters differ (the sum and the sum of squares of all
    parameters, compared exactly across processes)."""
    if not ctx.active:
        return
    with torch.no_grad():
        params = [p.detach().double() for p in model.parameters()]
        stats = torch.stack([sum(p.sum() for p in params), sum((p * p).sum() for p in params)])
    lo, hi = stats.clone(), stats.clone()
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    if not torch.equal(lo, hi):
        raise RuntimeError(f"data-parallel training: the processes' parameters differ at step {step} "
                           f"(sums {lo.tolist()} vs {hi.tolist()}); the run cannot continue")  # fmt: skip


def barrier(ctx: Context) -> None:
    if ctx.active:
        dist.barrier()


# --- the local launcher (`vistakit train --procs N`) -----------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(local_rank: int, procs: int, port: int, threads: int | None, fn: Callable[..., Any], args: tuple) -> None:
    os.environ.update(RANK=str(local_rank), WORLD_SIZE=str(procs), LOCAL_RANK=str(local_rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))  # fmt: skip
    if threads:
        torch.set_num_threads(threads)
    try:
        rc = fn(*args)
    except (ValueError, TypeError, KeyError, FileNotFoundError) as exc:  # bad input: one line, as the CLI does
        import sys

        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"vistakit: error (process {local_rank} of {procs}): {msg}", file=sys.stderr, flush=True)
        rc = 2
    if rc:
        raise SystemExit(int(rc))


def launch(fn: Callable[..., Any], args: tuple, procs: int, threads: int | None = None) -> int:
    """Run ``fn(*args)`` in ``procs`` new local processes that form one data-parallel group (rank 0 … procs-1,
    one machine, gloo on the CPU); returns 0 when all succeed, else 1 (when one fails the others are stopped).
    ``threads``: torch threads per process (default: the machine's cores shared out, at least 1)."""
    if procs < 1:
        raise ValueError(f"--procs must be >= 1, got {procs}")
    if any(os.environ.get(v) for v in ("RANK", "WORLD_SIZE")):
        raise ValueError("--procs starts its own process group, but this process already has one "
                         "(RANK / WORLD_SIZE are set, e.g. by torchrun): drop --procs or the launcher")  # fmt: skip
    threads = threads or max(1, (os.cpu_count() or 1) // procs)
    import torch.multiprocessing as mp

    try:
        mp.start_processes(_worker, args=(procs, free_port(), threads, fn, args), nprocs=procs, join=True,
                           start_method="spawn")  # fmt: skip
    except mp.ProcessExitedException as exc:  # SystemExit(rc) of a worker, or a signal (negative code)
        return exc.exit_code if exc.exit_code and exc.exit_code > 0 else 1
    except mp.ProcessRaisedException as exc:
        import sys

        print(f"vistakit: a training process failed:\n{exc}", file=sys.stderr)
        return 1
    return 0
