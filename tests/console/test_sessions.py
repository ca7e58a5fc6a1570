"""Logging in and out: the form's CSRF value, the session cookie's attributes, its expiry
(on the daemon's virtual clock), CSRF on every state-changing form, the rate limit on failed logins, a disabled
user's session, the language switch and the catalogues."""

from __future__ import annotations

import json
import re
from importlib import resources

from robot.console.i18n import LANGUAGES, catalogue
from robot.console.sessions import session_id_hash
from tests.console.conftest import Seeded
from tests.console.people import PASSWORD

HTML = {"Accept": "text/html"}


def csrf_in(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field in the form"
    return match.group(1)


async def log_in(console: Seeded, name: str = "li.officer", password: str = PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF value (from the queue page)."""
    form = await console.client.get("/login")
    response = await console.client.post("/login", data={"username": name, "password": password, "csrf": csrf_in(form.text)})
    assert response.status_code == 303 and response.headers["location"] == "/queue", response.text
    queue = await console.client.get("/queue", headers=HTML)
    assert queue.status_code == 200
    return csrf_in(queue.text)


async def test_login_sets_an_httponly_samesite_cookie_that_expires(console):
    form = await console.client.get("/login")
    assert form.status_code == 200 and 'name="username"' in form.text and 'name="password"' in form.text
    response = await console.client.post("/login", data={"username": "li.officer", "password": PASSWORD, "csrf": csrf_in(form.text)})
    assert response.status_code == 303
    cookie = next(value for key, value in response.headers.multi_items() if key == "set-cookie" and value.startswith("robot_session="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "max-age", "path", "samesite"} <= attributes and "samesite=lax" in cookie.lower()
    assert "max-age=28800" in cookie.lower()  # api.session_minutes: 480
    assert (await console.client.get("/queue")).status_code == 200


async def test_the_login_form_needs_its_csrf_value(console):
    await console.client.get("/login")
    refused = await console.client.post("/login", data={"username": "li.officer", "password": PASSWORD, "csrf": "made-up"})
    assert refused.status_code == 403 and "robot_session" not in refused.headers.get("set-cookie", "")


async def test_a_wrong_password_or_name_is_401_with_one_message(console):
    form = await console.client.get("/login")
    for name, password in (("li.officer", "wrong password"), ("nobody", PASSWORD)):
        response = await console.client.post("/login", data={"username": name, "password": password, "csrf": csrf_in(form.text)})
        assert response.status_code == 401 and "用户名或密码错误。" in response.text
    assert (await console.client.get("/queue")).status_code == 401


async def test_failed_logins_are_rate_limited(console):
    form = await console.client.get("/login")
    csrf = csrf_in(form.text)
    for _ in range(5):
        assert (await console.client.post("/login", data={"username": "li.officer", "password": "nope", "csrf": csrf})).status_code == 401
    limited = await console.client.post("/login", data={"username": "li.officer", "password": PASSWORD, "csrf": csrf})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert "登录失败次数过多" in limited.text


async def test_every_state_changing_form_checks_the_sessions_csrf_value(console):
    csrf = await log_in(console)
    escalation = console.escalations["W-call"]
    for path, data in ((f"/escalations/{escalation}/claim", {}), (f"/escalations/{escalation}/notes", {"text": "x"}),
                       (f"/escalations/{escalation}/resolve", {"outcome": "false_alarm"}), ("/logout", {})):
        for wrong in ({}, {"csrf": "forged"}):
            assert (await console.client.post(path, data=data | wrong)).status_code == 403, path
    claimed = await console.client.post(f"/escalations/{escalation}/claim", data={"csrf": csrf, "officer": "someone.else"})
    assert claimed.status_code == 303
    assert (await console.h.store.get_escalation(escalation)).claimed_by == "li.officer"  # never a name from the form
    out = await console.client.post("/logout", data={"csrf": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert (await console.client.get("/queue")).status_code == 401


async def test_an_admins_forms_check_csrf_too(console):
    csrf = await log_in_as_admin(console)
    data = {"name": "sun.officer", "role": "officer", "password": "another long password"}
    assert (await console.client.post("/users", data=data)).status_code == 403
    assert (await console.client.post("/users", data=data | {"csrf": csrf})).status_code == 303
    assert (await console.h.store.get_user("sun.officer")).role == "officer"
    assert (await console.client.post("/users/sun.officer/disable", data={})).status_code == 403
    assert (await console.client.post("/users/sun.officer/disable", data={"csrf": csrf})).status_code == 303
    assert (await console.h.store.get_user("sun.officer")).disabled


async def log_in_as_admin(console: Seeded) -> str:
    from tests.console.people import add_person

    await add_person(console.h.store, "chen.admin", "admin")
    await log_in(console, "chen.admin")
    return csrf_in((await console.client.get("/users")).text)


async def test_a_session_expires_and_a_tampered_cookie_is_refused(console):
    await log_in(console)
    cookie = console.client.cookies["robot_session"]
    console.client.cookies.set("robot_session", cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"))
    assert (await console.client.get("/queue")).status_code == 401
    console.client.cookies.set("robot_session", cookie)
    assert (await console.client.get("/queue")).status_code == 200
    console.h.clock.advance(480 * 60 - 1)  # api.session_minutes: 480, on the daemon's clock
    assert (await console.client.get("/queue")).status_code == 200
    console.h.clock.advance(2)
    expired = await console.client.get("/queue", headers=HTML)
    assert expired.status_code == 401 and "登录已过期" in expired.text
    assert await console.h.store.session_by_hash(session_id_hash(cookie), console.h.clock.now() - 600) is None  # purged


async def test_a_disabled_users_session_stops_at_once_and_is_deleted(console):
    await log_in(console)
    cookie = console.client.cookies["robot_session"]
    await console.h.store.disable_user("li.officer", 1.0, by="cli")
    assert await console.h.store.session_by_hash(session_id_hash(cookie), console.h.clock.now()) is None
    assert (await console.client.get("/queue")).status_code == 401


async def test_mandarin_by_default_english_on_request_and_remembered(console):
    await log_in(console)
    chinese = await console.client.get("/queue")
    assert '<html lang="zh-CN">' in chinese.text and "转人工处置队列" in chinese.text
    english = await console.client.get("/queue?lang=en-US")
    assert '<html lang="en-US">' in english.text and "Escalation queue" in english.text and "转人工处置队列" not in english.text
    assert (await console.client.get("/queue")).text.count("Escalation queue") >= 1  # the cookie remembers it


def test_the_catalogues_have_the_same_keys_and_every_key_the_templates_use():
    keys = {language: set(catalogue(language)) for language in LANGUAGES}
    assert keys["zh-CN"] == keys["en-US"]
    templates = resources.files("robot.console").joinpath("templates")
    used = set()
    for template in templates.iterdir():
        used |= set(re.findall(r't\("([a-z_.\-A-Z0-9]+)"', template.read_text(encoding="utf-8")))
    prefixes = {key for key in used if key.endswith(".")}  # t("role." ~ code): a family of keys
    assert all(any(k.startswith(prefix) for k in keys["zh-CN"]) for prefix in prefixes)
    assert used - prefixes and used - prefixes <= keys["zh-CN"], used - prefixes - keys["zh-CN"]
    sources = resources.files("robot.console")
    for module in sources.iterdir():
        if module.name.endswith(".py"):
            for key in re.findall(r'(?:Refused\(\d+, |t\()"([a-z_]+\.[a-z_.0-9]+)"', module.read_text(encoding="utf-8")):
                assert key in keys["zh-CN"], (module.name, key)
    for language in LANGUAGES:  # valid JSON of strings, placeholders alike in both
        data = json.loads(templates.joinpath("..", "locales", f"{language}.json").read_text(encoding="utf-8"))
        assert all(isinstance(value, str) for value in data.values())
    for key in keys["zh-CN"]:
        assert set(re.findall(r"\{(\w+)\}", catalogue("zh-CN")[key])) == set(re.findall(r"\{(\w+)\}", catalogue("en-US")[key])), key
