"""A server-wide budget of decoded image pixels, so concurrent requests cannot decode more images at once than
memory holds.

Each request reserves the pixels of all its images (counted from their headers, before decoding) and keeps them
until its images are reduced to the model's resolution; a request that finds the budget spent waits up to
``wait_s`` for others to finish, then is refused with a 503 and ``Retry-After``. The per-image limit alone does
not bound memory: eight requests of four 4096 × 4096 images decoded at once hold 1.6 GB of pixels (and more in
the decoder's buffers), whatever each request's own size.

Reservations are taken whole (never a part, then the rest), so two requests can never each hold half the budget
and wait for the other. A request larger than the whole budget reserves all of it, and so runs alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class BudgetSpent(Exception):
    """The budget stayed spent for the whole wait."""


class PixelBudget:
    """At most ``capacity`` decoded pixels held at once by the callers of :meth:`reserve` (worker threads)."""

    def __init__(self, capacity: int, wait_s: float) -> None:
        if capacity < 1 or wait_s < 0:
            raise ValueError(f"need capacity >= 1 and wait_s >= 0, got {capacity} and {wait_s}")
        self.capacity, self.wait_s = capacity, wait_s
        self._used = 0
        self._cond = threading.Condition()
        self.peak = 0  # the most pixels ever reserved at once
        self.refused = 0  # requests that found the budget spent for the whole wait

    @property
    def used(self) -> int:
        return self._used

    @contextmanager
    def reserve(self, pixels: int) -> Iterator[None]:
        """Hold ``pixels`` (at most the capacity) for the ``with`` block; :class:`BudgetSpent` after waiting
        ``wait_s`` for them."""
        n = max(0, min(int(pixels), self.capacity))
        deadline = time.monotonic() + self.wait_s
        with self._cond:
            while self._used + n > self.capacity:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.refused += 1
                    raise BudgetSpent(
                        f"{self._used} of the {self.capacity} decoded pixels this server holds at once are in use and "
                        f"this request needs {n}; waited {self.wait_s:g} s"
                    )
                self._cond.wait(left)
            self._used += n
            self.peak = max(self.peak, self._used)
        try:
            yield
        finally:
            with self._cond:
                self._used -= n
                self._cond.notify_all()
