"""What keeps one client from taking the hot store: a token bucket per consumer (429) and a bound on
the reads running and waiting at once (503), so overload is refused at once instead of queued."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")


class TokenBucket:
    """`burst` requests at once, refilled at `per_second`: `take` answers 0 (go) or the seconds to wait."""

    def __init__(self, per_second: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.per_second = per_second
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def take(self) -> float:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.per_second)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.per_second


def retry_after(seconds: float) -> str:
    """The Retry-After header's value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


class Overloaded(RuntimeError):
    """More reads are running and waiting than the server takes on (HTTP 503)."""


class ReadSlots:
    """At most `concurrent` hot-store reads run at once, each in a worker thread (the event loop keeps
    answering, and refusing, meanwhile); at most `waiting` more wait for a slot; beyond that, Overloaded."""

    def __init__(self, concurrent: int, waiting: int):
        self._limiter = anyio.CapacityLimiter(concurrent)
        self._bound = concurrent + waiting
        self.admitted = 0  # running or waiting; only the event loop's thread changes it

    async def run(self, read: Callable[[], T]) -> T:
        if self.admitted >= self._bound:
            raise Overloaded(f"{self.admitted} reads are running or waiting")
        self.admitted += 1
        try:
            return await anyio.to_thread.run_sync(read, limiter=self._limiter)
        finally:
            self.admitted -= 1
