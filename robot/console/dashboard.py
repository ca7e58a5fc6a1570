"""The supervisors' dashboard (`/dashboard`) and scripts page (`/scripts`), as a router the
console mounts: `build_router(require_supervisor, render_page)`.

- `require_supervisor`: a FastAPI dependency that returns the signed-in principal (with
  `.name` and `.role`) or refuses (401/403) — both routes depend on it, and so do their assets;
- `render_page(request, principal, title, body_html) -> HTMLResponse`: the console's layout
  around a body these templates render (Jinja2, autoescaped).

The data comes from a `DashboardSource` (the store, the centre's timezone, the wall clock and
the scripts in use): the one passed to `build_router`, else `app.state.dashboard_source`,
else one made from `app.state.daemon` (which `create_app` sets).

`GET /dashboard?days=1|7|30` (default 1: today, in the centre's timezone), `GET /scripts`;
both in Mandarin unless `?lang=en-US` or the `lang` cookie says otherwise."""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from .dashboard_text import Catalogue, language_of
from .dashboard_view import dashboard_content
from .scripts_page import EmbeddedTests, script_views
from .stats import DashboardSource, dashboard_statistics


class PeriodDays(IntEnum):
    """The periods the dashboard offers (`stats.PERIOD_DAYS`)."""

    TODAY = 1
    WEEK = 7
    MONTH = 30


RenderPage = Callable[[Request, Any, str, str], HTMLResponse]
ASSETS_PATH = "/dashboard/assets"
STATIC = Path(__file__).parent / "static"
ASSETS = {
    "dashboard.css": (STATIC / "dashboard.css", "text/css"),
    "scripts-page.js": (STATIC / "scripts-page.js", "text/javascript"),
    "mermaid.min.js": (STATIC / "vendor" / "mermaid.min.js", "text/javascript"),
}
"""The files the two pages load, served from the package (vendored at build time, never a CDN)."""
TESTS_WAIT_SECONDS = 15.0
"""How long the scripts page waits for a new version's embedded tests before saying they run
(and reloading itself every `RUNNING_REFRESH_SECONDS` until they are done)."""
RUNNING_REFRESH_SECONDS = 5


def templates() -> Environment:
    return Environment(loader=PackageLoader("robot.console", "templates"), autoescape=select_autoescape(["html"]),
                       undefined=StrictUndefined, trim_blocks=False)


def build_router(
    require_supervisor: Callable[..., Any], render_page: RenderPage, *, source: DashboardSource | None = None,
    tests_wait_seconds: float = TESTS_WAIT_SECONDS,
) -> APIRouter:
    router = APIRouter(tags=["console"])
    environment = templates()
    embedded_tests = EmbeddedTests()

    def data(request: Request) -> DashboardSource:
        if source is not None:
            return source
        found = getattr(request.app.state, "dashboard_source", None)
        if found is None:
            daemon = getattr(request.app.state, "daemon", None)
            if daemon is None:
                raise RuntimeError("the dashboard has no data: pass source= to build_router, or set app.state.daemon")
            found = request.app.state.dashboard_source = DashboardSource.of_daemon(daemon)
        return found

    def render(request: Request, principal: Any, template: str, title_key: str, **context: Any) -> HTMLResponse:
        language = language_of(request)
        text = Catalogue(language)
        body = environment.get_template(template).render(
            text=text.text, code_name=text.code, language=language, assets=ASSETS_PATH, **context)
        return render_page(request, principal, text.text(title_key), body)

    supervisor = Depends(require_supervisor)  # a default, not an Annotated alias: annotations here are strings

    @router.get("/dashboard", response_class=HTMLResponse, summary="The supervisors' dashboard")
    async def dashboard(
        request: Request,
        days: Annotated[PeriodDays, Query(description="1: today; 7 or 30: the last 7 or 30 days (local days)")] = PeriodDays.TODAY,
        principal: Any = supervisor,
    ) -> HTMLResponse:
        """Warnings by risk, calls placed, answered (connect rate), outcomes, dissuasion rate
        (with the 63.82 % reference), escalations by reason, the median time from a warning to
        its first call, per scam type and per script version, with charts."""
        where = data(request)
        period, figures = await dashboard_statistics(where.repository, int(days), where.clock.now(), where.zone)
        content = dashboard_content(period, figures, Catalogue(language_of(request)), where.zone)
        return render(request, principal, "dashboard.html", "dashboard", content=content)

    @router.get("/scripts", response_class=HTMLResponse, summary="The dialog scripts in use")
    async def scripts(request: Request, principal: Any = supervisor) -> HTMLResponse:
        """Each script: name, version, language, its embedded tests' result, its diagram."""
        views = await script_views(data(request).scripts(), embedded_tests, tests_wait_seconds)
        running = any(view.tests is None for view in views)
        response = render(request, principal, "scripts.html", "scripts", scripts=views)
        if running:
            response.headers["Refresh"] = str(RUNNING_REFRESH_SECONDS)
        return response

    @router.get(ASSETS_PATH + "/{name}", include_in_schema=False)
    async def asset(name: str, _: Any = supervisor) -> FileResponse:
        found = ASSETS.get(name)
        if found is None or not found[0].is_file():
            raise HTTPException(404, f"no asset {name!r}")
        path, media_type = found
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, max-age=86400"})

    return router
