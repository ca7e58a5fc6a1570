"""What the pages show: the queue in the officers' order with live hand-offs that failed and
high risk on top, full numbers for officers only, a warning's conversation, path and
recording, resolving with an outcome, and the audit trail supervisors read."""

from __future__ import annotations

import re

from robot.dialog.const import EscalationMode
from tests.console.conftest import Seeded
from tests.console.people import bearer

HTML = {"Accept": "text/html"}


def row_order(html: str) -> list[str]:
    return re.findall(r'data-warning="([^"]+)"', html)


async def as_role(console: Seeded, role: str, path: str) -> str:
    response = await console.client.get(path, headers=bearer(console.tokens[role]) | HTML)
    assert response.status_code == 200, response.text
    return response.text


async def test_the_queue_puts_failed_hand_offs_then_high_risk_first_newest_first(console):
    h = console.h
    # A live hand-off whose officer leg failed: opened live during the call, then the call's
    # result says ticket (the store marks it).
    await h.submit({"id": "W-handoff", "phone": "13500135000", "risk": "medium"})
    [job] = await h.tick()
    warning = await h.store.get_warning_by_external_id("W-handoff")
    await h.store.open_escalation(warning.id, "urgent_speech", phrase="转账", mode=EscalationMode.LIVE, attempt_id=job.attempt_id,
                                  now=h.clock.now())
    await h.end(job, "escalated", escalation={"reason": "urgent_speech", "phrase": "转账", "mode": "ticket"})
    await h.submit({"id": "W-low-old", "phone": "13700137000", "risk": "low"}, {"id": "W-low-new", "phone": "13600136000", "risk": "low"})
    old = (await h.store.get_warning_by_external_id("W-low-old")).id
    await h.store.open_escalation(old, "not_understood", now=h.clock.now() + 1)
    new = (await h.store.get_warning_by_external_id("W-low-new")).id
    await h.store.open_escalation(new, "callee_request", now=h.clock.now() + 2)
    html = await as_role(console, "officer", "/queue")
    # failed hand-off; then high risk / money moving, newest first; then the rest, newest first
    assert row_order(html) == ["W-handoff", "W-call", "W-high", "W-low-new", "W-low-old"]
    assert "人工转接失败" in html
    assert row_order(await as_role(console, "officer", "/queue/rows")) == row_order(html)


async def test_officers_see_full_numbers_and_everyone_else_masked(console):
    officer = await as_role(console, "officer", "/queue")
    assert "+8613800138000" in officer and "王芳" in officer
    supervisor = await as_role(console, "supervisor", "/queue")
    assert "+8613800138000" not in supervisor and "***8000" in supervisor and "王芳" not in supervisor
    assert "***8000" in await as_role(console, "admin", "/warnings/W-call")
    assert "+8613800138000" in await as_role(console, "officer", "/warnings/W-call")


async def test_a_warning_page_shows_the_conversation_path_recording_and_escalations(console):
    html = await as_role(console, "officer", "/warnings/W-call")
    texts = re.findall(r'<li class="line (robot|callee)[^"]*">\s*<span class="speaker">[^<]+</span>\s*<span class="at">[^<]+</span>\s*'
                       r'<span class="text">([^<]+)</span>', html)
    assert texts == [("robot", "您好，这里是公安反诈中心。"), ("callee", "嗯"), ("callee", "我刚把钱转到安全账户了")]
    assert re.findall(r'<span class="state">([^<]+)</span>', html) == ["greet", "ask_transfer", "urgent_handoff"]
    assert f'src="/recordings/{console.attempt_id}"' in html
    assert "安全账户" in html and f'action="/escalations/{console.escalations["W-call"]}/resolve"' in html
    audio = await console.client.get(f"/recordings/{console.attempt_id}", headers=bearer(console.tokens["officer"]))
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav" and audio.content[:4] == b"RIFF"


async def test_resolving_records_the_outcome_and_who_and_the_audit_trail_shows_it(console):
    officer = bearer(console.tokens["officer"])
    escalation = console.escalations["W-call"]
    await console.client.get("/warnings/W-call", headers=officer)  # reads the transcript
    await console.client.get(f"/recordings/{console.attempt_id}", headers=officer)
    await console.client.get(f"/recordings/{console.attempt_id}", headers=officer | {"Range": "bytes=1000-"})  # the same listening
    bad = await console.client.post(f"/escalations/{escalation}/resolve", data={"outcome": "shrugged"}, headers=officer)
    assert bad.status_code == 422
    claimed = await console.client.post(f"/escalations/{escalation}/claim", data={"back": "/warnings/W-call"}, headers=officer)
    assert claimed.status_code == 303 and claimed.headers["location"] == "/warnings/W-call"
    resolved = await console.client.post(f"/escalations/{escalation}/resolve", headers=officer,
                                         data={"outcome": "reached_dissuaded", "notes": "已回拨，未再转账", "officer": "someone.else"})
    assert resolved.status_code == 303
    stored = await console.h.store.get_escalation(escalation)
    assert stored.status == "resolved" and stored.claimed_by == "li.officer"
    assert [(n.author, n.text) for n in stored.notes] == [("li.officer", "[reached_dissuaded] 已回拨，未再转账")]
    second = await console.client.post(f"/escalations/{escalation}/resolve", data={"outcome": "false_alarm"},
                                       headers=bearer(console.tokens["supervisor"]))
    assert second.status_code == 409
    audit = await as_role(console, "supervisor", "/audit")
    kinds = re.findall(r'<tr class="audit-([a-z_]+)"><td>[^<]*</td><td>([^<]*)</td>', audit)
    assert kinds[:5] == [("escalation_resolved", "li.officer"), ("escalation_note", "li.officer"), ("escalation_claimed", "li.officer"),
                         ("recording_played", "li.officer"), ("transcript_read", "li.officer")]  # one listening, not two
    english = await console.client.get("/audit?lang=en-US", headers=bearer(console.tokens["supervisor"]) | HTML)
    assert "listened to a recording" in english.text and "read a transcript" in english.text


async def test_the_dashboard_is_for_supervisors(console):
    assert (await console.client.get("/dashboard", headers=bearer(console.tokens["officer"]))).status_code == 403
    html = await as_role(console, "supervisor", "/dashboard")
    assert 'href="/dashboard"' in html and 'href="/users"' not in html
    assert 'href="/users"' in await as_role(console, "admin", "/queue")
    assert 'href="/dashboard"' not in await as_role(console, "officer", "/queue")
