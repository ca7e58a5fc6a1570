"""The store, on a real SQLite file and on a real PostgreSQL database (the `store` fixture in
conftest.py runs each test on both): migrations, intake, leases, outcomes. Tests that look
at the SQLite file itself take `sqlite_store`."""

from __future__ import annotations

import sqlite3

import pytest

from robot.dialog.const import EscalationMode, RiskLevel
from robot.store import (
    AttemptResult,
    Conflict,
    Decision,
    EscalationStatus,
    NewWarning,
    NotFound,
    SqliteRepository,
    StoreError,
    WarningStatus,
)
from robot.store.sqlite import MIGRATIONS

NOW = 1_795_000_000.0


def warning(external_id: str, phone: str = "+8613800138000", risk: RiskLevel = RiskLevel.MEDIUM, **changes) -> NewWarning:
    fields = {
        "external_id": external_id, "phone": phone, "dial_number": phone.removeprefix("+86"), "risk": risk,
        "language": "zh-CN", "received_at": "2026-11-22T09:00:00+08:00", "fraud_type": "investment",
    }
    return NewWarning(**(fields | changes))


async def test_a_new_database_gets_every_migration(store):
    assert await store.schema_version() == len(MIGRATIONS)


async def test_a_new_sqlite_database_is_in_wal_mode(sqlite_store, tmp_path):
    with sqlite3.connect(tmp_path / "robot.db") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_an_older_database_is_migrated_and_keeps_its_rows(tmp_path):
    first = SqliteRepository(tmp_path / "robot.db")
    await first.open()
    await first.accept_warning(warning("W-1"), NOW)
    await first.close()

    class Next(SqliteRepository):
        migrations = [*MIGRATIONS, "ALTER TABLE warnings ADD COLUMN district TEXT NOT NULL DEFAULT '';"]

    upgraded = Next(tmp_path / "robot.db")
    await upgraded.open()
    try:
        assert await upgraded.schema_version() == len(MIGRATIONS) + 1
        rows = await upgraded.database.read_all("SELECT external_id, district FROM warnings")
        assert [tuple(r) for r in rows] == [("W-1", "")]
    finally:
        await upgraded.close()
    newer_than_code = SqliteRepository(tmp_path / "robot.db")
    with pytest.raises(StoreError, match="newer than this robot understands"):
        await newer_than_code.open()


async def test_intake_is_idempotent_and_merges_numbers(store):
    first = await store.accept_warning(warning("W-1", risk=RiskLevel.LOW), NOW)
    again = await store.accept_warning(warning("W-1", risk=RiskLevel.LOW), NOW + 1)
    assert first.created and not again.created and again.warning.id == first.warning.id
    merged = await store.accept_warning(warning("W-2", risk=RiskLevel.MEDIUM), NOW + 2)
    assert merged.created and merged.merged_into == first.warning.id
    assert merged.warning.status is WarningStatus.MERGED
    carrier = await store.get_warning(first.warning.id)
    assert carrier.risk is RiskLevel.MEDIUM  # the open warning takes the higher risk
    assert await store.queue_depth() == {"low": 0, "medium": 1, "high": 0}


async def test_high_risk_becomes_an_escalation_not_a_call(store):
    accepted = await store.accept_warning(warning("W-9", risk=RiskLevel.HIGH), NOW, escalate="high_risk")
    assert accepted.warning.status is WarningStatus.DONE and accepted.warning.outcome == "escalated"
    [escalation] = await store.escalations(EscalationStatus.OPEN)
    assert (escalation.reason, escalation.warning_id, escalation.mode) == ("high_risk", accepted.warning.id, EscalationMode.TICKET)
    # Its escalation goes to the officers' queue, and (it is finished) its outcome is delivered too:
    # high-risk warnings used to reach a final state with no outcome delivery at all.
    deliveries = await store.due_deliveries(NOW, 10)
    assert [(d.kind, d.subject_id) for d in deliveries] == [("escalation", escalation.id), ("outcome", accepted.warning.id)]
    assert await store.due_warnings(NOW + 10, [RiskLevel.MEDIUM, RiskLevel.LOW], 10) == []


