"""What happens after each outcome, the calling windows, pacing and the trunk circuit
breaker. Pure logic on times passed in, so tests run on virtual time."""

from __future__ import annotations

import datetime as dt
from collections import deque
from zoneinfo import ZoneInfo

from ..dialog.const import AttemptOutcome, EscalationReason, RiskLevel
from ..store.records import AttemptResult, Decision, WarningRecord
from .config import DialerConfig, OutcomeRule, PolicyConfig

FALLBACK_RULE = OutcomeRule(retry=True, escalate_when_exhausted=EscalationReason.UNANSWERED)


def decide(policy: PolicyConfig, warning: WarningRecord, result: AttemptResult, now: float) -> Decision:
    """The warning's next step after an attempt with this result."""
    rule = policy.outcomes.get(result.outcome, FALLBACK_RULE)
    applies = rule.escalate_for_risks is None or warning.risk in rule.escalate_for_risks
    escalate = rule.escalate.value if rule.escalate and applies else None
    if rule.finish:
        return Decision(finished=True, outcome=result.outcome, escalate=escalate, counts_attempt=rule.counts_attempt)
    if rule.robot_fault:
        errors = warning.robot_errors + 1
        if errors >= policy.max_robot_errors:
            return Decision(finished=True, outcome=AttemptOutcome.ROBOT_ERROR, escalate=EscalationReason.ROBOT_ERROR.value,
                            counts_attempt=False, robot_fault=True, note=f"{errors} robot errors")
        delays = policy.robot_error_delays_seconds
        delay = delays[min(errors, len(delays)) - 1]
        return Decision(finished=False, next_attempt_at=now + delay, counts_attempt=False, robot_fault=True,
                        escalate=escalate, note=f"robot error {errors} of {policy.max_robot_errors}, retry in {delay:g} s")
    if rule.trunk_fault:
        failures = warning.trunk_failures + 1
        if failures >= policy.max_trunk_failures:
            return Decision(finished=True, outcome=result.outcome, escalate=EscalationReason.CALL_FAILED.value,
                            counts_attempt=False, trunk_fault=True, note=f"{failures} trunk faults")
        delays = policy.trunk_fault_delays_seconds
        delay = delays[min(failures, len(delays)) - 1]
        return Decision(finished=False, next_attempt_at=now + delay, counts_attempt=False, trunk_fault=True,
                        escalate=escalate, note=f"trunk fault {failures}, retry in {delay:g} s")
    if not rule.counts_attempt:
        delay = rule.retry_after_seconds or 0.0
        return Decision(finished=False, next_attempt_at=now + delay, counts_attempt=False, escalate=escalate,
                        note="not counted")
    delays = policy.retry_delays_seconds.get(warning.risk, [])
    made = warning.attempts + 1  # counting this one
    if made > len(delays):
        exhausted = rule.escalate_when_exhausted.value if rule.escalate_when_exhausted else None
        return Decision(finished=True, outcome=result.outcome, escalate=escalate or exhausted,
                        note=f"no retry left after {made} attempts")
    delay = rule.retry_after_seconds if rule.retry_after_seconds is not None else delays[made - 1]
    return Decision(finished=False, next_attempt_at=now + delay, escalate=escalate,
                    note=f"attempt {made} of {len(delays) + 1}, retry in {delay:g} s")


def next_allowed(config: DialerConfig, risk: RiskLevel, now: float) -> float:
    """`now` if a warning of this risk may be called now, else when its window opens."""
    window = config.calling_windows.get(risk)
    if window is None:
        return now
    zone = config.zone
    moment = dt.datetime.fromtimestamp(now, zone)
    return max(now, window.next_opening(moment).timestamp())


def start_of_local_day(now: float, zone: ZoneInfo) -> float:
    moment = dt.datetime.fromtimestamp(now, zone)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def start_of_next_local_day(now: float, zone: ZoneInfo) -> float:
    moment = dt.datetime.fromtimestamp(now, zone).replace(hour=0, minute=0, second=0, microsecond=0)
    return (moment + dt.timedelta(days=1)).replace(tzinfo=zone).timestamp()


class Pacer:
    """A token bucket for new calls: `rate` per second, bursts up to `burst`."""

    def __init__(self, rate_per_second: float, burst: float | None = None) -> None:
        self.rate = rate_per_second
        self.burst = burst if burst is not None else max(1.0, rate_per_second / 10)
        self._tokens = self.burst
        self._at: float | None = None

    def wait_seconds(self, now: float) -> float:
        """How long until the next call may start (0: now)."""
        self._refill(now)
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self._tokens -= 1

    def set_rate(self, rate_per_second: float, now: float) -> None:
        """A new rate from now on (what was earned so far at the old one is kept, up to the new burst)."""
        self._refill(now)
        self.rate = rate_per_second
        self.burst = max(1.0, rate_per_second / 10)
        self._tokens = min(self.burst, self._tokens)

    def give_back(self, now: float) -> None:
        """A token taken for a call that did not start."""
        self._refill(now)
        self._tokens = min(self.burst, self._tokens + 1)

    def _refill(self, now: float) -> None:
        if self._at is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now


class CircuitBreaker:
    """Stops dialling when too many recent attempts failed on the trunk (`failed`).

    Closed: calls flow. Open: no calls for `open_seconds`. Then half-open: one probe call;
    its success closes the breaker, its failure opens it again."""

    def __init__(self, window_seconds: float, min_attempts: int, failure_ratio: float, open_seconds: float) -> None:
        self.window_seconds = window_seconds
        self.min_attempts = min_attempts
        self.failure_ratio = failure_ratio
        self.open_seconds = open_seconds
        self._results: deque[tuple[float, bool]] = deque()
        self.opened_at: float | None = None
        self._probing = False
        self.trips = 0

    def state(self, now: float) -> str:
        if self.opened_at is None:
            return "closed"
        return "open" if now < self.opened_at + self.open_seconds else "half_open"

    def allow(self, now: float) -> bool:
        state = self.state(now)
        if state == "closed":
            return True
        if state == "half_open" and not self._probing:
            self._probing = True
            return True
        return False

    def failure_rate(self, now: float) -> float:
        self._forget(now)
        if not self._results:
            return 0.0
        return sum(failed for _, failed in self._results) / len(self._results)

    def abstain(self) -> None:
        """An attempt that says nothing about the trunk (the robot failed, or stopped the call
        itself) ended: if it was the probe, the next attempt may probe instead."""
        self._probing = False

    def record(self, now: float, failed: bool) -> bool:
        """Count one finished attempt; True if this tripped the breaker."""
        if self.opened_at is not None:
            if self._probing:
                self._probing = False
                if failed:
                    self.opened_at = now
                else:
                    self.opened_at = None
                    self._results.clear()
            return False
        self._results.append((now, failed))
        self._forget(now)
        if len(self._results) >= self.min_attempts and self.failure_rate(now) >= self.failure_ratio:
            self.opened_at = now
            self.trips += 1
            return True
        return False

    def _forget(self, now: float) -> None:
        while self._results and self._results[0][0] < now - self.window_seconds:
            self._results.popleft()
