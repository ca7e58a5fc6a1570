"""The HTTP API, in process (ASGI), over the daemon with a fake call pool."""

from __future__ import annotations

import httpx
import pytest

from robot.dialer.api import create_app
from tests.console.people import bearer, person_token

TOKEN = "s3cret-token"
WARNING = {"id": "W-1", "phone": "138 0013 8000", "name": "李华", "risk": "medium", "fraud_type": "investment",
           "received_at": "2026-11-23T09:00:00+08:00", "callback_url": "http://127.0.0.1:9/outcome", "extra": {"district": "天河"}}


@pytest.fixture
async def api(harness):
    h = await harness(calls_per_second=100, webhooks={"allowed_callback_hosts": ["127.0.0.1"]})
    h.daemon.started = True
    transport = httpx.ASGITransport(app=create_app(h.daemon, TOKEN))
    async with httpx.AsyncClient(transport=transport, base_url="http://robot", headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        client.h = h  # type: ignore[attr-defined]
        yield client


async def test_every_v1_route_needs_the_bearer_token(api):
    for method, path in [("POST", "/v1/warnings"), ("GET", "/v1/warnings/W-1"), ("GET", "/v1/escalations"),
                         ("POST", "/v1/escalations/1/claim"), ("POST", "/v1/escalations/1/resolve")]:
        anonymous = await api.request(method, path, headers={"Authorization": ""})
        wrong = await api.request(method, path, headers={"Authorization": "Bearer nope"})
        assert anonymous.status_code == wrong.status_code == 401, path
    assert (await api.get("/healthz", headers={"Authorization": ""})).status_code == 200


async def test_a_warning_is_accepted_once_and_its_status_shown(api):
    first = await api.post("/v1/warnings", json=WARNING)
    assert first.status_code == 201
    assert first.json() == {"accepted": [{"id": "W-1", "created": True, "status": "queued", "merged_into": None, "escalation_id": None}]}
    again = await api.post("/v1/warnings", json=WARNING)
    assert again.status_code == 200 and again.json()["accepted"][0]["created"] is False
    view = (await api.get("/v1/warnings/W-1")).json()
    assert (view["phone"], view["status"], view["attempts"], view["escalation"]) == ("+8613800138000", "queued", [], None)
    assert (await api.get("/v1/warnings/nope")).status_code == 404


async def test_a_bad_batch_is_refused_whole_with_each_failing_field_named(api):
    batch = [WARNING | {"id": "ok"}, WARNING | {"id": "bad-phone", "phone": "12345"},
             {"id": "bad-risk", "phone": "13800138009", "risk": "urgent", "received_at": "yesterday", "colour": "red"}]
    response = await api.post("/v1/warnings", json=batch)
    assert response.status_code == 422
    problems = {tuple(d["loc"]): d["msg"] for d in response.json()["detail"]}
    assert "invalid phone number '12345'" in problems[("body", 1, "phone")]
    assert ("body", 2, "risk") in problems and ("body", 2, "received_at") in problems and ("body", 2, "colour") in problems
    assert (await api.get("/v1/warnings/ok")).status_code == 404  # nothing of a refused batch is stored
    single = await api.post("/v1/warnings", json=WARNING | {"phone": "400-810-8888"})
    assert single.status_code == 422 and single.json()["detail"][0]["loc"] == ["body", "phone"]
    assert (await api.post("/v1/warnings", json=[])).status_code == 422
    assert (await api.post("/v1/warnings", content=b"{not json", headers={"Content-Type": "application/json"})).status_code == 422


async def test_officers_work_the_escalation_queue(api):
    li = bearer(await person_token(api.h.store, "li.officer", "officer"))
    wang = bearer(await person_token(api.h.store, "wang.officer", "officer"))
    high = WARNING | {"id": "W-high", "risk": "high", "phone": "020-88886666"}
    accepted = (await api.post("/v1/warnings", json=high)).json()["accepted"][0]
    assert accepted["status"] == "done" and accepted["escalation_id"] is not None
    [item] = (await api.get("/v1/escalations", params={"status": "open"})).json()
    assert (item["warning_id"], item["reason"], item["phone"], item["name"]) == ("W-high", "high_risk", "+862088886666", "李华")
    # The intake token reads the queue but cannot claim: a claim records a person.
    assert (await api.post(f"/v1/escalations/{item['id']}/claim", json={})).status_code == 403
    # The body's officer name is ignored (older clients still send one): the token's owner is recorded.
    claimed = await api.post(f"/v1/escalations/{item['id']}/claim", json={"officer": "somebody.else"}, headers=li)
    assert claimed.status_code == 200 and claimed.json()["status"] == "claimed" and claimed.json()["claimed_by"] == "li.officer"
    taken = await api.post(f"/v1/escalations/{item['id']}/claim", json={}, headers=wang)
    assert taken.status_code == 409
    resolved = await api.post(f"/v1/escalations/{item['id']}/resolve", json={"notes": "上门核实，未受损失"}, headers=li)
    assert resolved.status_code == 200 and [n["text"] for n in resolved.json()["notes"]] == ["上门核实，未受损失"]
    assert [n["author"] for n in resolved.json()["notes"]] == ["li.officer"]
    assert (await api.get("/v1/escalations", params={"status": "open"})).json() == []
    assert len((await api.get("/v1/escalations", params={"status": "resolved"})).json()) == 1
    assert (await api.post("/v1/escalations/999/claim", json={"officer": "x"}, headers=li)).status_code == 404
    assert (await api.post("/v1/escalations/999/claim", content=b"[]", headers=li)).status_code == 422


async def test_health_metrics_and_the_openapi_document(api):
    await api.post("/v1/warnings", json=WARNING)
    await api.h.tick()
    health = (await api.get("/healthz")).json()
    assert health["status"] == "ok" and health["active_calls"] == 1 and health["trunk_circuit"] == "closed"
    metrics = (await api.get("/metrics")).text
    assert 'robot_warnings_accepted_total{risk="medium"} 1.0' in metrics
    assert "robot_calls_started_total 1.0" in metrics
    for name in ("robot_active_calls", "robot_queue_depth", "robot_asr_final_latency_seconds", "robot_tts_first_audio_seconds",
                 "robot_audio_underruns_total", "robot_trunk_circuit_open", "robot_call_outcomes", "robot_escalations"):
        assert name in metrics
    schema = (await api.get("/openapi.json")).json()
    assert "/v1/warnings" in schema["paths"] and "/v1/escalations/{escalation_id}/resolve" in schema["paths"]
    assert set(schema["components"]["schemas"]["WarningIn"]["required"]) == {"id", "phone", "risk", "received_at"}
    assert schema["paths"]["/v1/escalations"]["get"]["security"] == [{"bearer": []}]
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert not any(path.startswith(("/queue", "/login", "/warnings/")) for path in schema["paths"])  # pages are not API
    api.h.daemon.draining = True
    assert (await api.get("/healthz")).status_code == 503


async def test_a_resolved_escalation_cannot_be_reopened_or_rewritten_over_the_api(api):
    li = bearer(await person_token(api.h.store, "li.officer", "officer"))
    wang = bearer(await person_token(api.h.store, "wang.officer", "officer"))
    high = WARNING | {"id": "W-final", "risk": "high", "phone": "020-88886666"}
    escalation_id = (await api.post("/v1/warnings", json=high)).json()["accepted"][0]["escalation_id"]
    await api.post(f"/v1/escalations/{escalation_id}/claim", json={"officer": "li.officer"}, headers=li)
    noted = await api.post(f"/v1/escalations/{escalation_id}/notes", json={"officer": "li.officer", "text": "回拨未接通"}, headers=li)
    assert noted.status_code == 200 and noted.json()["notes"][0]["author"] == "li.officer"
    assert noted.json()["notes"][0]["written_at"].startswith("2026-11-23T10:00:00")
    await api.post(f"/v1/escalations/{escalation_id}/resolve", json={"officer": "li.officer", "notes": "受害人已转账5万元，已立案"}, headers=li)
    assert (await api.post(f"/v1/escalations/{escalation_id}/claim", json={"officer": "li.officer"}, headers=li)).status_code == 409
    again = await api.post(f"/v1/escalations/{escalation_id}/resolve", json={"officer": "wang.officer", "notes": "无需处理"}, headers=wang)
    assert again.status_code == 409 and "final" in again.json()["detail"]
    assert (await api.post(f"/v1/escalations/{escalation_id}/notes", json={"officer": "x", "text": "无需处理"}, headers=wang)).status_code == 409
    [item] = (await api.get("/v1/escalations", params={"status": "resolved"})).json()
    assert [n["text"] for n in item["notes"]] == ["回拨未接通", "受害人已转账5万元，已立案"]


async def test_the_escalation_queue_comes_in_pages_with_filters(api):
    """It ran one query per row and ignored any limit: 2.8 MB and 1.9 s with 10,000 open."""
    batch = [WARNING | {"id": f"H-{n}", "risk": "high", "phone": f"1380013{n:04d}", "callback_url": None} for n in range(7)]
    assert (await api.post("/v1/warnings", json=batch)).status_code == 201
    first = await api.get("/v1/escalations", params={"status": "open", "limit": 3})
    assert [item["warning_id"] for item in first.json()] == ["H-0", "H-1", "H-2"]
    following = first.headers["Link"]
    assert following.endswith('>; rel="next"') and f"after={first.json()[-1]['id']}" in following and "status=open" in following
    second = await api.get(following[1:following.index(">")].removeprefix("http://robot"))
    assert [item["warning_id"] for item in second.json()] == ["H-3", "H-4", "H-5"]
    last = await api.get("/v1/escalations", params={"status": "open", "limit": 3, "after": second.json()[-1]["id"]})
    assert [item["warning_id"] for item in last.json()] == ["H-6"] and "Link" not in last.headers
    assert len((await api.get("/v1/escalations", params={"reason": "high_risk"})).json()) == 7
    assert (await api.get("/v1/escalations", params={"reason": "urgent_speech"})).json() == []
    assert len((await api.get("/v1/escalations", params={"since": "2026-11-23T10:00:00+08:00"})).json()) == 7
    assert (await api.get("/v1/escalations", params={"since": "2026-11-23T10:00:01+08:00"})).json() == []
    assert (await api.get("/v1/escalations", params={"limit": 0})).status_code == 422
    assert (await api.get("/v1/escalations", params={"limit": 1001})).status_code == 422
