"""The console on the API's app: its state, its routers, its static files (the vendored
htmx and the stylesheet, package data) and the page that refusals become.

`/dashboard` and `/scripts` are the supervisors' (`dashboard.build_router`)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from ..store.repository import Repository
from . import audit_page, dashboard, login, queue, users_page, warning_page
from .auth import Console, Refused, require_role
from .layout import refused_response, render_page
from .ratelimit import LoginLimiter
from .roles import Role
from .sessions import Sessions

STATIC_PATH = "/static"


def mount_console(app: FastAPI, repository: Repository, *, intake_token: str, now: Callable[[], float], zone: ZoneInfo,
                  session_seconds: int, secure_cookies: bool, limiter: LoginLimiter | None = None) -> Console:
    console = Console(
        repository=repository, sessions=Sessions(repository, now, max_age_seconds=session_seconds, secure=secure_cookies),
        intake_token=intake_token, now=now, zone=zone, limiter=limiter or LoginLimiter(),
    )
    app.state.console = console

    @app.exception_handler(Refused)
    async def _refused(request: Request, err: Refused) -> Response:
        return refused_response(request, err)

    for router in (login.build_router(), queue.build_router(), warning_page.build_router(), users_page.build_router(),
                   audit_page.build_router(), dashboard.build_router(require_role(Role.SUPERVISOR), render_page)):
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/queue", status_code=303)

    static = resources.files(__package__).joinpath("static")
    app.mount(STATIC_PATH, StaticFiles(directory=str(static)), name="console-static")
    return console

