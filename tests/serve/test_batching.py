"""The dynamic batcher: concurrent submissions share one call, batches respect max_batch_size, a lone request
waits at most max_wait_ms, results go back to their own callers, and a failing item fails alone."""

import asyncio
import functools
import operator
import threading
import time

import pytest

from vistakit.serve.batching import Batcher, QueueFull


class Recorder:
    """A blocking batch function that records its batches (and the thread it ran on); items < 0 make it fail."""

    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.threads: set[str] = set()
        self.delay = delay

    def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        if any(i < 0 for i in items):
            raise ValueError(f"bad item in {items}")
        return [i * 10 for i in items]


def run(coro):
    return asyncio.run(coro)


async def with_batcher(batcher: Batcher, work):
    await batcher.start()
    try:
        return await work()
    finally:
        await batcher.stop()


def test_concurrent_requests_share_one_call_and_get_their_own_results():
    rec = Recorder()
    b = Batcher(rec, max_batch_size=16, max_wait_ms=50)
    out = run(with_batcher(b, lambda: asyncio.gather(*(b.submit(i) for i in range(8)))))
    assert out == [i * 10 for i in range(8)]
    assert rec.batches == [list(range(8))]
    assert b.stats.batches == 1 and b.stats.requests == 8 and b.stats.largest == 8 and b.stats.sizes == {8: 1}
    assert all(name.startswith("vistakit-batch") for name in rec.threads)  # never the event loop's thread


def test_batches_are_capped_at_max_batch_size():
    rec = Recorder()
    b = Batcher(rec, max_batch_size=3, max_wait_ms=50)
    out = run(with_batcher(b, lambda: asyncio.gather(*(b.submit(i) for i in range(7)))))
    assert out == [i * 10 for i in range(7)]
    assert [len(x) for x in rec.batches] == [3, 3, 1] and functools.reduce(operator.iadd, rec.batches, []) == list(
        range(7)
    )


def test_a_lone_request_runs_after_max_wait_and_later_arrivals_join_a_running_queue():
    rec = Recorder(delay=0.05)
    b = Batcher(rec, max_batch_size=8, max_wait_ms=20)

    async def work():
        t0 = time.perf_counter()
        first = asyncio.ensure_future(b.submit(1))
        await asyncio.sleep(0.03)  # past max_wait: 1 runs alone (50 ms) …
        rest = [asyncio.ensure_future(b.submit(i)) for i in (2, 3, 4)]  # … while these queue up together
        await asyncio.gather(first, *rest)
        return time.perf_counter() - t0

    elapsed = run(with_batcher(b, work))
    assert rec.batches == [[1], [2, 3, 4]]
    assert elapsed < 1.0


def test_max_wait_zero_runs_at_once():
    rec = Recorder()
    b = Batcher(rec, max_batch_size=8, max_wait_ms=0)
    assert run(with_batcher(b, lambda: b.submit(5))) == 50


def test_a_failing_item_fails_alone():
    rec = Recorder()
    b = Batcher(rec, max_batch_size=8, max_wait_ms=50)

    async def work():
        return await asyncio.gather(*(b.submit(i) for i in (1, -2, 3)), return_exceptions=True)

    out = run(with_batcher(b, work))
    assert out[0] == 10 and out[2] == 30
    assert isinstance(out[1], ValueError) and str(out[1]) == "bad item in [-2]"
    assert rec.batches == [[1, -2, 3], [1], [-2], [3]]  # the batch, then each alone


def test_wrong_result_count_is_an_error_for_every_item():
    b = Batcher(lambda items: [0] * (len(items) - 1), max_batch_size=4, max_wait_ms=10)

    async def work():
        return await asyncio.gather(b.submit(1), b.submit(2), return_exceptions=True)

    out = run(with_batcher(b, work))
    assert [str(e) for e in out] == ["run_batch returned 0 results for 1 items"] * 2


def test_queue_limit_and_not_running():
    b = Batcher(Recorder(delay=0.2), max_batch_size=1, max_wait_ms=0, max_queue=2)
    with pytest.raises(RuntimeError, match="not running"):
        run(b.submit(1))

    async def work():
        running = asyncio.ensure_future(b.submit(1))
        await asyncio.sleep(0.05)  # 1 is running; 2 and 3 fill the queue
        queued = [asyncio.ensure_future(b.submit(i)) for i in (2, 3)]
        await asyncio.sleep(0)
        with pytest.raises(QueueFull, match="2 requests are already waiting"):
            await b.submit(4)
        return await asyncio.gather(running, *queued)

    assert run(with_batcher(b, work)) == [10, 20, 30]


def test_stop_cancels_waiting_callers():
    b = Batcher(Recorder(), max_batch_size=8, max_wait_ms=5000)

    async def work():
        await b.start()
        waiting = asyncio.ensure_future(b.submit(1))
        await asyncio.sleep(0.01)
        await b.stop()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        return b.running

    assert run(work()) is False


def test_bad_batcher_settings():
    with pytest.raises(ValueError, match="max_batch_size >= 1"):
        Batcher(Recorder(), max_batch_size=0)
