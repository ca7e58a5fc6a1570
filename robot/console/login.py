"""`GET /login` (the form), `POST /login` (fields `username`, `password` and `csrf`: sets the
session cookie and redirects, 303), `GET /logout` (a button) and `POST /logout`."""

from __future__ import annotations

import hmac
import math

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .auth import Refused, console_of, principal_of
from .credentials import MAX_PASSWORD_LENGTH, verify_password
from .i18n import translator
from .layout import render_body, render_page
from .sessions import CSRF_FIELD

MAX_NAME_LENGTH = 100


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a path on this site only (never `//host` or a URL)."""
    if (value and value.startswith("/") and not value.startswith("//") and "\\" not in value
            and value.isprintable() and not any(character.isspace() for character in value)):
        return value  # no control characters or spaces, which browsers drop: `/\t/host` is `//host`
    return "/queue"


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def form_page(request: Request, *, error: str | None, status_code: int, name: str = "") -> HTMLResponse:
        t = translator(request)
        sessions = console_of(request).sessions
        csrf, cookie = sessions.login_csrf(request)
        body = render_body(request, "login.html", csrf=csrf, csrf_field=CSRF_FIELD, error=error, name=name,
                           next_path=safe_next(request.query_params.get("next")))
        page = render_page(request, None, t("login.title"), body, status_code=status_code)
        if cookie is not None:
            sessions.set_login_csrf(page, cookie)
        return page

    @router.get("/login")
    async def login_form(request: Request) -> HTMLResponse:
        return form_page(request, error=None, status_code=200)

    @router.post("/login")
    async def login(request: Request) -> Response:
        console = console_of(request)
        t = translator(request)
        form = await request.form()
        name = str(form.get("username", ""))[:MAX_NAME_LENGTH].strip()
        password = str(form.get("password", ""))[:MAX_PASSWORD_LENGTH + 1]
        if not console.sessions.login_csrf_ok(request, str(form.get(CSRF_FIELD, ""))):
            return form_page(request, error=t("login.csrf"), status_code=403, name=name)
        client = request.client.host if request.client else "-"
        keys = [f"address:{client}", f"user:{name.casefold()}"]
        wait = console.limiter.retry_after_seconds(keys)
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            page = form_page(request, error=t("login.too_many", seconds=seconds), status_code=429, name=name)
            page.headers["Retry-After"] = str(seconds)
            return page
        user = await console.repository.get_user(name) if name else None
        # A disabled account with its right password gets the same answer as a wrong password
        # (and counts as a failure): the form does not tell anyone which accounts exist or work.
        if not verify_password(user.password_hash if user else None, password) or user is None or user.disabled:
            console.limiter.failed(keys)
            return form_page(request, error=t("login.wrong"), status_code=401, name=name)
        console.limiter.succeeded(f"user:{name.casefold()}")
        response = RedirectResponse(safe_next(str(form.get("next", ""))), status_code=303)
        await console.sessions.start(response, user.name)
        return response

    @router.get("/logout")
    async def logout_form(request: Request) -> HTMLResponse:
        t = translator(request)
        try:
            principal = await principal_of(request)
        except Refused:
            principal = None
        body = render_body(request, "logout.html", principal=principal, csrf_field=CSRF_FIELD)
        return render_page(request, principal, t("logout.title"), body)

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        console = console_of(request)
        session = await console.sessions.read(request)
        if session is not None:
            form = await request.form()
            if not hmac.compare_digest(str(form.get(CSRF_FIELD, "")).encode(), session.csrf.encode()):
                raise Refused(403, "refused.csrf")
        response = RedirectResponse("/login", status_code=303)
        await console.sessions.end(request, response)  # the session is deleted from the store
        return response

    return router
