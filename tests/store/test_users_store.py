"""Console users and the audit trail, on both stores (the `store` fixture runs each test on
SQLite and on PostgreSQL)."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from robot.store import AttemptResult, Conflict, Decision, NotFound
from tests.store.test_sqlite import NOW, claim, warning


async def test_users_are_added_listed_and_disabled(store):
    li = await store.add_user("officer.li", "officer", "$argon2id$hash-li", NOW, by="cli")
    assert (li.name, li.role, li.password_hash, li.disabled, li.created_at) == ("officer.li", "officer", "$argon2id$hash-li", False, NOW)
    await store.add_user("admin.wu", "admin", "$argon2id$hash-wu", NOW + 1, by="cli")
    with pytest.raises(Conflict, match="already a user 'officer.li'"):
        await store.add_user("officer.li", "supervisor", "$argon2id$other", NOW + 2, by="cli")
    assert [(u.name, u.role) for u in await store.users()] == [("admin.wu", "admin"), ("officer.li", "officer")]
    disabled = await store.disable_user("officer.li", NOW + 3, by="cli")
    assert disabled.disabled and disabled.disabled_at == NOW + 3
    again = await store.disable_user("officer.li", NOW + 4, by="cli")
    assert again.disabled_at == NOW + 3  # the first time is kept
    assert (await store.get_user("officer.li")).disabled
    assert await store.get_user("nobody") is None
    with pytest.raises(NotFound):
        await store.disable_user("nobody", NOW, by="cli")


async def test_the_store_refuses_an_unknown_role(store):
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)):
        await store.add_user("root", "superuser", "$argon2id$x", NOW, by="cli")


async def test_a_new_token_replaces_the_old_one(store):
    await store.add_user("officer.li", "officer", "$argon2id$x", NOW, by="cli")
    assert (await store.get_user("officer.li")).token_created_at is None
    await store.set_user_token("officer.li", "a" * 64, NOW + 1, by="cli")
    assert (await store.user_by_token("a" * 64)).name == "officer.li"
    user = await store.set_user_token("officer.li", "b" * 64, NOW + 2, by="cli")
    assert user.token_created_at == NOW + 2
    assert await store.user_by_token("a" * 64) is None
    assert (await store.user_by_token("b" * 64)).name == "officer.li"
    with pytest.raises(NotFound):
        await store.set_user_token("nobody", "c" * 64, NOW, by="cli")
    await store.disable_user("officer.li", NOW + 3, by="cli")
    with pytest.raises(Conflict, match="disabled"):
        await store.set_user_token("officer.li", "c" * 64, NOW + 4, by="cli")


async def test_the_audit_trail_names_who_did_what_newest_first(store):
    accepted = (await store.accept_warning(warning("W-1"), NOW)).warning
    escalation, _ = await store.open_escalation(accepted.id, "urgent_speech", now=NOW + 1)
    await store.claim_escalation(escalation.id, "officer.li", NOW + 2)
    await store.record_access("recording_played", accepted.id, "officer.li", {"attempt": 7}, NOW + 3)
    await store.record_access("transcript_read", accepted.id, "supervisor.zhao", {}, NOW + 4)
    await store.resolve_escalation(escalation.id, "officer.li", "reached", NOW + 5)
    kinds = ["escalation_claimed", "escalation_resolved", "recording_played", "transcript_read"]
    trail = await store.audit_trail(kinds)
    assert [(e.kind, e.at, e.warning_external_id) for e in trail] == [
        ("escalation_resolved", NOW + 5, "W-1"), ("transcript_read", NOW + 4, "W-1"),
        ("recording_played", NOW + 3, "W-1"), ("escalation_claimed", NOW + 2, "W-1"),
    ]
    assert trail[1].detail == {"by": "supervisor.zhao"} and trail[2].detail == {"by": "officer.li", "attempt": 7}
    assert trail[0].detail["officer"] == "officer.li"
    page = await store.audit_trail(kinds, limit=2, before=trail[1].id)
    assert [e.kind for e in page] == ["recording_played", "escalation_claimed"]
    assert await store.audit_trail([]) == []
    assert [e.kind for e in await store.audit_trail(["recording_played"])] == ["recording_played"]


async def test_an_attempt_keeps_the_path_through_the_script(store):
    accepted = (await store.accept_warning(warning("W-1"), NOW)).warning
    attempt = await claim(store, accepted.id)
    result = AttemptResult(call_outcome="answered", outcome="dissuaded", answered=True, path=["greet", "ask_transfer", "advise"])
    await store.finish_attempt(attempt.id, result, Decision(finished=True, outcome="dissuaded"), NOW + 30)
    [stored] = await store.attempts_of(accepted.id)
    assert stored.path == ["greet", "ask_transfer", "advise"]


async def test_sessions_are_kept_by_hash_expire_and_end_with_logout_or_disabling(store):
    from robot.store.records import SessionRecord

    await store.add_user("officer.li", "officer", "$argon2id$x", NOW, by="cli")
    await store.add_user("officer.wang", "officer", "$argon2id$y", NOW, by="cli")
    li = SessionRecord(id_hash="a" * 64, user_name="officer.li", csrf="c1", created_at=NOW, expires_at=NOW + 100)
    await store.add_session(li)
    await store.add_session(SessionRecord(id_hash="b" * 64, user_name="officer.li", csrf="c2", created_at=NOW, expires_at=NOW + 10))
    await store.add_session(SessionRecord(id_hash="d" * 64, user_name="officer.wang", csrf="c3", created_at=NOW, expires_at=NOW + 100))
    assert await store.session_by_hash("a" * 64, NOW + 99) == li
    assert await store.session_by_hash("b" * 64, NOW + 10) is None  # expired: refused, and deleted
    assert await store.session_by_hash("b" * 64, NOW) is None
    assert await store.session_by_hash("e" * 64, NOW) is None
    await store.delete_session("a" * 64)  # logging out
    assert await store.session_by_hash("a" * 64, NOW) is None
    await store.add_session(li)
    await store.disable_user("officer.li", NOW + 1, by="admin.wu")
    assert await store.session_by_hash("a" * 64, NOW + 1) is None
    assert (await store.session_by_hash("d" * 64, NOW + 1)) is not None  # another user's stays
    await store.add_session(SessionRecord(id_hash="f" * 64, user_name="officer.wang", csrf="c4", created_at=NOW + 200,
                                          expires_at=NOW + 300))  # a new login purges the expired ones
    assert await store.session_by_hash("d" * 64, NOW) is None


async def test_user_changes_name_their_actor_in_the_audit_log(store):
    await store.add_user("officer.li", "officer", "$argon2id$x", NOW, by="admin.wu")
    await store.set_user_token("officer.li", "a" * 64, NOW + 1, by="cli")
    await store.disable_user("officer.li", NOW + 2, by="admin.wu")
    trail = await store.audit_trail(["user_added", "user_token", "user_disabled"])
    assert [(e.kind, e.detail["by"]) for e in trail] == [("user_disabled", "admin.wu"), ("user_token", "cli"), ("user_added", "admin.wu")]


async def test_a_claimed_escalation_is_resolved_by_its_claimant_or_over_the_claim(store):
    accepted = (await store.accept_warning(warning("W-1"), NOW)).warning
    first, _ = await store.open_escalation(accepted.id, "urgent_speech", now=NOW + 1)
    await store.claim_escalation(first.id, "officer.li", NOW + 2)
    with pytest.raises(Conflict, match="claimed by officer.li"):
        await store.resolve_escalation(first.id, "officer.wang", "mine now", NOW + 3)
    assert (await store.get_escalation(first.id)).status.value == "claimed"
    resolved = await store.resolve_escalation(first.id, "supervisor.zhao", "closed", NOW + 4, over_claim=True)
    assert (resolved.status.value, resolved.claimed_by, resolved.resolved_by) == ("resolved", "officer.li", "supervisor.zhao")
    with pytest.raises(Conflict, match="resolved by supervisor.zhao"):
        await store.claim_escalation(first.id, "officer.wang", NOW + 5)
    with pytest.raises(Conflict, match="resolved by supervisor.zhao"):
        await store.resolve_escalation(first.id, "officer.li", "", NOW + 5)
    second, _ = await store.open_escalation(accepted.id, "robot_error", now=NOW + 6)
    mine = await store.resolve_escalation(second.id, "officer.wang", "", NOW + 7)  # an open one: whoever resolves it
    assert (mine.claimed_by, mine.resolved_by) == ("officer.wang", "officer.wang")