async def test_due_order_is_medium_first_then_oldest(store):
    await store.accept_warning(warning("low-old", "+8613800000001", RiskLevel.LOW, received_at="2026-11-22T08:00:00+08:00"), NOW)
    await store.accept_warning(warning("med-new", "+8613800000002", received_at="2026-11-22T09:30:00+08:00"), NOW)
    await store.accept_warning(warning("med-old", "+8613800000003", received_at="2026-11-22T09:00:00+08:00"), NOW)
    due = await store.due_warnings(NOW, [RiskLevel.MEDIUM, RiskLevel.LOW], 10)
    assert [w.external_id for w in due] == ["med-old", "med-new", "low-old"]
    assert [w.external_id for w in await store.due_warnings(NOW, [RiskLevel.LOW], 10)] == ["low-old"]


async def claim(store, warning_id, now=NOW, owner="node-a"):
    return await store.claim(warning_id, owner=owner, worker="w1", script="zh-CN/investment", script_version="v1-x",
                             lease_seconds=600, now=now)


async def test_a_claim_is_exclusive_and_one_number_has_one_live_attempt(store):
    a = (await store.accept_warning(warning("W-1"), NOW)).warning
    first = await claim(store, a.id)
    assert first is not None and first.number == 1
    assert await claim(store, a.id, owner="node-b") is None  # already leased
    assert (await store.get_warning(a.id)).status is WarningStatus.CALLING
    # A finished warning for the same number, re-opened as a new one: not while a call is live.
    b = (await store.accept_warning(warning("W-2", "+8613900000000"), NOW)).warning
    assert await claim(store, b.id) is not None
    assert await store.attempts_since("+8613800138000", NOW - 1) == 1


async def test_finishing_an_attempt_applies_the_decision_atomically(store):
    a = (await store.accept_warning(warning("W-1", callback_url="http://127.0.0.1:1/cb"), NOW)).warning
    merged = (await store.accept_warning(warning("W-2"), NOW + 1)).warning
    attempt = await claim(store, a.id)
    busy = AttemptResult(sip_status=486, call_outcome="busy", outcome="busy")
    opened = await store.finish_attempt(
        attempt.id, busy, Decision(finished=False, next_attempt_at=NOW + 120, escalate="unanswered_busy"), NOW + 5,
    )
    assert [e.reason for e in opened] == ["unanswered_busy"]
    after = await store.get_warning(a.id)
    assert (after.status, after.attempts, after.next_attempt_at, after.lease_owner) == (WarningStatus.QUEUED, 1, NOW + 120, None)
    # Second attempt: answered, escalated by the dialog (its escalation is stored with the phrase).
    attempt2 = await claim(store, a.id, now=NOW + 130)
    answered = AttemptResult(sip_status=200, call_outcome="answered", outcome="escalated", answered=True, duration_seconds=31.5,
                             transcript=[{"speaker": "callee", "text": "我已经转账了", "at_seconds": 4.2}],
                             escalation={"reason": "urgent_speech", "phrase": "我已经转账了", "mode": "live"},
                             recording="/var/lib/robot/recordings/W-1-2.wav")
    await store.finish_attempt(attempt2.id, answered, Decision(finished=True, outcome="escalated"), NOW + 170)
    done = await store.get_warning(a.id)
    assert (done.status, done.outcome, done.attempts) == (WarningStatus.DONE, "escalated", 2)
    assert (await store.get_warning(merged.id)).status is WarningStatus.DONE  # the merged warning is finished with it
    attempts = await store.attempts_of(a.id)
    assert attempts[1].transcript[0]["text"] == "我已经转账了" and attempts[1].recording.endswith("W-1-2.wav")
    escalations = await store.escalations(warning_id=a.id)
    assert [(e.reason, e.phrase, e.mode.value) for e in escalations] == [
        ("unanswered_busy", "", "ticket"), ("urgent_speech", "我已经转账了", "live")]
    deliveries = await store.due_deliveries(NOW + 200, 10)
    # Escalations first; an outcome for the warning and for the one merged into it. Where each
    # goes is the deliverer's business (the store knows no URLs).
    assert [(d.kind, d.subject_id, d.url) for d in deliveries] == [
        ("escalation", escalations[0].id, None), ("escalation", escalations[1].id, None),
        ("outcome", a.id, None), ("outcome", merged.id, None)]
    # A late duplicate result changes nothing.
    assert await store.finish_attempt(attempt2.id, busy, Decision(finished=False), NOW + 300) == []
    assert (await store.get_warning(a.id)).outcome == "escalated"


