"""The shared store: PostgreSQL through psycopg 3, for several dialer nodes at once.

Selected by `database: postgresql://USER:PASSWORD@HOST:PORT/DB` (`store_for` in open.py).
The same schema as SQLite, from the same numbered migrations. What several nodes need:

- work is claimed with `SELECT … FOR UPDATE SKIP LOCKED`: two nodes never wait on, nor
  both take, one warning;
- at most one live attempt per number is the database's own constraint (a partial unique
  index on in-flight attempts): a second claim's insert conflicts and the claim is undone;
- a lease carries its node's id and expires; any node recovers the attempts of a node whose
  leases ran out (`recover(now)`), and the warnings are dialled again;
- deliveries and the cluster's pacing live in `postgres_queue.py`.

This file holds warnings and attempts, the twin of `sqlite.py`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..dialog.const import AttemptOutcome, EscalationMode, RiskLevel
from .postgres_db import Connection, PostgresDatabase, fetch_all, fetch_one
from .postgres_queue import PostgresQueue
from .postgres_rows import attempt_record, audit, open_escalation, queue_outcomes, warning_record
from .postgres_stats import PostgresStatistics
from .postgres_users import PostgresUsers
from .records import (
    Accepted,
    AttemptRecord,
    AttemptResult,
    AttemptState,
    Decision,
    EscalationRecord,
    Intake,
    WarningRecord,
    WarningStatus,
)
from .repository import NotFound

RISK_ORDER = "CASE risk WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END"
RISK_RANK = {"low": 0, "medium": 1, "high": 2}
DELIVERY_CLAIM_SECONDS = 120.0
"""A delivery a node has taken is left to it this long; if the node dies, another takes it over then."""


INTAKE_LOCK = 0x6E756D  # the advisory lock class intake holds per number ("num")


class _NumberBusy(Exception):
    """The database refused a second live attempt for one number (the claim is undone)."""


class PostgresRepository(PostgresStatistics, PostgresQueue, PostgresUsers):
    def __init__(
        self, url: str, *, node_id: str = "robot", delivery_claim_seconds: float = DELIVERY_CLAIM_SECONDS,
        max_connections: int = 10,
    ) -> None:
        self.node_id = node_id
        self.delivery_claim_seconds = delivery_claim_seconds
        self.database = PostgresDatabase(url, max_connections=max_connections)

    @property
    def migrations(self) -> list[object]:
        return list(self.database.migrations)

    async def open(self) -> None:
        await self.database.open()

    async def close(self) -> None:
        await self.database.close()

    def unavailable(self) -> str | None:
        return self.database.failing

    def describe(self) -> str:
        return self.database.name

    async def schema_version(self) -> int:
        return await self.database.schema_version()

    # -- intake ----------------------------------------------------------------------

    async def accept_warnings(self, intakes: Sequence[Intake], now: float) -> list[Accepted]:
        async with self.database.transaction() as db:
            # Other nodes taking warnings for these numbers wait here, so the carrier one of them
            # queues is seen and merged into (locks taken in one order: no deadlock between batches).
            await db.execute(
                "SELECT pg_advisory_xact_lock(%s::int, hashtext(p)) FROM (SELECT DISTINCT p FROM unnest(%s::text[]) AS p ORDER BY p) AS numbers",
                (INTAKE_LOCK, sorted({intake.warning.phone for intake in intakes})),
            )
            return [await self._accept(db, intake, now) for intake in intakes]

    async def _accept(self, db: Connection, intake: Intake, now: float) -> Accepted:
        warning = intake.warning
        for _ in range(2):
            status, merged_into, merged_into_external_id = WarningStatus.QUEUED.value, None, None
            carrier = None
            if intake.escalate is None:
                carrier = await fetch_one(
                    db, "SELECT * FROM warnings WHERE phone = %s AND status IN ('queued', 'calling') ORDER BY id LIMIT 1",
                    warning.phone,
                )
                if carrier is not None and carrier["external_id"] != warning.external_id:
                    status, merged_into, merged_into_external_id = WarningStatus.MERGED.value, carrier["id"], carrier["external_id"]
            else:
                status = WarningStatus.DONE.value
            # ON CONFLICT: another node storing the same warning at this moment is waited for, not
            # failed; one queueing another warning for the number (the one-open-warning index) too.
            row = await fetch_one(
                db,
                """INSERT INTO warnings (external_id, phone, dial_number, name, risk, fraud_type, language, received_at,
                   callback_url, extra, accepted_at, status, next_attempt_at, merged_into, outcome, updated_at)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT DO NOTHING RETURNING *""",
                warning.external_id, warning.phone, warning.dial_number, warning.name, warning.risk.value, warning.fraud_type,
                warning.language, warning.received_at, warning.callback_url, json.dumps(warning.extra, ensure_ascii=False),
                now, status, now, merged_into, AttemptOutcome.ESCALATED.value if intake.escalate else None, now,
            )
            if row is not None:
                break
            existing = await fetch_one(db, "SELECT * FROM warnings WHERE external_id = %s", warning.external_id)
            if existing is not None:  # stored before: idempotent
                carrier_id = existing["merged_into"]
                carrier_row = await fetch_one(db, "SELECT external_id FROM warnings WHERE id = %s", carrier_id) if carrier_id else None
                return Accepted(warning=warning_record(existing), created=False, merged_into=carrier_id,
                                merged_into_external_id=carrier_row["external_id"] if carrier_row else None)
            # else a warning for the number was queued after the look above: look again, merge into it
        else:
            raise RuntimeError(f"warning {warning.external_id}: the number's open warning changed twice while storing it")
        warning_id = row["id"]
        if carrier is not None and merged_into is not None and RISK_RANK[warning.risk.value] > RISK_RANK[carrier["risk"]]:
            await db.execute("UPDATE warnings SET risk = %s, updated_at = %s WHERE id = %s", (warning.risk.value, now, merged_into))
        await audit(db, "accepted", now, warning_id, {"risk": warning.risk.value, "merged_into": merged_into})
        escalation_id = None
        if intake.escalate is not None:  # finished at once: an escalation, and the outcome to deliver
            escalation = await open_escalation(db, warning_id, intake.escalate, "", EscalationMode.TICKET, None, now)
            escalation_id = escalation.id
            await queue_outcomes(db, warning_id, now)
        return Accepted(warning=warning_record(row), created=True, merged_into=merged_into,
                        merged_into_external_id=merged_into_external_id, escalation_id=escalation_id)

    async def get_warning(self, warning_id: int) -> WarningRecord | None:
        row = await self.database.read_one("SELECT * FROM warnings WHERE id = %s", warning_id)
        return warning_record(row) if row else None

    async def get_warning_by_external_id(self, external_id: str) -> WarningRecord | None:
        row = await self.database.read_one("SELECT * FROM warnings WHERE external_id = %s", external_id)
        return warning_record(row) if row else None

    async def queue_depth(self) -> dict[str, int]:
        rows = await self.database.read_all("SELECT risk, COUNT(*) AS n FROM warnings WHERE status = 'queued' GROUP BY risk")
        depth = {risk.value: 0 for risk in RiskLevel}
        depth.update({row["risk"]: int(row["n"]) for row in rows})
        return depth

    # -- scheduling ------------------------------------------------------------------

    async def due_warnings(self, now: float, risks: Sequence[RiskLevel], limit: int) -> list[WarningRecord]:
        if not risks:
            return []
        rows = await self.database.read_all(
            f"""SELECT * FROM warnings WHERE status = 'queued' AND next_attempt_at <= %s AND risk = ANY(%s)
                ORDER BY {RISK_ORDER}, received_at, id LIMIT %s""",
            now, [risk.value for risk in risks], limit,
        )
        return [warning_record(row) for row in rows]

    async def next_due_at(self, risks: Sequence[RiskLevel]) -> float | None:
        if not risks:
            return None
        row = await self.database.read_one(
            "SELECT MIN(next_attempt_at) AS at FROM warnings WHERE status = 'queued' AND risk = ANY(%s)",
            [risk.value for risk in risks],
        )
        return row["at"] if row and row["at"] is not None else None

    async def attempts_since(self, phone: str, since: float) -> int:
        row = await self.database.read_one("SELECT COUNT(*) AS n FROM attempts WHERE phone = %s AND started_at >= %s", phone, since)
        return int(row["n"]) if row else 0

    async def claim(
        self, warning_id: int, *, owner: str, worker: str, script: str, script_version: str, lease_seconds: float, now: float
    ) -> AttemptRecord | None:
        try:
            return await self._claim(warning_id, owner, worker, script, script_version, lease_seconds, now)
        except _NumberBusy:
            return None

    async def _claim(
        self, warning_id: int, owner: str, worker: str, script: str, script_version: str, lease_seconds: float, now: float
    ) -> AttemptRecord | None:
        async with self.database.transaction() as db:
            # SKIP LOCKED: a warning another node is claiming right now is not waited for.
            leased = await fetch_one(
                db,
                """UPDATE warnings SET status = 'calling', lease_owner = %s, lease_expires_at = %s, script = %s, updated_at = %s
                   WHERE id = (SELECT id FROM warnings WHERE id = %s AND status = 'queued' FOR UPDATE SKIP LOCKED)
                   RETURNING phone""",
                owner, now + lease_seconds, script, now, warning_id,
            )
            if leased is None:
                return None
            attempt = await fetch_one(
                db,
                """INSERT INTO attempts (warning_id, number, phone, worker, script, script_version, started_at, state)
                   SELECT %s, COUNT(*) + 1, %s, %s, %s, %s, %s, 'in_flight' FROM attempts WHERE warning_id = %s
                   ON CONFLICT (phone) WHERE state = 'in_flight' DO NOTHING
                   RETURNING *""",
                warning_id, leased["phone"], worker, script, script_version, now, warning_id,
            )
            if attempt is None:  # attempts_one_live_per_number: undo the lease too
                raise _NumberBusy
            await audit(db, "dialling", now, warning_id, {"attempt": attempt["id"], "worker": worker, "script": script})
        return attempt_record(attempt)

    async def renew_leases(self, owner: str, until: float) -> None:
        await self.database.execute(
            "UPDATE warnings SET lease_expires_at = %s WHERE status = 'calling' AND lease_owner = %s", until, owner
        )

    async def defer(self, warning_id: int, until: float, note: str, now: float) -> None:
        async with self.database.transaction() as db:
            await db.execute(
                "UPDATE warnings SET next_attempt_at = %s, updated_at = %s WHERE id = %s AND status = 'queued'", (until, now, warning_id)
            )
            await audit(db, "deferred", now, warning_id, {"until": until, "why": note})

    # -- attempts --------------------------------------------------------------------

    async def get_attempt(self, attempt_id: int) -> AttemptRecord | None:
        row = await self.database.read_one("SELECT * FROM attempts WHERE id = %s", attempt_id)
        return attempt_record(row) if row else None

    async def attempts_of(self, warning_id: int) -> list[AttemptRecord]:
        rows = await self.database.read_all("SELECT * FROM attempts WHERE warning_id = %s ORDER BY id", warning_id)
        return [attempt_record(row) for row in rows]

    async def finish_attempt(self, attempt_id: int, result: AttemptResult, decision: Decision, now: float) -> list[EscalationRecord]:
        opened: list[EscalationRecord] = []
        async with self.database.transaction() as db:
            attempt = await fetch_one(db, "SELECT * FROM attempts WHERE id = %s FOR UPDATE", attempt_id)
            if attempt is None:
                raise NotFound(f"no attempt {attempt_id}")
            if attempt["state"] != AttemptState.IN_FLIGHT.value:
                return []  # already closed (e.g. recovered after a lease expired): keep the first record
            warning_id = attempt["warning_id"]
            await db.execute(
                """UPDATE attempts SET state = 'finished', ended_at = %s, sip_status = %s, call_outcome = %s, outcome = %s,
                   answered = %s, duration_seconds = %s, transcript = %s, escalation = %s, recording = %s, error = %s, path = %s
                   WHERE id = %s""",
                (now, result.sip_status, result.call_outcome, result.outcome.value, int(result.answered), result.duration_seconds,
                 json.dumps(result.transcript, ensure_ascii=False),
                 json.dumps(result.escalation, ensure_ascii=False) if result.escalation else None, result.recording,
                 result.error, json.dumps(result.path, ensure_ascii=False), attempt_id),
            )
            if result.escalation:  # the call's own escalation (it may already be open from the live event)
                opened += await self._call_escalation(db, warning_id, attempt_id, result.escalation, now)
            if decision.escalate:
                already = await fetch_one(
                    db, "SELECT 1 FROM escalations WHERE warning_id = %s AND reason = %s AND status != 'resolved'",
                    warning_id, decision.escalate,
                )
                if already is None:
                    opened.append(await open_escalation(db, warning_id, decision.escalate, "", EscalationMode.TICKET, None, now))
            faults = (int(decision.counts_attempt), int(decision.trunk_fault), int(decision.robot_fault))
            if decision.finished:
                outcome = decision.outcome.value if decision.outcome else None
                await db.execute(
                    """UPDATE warnings SET status = 'done', outcome = %s, lease_owner = NULL, lease_expires_at = NULL,
                       attempts = attempts + %s, trunk_failures = trunk_failures + %s, robot_errors = robot_errors + %s,
                       updated_at = %s WHERE id = %s""",
                    (outcome, *faults, now, warning_id),
                )
                await db.execute(
                    "UPDATE warnings SET status = 'done', outcome = %s, updated_at = %s WHERE merged_into = %s AND status = 'merged'",
                    (outcome, now, warning_id),
                )
                await queue_outcomes(db, warning_id, now)
            else:
                await db.execute(
                    """UPDATE warnings SET status = 'queued', next_attempt_at = %s, lease_owner = NULL, lease_expires_at = NULL,
                       attempts = attempts + %s, trunk_failures = trunk_failures + %s, robot_errors = robot_errors + %s,
                       updated_at = %s WHERE id = %s""",
                    (decision.next_attempt_at if decision.next_attempt_at is not None else now, *faults, now, warning_id),
                )
            await audit(db, "attempt_finished", now, warning_id, {
                "attempt": attempt_id, "outcome": result.outcome.value, "sip_status": result.sip_status,
                "finished": decision.finished, "next_attempt_at": decision.next_attempt_at, "note": decision.note,
            })
        return opened

    async def _call_escalation(
        self, db: Connection, warning_id: int, attempt_id: int, escalation: dict[str, object], now: float,
    ) -> list[EscalationRecord]:
        existing = await fetch_one(db, "SELECT * FROM escalations WHERE attempt_id = %s", attempt_id)
        mode = str(escalation.get("mode") or EscalationMode.TICKET.value)
        if existing is None:
            return [await open_escalation(db, warning_id, str(escalation["reason"]), str(escalation.get("phrase") or ""),
                                          EscalationMode(mode), attempt_id, now)]
        if existing["mode"] != mode and existing["status"] != "resolved":
            # e.g. live -> ticket: no officer answered, so one calls back
            failed = existing["mode"] == EscalationMode.LIVE.value and mode == EscalationMode.TICKET.value
            await db.execute("UPDATE escalations SET mode = %s, handoff_failed = GREATEST(handoff_failed, %s) WHERE id = %s",
                             (mode, int(failed), existing["id"]))
            await audit(db, "escalation_mode", now, warning_id, {"escalation": existing["id"], "from": existing["mode"], "to": mode})
        return []

    async def finish_without_call(self, warning_id: int, outcome: AttemptOutcome, escalate: str, now: float) -> EscalationRecord:
        async with self.database.transaction() as db:
            await db.execute(
                "UPDATE warnings SET status = 'done', outcome = %s, updated_at = %s WHERE id = %s OR merged_into = %s",
                (outcome.value, now, warning_id, warning_id),
            )
            escalation = await open_escalation(db, warning_id, escalate, "", EscalationMode.TICKET, None, now)
            await queue_outcomes(db, warning_id, now)
        return escalation

    async def recover(self, now: float, *, owner: str | None = None, attempt_ids: Sequence[int] | None = None) -> list[int]:
        async with self.database.transaction() as db:
            # FOR UPDATE SKIP LOCKED: two nodes recovering at once each close a different attempt,
            # and one that is being finished right now is left to its finish.
            if attempt_ids is not None:
                rows = await fetch_all(
                    db, "SELECT id, warning_id FROM attempts WHERE state = 'in_flight' AND id = ANY(%s) ORDER BY id FOR UPDATE SKIP LOCKED",
                    list(attempt_ids),
                ) if attempt_ids else []
            elif owner is not None:
                rows = await fetch_all(
                    db, """SELECT a.id, a.warning_id FROM attempts a JOIN warnings w ON w.id = a.warning_id
                           WHERE a.state = 'in_flight' AND (w.lease_owner = %s OR w.status != 'calling')
                           ORDER BY a.id FOR UPDATE OF a SKIP LOCKED""", owner
                )
            else:
                rows = await fetch_all(
                    db, """SELECT a.id, a.warning_id FROM attempts a JOIN warnings w ON w.id = a.warning_id
                           WHERE a.state = 'in_flight' AND w.status = 'calling' AND w.lease_expires_at < %s
                           ORDER BY a.id FOR UPDATE OF a SKIP LOCKED""", now
                )
            for row in rows:
                await db.execute(
                    """UPDATE attempts SET state = 'finished', ended_at = %s, call_outcome = 'interrupted', outcome = 'interrupted'
                       WHERE id = %s""", (now, row["id"]),
                )
                await db.execute(
                    """UPDATE warnings SET status = 'queued', next_attempt_at = %s, lease_owner = NULL, lease_expires_at = NULL,
                       updated_at = %s WHERE id = %s AND status = 'calling'""", (now, now, row["warning_id"]),
                )
                await audit(db, "attempt_interrupted", now, row["warning_id"], {"attempt": row["id"]})
        return [row["id"] for row in rows]
