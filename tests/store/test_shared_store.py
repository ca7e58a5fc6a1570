"""What several dialer nodes need from one store: a number never has two live attempts (the
database's own constraint), claims that two nodes never both win, leases that expire and are
recovered by another node, deliveries claimed one node at a time, pacing for the cluster,
nodes that say they are alive. Run on real PostgreSQL (and, where it applies, SQLite)."""

from __future__ import annotations

import asyncio
import sqlite3

import psycopg
import pytest

from robot.dialog.const import RiskLevel
from robot.store import (
    AttemptResult,
    Decision,
    PostgresRepository,
    StoreError,
    StoreUnavailable,
    WarningStatus,
)
from robot.store.migrations import MIGRATIONS, script
from robot.store.records import Intake
from robot.store.sqlite import SqliteRepository
from tests.store.test_sqlite import NOW, claim, warning

BUSY = AttemptResult(sip_status=486, call_outcome="busy", outcome="busy")


async def raw(store, statement: str) -> None:  # type: ignore[no-untyped-def]
    """A statement straight into the store's database, in a transaction of its own."""
    async with store.database.transaction() as db:
        await db.execute(statement)


async def test_the_database_refuses_a_second_live_attempt_for_one_number(store):
    a = (await store.accept_warning(warning("W-1"), NOW)).warning
    b = (await store.accept_warning(warning("W-2", "+8613900000000"), NOW)).warning
    # Two queued warnings for one number, as a database from before the one-open-warning migration could hold
    # (two nodes took them in at the same moment): the attempts' own constraint still holds.
    await raw(store, "DROP INDEX warnings_one_open_per_number")
    await raw(store, f"UPDATE warnings SET phone = '+8613800138000' WHERE id = {b.id}")
    first = await claim(store, a.id)
    assert first is not None
    assert await claim(store, b.id, owner="node-b") is None  # the insert conflicted: the whole claim is undone
    assert (await store.get_warning(b.id)).status is WarningStatus.QUEUED and await store.attempts_of(b.id) == []
    # Nor can anything else put a second live attempt in, whatever it checks or does not:
    integrity = (sqlite3.IntegrityError, psycopg.IntegrityError)
    with pytest.raises(integrity):
        await raw(store, f"""INSERT INTO attempts (warning_id, number, phone, worker, script, script_version, started_at, state)
                             VALUES ({b.id}, 1, '+8613800138000', 'x', 's', 'v', {NOW}, 'in_flight')""")
    await store.finish_attempt(first.id, BUSY, Decision(finished=True, outcome="busy"), NOW + 5)
    assert await claim(store, b.id, owner="node-b", now=NOW + 6) is not None  # the number is free again


async def test_a_number_has_one_open_warning_by_the_databases_own_constraint(store):
    a = (await store.accept_warning(warning("W-1"), NOW)).warning
    b = (await store.accept_warning(warning("W-2", "+8613900000000"), NOW)).warning
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)):  # whatever code checks or does not
        await raw(store, f"UPDATE warnings SET phone = '{a.phone}' WHERE id = {b.id}")
    finished = (await store.accept_warning(warning("W-3", "+8613700000000"), NOW, escalate="high_risk")).warning
    await raw(store, f"UPDATE warnings SET phone = '{a.phone}' WHERE id = {finished.id}")  # done ones are not open


