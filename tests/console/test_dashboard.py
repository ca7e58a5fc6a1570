"""The dashboard and scripts pages through FastAPI's TestClient: a real SQLite store seeded
with the day of work in tests/store/test_statistics.py (whose numbers are worked out by hand
there), a stand-in for the console's sign-in (`require_supervisor`: 401 without a user, 403
for an officer) and its layout (`render_page`), as the console branch provides them."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from html import escape, unescape
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from robot.clock import VirtualClock
from robot.console.dashboard import build_router
from robot.console.stats import DashboardSource
from robot.dialer.api import create_app
from robot.dialer.scripts import ScriptLibrary, ScriptVersion
from robot.dialog.schema import Script
from robot.store import SqliteRepository
from tests.conftest import DIALOGS
from tests.console.people import bearer, person_token
from tests.store.test_statistics import seed

SHANGHAI = ZoneInfo("Asia/Shanghai")
MIDNIGHT = dt.datetime(2026, 11, 23, tzinfo=SHANGHAI).timestamp()
HOUR = 3600.0


@dataclass(frozen=True)
class Principal:
    name: str
    role: str


USERS = {"sup": Principal("王主管", "supervisor"), "officer": Principal("李警官", "officer")}


def require_supervisor(request: Request) -> Principal:
    """The console's dependency, as its contract says: the principal, or 401/403."""
    user = USERS.get(request.headers.get("X-Test-User", ""))
    if user is None:
        raise HTTPException(401, "sign in first")
    if user.role != "supervisor":
        raise HTTPException(403, f"{user.name} is an {user.role}: the dashboard is for supervisors")
    return user


def render_page(request: Request, principal: Principal, title: str, body_html: str) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html><head><title>{escape(title)}</title></head><body>"
                        f"<header>{escape(principal.name)}</header><main>{body_html}</main></body></html>")


@pytest.fixture(scope="module")
def library() -> ScriptLibrary:
    import asyncio

    shipped = ScriptLibrary(DIALOGS / "en-US")
    asyncio.run(shipped.load())
    return shipped


@pytest.fixture
def client(tmp_path, library):
    store = SqliteRepository(tmp_path / "robot.db")
    clock = VirtualClock(MIDNIGHT + 10 * HOUR)  # 10:00 on the seeded day
    versions: list[ScriptVersion] = list(library.scripts)
    source = DashboardSource(repository=store, zone=SHANGHAI, clock=clock, scripts=lambda: versions)
    app = FastAPI()
    app.include_router(build_router(require_supervisor, render_page, source=source))
    with TestClient(app, headers={"X-Test-User": "sup"}) as test_client:
        test_client.portal.call(store.open)
        test_client.portal.call(seed, store, MIDNIGHT)
        test_client.clock = clock  # type: ignore[attr-defined]
        test_client.versions = versions  # type: ignore[attr-defined]
        yield test_client
        test_client.portal.call(store.close)


def figure(html: str, name: str) -> tuple[str, str]:
    """A headline number as the page shows it: (data-value, the text shown)."""
    found = re.search(rf'data-figure="{name}" data-value="([^"]*)">\s*<h3>[^<]*</h3>\s*<p class="value">([^<]*)</p>', html)
    assert found, f"no figure {name}"
    return found[1], unescape(found[2])


