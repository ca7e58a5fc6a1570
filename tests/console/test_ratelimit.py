"""The login limit on a virtual clock: five failures in the window, then a wait that ends
when the oldest failure leaves it; per address and per name; a success clears the name."""

from __future__ import annotations

from robot.console.ratelimit import LoginLimiter


class Clock:
    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


def test_five_failures_then_a_wait_until_the_oldest_leaves_the_window():
    clock = Clock()
    limiter = LoginLimiter(max_failures=5, window_seconds=300, clock=clock)
    keys = ["address:10.0.0.1", "user:li.officer"]
    for _ in range(5):
        assert limiter.retry_after_seconds(keys) is None
        limiter.failed(keys)
        clock.seconds += 10
    assert limiter.retry_after_seconds(keys) == 300 - 50  # the first failure was 50 s ago
    assert limiter.retry_after_seconds(["address:10.0.0.2", "user:wang.officer"]) is None
    assert limiter.retry_after_seconds(["address:10.0.0.2", "user:li.officer"]) == 250  # the name is limited from anywhere
    clock.seconds += 250
    assert limiter.retry_after_seconds(keys) is None  # the oldest left the window: one more try
    limiter.failed(keys)
    assert limiter.retry_after_seconds(keys) == 10


def test_a_success_clears_the_names_failures_not_the_addresses():
    clock = Clock()
    limiter = LoginLimiter(max_failures=2, window_seconds=60, clock=clock)
    limiter.failed(["address:a", "user:li"])
    limiter.succeeded("user:li")
    limiter.failed(["address:a", "user:li"])
    assert limiter.retry_after_seconds(["user:li"]) is None
    assert limiter.retry_after_seconds(["address:a"]) == 60
