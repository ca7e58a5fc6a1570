"""The supervisors' pages in a real browser, on the real server (tests/console/browser.py:
the app under uvicorn in its own process, a real SQLite store, Debian's Chromium through
Playwright): a supervisor logs in through the /login form; the dashboard's headline figures,
today and over the last 7 days, equal what the store holds for a seeded mix of warnings and
calls (tests/console/period_seed.py), worked out here by hand from the seed; the scripts page
draws every shipped script's diagram with the vendored Mermaid, asking no other host for
anything; without JavaScript the Mermaid source reads and the dashboard's charts are there.
Screenshots of the dashboard and the scripts page (docs/screenshots with
ROBOT_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import DIALOGS
from tests.console.browser import (
    TIMEZONE,
    Server,
    in_store,
    launch,
    log_in,
    playwright_or_fail,
    screenshot,
)
from tests.console.people import add_person
from tests.console.period_seed import Case, realistic_mix, write

pytestmark = pytest.mark.slow  # a server process and a browser (see pyproject: markers)

ZONE = ZoneInfo(TIMEZONE)
SUPERVISOR = "zhao.supervisor"
MIDNIGHT_MARGIN_SECONDS = 600
"""The module's tests take a minute or two: started closer than this to local midnight, they
wait for it to pass, so that "today" is the same day when seeding and when reading the page."""
MERMAID_WAIT_MS = 120_000
SHIPPED_SCRIPTS = sorted(path.relative_to(DIALOGS).with_suffix("").as_posix() for path in DIALOGS.glob("*/*.yaml"))


def settled_today() -> dt.date:
    now = dt.datetime.now(ZONE)
    next_midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(0), tzinfo=ZONE)
    to_midnight = (next_midnight - now).total_seconds()
    if to_midnight < MIDNIGHT_MARGIN_SECONDS:
        time.sleep(to_midnight + 1)  # waits for the date to change; no timing is measured
    return dt.datetime.now(ZONE).date()


def midnight(day: dt.date) -> float:
    return dt.datetime.combine(day, dt.time(0), tzinfo=ZONE).timestamp()


def expected_figures(cases: list[Case], since: float, until: float) -> dict[str, float | None]:
    """The headline figures for [since, until), by hand from the seed: warnings taken in; calls
    started (answered: a person picked up, i.e. not busy, unanswered or still ringing); escalations
    opened (high risk at intake, urgent speech and unanswered when the call's report came back);
    the median delay from intake to the first call of the period's warnings that were called."""

    def inside(at: float) -> bool:
        return since <= at < until

    calls = [call for case in cases for call in case.calls if inside(call.start)]
    answered = [call for call in calls if call.result in ("dissuaded", "refused", "escalated")]
    dissuaded = [call for call in calls if call.result == "dissuaded"]
    escalations = [case for case in cases if case.risk == "high" and inside(case.accepted_at)] + [
        call for case in cases for call in case.calls if call.result in ("escalated", "no_answer") and inside(call.end)]
    delays = [case.calls[0].start - case.accepted_at for case in cases if case.calls and inside(case.accepted_at)]
    return {
        "warnings": sum(1 for case in cases if inside(case.accepted_at)),
        "calls-placed": len(calls),
        "answered": len(answered),
        "connect-rate": len(answered) / len(calls) if calls else None,
        "dissuaded": len(dissuaded),
        "dissuasion-rate": len(dissuaded) / len(answered) if answered else None,
        "escalations": len(escalations),
        "median-first-call": statistics.median(delays) if delays else None,
    }


def figures_on(page) -> dict[str, float | None]:  # type: ignore[no-untyped-def]
    raw = page.eval_on_selector_all("[data-figure]", "els => els.map(e => [e.dataset.figure, e.dataset.value])")
    return {name: (float(value) if value != "" else None) for name, value in raw}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[Server, dt.date, list[Case]]]:
    """The real server over a store holding a supervisor and the seeded mix; today's local date."""
    server = Server(tmp_path_factory.mktemp("supervisor"))
    today = settled_today()
    cases = realistic_mix(today, ZONE)

    async def seed(repository) -> None:  # type: ignore[no-untyped-def]
        await add_person(repository, SUPERVISOR, "supervisor")
        await write(repository, cases)

    in_store(server.config, seed)
    server.start()
    yield server, today, cases
    server.stop()


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    with playwright_or_fail() as playwright:
        launched = launch(playwright)
        yield launched
        launched.close()


