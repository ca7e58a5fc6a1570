"""The dialer daemon: intake, the store, the scheduler, outcomes, escalations and deliveries.

One asyncio loop. Calls run in call-worker processes (`workers.py`); everything the
daemon decides is written to the store before it acts, so a `kill -9` loses nothing:
on the next start, attempts left in flight are closed as `interrupted` and re-queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..clock import Clock, WallClock
from ..dialog.const import EscalationMode, EscalationReason, RiskLevel
from ..dialog.loader import ScriptError
from ..escalation.webhook import Deliverer
from ..sip.config import SipConfig, load_sip_config
from ..speech.kit import SpeechKit
from ..store.records import Accepted, AttemptResult, EscalationRecord, NewWarning, WarningRecord
from ..store.repository import Repository
from .config import DialerConfig
from .intake import FieldError, IntakeRules, validate_warning
from .metrics import Metrics
from .policy import (
    CircuitBreaker,
    Pacer,
    decide,
    next_allowed,
    start_of_local_day,
    start_of_next_local_day,
)
from .scripts import ScriptLibrary, ScriptVersion
from .workers import CallPool, Job, PoolListener, WorkerPool

_LOGGER = logging.getLogger(__name__)
DIALLED_RISKS = (RiskLevel.MEDIUM, RiskLevel.LOW)
RESULT_FIELDS = set(AttemptResult.model_fields)


def masked(phone: str) -> str:
    return f"***{phone[-4:]}"


class Daemon(PoolListener):
    def __init__(
        self,
        config: DialerConfig,
        repository: Repository,
        *,
        clock: Clock | None = None,
        pool: CallPool | None = None,
        config_path: Path | None = None,
        sip: SipConfig | None = None,
        library: ScriptLibrary | None = None,
    ) -> None:
        self.config = config
        self.repository = repository
        self.clock = clock or WallClock()
        self.sip = sip or load_sip_config(config.sip_config)
        self.library = library or ScriptLibrary(config.dialogs_dir, SpeechKit(config.speech))
        self.metrics = Metrics()
        self.pool: CallPool = pool or WorkerPool(
            self, processes=config.workers.processes, slots_per_process=config.workers.calls_per_process,
            config_path=config_path, start_timeout_seconds=config.workers.start_timeout_seconds,
            restart_delay_seconds=config.workers.restart_delay_seconds, log_path=config.workers.log_file,
        )
        self.pacer = Pacer(config.calls_per_second)
        breaker = config.circuit_breaker
        self.breaker = CircuitBreaker(breaker.window_seconds, breaker.min_attempts, breaker.failure_ratio, breaker.open_seconds)
        hooks = config.webhooks
        configured = {host for url in (hooks.escalation_url, hooks.outcome_url) if url
                      for host in ((urlsplit(url).hostname or "").lower(),)}
        self.deliverer = Deliverer(
            repository, self.clock, secret=hooks.secret.read() if hooks.secret else None,
            retry_delays_seconds=hooks.retry_delays_seconds, timeout_seconds=hooks.timeout_seconds,
            allowed_hosts={*hooks.allowed_callback_hosts, *configured},
        )
        self.lease_seconds = self.sip.max_call_seconds + self.sip.ring_timeout_seconds + config.lease_margin_seconds
        self.draining = False
        self._wake: asyncio.Event | None = None
        self._deliveries_due: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.started = False

    # -- intake ----------------------------------------------------------------------

    async def submit(self, items: Sequence[Any], *, locs: Sequence[tuple[str | int, ...]] | None = None) -> list[Accepted]:
        """Validate every warning first (off the event loop: a batch of a thousand takes a
        while); if any is bad, raise IntakeError and store none. Then store each (idempotent
        on its id); high risk becomes an escalation at once."""
        errors, valid = await asyncio.to_thread(self._validate, items, locs)
        if errors:
            self.metrics.warnings_rejected.inc(len(items))
            raise IntakeError(errors)
        accepted = []
        for warning in valid:
            result = await store_warning(self.repository, self.config, warning, self.clock.now())
            accepted.append(result)
            if result.created:
                self.metrics.warnings_accepted.labels(warning.risk.value).inc()
                _LOGGER.info("warning %s accepted: %s risk, %s%s", warning.external_id, warning.risk.value,
                             masked(warning.phone), f", merged into #{result.merged_into}" if result.merged_into else "")
                if result.escalation_id is not None:
                    self.metrics.escalations.labels(EscalationReason.HIGH_RISK.value, "ticket").inc()
                    self._deliveries_wake()
        self.wake()
        return accepted

    def intake_rules(self) -> IntakeRules:
        return self.config.intake_rules(self.library.warning_variables)

    def _validate(
        self, items: Sequence[Any], locs: Sequence[tuple[str | int, ...]] | None
    ) -> tuple[list[FieldError], list[NewWarning]]:
        rules = self.intake_rules()
        errors: list[FieldError] = []
        valid = []
        for index, item in enumerate(items):
            checked = validate_warning(item, rules, loc=locs[index] if locs is not None else ("body", index))
            if isinstance(checked, list):
                errors += checked
            else:
                valid.append(checked)
        return errors, valid

    # -- scheduling ------------------------------------------------------------------

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _deliveries_wake(self) -> None:
        if self._deliveries_due is not None:
            self._deliveries_due.set()

    async def schedule_once(self) -> float | None:
        """Start the calls that are due and fit. Returns how long the pacer asks to wait
        before the next call (None: nothing is waiting on the pacer)."""
        now = self.clock.now()
        if self.draining:
            return None
        free = self.pool.free_slots()
        self.metrics.free_slots.set(max(free, 0))
        if free <= 0 or self.breaker.state(now) == "open":
            return None
        due = await self.repository.due_warnings(now, DIALLED_RISKS, limit=free * 4)
        started = 0
        for warning in due:
            if started >= free:
                break
            if not await self._may_call(warning, now):
                continue
            wait = self.pacer.wait_seconds(now)
            if wait > 0:
                return wait
            if not self.breaker.allow(now):
                return None
            if await self._start_call(warning, now):
                started += 1
        return None

    async def _may_call(self, warning: WarningRecord, now: float) -> bool:
        allowed = next_allowed(self.config, warning.risk, now)
        if allowed > now:
            await self.repository.defer(warning.id, allowed, "outside its calling window", now)
            return False
        zone = self.config.zone
        if await self.repository.attempts_since(warning.phone, start_of_local_day(now, zone)) >= self.config.max_attempts_per_number_per_day:
            tomorrow = start_of_next_local_day(now, zone)
            await self.repository.defer(warning.id, next_allowed(self.config, warning.risk, tomorrow),
                                        "daily attempt cap for this number", now)
            return False
        return True

    async def _start_call(self, warning: WarningRecord, now: float) -> bool:
        version = self.library.select(warning.language, warning.fraud_type, warning.risk.value)
        if version is None:
            _LOGGER.error("warning %s: no %s script for %s; escalating", warning.external_id, warning.language, warning.fraud_type)
            await self.repository.finish_without_call(
                warning.id, "no_script", EscalationReason.NO_SCRIPT.value, now,
                escalation_url=self.config.webhooks.escalation_url, outcome_url=self.config.webhooks.outcome_url,
            )
            self.metrics.escalations.labels(EscalationReason.NO_SCRIPT.value, "ticket").inc()
            self._deliveries_wake()
            return False
        attempt = await self.repository.claim(
            warning.id, owner=self.config.node_id, worker=self.config.node_id, script=version.name,
            script_version=version.version, lease_seconds=self.lease_seconds, now=now,
        )
        if attempt is None:
            return False  # another attempt to this number is live, or another node took it
        self.pacer.take(now)
        job = Job(
            attempt_id=attempt.id, target=warning.dial_number, script=version.as_json(), warning_id=warning.external_id,
            variables=warning_values(warning, version), headers={"X-Warning-Id": warning.external_id},
            recording_name=f"attempt-{attempt.id}",  # never from the warning: it names a file
        )
        try:
            worker = await self.pool.dispatch(job)
        except Exception as err:
            _LOGGER.error("attempt %s could not be handed to a worker (%s): back in the queue", attempt.id, err)
            await self.repository.recover(self.clock.now(), attempt_ids=[attempt.id])
            return False
        self.metrics.calls_started.inc()
        self.metrics.active_calls.set(self.pool.active_calls())
        if attempt.number == 1:
            self.metrics.dial_latency.observe(max(0.0, now - warning.accepted_at))
        _LOGGER.info("warning %s: calling %s (attempt %d, %s, worker %s)", warning.external_id, masked(warning.phone),
                     attempt.number, version.name, worker)
        return True

    # -- what the workers report -----------------------------------------------------

    async def attempt_event(self, attempt_id: int, event: dict[str, Any]) -> None:
        if event.get("type") != "escalation":
            return
        attempt = await self.repository.get_attempt(attempt_id)
        if attempt is None:
            return
        escalation, created = await self.repository.open_escalation(
            attempt.warning_id, event.get("reason", EscalationReason.URGENT_SPEECH.value), phrase=event.get("phrase") or "",
            mode=EscalationMode(event.get("mode", "ticket")), attempt_id=attempt_id, now=self.clock.now(),
            escalation_url=self.config.webhooks.escalation_url,
        )
        if not created:
            return
        self._count_escalations([escalation])
        _LOGGER.warning("attempt %s: escalation %s (%s, %s) opened during the call", attempt_id, escalation.id,
                        escalation.reason, escalation.mode.value)

    async def attempt_finished(self, attempt_id: int, result: dict[str, Any]) -> None:
        now = self.clock.now()
        outcome = AttemptResult.model_validate({k: v for k, v in result.items() if k in RESULT_FIELDS})
        attempt = await self.repository.get_attempt(attempt_id)
        warning = await self.repository.get_warning(attempt.warning_id) if attempt else None
        if attempt is None or warning is None:
            _LOGGER.error("a result for unknown attempt %s was dropped", attempt_id)
            return
        decision = decide(self.config.policy, warning, outcome, now)
        if outcome.call_outcome != "interrupted" and self.breaker.record(now, failed=outcome.call_outcome == "failed"):
            self.metrics.circuit_trips.inc()
            _LOGGER.error("trunk circuit breaker OPEN: %.0f%% of recent attempts failed on the trunk; no new calls for %g s",
                          100 * self.breaker.failure_rate(now), self.breaker.open_seconds)
        opened = await self.repository.finish_attempt(
            attempt_id, outcome, decision, now,
            escalation_url=self.config.webhooks.escalation_url, outcome_url=self.config.webhooks.outcome_url,
        )
        self._count_escalations(opened)
        self.metrics.outcomes.labels(outcome.outcome).inc()
        if outcome.sip_status:
            self.metrics.sip_status.labels(str(outcome.sip_status)).inc()
        if outcome.call_outcome == "interrupted":
            self.metrics.interrupted.inc()
        stats = result.get("stats") or {}
        for seconds in stats.get("asr_final_seconds", []):
            self.metrics.asr_latency.observe(seconds)
        for seconds in stats.get("tts_first_audio_seconds", []):
            self.metrics.tts_latency.observe(seconds)
        self.metrics.audio_underruns.inc(stats.get("audio_gaps", 0))
        self.metrics.frames_received.inc(stats.get("frames_received", 0))
        self.metrics.frames_late.inc(stats.get("frames_processed_late", 0) + stats.get("frames_dropped", 0))
        self.metrics.active_calls.set(self.pool.active_calls())
        _LOGGER.info("warning %s: attempt %d to %s -> %s (%s)%s", warning.external_id, attempt.number, masked(warning.phone),
                     outcome.outcome, outcome.sip_status, f"; {decision.note}" if decision.note else "")
        self._deliveries_wake()
        self.wake()

    def _count_escalations(self, opened: list[EscalationRecord]) -> None:
        for escalation in opened:
            self.metrics.escalations.labels(escalation.reason, escalation.mode.value).inc()
        if opened:
            self._deliveries_wake()

    async def attempts_lost(self, attempt_ids: list[int], worker: str) -> None:
        closed = await self.repository.recover(self.clock.now(), attempt_ids=attempt_ids)
        self.metrics.interrupted.inc(len(closed))
        self.metrics.worker_restarts.inc()
        _LOGGER.error("call worker %s died with %d call(s) up: attempts %s closed as interrupted and re-queued",
                      worker, len(closed), closed)
        self.wake()

    def slot_freed(self) -> None:
        self.wake()

    # -- officers' queue -------------------------------------------------------------

    async def warning_view(self, external_id: str) -> dict[str, Any] | None:
        warning = await self.repository.get_warning_by_external_id(external_id)
        if warning is None:
            return None
        carrier_id = warning.merged_into or warning.id
        attempts = await self.repository.attempts_of(carrier_id)
        escalations = await self.repository.escalations(warning_id=carrier_id)
        return self.local_times({
            "id": warning.external_id, "phone": warning.phone, "name": warning.name, "risk": warning.risk.value,
            "fraud_type": warning.fraud_type, "language": warning.language, "received_at": warning.received_at,
            "status": warning.status.value, "outcome": warning.outcome, "attempts_used": warning.attempts,
            "next_attempt_at": warning.next_attempt_at if warning.status.value == "queued" else None,
            "script": warning.script, "merged_into": (await self._external_id(warning.merged_into)),
            "attempts": [a.model_dump(mode="json") for a in attempts],
            "escalation": escalations[-1].model_dump(mode="json") if escalations else None,
            "escalations": [e.model_dump(mode="json") for e in escalations],
        })

    def local_times(self, value: Any) -> Any:
        """Epoch seconds under `*_at` keys become ISO 8601 in the configured time zone."""
        if isinstance(value, list):
            return [self.local_times(item) for item in value]
        if isinstance(value, dict):
            return {
                key: dt.datetime.fromtimestamp(item, self.config.zone).isoformat(timespec="milliseconds")
                if key.endswith("_at") and isinstance(item, float | int) and not isinstance(item, bool) else self.local_times(item)
                for key, item in value.items()
            }
        return value

    async def _external_id(self, warning_id: int | None) -> str | None:
        if warning_id is None:
            return None
        carrier = await self.repository.get_warning(warning_id)
        return carrier.external_id if carrier else None

    # -- running ---------------------------------------------------------------------

    def _spawn(self, coroutine: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(coroutine)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("daemon task %s crashed", task.get_name(), exc_info=task.exception())

    async def start(self) -> None:
        """Open the store, recover what a previous run left in flight, load the scripts,
        start the workers and the background loops."""
        self._wake = asyncio.Event()
        self._deliveries_due = asyncio.Event()
        await self.repository.open()
        recovered = await self.repository.recover(self.clock.now(), owner=self.config.node_id)
        if recovered:
            self.metrics.interrupted.inc(len(recovered))
            _LOGGER.warning("closed %d attempt(s) left in flight by the last run as interrupted; re-queued", len(recovered))
        if not self.library.scripts:
            await self.library.load()
        await self.pool.start()
        self._spawn(self._scheduler_loop(), "scheduler")
        self._spawn(self._delivery_loop(), "deliveries")
        self._spawn(self._lease_loop(), "leases")
        self._spawn(self._gauge_loop(), "gauges")
        self.started = True

    async def reload_scripts(self) -> list[str]:
        """SIGHUP: check and swap in the scripts; on errors keep the old ones. Returns the problems."""
        try:
            await self.library.load()
        except ScriptError as err:
            problems = [str(p) for p in err.problems]
            _LOGGER.error("script reload rejected, the previous scripts stay in use:\n%s", "\n".join(problems))
            return problems
        _LOGGER.info("scripts reloaded: %s", ", ".join(f"{s.name} {s.version}" for s in self.library.scripts))
        return []

    async def stop(self, drain_seconds: float | None = None) -> None:
        """SIGTERM: no new calls; active calls may finish for up to the drain deadline."""
        self.draining = True
        drain = self.config.workers.drain_seconds if drain_seconds is None else drain_seconds
        _LOGGER.info("draining: no new calls; %d active call(s) may finish within %g s", self.pool.active_calls(), drain)
        await self.pool.stop(drain)
        await self._deliver_pending_now()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.deliverer.close()
        await self.repository.close()

    async def _deliver_pending_now(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.deliverer.deliver_due(), 5)

    async def _scheduler_loop(self) -> None:
        assert self._wake is not None
        while not self.draining:
            try:
                pace = await self.schedule_once()
            except Exception:
                _LOGGER.exception("scheduler pass failed; retrying")
                pace = 1.0
            timeout = pace if pace is not None else await self._idle_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()

    async def _idle_seconds(self) -> float:
        now = self.clock.now()
        candidates = [1.0]  # also picks up warnings imported by `robot warnings import`
        next_due = await self.repository.next_due_at(DIALLED_RISKS)
        if next_due is not None:
            candidates.append(max(0.01, next_due - now))
        if self.breaker.opened_at is not None:
            candidates.append(max(0.01, self.breaker.opened_at + self.breaker.open_seconds - now))
        return min(candidates)

    async def _delivery_loop(self) -> None:
        assert self._deliveries_due is not None
        while True:
            try:
                before = (self.deliverer.delivered, self.deliverer.failed_tries)
                await self.deliverer.deliver_due()
                self.metrics.deliveries.labels("delivered").inc(self.deliverer.delivered - before[0])
                self.metrics.deliveries.labels("failed").inc(self.deliverer.failed_tries - before[1])
            except Exception:
                _LOGGER.exception("delivery pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._deliveries_due.wait(), 1.0)
            self._deliveries_due.clear()

    async def _lease_loop(self) -> None:
        period = max(5.0, self.lease_seconds / 4)
        while True:
            await asyncio.sleep(period)
            now = self.clock.now()
            await self.repository.renew_leases(self.config.node_id, now + self.lease_seconds)
            expired = await self.repository.recover(now)  # other nodes' attempts whose lease ran out
            if expired:
                _LOGGER.warning("re-queued %d attempt(s) whose lease expired", len(expired))
                self.wake()

    async def _gauge_loop(self) -> None:
        while True:
            depth = await self.repository.queue_depth()
            for risk, count in depth.items():
                self.metrics.queue_depth.labels(risk).set(count)
            self.metrics.workers_alive.set(self.pool.alive_workers())
            self.metrics.active_calls.set(self.pool.active_calls())
            self.metrics.circuit_open.set(0 if self.breaker.state(self.clock.now()) == "closed" else 1)
            await asyncio.sleep(1.0)


def warning_values(warning: WarningRecord, version: ScriptVersion) -> dict[str, str]:
    """The script variables this warning sets: only those the script declares from_warning,
    and only values that fit them (checked at intake too; scripts may have been reloaded
    since). Everything else the robot says comes from the script."""
    given: dict[str, str] = {}
    extra_variables = warning.extra.get("variables")
    if isinstance(extra_variables, dict):
        given |= {str(key): value for key, value in extra_variables.items() if isinstance(value, str)}
    if warning.name:
        given["name"] = warning.name
    allowed = version.script.warning_variables()
    values = {}
    for key, value in given.items():
        variable = allowed.get(key)
        why = variable.refuses(value) if variable is not None else "the script does not let a warning set it"
        if why is None:
            values[key] = value
        elif key != "name" or variable is not None:
            _LOGGER.warning("warning %s: variable %s not used (%s)", warning.external_id, key, why)
    return values


async def store_warning(repository: Repository, config: DialerConfig, warning: NewWarning, now: float) -> Accepted:
    """Store one validated warning. High risk is not dialled: officers handle those in
    person, so it becomes an escalation at once."""
    high = warning.risk is RiskLevel.HIGH
    return await repository.accept_warning(
        warning, now, escalate_reason=EscalationReason.HIGH_RISK.value if high else None,
        escalation_url=config.webhooks.escalation_url,
    )


class IntakeError(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e.loc))}: {e.message}" for e in errors))
        self.errors = errors


