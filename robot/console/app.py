"""The console on the API's app: its state, its routers, its static files (the vendored
htmx and the stylesheet, package data) and the page that refusals become.

`/dashboard` and `/scripts` come from `robot.console.dashboard.build_router(require_supervisor,
render_page)` when that module is there; without it, both are supervisor-only pages saying
the dashboard is coming."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib import resources
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from ..store.repository import Repository
from . import audit_page, login, queue, users_page, warning_page
from .auth import Console, Refused, require_role
from .i18n import translator
from .layout import refused_response, render_body, render_page
from .ratelimit import LoginLimiter
from .roles import Principal, Role
from .sessions import Sessions, session_key

STATIC_PATH = "/static"


def mount_console(app: FastAPI, repository: Repository, *, intake_token: str, now: Callable[[], float], zone: ZoneInfo,
                  session_seconds: int, secure_cookies: bool, limiter: LoginLimiter | None = None) -> Console:
    console = Console(
        repository=repository, sessions=Sessions(session_key(intake_token), max_age_seconds=session_seconds, secure=secure_cookies),
        intake_token=intake_token, now=now, zone=zone, limiter=limiter or LoginLimiter(),
    )
    app.state.console = console

    @app.exception_handler(Refused)
    async def _refused(request: Request, err: Refused) -> Response:
        return refused_response(request, err)

    for router in (login.build_router(), queue.build_router(), warning_page.build_router(), users_page.build_router(),
                   audit_page.build_router(), dashboard_router()):
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/queue", status_code=303)

    static = resources.files(__package__).joinpath("static")
    app.mount(STATIC_PATH, StaticFiles(directory=str(static)), name="console-static")
    return console


def dashboard_router() -> APIRouter:
    require_supervisor = require_role(Role.SUPERVISOR)
    try:
        dashboard = importlib.import_module("robot.console.dashboard")
    except ModuleNotFoundError as err:
        if err.name != "robot.console.dashboard":
            raise
    else:
        router: APIRouter = dashboard.build_router(require_supervisor, render_page)
        return router
    router = APIRouter(include_in_schema=False)
    supervisor = Depends(require_supervisor)

    async def coming(request: Request, principal: Principal) -> HTMLResponse:
        t = translator(request)
        body = render_body(request, "message.html", heading=t("dashboard.coming"), message=t("dashboard.coming_text"),
                           login_link=False, back=None, next_path=None)
        return render_page(request, principal, t("nav.dashboard"), body)

    @router.get("/dashboard")
    async def dashboard_page(request: Request, principal: Principal = supervisor) -> HTMLResponse:
        return await coming(request, principal)

    @router.get("/scripts")
    async def scripts_page(request: Request, principal: Principal = supervisor) -> HTMLResponse:
        return await coming(request, principal)

    return router