async def test_the_one_open_warning_migration_merges_the_open_doubles_a_race_left_into_the_one_being_called(store):
    numbers = ("+8613800000001", "+8613800000002")
    made = [(await store.accept_warning(warning(f"W-{n}", f"+86139{n:08d}"), NOW)).warning for n in range(5)]
    await raw(store, "DROP INDEX warnings_one_open_per_number")  # the schema before that migration
    # Number 1: three queued (the oldest carries); number 2: one queued, one being called (that one carries).
    for w, number in zip(made, (numbers[0], numbers[0], numbers[0], numbers[1], numbers[1]), strict=True):
        await raw(store, f"UPDATE warnings SET phone = '{number}' WHERE id = {w.id}")
    await raw(store, f"UPDATE warnings SET status = 'calling' WHERE id = {made[4].id}")
    dialect = "sqlite" if isinstance(store, SqliteRepository) else "postgresql"
    [migration] = [m for m in MIGRATIONS if "warnings_one_open_per_number" in script(m, dialect)]
    for statement in script(migration, dialect).split(";"):
        if statement.strip():
            await raw(store, statement)
    got = [await store.get_warning(w.id) for w in made]
    assert [(w.status.value, w.merged_into) for w in got] == [
        ("queued", None), ("merged", made[0].id), ("merged", made[0].id), ("merged", made[4].id), ("calling", None),
    ]


async def test_nodes_say_they_are_alive(store):
    await store.heartbeat("node-a", "http://10.0.0.1:8080", NOW, starting=True)
    await store.heartbeat("node-b", "http://10.0.0.2:8080", NOW + 1, starting=True)
    await store.heartbeat("node-a", "http://10.0.0.1:8080", NOW + 10)
    alive = await store.nodes_alive(since=NOW + 5)
    assert [(n.node_id, n.started_at, n.seen_at) for n in alive] == [("node-a", NOW, NOW + 10)]
    assert [n.node_id for n in await store.nodes_alive(since=NOW)] == ["node-a", "node-b"]


# -- PostgreSQL: several nodes on one database ------------------------------------------------


@pytest.fixture
async def nodes(postgres_url):
    """Two nodes' stores on one PostgreSQL database."""
    made = [PostgresRepository(postgres_url, node_id=name, delivery_claim_seconds=60) for name in ("node-a", "node-b")]
    for repository in made:
        await repository.open()
    yield made
    for repository in made:
        await repository.close()


async def test_two_nodes_racing_for_the_same_warnings_each_win_different_ones(nodes):
    a, b = nodes
    accepted = [await a.accept_warning(warning(f"W-{n}", f"+86138{n:08d}"), NOW) for n in range(60)]
    ids = [x.warning.id for x in accepted]
    # Both nodes go down the same due list at once, as their schedulers do.
    results = await asyncio.gather(*(claim(repo, warning_id, owner=repo.node_id) for warning_id in ids for repo in (a, b)))
    won = [r for r in results if r is not None]
    assert sorted(r.warning_id for r in won) == sorted(ids)  # every warning claimed exactly once
    owners = {w.id: w.lease_owner for w in [await a.get_warning(i) for i in ids]}
    assert set(owners.values()) <= {"node-a", "node-b"}
    assert await a.due_warnings(NOW, [RiskLevel.MEDIUM], 100) == []


async def test_two_nodes_taking_warnings_for_one_number_at_once_queue_one_and_merge_the_other(nodes):
    a, b = nodes
    for n in range(25):  # both nodes store a warning for the same number at the same moment
        number = f"+86138{n:08d}"
        first, second = await asyncio.gather(a.accept_warning(warning(f"A-{n}", number), NOW),
                                             b.accept_warning(warning(f"B-{n}", number), NOW))
        assert first.created and second.created
        stored = sorted([first.warning, second.warning], key=lambda w: w.id)
        assert [w.status for w in stored] == [WarningStatus.QUEUED, WarningStatus.MERGED]
        assert stored[1].merged_into == stored[0].id
    # Batches naming the same numbers in opposite orders wait for each other without a deadlock.
    numbers = [f"+86137{n:08d}" for n in range(40)]
    batch_a = [Intake(warning=warning(f"C-{n}", number)) for n, number in enumerate(numbers)]
    batch_b = [Intake(warning=warning(f"D-{n}", number)) for n, number in enumerate(reversed(numbers))]
    got_a, got_b = await asyncio.gather(a.accept_warnings(batch_a, NOW), b.accept_warnings(batch_b, NOW))
    queued = [x.warning.phone for x in [*got_a, *got_b] if x.warning.status is WarningStatus.QUEUED]
    assert sorted(queued) == sorted(numbers)


