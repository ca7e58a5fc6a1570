"""The pages' frame: Jinja2 templates (package data, autoescaped), the layout around every
page (navigation by role, the language switch, logout), and refusals as pages.

`render_page(request, principal, title, body_html)` is the interface other page modules
(the supervisors' dashboard) use: it escapes nothing in `body_html`, which comes from
trusted templates; `title` is escaped."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from .auth import Refused
from .i18n import LANGUAGE_COOKIE, LANGUAGES, Translator, translator
from .roles import Principal, Role, grants

ENVIRONMENT = Environment(
    loader=PackageLoader("robot.console", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,  # a misspelt variable is an error, not an empty string
)


def nav_links(principal: Principal | None) -> list[tuple[str, str]]:
    """(path, catalogue key) of the pages this principal may open."""
    if principal is None or principal.role is Role.INTAKE:
        return []
    links = [("/queue", "nav.queue")]
    if grants(principal.role, Role.SUPERVISOR):
        links += [("/dashboard", "nav.dashboard"), ("/scripts", "nav.scripts"), ("/audit", "nav.audit")]
    if grants(principal.role, Role.ADMIN):
        links.append(("/users", "nav.users"))
    return links


def render_body(request: Request, template: str, **context: Any) -> str:
    """A page's body from its template, with `t` (the reader's catalogue) and `lang`."""
    t = translator(request)
    return ENVIRONMENT.get_template(template).render(t=t, lang=t.language, **context)


def render_page(request: Request, principal: Principal | None, title: str, body_html: str, *,
                status_code: int = 200) -> HTMLResponse:
    t = translator(request)
    html = ENVIRONMENT.get_template("layout.html").render(
        t=t, lang=t.language, languages=LANGUAGES, title=title, body_html=body_html, principal=principal,
        links=nav_links(principal), path=request.url.path,
    )
    response = HTMLResponse(html, status_code=status_code)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, t.language, max_age=365 * 24 * 3600, samesite="lax", path="/")
    return response


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/v1/") or "text/html" not in request.headers.get("accept", "text/html")


def refused_response(request: Request, err: Refused) -> Response:
    """JSON `{"detail": ...}` in English for /v1 (and for clients that do not ask for HTML),
    else a page in the reader's language with a way on (the login form)."""
    if wants_json(request):
        return JSONResponse({"detail": Translator("en-US")(err.key, **err.params)}, status_code=err.status, headers=err.headers)
    t = translator(request)
    principal = getattr(request.state, "principal", None)
    body = render_body(request, "message.html", heading=t(f"status.{err.status}"), message=t(err.key, **err.params),
                       login_link=err.status == 401, back=None, next_path=request.url.path)
    response = render_page(request, principal, t(f"status.{err.status}"), body, status_code=err.status)
    response.headers.update({k: v for k, v in err.headers.items() if k != "WWW-Authenticate"})
    return response


