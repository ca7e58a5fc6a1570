"""The security review's findings, each reproduced (these failed before the fixes): a session
cookie forged with a key derived from the intake token, a cookie replayed after logging out,
recordings fetched with a Range header and not audited, full numbers and server paths on /v1
for every role, resolving another officer's claim, user changes audited without their actor,
a disabled account told apart from a wrong password, the intake token's transcript reads not
audited, and /v1 acting on a session cookie without any CSRF defence."""

from __future__ import annotations

import hashlib
import hmac
import re

import itsdangerous

from robot.console.login import safe_next
from tests.console.conftest import INTAKE_TOKEN, Seeded
from tests.console.people import PASSWORD, add_person, bearer
from tests.console.test_sessions import csrf_in, log_in

HTML = {"Accept": "text/html"}


def old_derived_key(api_token: str) -> bytes:
    """How the session key used to be made from `api.token`, which the warning platform holds."""
    return hmac.new(api_token.encode(), b"robot console sessions v1", hashlib.sha256).digest()


async def test_a_cookie_forged_with_the_intake_token_is_refused(console: Seeded):
    forged = itsdangerous.URLSafeTimedSerializer(old_derived_key(INTAKE_TOKEN), salt="session").dumps({"u": "wu.admin", "c": "x"})
    console.client.cookies.set("robot_session", forged)
    assert (await console.client.get("/users")).status_code == 401
    made = await console.client.post("/users", data={"csrf": "x", "name": "evil", "role": "admin", "password": "0123456789abc"})
    assert made.status_code == 401 and await console.h.store.get_user("evil") is None


async def test_the_cookie_is_a_random_id_whose_hash_alone_is_stored(console: Seeded):
    await log_in(console)
    cookie = console.client.cookies["robot_session"]
    assert "li.officer" not in cookie and len(cookie) >= 40
    stored = await console.h.store.session_by_hash(hashlib.sha256(cookie.encode()).hexdigest(), console.h.clock.now())
    assert stored is not None and stored.user_name == "li.officer" and stored.id_hash != cookie


async def test_a_cookie_replayed_after_logout_is_refused(console: Seeded):
    csrf = await log_in(console)
    cookie = console.client.cookies["robot_session"]
    assert (await console.client.post("/logout", data={"csrf": csrf})).status_code == 303
    console.client.cookies.clear()
    console.client.cookies.set("robot_session", cookie)
    assert (await console.client.get("/queue")).status_code == 401


async def plays(console: Seeded) -> list[str]:
    return [str(entry.detail["by"]) for entry in await console.h.store.audit_trail(["recording_played"])]


async def test_every_fetch_of_a_recording_is_audited_whatever_its_range(console: Seeded):
    path = f"/recordings/{console.attempt_id}"
    officer = bearer(console.tokens["officer"])
    first = await console.client.get(path, headers={**officer, "Range": "bytes=1-"})
    assert first.status_code == 206 and first.content and await plays(console) == ["li.officer"]
    more = await console.client.get(path, headers={**officer, "Range": "bytes=0-0,1-"})  # the same listening
    assert more.status_code in (200, 206) and more.content and await plays(console) == ["li.officer"]
    supervisor = await console.client.get(path, headers={**bearer(console.tokens["supervisor"]), "Range": "bytes=100-"})
    assert supervisor.status_code == 206 and await plays(console) == ["zhao.supervisor", "li.officer"]
    console.h.clock.advance(600)  # ten minutes on: a new listening
    again = await console.client.get(path, headers={**officer, "Range": "bytes=2000-"})
    assert again.status_code == 206 and await plays(console) == ["li.officer", "zhao.supervisor", "li.officer"]


async def test_v1_masks_numbers_for_all_but_officers_and_intake_and_never_gives_a_path(console: Seeded):
    seen = {}
    for role in ("officer", "intake", "supervisor", "admin"):
        queue = await console.client.get("/v1/escalations", headers=bearer(console.tokens[role]))
        warning = await console.client.get("/v1/warnings/W-call", headers=bearer(console.tokens[role]))
        assert queue.status_code == warning.status_code == 200
        seen[role] = ({(e["warning_id"], e["phone"], e["name"]) for e in queue.json()}, warning.json()["phone"], warning.json()["name"])
        attempts = warning.json()["attempts"]
        assert [a["recording"] for a in attempts] == [f"/recordings/{console.attempt_id}"]
        server_path = (await console.h.store.get_attempt(console.attempt_id)).recording
        assert server_path and server_path not in warning.text and ".wav" not in warning.text + queue.text
    full = ({("W-high", "+862088886666", "李华"), ("W-call", "+8613800138000", "王芳")}, "+8613800138000", "王芳")
    masked = ({("W-high", "***6666", "李*"), ("W-call", "***8000", "王*")}, "***8000", "王*")
    assert seen == {"officer": full, "intake": full, "supervisor": masked, "admin": masked}


async def test_v1_refuses_a_session_cookie(console: Seeded):
    await log_in(console)
    escalation = console.escalations["W-high"]
    for body in ({"content": b"{}", "headers": {"content-type": "text/plain"}}, {"json": {"officer": "someone.else"}}):
        refused = await console.client.post(f"/v1/escalations/{escalation}/claim", **body)  # type: ignore[arg-type]
        assert refused.status_code == 401 and "bearer token" in refused.json()["detail"]
    assert (await console.client.get("/v1/escalations")).status_code == 401
    assert (await console.h.store.get_escalation(escalation)).claimed_by is None
    assert (await console.client.get("/queue")).status_code == 200  # the pages keep working with the cookie


