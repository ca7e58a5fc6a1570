"""Console users and the audit trail, on both stores (the `store` fixture runs each test on
SQLite and on PostgreSQL)."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from robot.store import AttemptResult, Conflict, Decision, NotFound
from tests.store.test_sqlite import NOW, claim, warning


async def test_users_are_added_listed_and_disabled(store):
    li = await store.add_user("officer.li", "officer", "$argon2id$hash-li", NOW)
    assert (li.name, li.role, li.password_hash, li.disabled, li.created_at) == ("officer.li", "officer", "$argon2id$hash-li", False, NOW)
    await store.add_user("admin.wu", "admin", "$argon2id$hash-wu", NOW + 1)
    with pytest.raises(Conflict, match="already a user 'officer.li'"):
        await store.add_user("officer.li", "supervisor", "$argon2id$other", NOW + 2)
    assert [(u.name, u.role) for u in await store.users()] == [("admin.wu", "admin"), ("officer.li", "officer")]
    disabled = await store.disable_user("officer.li", NOW + 3)
    assert disabled.disabled and disabled.disabled_at == NOW + 3
    again = await store.disable_user("officer.li", NOW + 4)
    assert again.disabled_at == NOW + 3  # the first time is kept
    assert (await store.get_user("officer.li")).disabled
    assert await store.get_user("nobody") is None
    with pytest.raises(NotFound):
        await store.disable_user("nobody", NOW)


async def test_the_store_refuses_an_unknown_role(store):
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)):
        await store.add_user("root", "superuser", "$argon2id$x", NOW)


async def test_a_new_token_replaces_the_old_one(store):
    await store.add_user("officer.li", "officer", "$argon2id$x", NOW)
    assert (await store.get_user("officer.li")).token_created_at is None
    await store.set_user_token("officer.li", "a" * 64, NOW + 1)
    assert (await store.user_by_token("a" * 64)).name == "officer.li"
    user = await store.set_user_token("officer.li", "b" * 64, NOW + 2)
    assert user.token_created_at == NOW + 2
    assert await store.user_by_token("a" * 64) is None
    assert (await store.user_by_token("b" * 64)).name == "officer.li"
    with pytest.raises(NotFound):
        await store.set_user_token("nobody", "c" * 64, NOW)
    await store.disable_user("officer.li", NOW + 3)
    with pytest.raises(Conflict, match="disabled"):
        await store.set_user_token("officer.li", "c" * 64, NOW + 4)


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
