"""The SQLite store when things go wrong: another process holding the write lock, a full disk
(SQLite's own SQLITE_FULL, through `max_page_count`), a transaction under way while others
read; and the officers' queue read in pages."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from robot.dialog.const import RiskLevel
from robot.store import EscalationStatus, Intake, SqliteRepository, StoreUnavailable
from robot.store.migrations import MIGRATIONS
from tests.store.test_sqlite import NOW, warning


@pytest.fixture
async def store(tmp_path):
    repository = SqliteRepository(tmp_path / "robot.db", busy_timeout_seconds=0.2)
    await repository.open()
    yield repository
    await repository.close()


class Lock:
    """Another process's write lock on the database (a backup tool, an operator's shell)."""

    def __init__(self, path) -> None:  # type: ignore[no-untyped-def]
        self.connection: sqlite3.Connection | None = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        if self.connection is not None:
            self.connection.execute("ROLLBACK")
            self.connection.close()
            self.connection = None


async def fill_the_disk(store: SqliteRepository, spare_pages: int = 2) -> None:
    """From now on the database cannot grow by more than a few pages: SQLite answers
    SQLITE_FULL ("database or disk is full"), exactly as on a full disk."""
    async with store.database.writer.execute("PRAGMA page_count") as cursor:
        pages = (await cursor.fetchone())[0]
    await store.database.writer.execute(f"PRAGMA max_page_count = {pages + spare_pages}")


async def test_a_read_never_sees_a_transaction_under_way(store):
    """Reads shared the writer's connection without its lock: a GET could see a warning that
    another coroutine's transaction had inserted and was about to roll back."""
    inserted, release = asyncio.Event(), asyncio.Event()

    async def half_done_intake() -> None:
        async with store.database.transaction() as db:
            await db.execute(
                """INSERT INTO warnings (external_id, phone, dial_number, risk, fraud_type, language, received_at,
                   accepted_at, status, next_attempt_at, updated_at)
                   VALUES ('W-half', '+8613800138000', '13800138000', 'medium', 'x', 'zh-CN', 'x', 1, 'queued', 1, 1)""")
            inserted.set()
            await release.wait()
            raise RuntimeError("the rest of the batch failed")

    writer = asyncio.create_task(half_done_intake())
    await inserted.wait()
    assert await store.get_warning_by_external_id("W-half") is None  # not committed: not there
    assert await store.queue_depth() == {"low": 0, "medium": 0, "high": 0}
    release.set()
    with pytest.raises(RuntimeError):
        await writer
    assert await store.get_warning_by_external_id("W-half") is None


async def test_a_batch_is_stored_whole_or_not_at_all_when_the_disk_fills(store, tmp_path):
    """When the disk filled mid-batch, one warning of 200 was stored and the rest were not."""
    await store.accept_warnings([Intake(warning=warning(f"OLD-{n}", f"+86137{n:08d}")) for n in range(300)], NOW)
    wal = tmp_path / "robot.db-wal"
    assert wal.stat().st_size > 0
    await fill_the_disk(store)
    batch = [Intake(warning=warning(f"W-{n}", f"+86138{n:08d}", extra={"note": "x" * 500})) for n in range(200)]
    with pytest.raises(StoreUnavailable, match="full"):
        await store.accept_warnings(batch, NOW)
    assert [await store.get_warning_by_external_id(f"W-{n}") for n in (0, 1, 199)] == [None, None, None]
    assert (await store.queue_depth())["medium"] == 300
    assert "full" in store.unavailable()
    # The WAL was checkpointed and truncated after the failure: a disk that filled once must
    # not fill again from the WAL as soon as space comes back.
    assert wal.stat().st_size == 0
    await store.database.writer.execute("PRAGMA max_page_count = 1073741823")  # space is back
    await store.accept_warnings(batch[:2], NOW)
    assert store.unavailable() is None
    assert (await store.get_warning_by_external_id("W-1")) is not None