async def test_an_escalation_opened_during_the_call_is_not_doubled(store):
    a = (await store.accept_warning(warning("W-1"), NOW)).warning
    attempt = await claim(store, a.id)
    live, created = await store.open_escalation(a.id, "urgent_speech", phrase="safe account", mode=EscalationMode.LIVE,
                                                attempt_id=attempt.id, now=NOW + 3)
    again, created_again = await store.open_escalation(a.id, "urgent_speech", attempt_id=attempt.id, now=NOW + 4)
    assert created and not created_again and again.id == live.id
    result = AttemptResult(call_outcome="answered", outcome="escalated", answered=True,
                           escalation={"reason": "urgent_speech", "phrase": "safe account", "mode": "ticket"})
    assert await store.finish_attempt(attempt.id, result, Decision(finished=True, outcome="escalated"), NOW + 9) == []
    [only] = await store.escalations(warning_id=a.id)
    assert only.mode is EscalationMode.TICKET  # the officer leg failed: it became a call-back ticket
    assert not live.handoff_failed and only.handoff_failed  # it heads the officers' queue
    [queued] = await store.escalation_queue()
    assert queued.handoff_failed


async def test_recovery_requeues_what_was_in_flight(store):
    a = (await store.accept_warning(warning("W-1"), NOW)).warning
    b = (await store.accept_warning(warning("W-2", "+8613900000000"), NOW)).warning
    c = (await store.accept_warning(warning("W-3", "+8613700000000"), NOW)).warning
    mine, lost, elsewhere = await claim(store, a.id), await claim(store, b.id), await claim(store, c.id, owner="node-b")
    assert await store.recover(NOW + 10, attempt_ids=[lost.id]) == [lost.id]  # a worker died
    assert await store.recover(NOW + 20, owner="node-a") == [mine.id]  # this node restarted
    assert await store.recover(NOW + 30) == []  # node-b's lease is still valid
    assert await store.recover(NOW + 700) == [elsewhere.id]  # node-b is gone: its lease ran out
    for record in (a, b, c):
        current = await store.get_warning(record.id)
        assert current.status is WarningStatus.QUEUED and current.attempts == 0
    assert {x.outcome for x in [*await store.attempts_of(a.id), *await store.attempts_of(b.id)]} == {"interrupted"}
    log = await store.audit_log(a.id)
    assert [e["kind"] for e in log] == ["accepted", "dialling", "attempt_interrupted"]


async def test_officers_claim_and_resolve(store):
    a = (await store.accept_warning(warning("W-1", risk=RiskLevel.HIGH), NOW, escalate="high_risk")).warning
    [escalation] = await store.escalations(warning_id=a.id)
    claimed = await store.claim_escalation(escalation.id, "officer.li", NOW + 60)
    assert (claimed.status, claimed.claimed_by) == (EscalationStatus.CLAIMED, "officer.li")
    with pytest.raises(Conflict):
        await store.claim_escalation(escalation.id, "officer.wang", NOW + 61)
    resolved = await store.resolve_escalation(escalation.id, "officer.li", "Visited; no money lost.", NOW + 3600)
    assert (resolved.status, resolved.resolved_at) == (EscalationStatus.RESOLVED, NOW + 3600)
    assert [(n.author, n.written_at, n.text) for n in resolved.notes] == [("officer.li", NOW + 3600, "Visited; no money lost.")]
    with pytest.raises(Conflict):
        await store.resolve_escalation(escalation.id, "officer.li", "", NOW + 3601)
    with pytest.raises(NotFound):
        await store.claim_escalation(999, "officer.li", NOW)
    assert await store.escalations(EscalationStatus.OPEN) == []


