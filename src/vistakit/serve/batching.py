"""Dynamic batching: requests that arrive close together share one batched model call.

Callers ``await batcher.submit(item)``. A worker task takes the oldest waiting items, up to ``max_batch_size``,
once the batch is full or the oldest has waited ``max_wait_ms``, and runs ``run_batch(items)`` in its own single
thread (the event loop never blocks; the model is only ever used by that thread). Each caller gets its own
result. Items are meant to be validated before they are submitted; should ``run_batch`` still fail, every item
is retried alone so only the item that fails gets the error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger("vistakit.serve")


class QueueFull(Exception):
    """More requests are waiting than the batcher accepts (``max_queue``)."""


@dataclass
class BatchStats:
    """Counts since start: batches run, requests answered, the largest batch, and the size of every batch."""

    batches: int = 0
    requests: int = 0
    largest: int = 0
    sizes: dict[int, int] = field(default_factory=dict)  # batch size → how many batches had it

    def add(self, n: int) -> None:
        self.batches += 1
        self.requests += n
        self.largest = max(self.largest, n)
        self.sizes[n] = self.sizes.get(n, 0) + 1


@dataclass
class _Pending(Generic[T]):
    item: T
    future: asyncio.Future
    since: float


class Batcher(Generic[T, R]):
    """Collects items into batches for ``run_batch`` (a blocking function: list of items → list of results)."""

    def __init__(
        self, run_batch: Callable[[list[T]], Sequence[R]], max_batch_size: int = 16, max_wait_ms: float = 10.0,
        max_queue: int = 256,
    ) -> None:  # fmt: skip
        if max_batch_size < 1 or max_wait_ms < 0 or max_queue < 1:
            raise ValueError(f"need max_batch_size >= 1, max_wait_ms >= 0, max_queue >= 1; got {max_batch_size}, "
                             f"{max_wait_ms}, {max_queue}")  # fmt: skip
        self.run_batch = run_batch
        self.max_batch_size, self.max_wait, self.max_queue = max_batch_size, max_wait_ms / 1000, max_queue
        self.stats = BatchStats()
        self._pending: list[_Pending[T]] = []
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def queued(self) -> int:
        return len(self._pending)

    @property
    def running(self) -> bool:
        return self._worker is not None and not self._worker.done()

    async def start(self) -> None:
        """Start the worker on the running event loop."""
        if self.running:
            return
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vistakit-batch")
        self._worker = asyncio.create_task(self._loop(), name="vistakit-batcher")

    async def stop(self) -> None:
        """Stop the worker; requests still waiting get ``asyncio.CancelledError``."""
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        for p in self._pending:
            if not p.future.done():
                p.future.cancel()
        self._pending.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def submit(self, item: T) -> R:
        """Queue ``item`` and wait for its result (or the exception its batch raised for it)."""
        if not self.running or self._wake is None:
            raise RuntimeError("the batcher is not running: call start() first (the app's lifespan does)")
        if len(self._pending) >= self.max_queue:
            raise QueueFull(f"{len(self._pending)} requests are already waiting (max_queue {self.max_queue})")
        loop = asyncio.get_running_loop()
        pending = _Pending(item, loop.create_future(), loop.time())
        self._pending.append(pending)
        self._wake.set()
        return await pending.future

    async def _loop(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            self._pending = [p for p in self._pending if not p.future.done()]  # callers that gave up
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            wait = self._pending[0].since + self.max_wait - loop.time()
            if len(self._pending) < self.max_batch_size and wait > 0:
                self._wake.clear()  # woken by the next arrival, or run when the oldest has waited enough
                try:
                    await asyncio.wait_for(self._wake.wait(), wait)
                except asyncio.TimeoutError:
                    pass
                continue
            batch = self._pending[: self.max_batch_size]
            del self._pending[: self.max_batch_size]
            try:
                await self._run(batch, loop)
            except asyncio.CancelledError:  # stopped mid-batch: its callers must not wait forever
                for p in batch:
                    p.future.cancel()
                raise

    async def _run(self, batch: list[_Pending[T]], loop: asyncio.AbstractEventLoop) -> None:
        items = [p.item for p in batch]
        try:
            results = await loop.run_in_executor(self._executor, self._call, items)
            outcomes: list[tuple[bool, Any]] = [(True, r) for r in results]
        except Exception:
            log.warning("a batch of %d failed; retrying its requests one by one", len(items), exc_info=True)
            outcomes = []
            for item in items:
                try:
                    outcomes.append((True, (await loop.run_in_executor(self._executor, self._call, [item]))[0]))
                except Exception as exc:  # noqa: BLE001  (delivered to that item's caller)
                    outcomes.append((False, exc))
        self.stats.add(len(items))
        for p, (ok, value) in zip(batch, outcomes):
            if p.future.done():
                continue
            if ok:
                p.future.set_result(value)
            else:
                p.future.set_exception(value)

    def _call(self, items: list[T]) -> list[R]:
        results = list(self.run_batch(items))
        if len(results) != len(items):
            raise RuntimeError(f"run_batch returned {len(results)} results for {len(items)} items")
        return results