async def test_only_the_claimant_or_a_supervisor_resolves_a_claimed_escalation(console: Seeded):
    escalation = console.escalations["W-high"]
    claimed = await console.client.post(f"/v1/escalations/{escalation}/claim", json={}, headers=bearer(console.tokens["officer"]))
    assert claimed.status_code == 200
    await add_person(console.h.store, "other.officer", "officer")
    csrf = await log_in(console, "other.officer")
    shown = await console.client.get("/warnings/W-high", headers=HTML)
    assert f'action="/escalations/{escalation}/resolve"' not in shown.text  # no button it may not press
    page = await console.client.post(f"/escalations/{escalation}/resolve", data={"csrf": csrf, "outcome": "false_alarm"})
    assert page.status_code == 409 and "li.officer" in page.text
    other_token = bearer(await _token(console, "other.officer"))
    api = await console.client.post(f"/v1/escalations/{escalation}/resolve", json={"notes": "x"}, headers=other_token)
    assert api.status_code == 409 and "claimed by li.officer" in api.json()["detail"]
    assert (await console.h.store.get_escalation(escalation)).status.value == "claimed"
    supervisor_sees = await console.client.get("/warnings/W-high", headers={**HTML, **bearer(console.tokens["supervisor"])})
    assert f'action="/escalations/{escalation}/resolve"' in supervisor_sees.text
    done = await console.client.post(f"/v1/escalations/{escalation}/resolve", json={"notes": "closed"},
                                     headers=bearer(console.tokens["supervisor"]))
    assert done.status_code == 200 and (done.json()["claimed_by"], done.json()["resolved_by"]) == ("li.officer", "zhao.supervisor")
    page = await console.client.get("/warnings/W-high", headers=HTML)
    assert "li.officer 已认领" in page.text and "zhao.supervisor 已办结" in page.text
    late = await console.client.post(f"/v1/escalations/{escalation}/resolve", json={}, headers=bearer(console.tokens["officer"]))
    assert late.status_code == 409 and "resolved by zhao.supervisor" in late.json()["detail"]


async def _token(console: Seeded, name: str) -> str:
    from tests.console.people import person_token

    return await person_token(console.h.store, name, "officer")


async def test_user_changes_are_audited_with_the_admin_who_made_them(console: Seeded):
    await log_in(console, "wu.admin")
    csrf = csrf_in((await console.client.get("/users")).text)
    added = await console.client.post("/users", data={"csrf": csrf, "name": "sun.officer", "role": "officer",
                                                      "password": "another long password"})
    assert added.status_code == 303
    assert (await console.client.post("/users/sun.officer/disable", data={"csrf": csrf})).status_code == 303
    trail = await console.h.store.audit_trail(["user_added", "user_disabled", "user_token"])
    assert [(e.kind, e.detail["user"], e.detail["by"]) for e in trail[:2]] == [
        ("user_disabled", "sun.officer", "wu.admin"), ("user_added", "sun.officer", "wu.admin")]
    assert {e.detail["by"] for e in trail[2:]} == {"cli"}  # the fixture's users, as `robot users` makes them
    audit = await console.client.get("/audit", headers=HTML)
    rows = re.findall(r'<tr class="audit-(user_[a-z]+)"><td>[^<]*</td><td>([^<]*)</td>', audit.text)
    assert rows[:2] == [("user_disabled", "wu.admin"), ("user_added", "wu.admin")]


async def test_a_disabled_account_is_refused_like_a_wrong_password_and_counted(console: Seeded):
    await add_person(console.h.store, "gone", "officer")
    await console.h.store.disable_user("gone", 1.0, by="cli")
    csrf = csrf_in((await console.client.get("/login")).text)
    answers = []
    for password in (PASSWORD, "wrong password x", PASSWORD, PASSWORD, PASSWORD):
        refused = await console.client.post("/login", data={"username": "gone", "password": password, "csrf": csrf})
        answers.append((refused.status_code, "用户名或密码错误。" in refused.text, "gone" in refused.text.split("<form")[0]))
    assert answers == [(401, True, False)] * 5
    limited = await console.client.post("/login", data={"username": "gone", "password": PASSWORD, "csrf": csrf})
    assert limited.status_code == 429  # five failures, the disabled-account ones among them


async def test_the_intake_token_reading_a_transcript_is_audited(console: Seeded):
    read = await console.client.get("/v1/warnings/W-call", headers=bearer(INTAKE_TOKEN))
    assert read.status_code == 200 and read.json()["attempts"][0]["transcript"]
    trail = await console.h.store.audit_trail(["transcript_read"])
    assert [(e.warning_external_id, e.detail["by"], e.detail["via"]) for e in trail] == [("W-call", "intake", "api")]


def test_after_login_only_a_path_on_this_site():
    for bad in ("//evil.com", "/\\evil.com", "/\t/evil.com", "/\x0b/evil.com", "/ /evil.com", "/\n/evil.com", "https://evil.com"):
        assert safe_next(bad) == "/queue", repr(bad)
    assert safe_next("/warnings/W-1?lang=en-US") == "/warnings/W-1?lang=en-US"
