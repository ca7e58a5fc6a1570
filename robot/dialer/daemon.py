"""The dialer daemon: intake, the store, the scheduler, outcomes, escalations and deliveries.

One asyncio loop. Calls run in call-worker processes (`workers.py`); everything the
daemon decides is written to the store before it acts, so a `kill -9` loses nothing:
on the next start, attempts left in flight are closed as `interrupted` and re-queued.
What the workers report goes through `ResultRecorder`, so a store that is locked or full
delays storing it but never costs a call. The HTTP API talks to this class only through
the methods under "for the API".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest

from ..clock import Clock, WallClock
from ..dialog.const import AttemptOutcome, EscalationReason, RiskLevel
from ..dialog.events import EscalationRequested
from ..dialog.loader import ScriptError
from ..escalation.webhook import Deliverer
from ..masking import mask_phone
from ..sip.config import SipConfig, load_sip_config
from ..sip.result import CallRequest, CallResult
from ..speech.kit import SpeechKit
from ..store.records import (
    Accepted,
    DeliveryKind,
    EscalationRecord,
    EscalationStatus,
    NodeRecord,
    QueuedEscalation,
    WarningDetail,
    WarningRecord,
)
from ..store.repository import NotFound, Repository, StoreError
from .config import DialerConfig
from .health import Health, health_of
from .intake import FieldError, IntakeRules, intake_for, validate_warning
from .metrics import Metrics
from .outbox import compose_deliveries
from .pacing import pacing_for
from .policy import (
    CircuitBreaker,
    next_allowed,
    start_of_local_day,
    start_of_next_local_day,
)
from .reports import AttemptReports
from .results import AttemptFinished, AttemptsLost, EscalationHeard, ResultRecorder
from .scripts import ScriptLibrary, warning_values
from .wire import StartCall
from .workers import CallPool, PoolListener, WorkerPool

_LOGGER = logging.getLogger(__name__)
DIALLED_RISKS = (RiskLevel.MEDIUM, RiskLevel.LOW)
JOURNAL_REPLAY_SECONDS = 60.0
HEARTBEAT_SECONDS = 5.0
"""A node writes that it is alive this often; one not heard from for three times as long is not listed."""


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
        api_url: str = "",
    ) -> None:
        self.config = config
        self.api_url = api_url
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
        self.pacing = pacing_for(repository, config.calls_per_second, config.cluster_pacing, lambda: len(self.nodes_alive))
        breaker = config.circuit_breaker
        self.breaker = CircuitBreaker(breaker.window_seconds, breaker.min_attempts, breaker.failure_ratio, breaker.open_seconds)
        hooks = config.webhooks
        self.deliverer = Deliverer(
            repository, self.clock, compose=compose_deliveries(repository, hooks, config.zone), secret=hooks.secret.read() if hooks.secret else None,
            retry_delays_seconds=hooks.retry_delays_seconds, timeout_seconds=hooks.timeout_seconds,
            allowed_hosts=hooks.allowed_hosts(), per_host=hooks.concurrent_per_host,
            lanes={DeliveryKind.ESCALATION: hooks.concurrent_escalations, DeliveryKind.OUTCOME: hooks.concurrent_outcomes},
        )
        self.reports = AttemptReports(repository, config.policy, self.metrics, self.breaker, stored=self._stored)
        self.recorder = ResultRecorder(self.reports.store, config.results_journal)
        self.lease_seconds = self.sip.max_call_seconds + self.sip.ring_timeout_seconds + config.lease_margin_seconds
        self.draining = False
        self.started = False
        self.delivery_backlog: tuple[int, float | None] = (0, None)
        self.nodes_alive: list[NodeRecord] = []
        self._heartbeat_at: float | None = None
        self._wake = asyncio.Event()
        self._deliveries_due = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- intake ----------------------------------------------------------------------

    async def submit(self, items: Sequence[Any], *, locs: Sequence[tuple[str | int, ...]] | None = None) -> list[Accepted]:
        """Validate every warning first (off the event loop: a batch of a thousand takes a
        while); if any is bad, raise IntakeError and store none. Then store them all in one
        transaction (idempotent on their ids; StoreUnavailable: none stored); high risk becomes
        an escalation at once."""
        errors, valid = await asyncio.to_thread(self._validate, items, locs)
        if errors:
            self.metrics.warnings_rejected.inc(len(items))
            raise IntakeError(errors)
        accepted = await self.repository.accept_warnings([intake_for(warning) for warning in valid], self.clock.now())
        for result in accepted:
            if not result.created:
                continue
            warning = result.warning
            self.metrics.warnings_accepted.labels(warning.risk.value).inc()
            _LOGGER.info("warning %s accepted: %s risk, %s%s", warning.external_id, warning.risk.value, mask_phone(warning.phone),
                         f", merged into {result.merged_into_external_id}" if result.merged_into else "")
            if result.escalation_id is not None:
                self.metrics.escalations.labels(EscalationReason.HIGH_RISK.value, "ticket").inc()
                self._deliveries_due.set()
        self.wake()
        return accepted

    def intake_rules(self) -> IntakeRules:
        return self.config.intake_rules(self.library.warning_variables)

    def _validate(
        self, items: Sequence[Any], locs: Sequence[tuple[str | int, ...]] | None
    ) -> tuple[list[FieldError], list[Any]]:
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
        self._wake.set()

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
            wait = await self.pacing.acquire(now)
            if wait > 0:
                return wait
            if not self.breaker.allow(now):
                await self.pacing.give_back(now)
                return None
            if await self._start_call(warning, now):
                started += 1
            else:
                await self.pacing.give_back(now)
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
            await self.repository.finish_without_call(warning.id, AttemptOutcome.NO_SCRIPT, EscalationReason.NO_SCRIPT.value, now)
            self.metrics.escalations.labels(EscalationReason.NO_SCRIPT.value, "ticket").inc()
            self._deliveries_due.set()
            return False
        attempt = await self.repository.claim(
            warning.id, owner=self.config.node_id, worker=self.config.node_id, script=version.name,
            script_version=version.version, lease_seconds=self.lease_seconds, now=now,
        )
        if attempt is None:
            return False  # another attempt to this number is live, or another node took it
        request = CallRequest(
            target=warning.dial_number, script=version.script, warning_id=warning.external_id,
            variables=warning_values(warning, version), headers={"X-Warning-Id": warning.external_id},
            recording_name=f"attempt-{attempt.id}",  # never from the warning: it names a file
        )
        try:
            worker = await self.pool.dispatch(StartCall(attempt_id=attempt.id, request=request))
        except Exception as err:
            _LOGGER.error("attempt %s could not be handed to a worker (%s): back in the queue", attempt.id, err)
            self.recorder.add(AttemptsLost(attempt_ids=[attempt.id], worker="-", received_at=self.clock.now()))
            return False
        self.metrics.calls_started.inc()
        self.metrics.active_calls.set(self.pool.active_calls())
        if attempt.number == 1:
            self.metrics.dial_latency.observe(max(0.0, now - warning.accepted_at))
        _LOGGER.info("warning %s: calling %s (attempt %d, %s, worker %s)", warning.external_id, mask_phone(warning.phone),
                     attempt.number, version.name, worker)
        return True

    # -- what the workers report: taken at once, stored by the recorder ----------------

    def attempt_event(self, attempt_id: int, event: EscalationRequested) -> None:
        self.recorder.add(EscalationHeard(attempt_id=attempt_id, event=event, received_at=self.clock.now()))

    def attempt_finished(self, attempt_id: int, result: CallResult) -> None:
        now = self.clock.now()
        self.reports.count(result, now)
        self.recorder.add(AttemptFinished(attempt_id=attempt_id, result=result, received_at=now))
        self.wake()

    def attempts_lost(self, attempt_ids: list[int], worker: str) -> None:
        self.metrics.worker_restarts.inc()
        self.recorder.add(AttemptsLost(attempt_ids=attempt_ids, worker=worker, received_at=self.clock.now()))

    def slot_freed(self) -> None:
        self.wake()

    def _stored(self, opened: list[EscalationRecord]) -> None:
        """A worker's report was stored: count what it escalated; deliveries and calls may be due."""
        for escalation in opened:
            self.metrics.escalations.labels(escalation.reason, escalation.mode.value).inc()
        self._deliveries_due.set()
        self.wake()

    # -- for the API ---------------------------------------------------------------------

    async def warning(self, external_id: str) -> WarningDetail | None:
        warning = await self.repository.get_warning_by_external_id(external_id)
        return await self.repository.warning_detail(warning) if warning else None

    async def escalation_queue(
        self, *, status: EscalationStatus | None, reason: str | None, since: float | None, after: int | None, limit: int,
    ) -> list[QueuedEscalation]:
        return await self.repository.escalation_queue(status=status, reason=reason, since=since, after=after, limit=limit)

    async def claim_escalation(self, escalation_id: int, officer: str) -> QueuedEscalation:
        await self.repository.claim_escalation(escalation_id, officer, self.clock.now())
        return await self._queued(escalation_id)

    async def resolve_escalation(self, escalation_id: int, officer: str, notes: str, *, over_claim: bool = False) -> QueuedEscalation:
        await self.repository.resolve_escalation(escalation_id, officer, notes, self.clock.now(), over_claim=over_claim)
        return await self._queued(escalation_id)

    async def add_escalation_note(self, escalation_id: int, officer: str, text: str) -> QueuedEscalation:
        await self.repository.add_escalation_note(escalation_id, officer, text, self.clock.now())
        return await self._queued(escalation_id)

    async def _queued(self, escalation_id: int) -> QueuedEscalation:
        entry = await self.repository.queued_escalation(escalation_id)
        if entry is None:
            raise NotFound(f"no escalation {escalation_id}")
        return entry

    def health(self) -> Health:
        return health_of(self)

    def metrics_text(self) -> bytes:
        return generate_latest(self.metrics.registry)

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
        """Open the store, store what the last run's workers reported but could not store,
        recover what it left in flight, load the scripts, start the workers and the loops."""
        await self.repository.open()
        await self.recorder.replay(JOURNAL_REPLAY_SECONDS)
        await self.repository.heartbeat(self.config.node_id, self.api_url, self.clock.now(), starting=True)
        self.nodes_alive = await self.repository.nodes_alive(since=self.clock.now() - 3 * HEARTBEAT_SECONDS)
        recovered = await self.repository.recover(self.clock.now(), owner=self.config.node_id)
        if recovered:
            self.metrics.interrupted.inc(len(recovered))
            _LOGGER.warning("closed %d attempt(s) left in flight by the last run as interrupted; re-queued", len(recovered))
        if not self.library.scripts:
            await self.library.load()
        await self.pool.start()
        self._spawn(self.recorder.run(), "results")
        self._spawn(self._loop("scheduler", self._schedule), "scheduler")
        self._spawn(self._loop("deliveries", self._deliver), "deliveries")
        self._spawn(self._loop("leases", self._renew_leases), "leases")
        self._spawn(self._loop("gauges", self._gauges), "gauges")
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
        await self.recorder.flush(10)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.deliverer.deliver_due(), 5)
        await self.deliverer.close(drain_seconds=5)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.repository.close()

    async def _loop(self, name: str, once: Callable[[], Awaitable[None]]) -> None:
        """Run `once()` (a pass and its wait) again and again until cancelled. A store that
        is unavailable is said once, by the store; anything else is logged each time."""
        while True:
            try:
                await once()
            except StoreError:
                await asyncio.sleep(1.0)
            except Exception:
                _LOGGER.exception("the %s pass failed; trying again", name)
                await asyncio.sleep(1.0)

    async def _schedule(self) -> None:
        pace = None if self.draining else await self.schedule_once()
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

    async def _deliver(self) -> None:
        self.deliverer.finished.clear()
        await self.deliverer.deliver_due()
        await _first_event(self._deliveries_due, self.deliverer.finished, timeout_seconds=1.0)

    async def _renew_leases(self) -> None:
        await asyncio.sleep(max(5.0, self.lease_seconds / 4))
        now = self.clock.now()
        await self.repository.renew_leases(self.config.node_id, now + self.lease_seconds)
        expired = await self.repository.recover(now)  # other nodes' attempts whose lease ran out
        if expired:
            _LOGGER.warning("re-queued %d attempt(s) whose lease expired", len(expired))
            self.wake()

    async def _gauges(self) -> None:
        await self.refresh_gauges()
        await asyncio.sleep(1.0)

    async def refresh_gauges(self) -> None:
        """The gauges of /metrics and the delivery backlog of /healthz (every second)."""
        metrics = self.metrics
        metrics.workers_alive.set(self.pool.alive_workers())
        metrics.active_calls.set(self.pool.active_calls())
        metrics.circuit_open.set(0 if self.breaker.state(self.clock.now()) == "closed" else 1)
        metrics.results_waiting.set(self.recorder.pending)
        metrics.store_available.set(0 if self.repository.unavailable() else 1)
        metrics.count_deliveries(self.deliverer.delivered, self.deliverer.failed_tries)
        for risk, count in (await self.repository.queue_depth()).items():
            metrics.queue_depth.labels(risk).set(count)
        self.delivery_backlog = await self.repository.delivery_backlog()
        now = self.clock.now()
        if self._heartbeat_at is None or now - self._heartbeat_at >= HEARTBEAT_SECONDS:
            await self.repository.heartbeat(self.config.node_id, self.api_url, now)
            self._heartbeat_at = now
        self.nodes_alive = await self.repository.nodes_alive(since=now - 3 * HEARTBEAT_SECONDS)
        backlog, oldest = self.delivery_backlog
        metrics.delivery_backlog.set(backlog)
        metrics.delivery_oldest_seconds.set(max(0.0, self.clock.now() - oldest) if oldest is not None else 0.0)


async def _first_event(*events: asyncio.Event, timeout_seconds: float) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout_seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    for event in events:
        event.clear()


class IntakeError(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e.loc))}: {e.message}" for e in errors))
        self.errors = errors
