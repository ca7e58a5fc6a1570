"""Injected time, so that timing logic is exact in tests and never sleeps."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod


class Clock(ABC):
    """Monotonic seconds."""

    @abstractmethod
    def now(self) -> float: ...


class MonotonicClock(Clock):
    """The real clock; the event loop's `time()` uses the same source."""

    def now(self) -> float:
        return time.monotonic()


class VirtualClock(Clock):
    """A clock that only moves when told to: `advance(seconds)`."""

    def __init__(self, start_seconds: float = 0.0) -> None:
        self._now = start_seconds

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._now += seconds


class WallClock(Clock):
    """Epoch seconds: for what is stored, shown to people, or tied to local time of day."""

    def now(self) -> float:
        return time.time()