async def test_a_store_locked_by_another_process_is_unavailable_until_it_is_released(store, tmp_path):
    other = sqlite3.connect(tmp_path / "robot.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # e.g. a backup tool or an operator's sqlite3 shell
    try:
        with pytest.raises(StoreUnavailable, match="locked"):
            await store.accept_warning(warning("W-1"), NOW)
        assert "locked" in store.unavailable()
        assert await store.queue_depth() == {"low": 0, "medium": 0, "high": 0}  # reading still works meanwhile
    finally:
        other.execute("ROLLBACK")
        other.close()
    await store.accept_warning(warning("W-1"), NOW)
    assert store.unavailable() is None


async def test_writes_queued_behind_one_blocked_by_another_process_give_up_without_waiting_their_busy_timeout(tmp_path):
    """With the write lock held by another process, the first write waits its busy timeout
    (10 s by default) and every write queued behind it waited as long: intake answered 503 only
    after 10 s, and /healthz said ok meanwhile. Now the store says it is locked once a write has
    waited a second, and the writes behind it give up then, while the first one still waits."""
    store = SqliteRepository(tmp_path / "robot.db", busy_timeout_seconds=20)
    await store.open()
    other = Lock(tmp_path / "robot.db")
    try:
        first = asyncio.create_task(store.accept_warning(warning("W-1"), NOW))  # e.g. a result being stored
        while store.unavailable() is None:
            assert not first.done(), first
            await asyncio.sleep(0.05)
        assert "locked" in store.unavailable()
        second = asyncio.create_task(store.accept_warning(warning("W-2", "+8613800138002"), NOW))  # e.g. intake
        done, _ = await asyncio.wait({first, second}, return_when=asyncio.FIRST_COMPLETED)
        assert done == {second} and isinstance(second.exception(), StoreUnavailable)
        other.release()
        await first  # the first write goes through once the lock is released
        assert store.unavailable() is None and await store.get_warning_by_external_id("W-1") is not None
    finally:
        other.release()
        await store.close()


async def test_a_wal_that_could_not_be_truncated_after_a_failed_write_is_truncated_after_the_next_good_one(store, tmp_path):
    """On a real full disk the checkpoint after the failed write fails too (it needs the space
    that is missing), and the WAL was left at its size for good. Here a reader's snapshot stops
    that checkpoint, as the missing space does."""
    await store.accept_warnings([Intake(warning=warning(f"OLD-{n}", f"+86137{n:08d}")) for n in range(300)], NOW)
    reader = sqlite3.connect(tmp_path / "robot.db", isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM warnings").fetchone()  # holds a snapshot: no checkpoint can finish
    await fill_the_disk(store)
    batch = [Intake(warning=warning(f"W-{n}", f"+86138{n:08d}", extra={"note": "x" * 500})) for n in range(200)]
    with pytest.raises(StoreUnavailable, match="full"):
        await store.accept_warnings(batch, NOW)
    wal = tmp_path / "robot.db-wal"
    assert wal.stat().st_size > 0 and store.database.wal_truncation_owed
    reader.execute("ROLLBACK")
    reader.close()
    await store.database.writer.execute("PRAGMA max_page_count = 1073741823")  # space is back
    await store.accept_warnings(batch[:2], NOW)
    assert (wal.stat().st_size, store.database.wal_truncation_owed, store.unavailable()) == (0, False, None)


async def test_within_a_batch_a_repeated_id_is_stored_once_and_a_second_warning_for_a_number_is_merged(store):
    accepted = await store.accept_warnings([
        Intake(warning=warning("A", "+8613800138000", RiskLevel.LOW)),
        Intake(warning=warning("A", "+8613800138000", RiskLevel.LOW)),
        Intake(warning=warning("B", "+8613800138000", RiskLevel.MEDIUM)),
    ], NOW)
    assert [(a.warning.external_id, a.created, a.merged_into_external_id) for a in accepted] == [
        ("A", True, None), ("A", False, None), ("B", True, "A")]
    assert (await store.get_warning_by_external_id("A")).risk is RiskLevel.MEDIUM


async def test_the_officers_queue_is_read_in_pages_with_filters(store):
    for n in range(25):
        risk = RiskLevel.HIGH if n % 5 else RiskLevel.MEDIUM
        await store.accept_warning(warning(f"W-{n}", f"+86138{n:08d}", risk), NOW + n,
                                   escalate="high_risk" if risk is RiskLevel.HIGH else "no_script")
    first = await store.escalation_queue(limit=10)
    second = await store.escalation_queue(after=first[-1].id, limit=10)
    third = await store.escalation_queue(after=second[-1].id, limit=10)
    ids = [e.id for e in first + second + third]
    assert len(first) == len(second) == 10 and len(third) == 5 and ids == sorted(set(ids))
    assert (first[0].warning_external_id, first[0].phone, first[0].reason) == ("W-0", "+8613800000000", "no_script")
    high = await store.escalation_queue(reason="high_risk", limit=100)
    assert len(high) == 20 and {e.risk for e in high} == {RiskLevel.HIGH}
    recent = await store.escalation_queue(since=NOW + 20, limit=100)
    assert [e.warning_external_id for e in recent] == ["W-20", "W-21", "W-22", "W-23", "W-24"]
    await store.claim_escalation(ids[3], "officer.li", NOW + 100)
    await store.add_escalation_note(ids[3], "officer.li", "Called: no answer.", NOW + 101)
    [claimed] = await store.escalation_queue(status=EscalationStatus.CLAIMED, limit=100)
    assert (claimed.id, claimed.claimed_by, [n.text for n in claimed.notes]) == (ids[3], "officer.li", ["Called: no answer."])
    assert len(await store.escalation_queue(status=EscalationStatus.OPEN, limit=100)) == 24


async def test_the_upgrade_requeues_deliveries_given_up_on_and_delivers_high_risk_outcomes(tmp_path):
    path = tmp_path / "robot.db"
    old = SqliteRepository(path)
    old.migrations = MIGRATIONS[:2]
    await old.open()
    await old.close()
    with sqlite3.connect(path) as db:  # what release 2 left: a high-risk warning with no outcome delivery
        db.execute("""INSERT INTO warnings (id, external_id, phone, dial_number, risk, fraud_type, language, received_at,
                      accepted_at, status, outcome, next_attempt_at, updated_at)
                      VALUES (1, 'W-1', '+8613800138000', '13800138000', 'high', 'generic', 'zh-CN', 'x', ?, 'done',
                              'escalated', ?, ?)""", (NOW, NOW, NOW))
        db.execute("INSERT INTO escalations (warning_id, reason, mode, status, created_at) VALUES (1, 'high_risk', 'ticket', 'open', ?)",
                   (NOW,))
        db.execute("""INSERT INTO deliveries (kind, subject_id, url, payload, status, tries, next_try_at, last_error, created_at)
                      VALUES ('escalation', 1, 'http://hooks/esc', '{}', 'failed', 7, ?, 'HTTP 503', ?)""", (NOW, NOW))
    upgraded = SqliteRepository(path)
    await upgraded.open()
    try:
        due = await upgraded.due_deliveries(NOW + 1, 10)
        assert [(d.kind, d.subject_id, d.status, d.url) for d in due] == [
            ("escalation", 1, "pending", "http://hooks/esc"), ("outcome", 1, "pending", None)]
    finally:
        await upgraded.close()