async def test_a_dead_nodes_attempts_are_recovered_by_another_after_its_lease_expires(nodes):
    a, b = nodes
    w = (await a.accept_warning(warning("W-1"), NOW)).warning
    lost = await claim(a, w.id, owner="node-a")  # lease: 600 s
    await a.renew_leases("node-a", NOW + 700)
    assert await b.recover(NOW + 650) == []  # renewed: node-a is alive
    assert await b.recover(NOW + 701) == [lost.id]  # node-a stopped renewing: it is dead
    again = await claim(b, w.id, owner="node-b", now=NOW + 702)
    assert again is not None and again.number == 2
    # node-a's report arrives after all (it was only cut off): the first record is kept.
    assert await a.finish_attempt(lost.id, BUSY, Decision(finished=True, outcome="busy"), NOW + 703) == []
    assert (await b.get_warning(w.id)).lease_owner == "node-b"
    assert [x.outcome for x in await b.attempts_of(w.id)] == ["interrupted", None]


async def test_each_delivery_is_sent_by_one_node_at_a_time_and_none_is_lost_with_a_node(nodes):
    a, b = nodes
    for n in range(3):
        await a.accept_warning(warning(f"H-{n}", f"+86138{n:08d}", risk=RiskLevel.HIGH), NOW, escalate="high_risk")
    taken_by_a = await a.due_deliveries(NOW, 4)
    assert [d.kind for d in taken_by_a] == ["escalation"] * 3 + ["outcome"]  # escalations first
    assert {d.claimed_by for d in taken_by_a} == {"node-a"}
    taken_by_b = await b.due_deliveries(NOW, 10)
    assert [d.kind for d in taken_by_b] == ["outcome"] * 2  # the rest; none of node-a's
    await a.release_deliveries([taken_by_a[-1].id])  # node-a will not send this one now
    assert [d.id for d in await b.due_deliveries(NOW + 1, 10)] == [taken_by_a[-1].id, *(d.id for d in taken_by_b)]
    await a.delivery_done(taken_by_a[0].id, NOW + 2)
    # node-a dies holding two escalations: node-b takes them over when the claim expires.
    assert [d.id for d in await b.due_deliveries(NOW + 30, 10) if d.kind == "escalation"] == []
    expired = [d for d in await b.due_deliveries(NOW + 61, 10) if d.kind == "escalation"]
    assert [d.id for d in expired] == [d.id for d in taken_by_a[1:3]] and {d.claimed_by for d in expired} == {"node-b"}
    done = await a.get_delivery(taken_by_a[0].id)
    assert (done.status, done.claimed_by) == ("delivered", None)


