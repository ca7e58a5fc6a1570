"""Every route, for every kind of caller: anonymous, the intake token (`api.token`), and the
personal tokens of an officer, a supervisor and an admin. One table: role x route -> status."""

from __future__ import annotations

from typing import Any

import pytest

from tests.console.conftest import Seeded
from tests.console.people import bearer

CALLERS = ("anonymous", "intake", "officer", "supervisor", "admin")
NEW_WARNING = {"id": "W-new", "phone": "13900139000", "risk": "low", "received_at": "2026-11-23T09:30:00+08:00"}

# (method, path, body) -> statuses for CALLERS, in that order. {attempt} and {escalation} are
# filled in from the seeded data; 999 names nothing (404 once the role allows the request).
TABLE: list[tuple[str, str, dict[str, Any] | None, tuple[int, ...]]] = [
    ("GET", "/healthz", None, (200, 200, 200, 200, 200)),
    ("GET", "/metrics", None, (200, 200, 200, 200, 200)),
    ("GET", "/static/htmx.min.js", None, (200, 200, 200, 200, 200)),
    ("GET", "/login", None, (200, 200, 200, 200, 200)),
    ("GET", "/logout", None, (200, 200, 200, 200, 200)),
    ("GET", "/", None, (303, 303, 303, 303, 303)),
    ("POST", "/login", {"username": "li.officer", "password": "x"}, (403, 403, 403, 403, 403)),  # no CSRF value
    ("POST", "/logout", {}, (303, 303, 303, 303, 303)),  # no session to end
    ("POST", "/v1/warnings", NEW_WARNING, (401, 201, 403, 403, 403)),
    ("GET", "/v1/warnings/W-call", None, (401, 200, 200, 200, 200)),
    ("GET", "/v1/escalations", None, (401, 200, 200, 200, 200)),
    ("POST", "/v1/escalations/999/claim", {}, (401, 403, 404, 404, 404)),
    ("POST", "/v1/escalations/999/resolve", {"notes": "x"}, (401, 403, 404, 404, 404)),
    ("POST", "/v1/escalations/999/notes", {"text": "x"}, (401, 403, 404, 404, 404)),
    ("GET", "/queue", None, (401, 403, 200, 200, 200)),
    ("GET", "/queue/rows", None, (401, 403, 200, 200, 200)),
    ("GET", "/warnings/W-call", None, (401, 403, 200, 200, 200)),
    ("GET", "/warnings/nope", None, (401, 403, 404, 404, 404)),
    ("GET", "/recordings/{attempt}", None, (401, 403, 200, 200, 200)),
    ("GET", "/recordings/999", None, (401, 403, 404, 404, 404)),
    ("POST", "/escalations/999/claim", {}, (401, 403, 404, 404, 404)),
    ("POST", "/escalations/999/resolve", {"outcome": "false_alarm"}, (401, 403, 404, 404, 404)),
    ("POST", "/escalations/999/notes", {"text": "x"}, (401, 403, 404, 404, 404)),
    ("GET", "/dashboard", None, (401, 403, 403, 200, 200)),
    ("GET", "/scripts", None, (401, 403, 403, 200, 200)),
    ("GET", "/audit", None, (401, 403, 403, 200, 200)),
    ("GET", "/users", None, (401, 403, 403, 403, 200)),
    ("POST", "/users/nobody/disable", {}, (401, 403, 403, 403, 404)),
    ("POST", "/users", {"name": "sun.officer", "role": "officer", "password": "a long password"}, (401, 403, 403, 403, 303)),
]


def headers_for(console: Seeded, caller: str) -> dict[str, str]:
    return {} if caller == "anonymous" else bearer(console.tokens[caller])


@pytest.mark.parametrize(("method", "path", "body", "statuses"), TABLE, ids=[f"{m} {p}" for m, p, _, _ in TABLE])
async def test_role_by_route(console, method, path, body, statuses):
    path = path.format(attempt=console.attempt_id)
    got = []
    for caller in CALLERS:
        headers = headers_for(console, caller)
        if body is None:
            response = await console.client.request(method, path, headers=headers)
        elif path.startswith("/v1/"):
            response = await console.client.request(method, path, json=body, headers=headers)
        else:
            response = await console.client.request(method, path, data=body, headers=headers)
        got.append(response.status_code)
        if response.status_code in (401, 403):  # every refusal says why: JSON for API clients, the login form's alert
            said = response.json()["detail"] if "json" in response.headers["content-type"] else \
                response.text.split('role="alert">')[1].split("<")[0]
            assert said.strip(), (caller, path)
    assert dict(zip(CALLERS, got, strict=True)) == dict(zip(CALLERS, statuses, strict=True))


async def test_refusals_say_why_in_json_for_the_api_and_as_a_page_for_people(console):
    client = console.client
    anonymous = await client.get("/v1/escalations")
    assert anonymous.status_code == 401 and anonymous.json() == {"detail": "Log in first."}
    wrong = await client.get("/v1/escalations", headers=bearer("robot_not-a-token"))
    assert wrong.status_code == 401 and "not valid" in wrong.json()["detail"] and wrong.headers["WWW-Authenticate"] == "Bearer"
    claim = await client.post("/v1/escalations/1/claim", json={}, headers=bearer(console.tokens["intake"]))
    assert claim.status_code == 403 and claim.json()["detail"] == "intake (intake) may not do this: it needs the role officer."
    page = await client.get("/dashboard", headers=bearer(console.tokens["officer"]) | {"Accept": "text/html"})
    assert page.status_code == 403 and "text/html" in page.headers["content-type"]
    assert "li.officer（officer）无权执行此操作：需要 supervisor 角色。" in page.text
    login_first = await client.get("/queue", headers={"Accept": "text/html"})
    assert login_first.status_code == 401 and 'href="/login?next=/queue"' in login_first.text and "请先登录。" in login_first.text


async def test_a_disabled_users_token_stops_working_and_a_new_token_replaces_the_old(console):
    officer = bearer(console.tokens["officer"])
    assert (await console.client.get("/v1/escalations", headers=officer)).status_code == 200
    await console.h.store.disable_user("li.officer", 1.0, by="cli")
    refused = await console.client.get("/v1/escalations", headers=officer)
    assert refused.status_code == 401 and refused.json()["detail"] == "User li.officer is disabled."
    from tests.console.people import person_token

    old = console.tokens["supervisor"]
    new = await person_token(console.h.store, "zhao.supervisor", "supervisor")
    assert (await console.client.get("/v1/escalations", headers=bearer(old))).status_code == 401
    assert (await console.client.get("/v1/escalations", headers=bearer(new))).status_code == 200
