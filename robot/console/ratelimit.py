"""Login attempts, rate-limited: after `max_failures` failed logins within `window_seconds`,
from one client address or for one user name, further attempts are refused (429, with
Retry-After) until the oldest failure leaves the window. Kept per node, in memory."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable

MAX_FAILURES = 5
WINDOW_SECONDS = 300.0
MAX_KEYS = 100_000
"""A flood of made-up names cannot grow this without bound: the oldest keys are dropped."""


class LoginLimiter:
    def __init__(self, *, max_failures: int = MAX_FAILURES, window_seconds: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after_seconds(self, keys: Iterable[str]) -> float | None:
        """None if an attempt may be made now, else how long until one may."""
        now = self._clock()
        waits = []
        for key in keys:
            failures = self._recent(key, now)
            if len(failures) >= self.max_failures:
                waits.append(failures[0] + self.window_seconds - now)
        return max(waits) if waits else None

    def failed(self, keys: Iterable[str]) -> None:
        now = self._clock()
        for key in keys:
            self._recent(key, now).append(now)
        while len(self._failures) > MAX_KEYS:
            del self._failures[next(iter(self._failures))]

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.window_seconds:
            failures.popleft()
        return failures