async def test_pacing_is_one_bucket_for_the_whole_cluster(nodes):
    """Eight calls a second for the cluster: two nodes asking as fast as they can, over five
    seconds of (passed-in) time, get the burst plus eight a second between them, no more.
    (Steps of 1/64 s: every time and token count is exact in binary floating point.)"""
    a, b = nodes
    rate, burst = 8.0, 1.0
    taken = {"node-a": 0, "node-b": 0}
    for step in range(320):
        now = NOW + step / 64
        for repo in ((a, b) if step // 8 % 2 else (b, a)):  # a token comes every 8 steps; each node is first in turn
            if await repo.take_dial_token(rate, burst, now) == 0.0:
                taken[repo.node_id] += 1
    assert sum(taken.values()) == 1 + 8 * 319 // 64  # one at once, then one every 1/8 s
    assert min(taken.values()) > 0  # both nodes got some
    wait = await a.take_dial_token(rate, burst, NOW + 319 / 64)
    assert wait == 1 / 8 - 7 / 64  # the last token went at 312/64; the next is there at 320/64
    await a.return_dial_token(burst)  # a token taken for a call that did not start goes back
    assert await b.take_dial_token(rate, burst, NOW + 319 / 64) == 0.0


async def test_two_nodes_opening_a_new_database_at_once_migrate_it_once(postgres_url):
    first, second = PostgresRepository(postgres_url), PostgresRepository(postgres_url)
    await asyncio.gather(first.open(), second.open())
    try:
        assert await first.schema_version() == await second.schema_version() == len(MIGRATIONS)
    finally:
        await first.close()
        await second.close()


async def test_a_newer_postgresql_schema_is_refused(postgres_url, postgres_server):
    repository = PostgresRepository(postgres_url)
    await repository.open()
    await repository.close()
    postgres_server.sql(postgres_url, "UPDATE robot_schema SET version = version + 1")
    with pytest.raises(StoreError, match="newer than this robot understands"):
        await PostgresRepository(postgres_url).open()


async def test_postgresql_itself_keeps_resolved_escalations_notes_and_the_audit_unchanged(nodes, postgres_url, postgres_server):
    a, _ = nodes
    w = (await a.accept_warning(warning("W-1", risk=RiskLevel.HIGH), NOW, escalate="high_risk")).warning
    [escalation] = await a.escalations(warning_id=w.id)
    await a.resolve_escalation(escalation.id, "officer.li", "Visited.", NOW + 60)
    for statement in ("UPDATE escalations SET status = 'open'", "UPDATE escalation_notes SET text = 'nothing'",
                      "DELETE FROM escalation_notes", "UPDATE audit SET kind = 'x'", "DELETE FROM audit", "TRUNCATE audit"):
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation):
            postgres_server.sql(postgres_url, statement)


async def test_an_unreachable_server_is_an_error_naming_it_without_the_password(postgres_server):
    url = f"postgresql://robot:s3cret-pw@127.0.0.1:{postgres_server.port + 1}/robot"  # nothing listens there
    with pytest.raises(StoreError) as caught:
        await PostgresRepository(url).open()
    assert "postgresql://robot@127.0.0.1:" in str(caught.value) and "s3cret-pw" not in str(caught.value)


async def test_connections_lost_make_the_store_unavailable_then_it_comes_back(nodes, postgres_url, postgres_server):
    a, _ = nodes
    await a.accept_warning(warning("W-1"), NOW)
    # The server drops every connection of the robot (a restart, a failover, an operator).
    postgres_server.sql(postgres_url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                      "WHERE application_name = 'robot' AND pid != pg_backend_pid()")
    outcomes = []
    for n in range(12):  # the pool finds its dead connections, one failure each at most, then new ones work
        try:
            await a.accept_warning(warning(f"W-{n + 2}", f"+86139{n:08d}"), NOW)
            outcomes.append("ok")
        except StoreUnavailable:
            outcomes.append("unavailable")
    assert outcomes[-1] == "ok" and a.unavailable() is None
    stored = [await a.get_warning_by_external_id(f"W-{n + 2}") for n in range(12)]
    assert [s is not None for s in stored] == [o == "ok" for o in outcomes]  # a failed write stored nothing


async def test_a_console_session_made_on_one_node_is_good_on_the_other_until_either_ends_it(nodes):
    from robot.store.records import SessionRecord

    a, b = nodes
    await a.add_user("officer.li", "officer", "$argon2id$x", NOW, by="cli")
    session = SessionRecord(id_hash="a" * 64, user_name="officer.li", csrf="c", created_at=NOW, expires_at=NOW + 600)
    await a.add_session(session)  # logged in through node a
    assert await b.session_by_hash("a" * 64, NOW + 1) == session  # the next request lands on node b
    await b.delete_session("a" * 64)  # logged out through node b
    assert await a.session_by_hash("a" * 64, NOW + 2) is None
    await b.add_session(session.model_copy(update={"id_hash": "b" * 64}))
    await a.disable_user("officer.li", NOW + 3, by="admin.wu")
    assert await b.session_by_hash("b" * 64, NOW + 4) is None
