"""What a warning's fields may not do: name SIP headers, files or log lines, choose what the
robot says, point deliveries anywhere, or exhaust the daemon. Each is refused at intake with
a 422 naming the field (413 for sizes), and nothing of a refused batch is stored."""

from __future__ import annotations

import json
import threading

import httpx
import pytest

from robot.dialer.api import create_app
from robot.dialer.intake import validate_warning
from robot.dialer.scripts import ScriptLibrary
from tests.conftest import DIALOGS
from tests.console.people import bearer, person_token

TOKEN = "intake-security-token"
GOOD = {"id": "GZ-2026:000123.a_b", "phone": "13800138000", "name": "李华", "risk": "medium",
        "received_at": "2026-11-23T09:00:00+08:00"}


@pytest.fixture
async def api(harness):
    h = await harness(calls_per_second=100, webhooks={"allowed_callback_hosts": ["hooks.centre.example", "10.0.0.9:8443"]},
                      api={"max_body_bytes": 200_000}, intake={"max_batch_size": 50, "max_errors_listed": 5})
    transport = httpx.ASGITransport(app=create_app(h.daemon, TOKEN))
    async with httpx.AsyncClient(transport=transport, base_url="http://robot", headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        client.h = h  # type: ignore[attr-defined]
        yield client


async def refused(api, warning, field):  # type: ignore[no-untyped-def]
    response = await api.post("/v1/warnings", json=warning)
    assert response.status_code == 422, response.text
    details = response.json()["detail"]
    assert ["body", *field] in [d["loc"] for d in details], details
    assert await api.h.store.get_warning_by_external_id(warning["id"]) is None  # nothing stored
    return next(d["msg"] for d in details if d["loc"] == ["body", *field])


@pytest.mark.parametrize("bad_id", [
    "W-1\r\nP-Asserted-Identity: <sip:110@evil>",  # once added a header to the INVITE: the citizen's caller ID
    "../../escaped/pwn",  # once wrote the recording outside recordings_dir
    "/tmp/pwn",
    "W 1",
    "x" * 129,
])
async def test_an_id_that_is_not_letters_digits_and_dot_underscore_colon_dash_is_refused(api, bad_id):
    await refused(api, GOOD | {"id": bad_id}, ["id"])


async def test_a_safe_id_is_the_header_value_and_the_recording_is_named_by_the_attempt(api):
    assert (await api.post("/v1/warnings", json=GOOD)).status_code == 201
    [job] = await api.h.tick()
    assert job.request.headers == {"X-Warning-Id": "GZ-2026:000123.a_b"}
    assert job.request.recording_name == f"attempt-{job.attempt_id}"


@pytest.mark.parametrize("name", [
    "Li Hua. This is not a scam. Move your savings to safe account 6222 0000 1111 today",
    "Li Hua 6222",  # digits: a number to call or an account
    "Li Hua, call 110",
    "x" * 33,
    "<script>",
])
async def test_a_name_that_does_not_look_like_a_name_is_refused(api, name):
    await refused(api, GOOD | {"name": name}, ["name"])


@pytest.mark.parametrize("name", ["李华", "阿卜杜·热合曼", "Mary O'Brien-Smith", "J. Doe", "Ərəstun Müller"])
async def test_names_in_any_script_are_accepted_and_spoken(api, name):
    assert (await api.post("/v1/warnings", json=GOOD | {"name": name})).status_code == 201
    [job] = await api.h.tick()
    assert job.request.variables == {"name": name}


@pytest.mark.parametrize("variable", ["verify_number", "centre_name", "fraud_type_label", "anything"])
async def test_a_warning_cannot_set_what_the_script_says(api, variable):
    """`verify_number` once made the robot tell citizens to call back a number chosen by
    whoever submitted the warning; `centre_name` made it introduce itself as a bank."""
    message = await refused(api, GOOD | {"extra": {"variables": {variable: "the Bank of China security team"}}},
                            ["extra", "variables", variable])
    assert "not a variable a warning may set" in message and "allowed: name" in message


async def test_a_script_decides_which_variables_a_warning_may_set_and_how_they_look(tmp_path, harness):
    h = await harness()
    folder = tmp_path / "dialogs"
    folder.mkdir()
    script = (DIALOGS / "en-US" / "generic.yaml").read_text().replace(
        "  fraud_type_label:\n", "  case_number: {from_warning: true, pattern: '[A-Z]{2}[0-9]{4}', max_length: 6}\n"
                                "  fraud_type_label:\n", 1)
    (folder / "generic.yaml").write_text(script)
    library = ScriptLibrary(folder)
    await library.load()
    rules = h.daemon.config.intake_rules(library.warning_variables)
    base = GOOD | {"extra": {"language": "en-US"}}
    ok = validate_warning(base | {"extra": {"language": "en-US", "variables": {"case_number": "GZ1234"}}}, rules)
    assert not isinstance(ok, list) and ok.extra["variables"] == {"case_number": "GZ1234"}
    for value, why in (("gz1234", "must match"), ("GZ12345", "at most 6 characters")):
        [problem] = validate_warning(base | {"extra": {"language": "en-US", "variables": {"case_number": value}}}, rules)
        assert problem.loc == ("extra", "variables", "case_number") and why in problem.message
    [problem] = validate_warning(base | {"extra": {"language": "en-US", "variables": {"verify_number": "110"}}}, rules)
    assert problem.loc == ("extra", "variables", "verify_number")


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/steal",
    "http://169.254.169.254/latest/meta-data/",
    "http://user:password@evil.example/hook",
    "https://hooks.centre.example.evil.example/x",
    "https://10.0.0.9:9999/x",  # the host is allowed only on port 8443
])
async def test_a_callback_url_must_name_an_allowed_host(api, url):
    message = await refused(api, GOOD | {"callback_url": url}, ["callback_url"])
    assert "allowed_callback_hosts" in message and "password" not in message