def table_rows(html: str, name: str) -> list[list[str]]:
    table = re.search(rf'<table class="groups" data-table="{name}">(.*?)</table>', html, re.S)
    assert table
    rows = re.findall(r"<tr>(.*?)</tr>", table[1].split("<tbody>")[1], re.S)
    return [[unescape(cell) for cell in re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", row)] for row in rows]


def test_today_shows_the_stores_numbers_and_charts(client):
    page = client.get("/dashboard", params={"lang": "en-US"})
    assert page.status_code == 200
    html = page.text
    assert "<title>Supervisors&#x27; dashboard</title>" in html and "<header>王主管</header>" in html
    # The numbers worked out by hand in tests/store/test_statistics.py.
    assert figure(html, "warnings") == ("7", "7")
    assert figure(html, "calls-placed") == ("7", "7")
    assert figure(html, "answered") == ("4", "4")
    assert figure(html, "connect-rate") == (str(4 / 7), "57.14 %")
    assert figure(html, "dissuaded") == ("2", "2")
    assert figure(html, "dissuasion-rate") == ("0.5", "50.00 %")
    assert "Reference: 63.82 %" in html
    assert figure(html, "escalations") == ("3", "3")
    assert figure(html, "median-first-call") == ("100.0", "1 min 40 s")
    assert table_rows(html, "scam-types") == [
        ["Investment", "4", "5", "3", "60.00 %", "2", "66.67 %", "1 min 40 s"],
        ["Online loans", "2", "2", "1", "50.00 %", "0", "0.00 %", "1 min 15 s"],
        ["Impersonating police", "1", "0", "0", "-", "0", "-", "-"],
    ]
    assert table_rows(html, "scripts")[0] == ["zh-CN/investment", "v1-aaa", "3", "2", "66.67 %", "2", "100.00 %", "3 min 0 s"]
    # The charts are SVG drawn on the server: 24 hourly points per series, bars by risk.
    series = re.search(r'data-chart="series"><svg .*?</svg>', html, re.S)
    assert series and series[0].count("<circle") == 4 * 24
    risk = re.search(r'data-chart="risk"><svg .*?</svg>', html, re.S)
    assert risk and re.findall(r'<title>(\w+): (\d+)</title>', risk[0]) == [("High", "1"), ("Medium", "2"), ("Low", "4")]
    outcomes = re.search(r'data-chart="outcomes"><svg .*?</svg>', html, re.S)
    assert outcomes and "<title>Dissuaded: 2</title>" in outcomes[0]
    assert "<title>Reference (Wuhou): 63.82 %</title>" in html


def test_mandarin_by_default_and_the_last_7_days(client):
    client.clock.advance(24 * HOUR)  # the next day: W7 (the day before) and W9 (this day) are within 7 days
    html = client.get("/dashboard", params={"days": 7}).text
    assert "<title>主管看板</title>" in html and 'aria-current="page" class="current">最近 7 天' in html
    assert figure(html, "warnings") == ("9", "9")
    assert figure(html, "calls-placed") == ("8", "8")
    assert figure(html, "dissuasion-rate") == ("0.6", "60.00 %")  # W7, W1, W9 of W7, W1, W3, W2, W9 answered
    assert figure(html, "escalations") == ("4", "4")
    # First calls: W9 10 s, W3 30, W1 60, W8 100, W5 120, W2 300, W7 3650 -> 100 s.
    assert figure(html, "median-first-call") == ("100.0", "1 分 40 秒")
    assert "参考：63.82 %" in html
    series = re.search(r'data-chart="series"><svg .*?</svg>', html, re.S)
    assert series and series[0].count("<circle") == 4 * 7 and ">11-24<" in series[0]
    # The same again, with the language from the cookie.
    client.cookies.set("lang", "en-US")
    assert "<title>Supervisors&#x27; dashboard</title>" in client.get("/dashboard", params={"days": 7}).text


def test_a_period_other_than_1_7_or_30_days_is_refused_by_name(client):
    refused = client.get("/dashboard", params={"days": 3})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["query", "days"]


def test_only_supervisors_see_the_pages(client):
    for path in ("/dashboard", "/scripts", "/dashboard/assets/mermaid.min.js"):
        officer = client.get(path, headers={"X-Test-User": "officer"})
        assert officer.status_code == 403 and "for supervisors" in officer.json()["detail"], path
        assert client.get(path, headers={"X-Test-User": ""}).status_code == 401, path
    assert "王主管" not in client.get("/dashboard", headers={"X-Test-User": "officer"}).text


def test_the_scripts_page_shows_tests_and_diagrams(client):
    [shipped] = client.versions
    data = shipped.script.model_dump(mode="json", exclude_unset=True)
    data["tests"][0]["expect"]["outcome"] = "refused"  # its first test now expects what does not happen
    broken_script = Script.model_validate(data)
    client.versions.append(ScriptVersion(script=broken_script, path=shipped.path, version="v1-broken"))
    html = client.get("/scripts", params={"lang": "en-US"}).text
    articles = re.findall(r'<article class="script" data-script="([^"]+)" data-version="([^"]+)">(.*?)</article>', html, re.S)
    assert [(name, version) for name, version, _ in articles] == [("en-US/generic", shipped.version), ("en-US/generic", "v1-broken")]
    total = len(shipped.script.tests)
    good, broken = articles[0][2], articles[1][2]
    assert f'data-tests="passed"\n          data-passed="{total}" data-total="{total}"' in good
    assert f"{total}/{total} pass" in good
    assert 'data-tests="failed"' in broken and f"{total - 1}/{total} pass — 1 failing" in broken
    assert "expected outcome refused, got dissuaded" in unescape(broken)
    # The diagram: for Mermaid to draw, and as readable source (escaped: --> is --&gt;).
    assert '<pre class="mermaid">---\ntitle: generic v1 (en-US)' in good and "[*] --&gt; greet" in good
    assert "<details class=\"mermaid-source\">" in good
    assert '<script src="/dashboard/assets/mermaid.min.js"></script>' in html
    mermaid = client.get("/dashboard/assets/mermaid.min.js")
    assert mermaid.status_code == 200 and mermaid.headers["content-type"].startswith("text/javascript")
    assert len(mermaid.content) > 1_000_000 and b"mermaid" in mermaid.content[:200]
    assert client.get("/dashboard/assets/..%2Fdashboard.py").status_code == 404


def test_the_scripts_page_says_when_tests_are_still_running(tmp_path, library):
    """A new version's tests run on their own thread; a page that cannot wait says so and reloads."""
    source = DashboardSource(repository=SqliteRepository(tmp_path / "unused.db"), zone=SHANGHAI, clock=VirtualClock(MIDNIGHT),
                             scripts=lambda: library.scripts)
    app = FastAPI()
    app.include_router(build_router(require_supervisor, render_page, source=source, tests_wait_seconds=0))
    with TestClient(app, headers={"X-Test-User": "sup"}) as test_client:
        page = test_client.get("/scripts")
    assert page.status_code == 200 and page.headers["Refresh"] == "5"
    assert 'data-tests="running"' in page.text and "测试运行中" in page.text


async def test_mounted_on_the_api_app_it_reads_the_daemons_store_and_scripts(harness):
    """The router as create_app mounts it (the console's own login and roles): no source given,
    the data is the daemon's (`app.state.daemon`)."""
    h = await harness()  # its clock: 10:00 on 23 November, Shanghai
    await seed(h.store, MIDNIGHT)
    supervisor = await person_token(h.store, "zhao.supervisor", "supervisor")
    officer = await person_token(h.store, "li.officer", "officer")
    transport = httpx.ASGITransport(app=create_app(h.daemon, "token"))
    async with httpx.AsyncClient(transport=transport, base_url="http://robot") as client:
        assert (await client.get("/dashboard")).status_code == 401
        assert (await client.get("/dashboard", headers=bearer(officer))).status_code == 403
        client.headers.update(bearer(supervisor))
        html = (await client.get("/dashboard")).text
        assert figure(html, "calls-placed") == ("7", "7") and figure(html, "dissuasion-rate") == ("0.5", "50.00 %")
        scripts = (await client.get("/scripts")).text
    names = re.findall(r'<article class="script" data-script="([^"]+)"', scripts)
    assert names == sorted(version.name for version in h.daemon.library.scripts) and len(names) == 8
    assert scripts.count('data-tests="passed"') == 8
