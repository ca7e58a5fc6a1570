"""What the call workers report, counted as it arrives and stored when the store can.

`count` runs at once (metrics, the trunk circuit breaker: they must not wait for a slow or
locked store); `store` is what the `ResultRecorder` retries until the store takes it: the
policy decides the warning's next step from the stored warning, and the attempt, its
escalations and the warning change in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..masking import mask_phone
from ..sip.outcome import CallOutcome
from ..sip.result import CallResult
from ..store.records import AttemptResult, EscalationRecord
from ..store.repository import NotFound, Repository
from .config import PolicyConfig
from .metrics import Metrics
from .policy import CircuitBreaker, decide
from .results import AttemptFinished, EscalationHeard, Report

_LOGGER = logging.getLogger(__name__)


class AttemptReports:
    def __init__(
        self,
        repository: Repository,
        policy: PolicyConfig,
        metrics: Metrics,
        breaker: CircuitBreaker,
        *,
        stored: Callable[[list[EscalationRecord]], None],
    ) -> None:
        """`stored(opened)` is told after each report is stored, with the escalations it opened."""
        self.repository = repository
        self.policy = policy
        self.metrics = metrics
        self.breaker = breaker
        self._stored = stored

    def count(self, result: CallResult, now: float) -> None:
        """Metrics and the trunk circuit breaker, as the result arrives."""
        if result.call_outcome is CallOutcome.FAILED:
            tripped = self.breaker.record(now, failed=True)
        elif result.call_outcome in (CallOutcome.INTERRUPTED, CallOutcome.ROBOT_ERROR):
            tripped = False
            self.breaker.abstain()  # says nothing about the trunk
        else:
            tripped = self.breaker.record(now, failed=False)
        metrics = self.metrics
        if tripped:
            metrics.circuit_trips.inc()
            _LOGGER.error("trunk circuit breaker OPEN: %.0f%% of recent attempts failed on the trunk; no new calls for %g s",
                          100 * self.breaker.failure_rate(now), self.breaker.open_seconds)
        metrics.outcomes.labels(result.outcome.value).inc()
        if result.sip_status:
            metrics.sip_status.labels(str(result.sip_status)).inc()
        stats = result.stats
        for seconds in stats.asr_final_seconds:
            metrics.asr_latency.observe(seconds)
        for seconds in stats.tts_first_audio_seconds:
            metrics.tts_latency.observe(seconds)
        metrics.audio_underruns.inc(stats.audio_gaps)
        metrics.frames_received.inc(stats.frames_received)
        metrics.frames_late.inc(stats.frames_processed_late + stats.frames_dropped)
        metrics.recognizer_restarts.inc(stats.recognizer_restarts)

    async def store(self, report: Report) -> None:
        if isinstance(report, AttemptFinished):
            opened = await self._store_result(report)
        elif isinstance(report, EscalationHeard):
            opened = await self._store_escalation(report)
        else:
            closed = await self.repository.recover(report.received_at, attempt_ids=report.attempt_ids)
            self.metrics.interrupted.inc(len(closed))
            _LOGGER.error("call worker %s died with %d call(s) up: attempts %s closed as interrupted and re-queued",
                          report.worker, len(closed), closed)
            opened = []
        self._stored(opened)

    async def _store_escalation(self, report: EscalationHeard) -> list[EscalationRecord]:
        attempt = await self.repository.get_attempt(report.attempt_id)
        if attempt is None:
            raise NotFound(f"an escalation for unknown attempt {report.attempt_id}")
        event = report.event
        escalation, created = await self.repository.open_escalation(
            attempt.warning_id, event.reason.value, phrase=event.phrase or "", mode=event.mode, attempt_id=report.attempt_id,
            now=report.received_at,
        )
        if not created:
            return []
        _LOGGER.warning("attempt %s: escalation %s (%s, %s) opened during the call", report.attempt_id, escalation.id,
                        escalation.reason, escalation.mode.value)
        return [escalation]

    async def _store_result(self, report: AttemptFinished) -> list[EscalationRecord]:
        result, now = report.result, report.received_at
        attempt = await self.repository.get_attempt(report.attempt_id)
        warning = await self.repository.get_warning(attempt.warning_id) if attempt else None
        if attempt is None or warning is None:
            raise NotFound(f"a result for unknown attempt {report.attempt_id}")
        outcome = AttemptResult(
            sip_status=result.sip_status, call_outcome=result.call_outcome.value, outcome=result.outcome,
            answered=result.answered, duration_seconds=result.duration_seconds, transcript=result.transcript,
            escalation=result.escalation.model_dump(mode="json") if result.escalation else None,
            recording=result.recording, error=result.error, path=result.path,
        )
        decision = decide(self.policy, warning, outcome, now)
        opened = await self.repository.finish_attempt(report.attempt_id, outcome, decision, now)
        _LOGGER.info("warning %s: attempt %d to %s -> %s (%s)%s%s", warning.external_id, attempt.number, mask_phone(warning.phone),
                     outcome.outcome.value, outcome.sip_status, f"; {decision.note}" if decision.note else "",
                     f"; error: {outcome.error}" if outcome.error else "")
        return opened