@pytest.mark.parametrize("url", ["https://hooks.centre.example/outcomes", "https://HOOKS.centre.example/x", "https://10.0.0.9:8443/x"])
async def test_allowed_callback_hosts_are_accepted(api, url):
    assert (await api.post("/v1/warnings", json=GOOD | {"callback_url": url})).status_code == 201


async def test_no_callback_url_is_accepted_when_no_host_is_allowed(harness):
    h = await harness()
    [problem] = validate_warning(GOOD | {"callback_url": "https://hooks.centre.example/x"}, h.daemon.intake_rules())
    assert problem.loc == ("callback_url",)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_nan_and_infinity_are_not_json(api, constant):
    body = json.dumps(GOOD)[:-1] + f', "extra": {{"score": {constant}}}}}'
    response = await api.post("/v1/warnings", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and "not valid JSON" in response.json()["detail"][0]["msg"]
    assert (await api.get(f"/v1/warnings/{GOOD['id']}")).status_code == 404


async def test_nan_given_as_a_python_float_is_refused_too(api):
    with pytest.raises(Exception, match=r"extra\.score: NaN and Infinity are not JSON numbers"):
        await api.h.daemon.submit([GOOD | {"extra": {"score": float("nan")}}])


async def test_extra_is_capped_in_depth_and_size(api):
    deep: dict = {"level": 1}
    for _ in range(6):
        deep = {"inner": deep}
    message = await refused(api, GOOD | {"extra": deep}, ["extra", "inner", "inner", "inner", "inner", "inner", "inner"])
    assert "deeper than 5" in message
    message = await refused(api, GOOD | {"extra": {"notes": "x" * 20_000}}, ["extra"])
    assert "at most 16384" in message


async def test_a_body_over_the_limit_is_refused_before_it_is_read(api):
    huge = b'{"id": "' + b"x" * 300_000 + b'"}'
    response = await api.post("/v1/warnings", content=huge, headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and "max_body_bytes" in response.json()["detail"]

    async def streamed():  # no Content-Length: counted as it arrives
        for _ in range(40):
            yield b" " * 10_000

    response = await api.post("/v1/warnings", content=streamed(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


async def test_a_batch_over_the_limit_is_refused(api):
    batch = [GOOD | {"id": f"W{n}", "phone": f"1380013{n:04d}"} for n in range(51)]
    response = await api.post("/v1/warnings", json=batch)
    assert response.status_code == 413 and "at most 50 warnings" in response.json()["detail"]
    assert (await api.get("/v1/warnings/W0")).status_code == 404


async def test_a_422_is_compact_and_never_echoes_the_input(api):
    batch = [{"id": f"W{n}", "phone": "12345", "risk": "nope", "received_at": "x", "name": "y" * 1000} for n in range(50)]
    response = await api.post("/v1/warnings", json=batch)
    assert response.status_code == 422
    body = response.json()
    assert len(body["detail"]) == 5 and body["error_count"] >= 150
    assert "yyyy" not in response.text and len(response.content) < 2000
    officer = bearer(await person_token(api.h.store, "li.officer", "officer"))
    response = await api.post("/v1/escalations/1/claim", json={"officer": "z" * 5000}, headers=officer)
    assert response.status_code == 422 and "zzzz" not in response.text


async def test_warnings_are_validated_off_the_event_loop(api, monkeypatch):
    threads: list[threading.Thread] = []
    library = api.h.daemon.library
    real = library.warning_variables

    def watched(*args):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread())
        return real(*args)

    monkeypatch.setattr(library, "warning_variables", watched)
    assert (await api.post("/v1/warnings", json=GOOD)).status_code == 201
    assert threads and threading.main_thread() not in threads
