"""The console in a real browser: Debian's headless Chromium, driven by Playwright (pointed at
/usr/bin/chromium; Playwright's own browser download is never used), against the real app
under uvicorn in its own process, over a real SQLite store (tests/console/browser.py).

An officer logs in, sees a new escalation appear without reloading, claims it, plays its
recording, resolves it; a second officer sees it claimed; an officer gets 403 on the
dashboard. Screenshots of the queue and the warning page (docs/screenshots with
ROBOT_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from robot.store import AttemptResult, Decision, NewWarning
from tests.console.browser import (
    WAIT_MS,
    Server,
    in_store,
    launch,
    log_in,
    playwright_or_fail,
    screenshot,
)
from tests.console.conftest import PATH, TRANSCRIPT, write_tone
from tests.console.people import add_person

pytestmark = pytest.mark.slow  # a server process and a browser (see pyproject: markers)


async def escalated_call(repository, recording: Path) -> int:  # type: ignore[no-untyped-def]
    """What a call worker's report leaves in the store: a medium-risk warning called, the
    callee said money moved, the call escalated, its transcript, path and recording kept."""
    now = time.time()
    warning = NewWarning(external_id="W-20261201-0042", phone="+8613800138000", dial_number="13800138000", name="王芳",
                         risk="medium", fraud_type="impersonate_police", language="zh-CN", received_at="2026-12-01T09:05:00+08:00")
    accepted = await repository.accept_warning(warning, now - 120)
    attempt = await repository.claim(accepted.warning.id, owner="node-b", worker="worker-1", script="zh-CN/impersonate_police",
                                     script_version="v3", lease_seconds=600, now=now - 60)
    assert attempt is not None
    result = AttemptResult(sip_status=200, call_outcome="answered", outcome="escalated", answered=True, duration_seconds=41.0,
                           transcript=TRANSCRIPT, path=PATH, recording=str(recording),
                           escalation={"reason": "urgent_speech", "phrase": "安全账户", "mode": "ticket"})
    await repository.finish_attempt(attempt.id, result, Decision(finished=True, outcome="escalated"), now)
    return int(attempt.id)


@pytest.fixture
def server(tmp_path):
    server = Server(tmp_path)

    async def people(repository) -> None:  # type: ignore[no-untyped-def]
        await add_person(repository, "li.officer", "officer")
        await add_person(repository, "wang.officer", "officer")

    in_store(server.config, people)
    server.start()
    yield server
    server.stop()


def test_officers_work_an_escalation_in_the_browser(server, tmp_path):
    base = server.url
    with playwright_or_fail() as playwright:
        browser = launch(playwright, "--autoplay-policy=no-user-gesture-required")
        try:
            li = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            log_in(li, base, "li.officer")
            assert li.locator("tr.empty").count() == 1  # nothing waiting yet
            li.evaluate("window.notReloaded = true")

            # A call escalates meanwhile: the row appears without a reload.
            recording = write_tone(tmp_path / "attempt.wav", seconds=4.0)
            attempt_id = in_store(server.config, lambda repository: escalated_call(repository, recording))
            row = li.locator('tr[data-warning="W-20261201-0042"]')
            row.wait_for(timeout=WAIT_MS)
            assert li.evaluate("window.notReloaded") is True
            assert "安全账户" in row.inner_text() and "+8613800138000" in row.inner_text() and "未认领" in row.inner_text()
            screenshot(li, "queue", tmp_path)

            # Claim it: the warning's page, claimed by the logged-in officer.
            row.locator("button.claim").click()
            li.wait_for_url(f"{base}/warnings/W-20261201-0042")
            assert "li.officer 已认领" in li.locator("section.escalation").inner_text()

            # Play its recording: the audio element's time advances (or it ends).
            audio = li.locator(f"#recording-{attempt_id}")
            audio.wait_for(timeout=WAIT_MS)
            li.evaluate(f"document.getElementById('recording-{attempt_id}').play()")
            li.wait_for_function(f"(() => {{ const a = document.getElementById('recording-{attempt_id}'); "
                                 "return a.ended || a.currentTime > 0.5; })()", timeout=WAIT_MS)
            screenshot(li, "warning", tmp_path)

            # A second officer sees it claimed by the first.
            wang = browser.new_context().new_page()
            log_in(wang, base, "wang.officer")
            other = wang.locator('tr[data-warning="W-20261201-0042"]')
            assert "li.officer 已认领" in other.inner_text() and other.locator("button.claim").count() == 0

            # Resolve it with an outcome and a note; it leaves the second officer's queue without a reload.
            li.select_option("select[name=outcome]", "door_visit")
            li.fill("textarea[name=notes]", "已派社区民警上门核实")
            li.click("button.resolve")
            li.wait_for_url(f"{base}/warnings/W-20261201-0042")
            assert "已办结" in li.locator("section.escalation").inner_text()
            assert "[door_visit] 已派社区民警上门核实" in li.locator("ul.notes").inner_text()
            wang.locator('tr[data-warning="W-20261201-0042"]').wait_for(state="detached", timeout=WAIT_MS)

            # The dashboard is for supervisors.
            refused = li.goto(f"{base}/dashboard")
            assert refused is not None and refused.status == 403
            assert "需要 supervisor 角色" in li.content()
        finally:
            browser.close()

    async def trail(repository):  # type: ignore[no-untyped-def]
        return [(entry.kind, entry.detail.get("by") or entry.detail.get("officer"))
                for entry in await repository.audit_trail(["escalation_claimed", "recording_played", "escalation_resolved"])]

    assert in_store(server.config, trail) == [
        ("escalation_resolved", "li.officer"), ("recording_played", "li.officer"), ("escalation_claimed", "li.officer")]