async def test_deliveries_record_failures_and_a_failed_one_waits_to_be_requeued(store):
    await store.accept_warning(warning("W-1", risk=RiskLevel.HIGH), NOW, escalate="high_risk")
    escalation, outcome = await store.due_deliveries(NOW, 10)  # high risk is finished at once: its outcome too
    assert (escalation.kind, outcome.kind) == ("escalation", "outcome")
    prepared = await store.delivery_prepared(escalation.id, "http://x/y", '{"a": 1}')
    assert (prepared.url, prepared.payload) == ("http://x/y", '{"a": 1}')
    again = await store.delivery_prepared(escalation.id, "http://elsewhere/", '{"b": 2}')
    assert (again.url, again.payload) == ("http://x/y", '{"a": 1}')  # fixed at the first try: retries send the same
    await store.delivery_failed(escalation.id, "HTTP 500", NOW + 5, NOW)
    assert [d.id for d in await store.due_deliveries(NOW + 1, 10)] == [outcome.id]
    retried = (await store.due_deliveries(NOW + 5, 10))[0]
    assert (retried.id, retried.tries, retried.last_error) == (escalation.id, 1, "HTTP 500")
    await store.delivery_failed(escalation.id, "host not allowed", None, NOW + 6)
    held = await store.get_delivery(escalation.id)
    assert (held.status, held.tries) == ("failed", 2)
    assert await store.delivery_backlog() == (2, NOW)
    assert await store.requeue_deliveries(None, NOW + 100) == [escalation.id]
    requeued = await store.get_delivery(escalation.id)
    assert (requeued.status, requeued.tries, requeued.next_try_at) == ("pending", 0, NOW + 100)


async def test_concurrent_writers_on_one_connection_take_turns(store):
    """Found by bench/dialer.py: intake and the scheduler write at the same time."""
    import asyncio

    accepted = await asyncio.gather(*(store.accept_warning(warning(f"W-{n}", f"+86138{n:08d}"), NOW) for n in range(40)))
    claims = await asyncio.gather(*(claim(store, a.warning.id) for a in accepted),
                                  *(store.accept_warning(warning(f"X-{n}", f"+86139{n:08d}"), NOW) for n in range(40)))
    assert all(c is not None for c in claims[:40])
    assert len(await store.due_warnings(NOW, [RiskLevel.MEDIUM], 100)) == 40


def mode(path) -> int:  # type: ignore[no-untyped-def]
    return path.stat().st_mode & 0o777


async def test_the_database_is_readable_by_the_robot_alone(tmp_path):
    repository = SqliteRepository(tmp_path / "new" / "place" / "robot.db")
    await repository.open()
    try:
        await repository.accept_warning(warning("W-1"), NOW)  # WAL and shared memory files now exist
        folder = tmp_path / "new" / "place"
        assert {p.name: mode(p) for p in folder.iterdir()} == {"robot.db": 0o600, "robot.db-wal": 0o600, "robot.db-shm": 0o600}
        assert mode(folder) == mode(folder.parent) == 0o700
    finally:
        await repository.close()


async def test_a_database_left_world_readable_by_an_older_release_is_tightened(tmp_path):
    path = tmp_path / "robot.db"
    sqlite3.connect(path).close()
    path.chmod(0o644)
    repository = SqliteRepository(path)
    await repository.open()
    await repository.close()
    assert mode(path) == 0o600


