"""The scripts page and the dashboard in a real headless Chromium (Debian's, driven by
Playwright), served by uvicorn on a free port: Mermaid, vendored in the package, draws every
script's diagram (no CDN: the page loads nothing from elsewhere); without JavaScript the
source is there to read; the dashboard's charts are SVG in the page. The console's sign-in is
the other branch's: here the test's `require_supervisor` reads a header the browser sends."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from robot.clock import VirtualClock
from robot.console.dashboard import build_router
from robot.console.stats import DashboardSource
from robot.dialer.scripts import ScriptLibrary
from robot.store import SqliteRepository
from tests.conftest import DIALOGS
from tests.console.test_dashboard import MIDNIGHT, SHANGHAI, render_page, require_supervisor
from tests.postgres import free_tcp_port
from tests.store.test_statistics import seed

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
"""The README shows these (in Mandarin, the pages' default)."""
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[str, int]]:
    """The two pages on a real server; its URL and how many scripts it shows."""
    library = ScriptLibrary(DIALOGS)
    asyncio.run(library.load())
    database = tmp_path_factory.mktemp("dashboard") / "robot.db"

    async def seeded() -> None:
        store = SqliteRepository(database)
        await store.open()
        await seed(store, MIDNIGHT)
        await store.close()

    asyncio.run(seeded())
    store = SqliteRepository(database)
    source = DashboardSource(repository=store, zone=SHANGHAI, clock=VirtualClock(MIDNIGHT + 36_000), scripts=lambda: library.scripts)
    app = FastAPI(on_startup=[store.open], on_shutdown=[store.close])
    app.include_router(build_router(require_supervisor, render_page, source=source))
    port = free_tcp_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:  # a start-up wait, not a timing under test
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", len(library.scripts)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    assert shutil.which(str(CHROMIUM))
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


def test_mermaid_draws_every_scripts_diagram_from_the_package(site, browser):
    url, script_count = site
    context = browser.new_context(extra_http_headers={"X-Test-User": "sup"})
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{url}/scripts?lang=en-US")
    page.wait_for_function(f"document.querySelectorAll('pre.mermaid svg').length === {script_count}", timeout=120_000)
    assert page.locator("text=Syntax error").count() == 0
    # Each diagram has the script's states as nodes, e.g. the generic script's greeting.
    first = page.locator("article.script").first
    assert first.locator("pre.mermaid svg g.node").count() > 5 and "greet" in (first.locator("pre.mermaid svg").text_content() or "")
    assert page.locator('[data-tests="passed"]').count() == script_count
    assert all(u.startswith(url) for u in requested), [u for u in requested if not u.startswith(url)]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1200, "height": 1000})
    page.goto(f"{url}/scripts")  # Mandarin
    page.wait_for_function(f"document.querySelectorAll('pre.mermaid svg').length === {script_count}", timeout=120_000)
    page.locator('article.script[data-script="zh-CN/investment"]').scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOTS / "scripts.png")
    context.close()


def test_without_javascript_the_source_reads_and_the_charts_are_there(site, browser):
    url, _ = site
    context = browser.new_context(extra_http_headers={"X-Test-User": "sup"}, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{url}/scripts?lang=en-US")
    source = page.locator("details.mermaid-source pre").first
    page.locator("details.mermaid-source summary").first.click()
    assert "stateDiagram-v2" in source.inner_text() and "[*] --> greet" in source.inner_text()
    page.goto(f"{url}/dashboard?lang=en-US")
    assert page.locator('[data-figure="dissuasion-rate"] .value').inner_text() == "50.00 %"
    assert page.locator('[data-chart="series"] svg polyline').count() == 4
    box = page.locator('[data-chart="outcomes"] svg').bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 50  # drawn, at a readable size
    page.set_viewport_size({"width": 1200, "height": 1000})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{url}/dashboard")  # Mandarin
    page.screenshot(path=SCREENSHOTS / "dashboard.png", full_page=True)
    context.close()