def test_the_dashboards_figures_are_what_the_store_holds(site, browser, tmp_path):
    server, today, cases = site
    # The seed's figures, worked out by hand (what expected_figures must also find):
    # today W-E1..W-E10 (10 with the merged W-E6); calls W-D1 (00:01:40), W-E1, W-E2 twice, W-E3, W-E5, W-E7,
    # W-E8, W-E9, W-E10; answered all but W-E2's busy, W-E5 and W-E9 in flight; dissuaded W-D1, W-E1, W-E2,
    # W-E8, W-E10; escalations W-E3, W-E4, W-E5; first calls 35 50 25 80 60 45 70 40 -> (45 + 50) / 2.
    today_figures = expected_figures(cases, midnight(today), midnight(today + dt.timedelta(days=1)))
    assert today_figures == {"warnings": 10, "calls-placed": 10, "answered": 7, "connect-rate": 0.7, "dissuaded": 5,
                             "dissuasion-rate": 5 / 7, "escalations": 3, "median-first-call": 47.5}
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    log_in(page, server.url, SUPERVISOR)

    page.goto(f"{server.url}/dashboard")
    since = float(page.get_attribute("section.dashboard", "data-since") or "nan")
    assert since == midnight(today), f"the page's day starts at {since}, not at today's local midnight {midnight(today)}"
    assert figures_on(page) == today_figures
    assert page.locator('[data-figure="dissuasion-rate"] .value').inner_text() == "71.43 %"

    page.click('nav.periods a[data-days="7"]')
    page.wait_for_url("**/dashboard?days=7*")
    assert float(page.get_attribute("section.dashboard", "data-since") or "nan") == midnight(today - dt.timedelta(days=6))
    week = expected_figures(cases, midnight(today - dt.timedelta(days=6)), midnight(today + dt.timedelta(days=1)))
    # Also W-B1, W-B2, W-C1, W-C2, W-C3, W-D2, W-D1 (not W-A1, W-A2: before the 7 days): 7 more warnings; calls
    # W-B1, W-C1 twice, W-C2, W-C3, W-D2 (W-D1's is today's); escalations W-B2, W-C2; W-D1's first call counts now.
    assert (week["warnings"], week["calls-placed"], week["escalations"]) == (17, 16, 5)
    assert figures_on(page) == week
    screenshot(page, "dashboard", tmp_path)
    assert requested and all(url.startswith(server.url + "/") for url in requested), requested
    context.close()


def test_the_scripts_page_draws_every_shipped_scripts_diagram_from_the_package(site, browser, tmp_path):
    from playwright.sync_api import expect

    server, _, _ = site
    context = browser.new_context(viewport={"width": 1200, "height": 1000})
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    log_in(page, server.url, SUPERVISOR)
    page.goto(f"{server.url}/scripts?lang=en-US")
    # Each script's embedded tests pass (the page reloads itself while they run) and Mermaid draws its diagram.
    expect(page.locator('[data-tests="passed"]')).to_have_count(len(SHIPPED_SCRIPTS), timeout=MERMAID_WAIT_MS)
    expect(page.locator("article.script pre.mermaid svg")).to_have_count(len(SHIPPED_SCRIPTS), timeout=MERMAID_WAIT_MS)
    shown = sorted(page.eval_on_selector_all("article.script", "els => els.map(e => e.dataset.script)"))
    assert shown == SHIPPED_SCRIPTS
    for article in page.locator("article.script").all():
        assert article.locator("pre.mermaid svg").count() == 1, article.get_attribute("data-script")
        assert article.locator("pre.mermaid svg g.node").count() > 5, article.get_attribute("data-script")
    assert page.locator("text=Syntax error").count() == 0
    generic = page.locator('article.script[data-script="en-US/generic"] pre.mermaid svg')
    assert "greet" in (generic.text_content() or "")

    page.goto(f"{server.url}/scripts")  # Mandarin
    expect(page.locator("article.script pre.mermaid svg")).to_have_count(len(SHIPPED_SCRIPTS), timeout=MERMAID_WAIT_MS)
    page.locator('article.script[data-script="zh-CN/investment"]').scroll_into_view_if_needed()
    screenshot(page, "scripts", tmp_path, full_page=False)
    assert any(url.endswith("/mermaid.min.js") for url in requested)
    assert all(url.startswith(server.url + "/") for url in requested), [u for u in requested if not u.startswith(server.url)]
    context.close()


def test_without_javascript_the_source_reads_and_the_charts_are_there(site, browser):
    server, _, _ = site
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1200, "height": 1000})
    page = context.new_page()
    log_in(page, server.url, SUPERVISOR)  # a plain form post
    page.goto(f"{server.url}/scripts?lang=en-US")
    assert page.locator("pre.mermaid svg").count() == 0  # nothing drew it
    page.locator("details.mermaid-source summary").first.click()
    source = page.locator("details.mermaid-source pre").first
    assert "stateDiagram-v2" in source.inner_text() and "[*] --> greet" in source.inner_text()
    page.goto(f"{server.url}/dashboard?lang=en-US")
    assert page.locator('[data-figure="dissuasion-rate"] .value').inner_text() == "71.43 %"
    assert page.locator('[data-figure="median-first-call"] .value').inner_text() == "47.5 s"
    assert page.locator('[data-chart="series"] svg polyline').count() == 4
    box = page.locator('[data-chart="outcomes"] svg').bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 50  # drawn, at a readable size
    context.close()