async def test_a_resolved_escalation_is_final_and_notes_are_only_ever_appended(store):
    """Claiming a resolved escalation once reopened it, and a second resolve overwrote the notes
    ("victim already transferred 50,000 CNY" became "nothing to do") with no copy kept."""
    a = (await store.accept_warning(warning("W-1", risk=RiskLevel.HIGH), NOW, escalate="high_risk")).warning
    [escalation] = await store.escalations(warning_id=a.id)
    await store.claim_escalation(escalation.id, "officer.li", NOW + 60)
    await store.add_escalation_note(escalation.id, "officer.li", "Called back: no answer.", NOW + 120)
    await store.resolve_escalation(escalation.id, "officer.li", "Victim already transferred 50,000 CNY; case opened.", NOW + 600)
    for change in (store.claim_escalation(escalation.id, "officer.li", NOW + 700),
                   store.claim_escalation(escalation.id, "officer.wang", NOW + 700),
                   store.resolve_escalation(escalation.id, "officer.wang", "nothing to do", NOW + 700),
                   store.add_escalation_note(escalation.id, "officer.wang", "nothing to do", NOW + 700)):
        with pytest.raises(Conflict, match="final"):
            await change
    final = await store.get_escalation(escalation.id)
    assert final is not None and final.status is EscalationStatus.RESOLVED and final.claimed_by == "officer.li"
    assert [(n.author, n.text) for n in final.notes] == [
        ("officer.li", "Called back: no answer."), ("officer.li", "Victim already transferred 50,000 CNY; case opened.")]
    log = [e for e in await store.audit_log(a.id) if e["kind"].startswith("escalation")]
    assert [(e["kind"], e["officer"]) for e in log] == [
        ("escalation_claimed", "officer.li"), ("escalation_note", "officer.li"), ("escalation_note", "officer.li"),
        ("escalation_resolved", "officer.li")]
    assert log[2]["note"] == "Victim already transferred 50,000 CNY; case opened."  # a copy is kept in the audit


async def test_the_database_itself_keeps_resolved_escalations_notes_and_the_audit_unchanged(sqlite_store, tmp_path):
    store = sqlite_store
    a = (await store.accept_warning(warning("W-1", risk=RiskLevel.HIGH), NOW, escalate="high_risk")).warning
    [escalation] = await store.escalations(warning_id=a.id)
    await store.resolve_escalation(escalation.id, "officer.li", "Visited.", NOW + 60)
    with sqlite3.connect(tmp_path / "robot.db") as db:
        for statement in ("UPDATE escalations SET status = 'open'", "UPDATE escalation_notes SET text = 'nothing'",
                          "DELETE FROM escalation_notes", "UPDATE audit SET kind = 'x'", "DELETE FROM audit"):
            with pytest.raises(sqlite3.IntegrityError):
                db.execute(statement)


async def test_notes_written_before_the_upgrade_become_the_first_note(tmp_path):
    path = tmp_path / "robot.db"
    old = SqliteRepository(path)
    old.migrations = MIGRATIONS[:1]
    await old.open()
    await old.close()
    with sqlite3.connect(path) as db:  # what release 1 wrote for a resolved escalation
        db.execute("""INSERT INTO warnings (id, external_id, phone, dial_number, risk, fraud_type, language, received_at,
                      accepted_at, status, next_attempt_at, updated_at)
                      VALUES (1, 'W-1', '+8613800138000', '13800138000', 'high', 'generic', 'zh-CN', 'x', ?, 'done', ?, ?)""",
                   (NOW, NOW, NOW))
        db.execute("""INSERT INTO escalations (warning_id, reason, mode, status, claimed_by, notes, created_at, resolved_at)
                      VALUES (1, 'high_risk', 'ticket', 'resolved', 'officer.li', 'Visited.', ?, ?)""", (NOW, NOW + 60))
    upgraded = SqliteRepository(path)
    await upgraded.open()
    [escalation] = await upgraded.escalations(warning_id=1)
    assert [(n.author, n.written_at, n.text) for n in escalation.notes] == [("officer.li", NOW + 60, "Visited.")]
    await upgraded.close()
