"""Who is asking: a request acts as the intake token (today's `api.token`), a personal
token's owner (`Authorization: Bearer robot_...`) or a logged-in user (the session cookie).
`require_role(role)` is the FastAPI dependency that returns that principal or refuses: 401
when nobody (valid) is asking, 403 when the principal's role does not allow it. Every refusal
says why, in the reader's language on pages and in English on /v1."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request

from ..store.repository import Repository
from .credentials import TOKEN_PREFIX, token_hash
from .plays import PlayLog
from .ratelimit import LoginLimiter
from .roles import Principal, Role, grants
from .sessions import CSRF_FIELD, SESSION_COOKIE, Sessions


class Refused(Exception):
    """A request refused: `status` 401/403 (or 429), `key` the catalogue entry that says why."""

    def __init__(self, status: int, key: str, *, headers: dict[str, str] | None = None, **params: Any) -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        self.params = params
        self.headers = headers or {}


@dataclass
class Console:
    """What the console's routes share (kept on `app.state.console`)."""

    repository: Repository
    sessions: Sessions
    intake_token: str
    now: Callable[[], float]
    zone: ZoneInfo
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    plays: PlayLog = field(default_factory=PlayLog)


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


async def principal_of(request: Request, *, sessions: bool = True) -> Principal:
    """The principal, or Refused(401) naming what was wrong with the credentials. With
    `sessions=False` (the /v1 API) only a bearer token counts: a session cookie, which a
    browser sends by itself, is refused, so no other site can make a logged-in officer's
    browser call the API (the pages never call /v1)."""
    console = console_of(request)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Refused(401, "refused.bearer_malformed", headers={"WWW-Authenticate": "Bearer"})
        if hmac.compare_digest(token.encode(), console.intake_token.encode()):
            return Principal(name="intake", role=Role.INTAKE, via="intake_token")
        user = await console.repository.user_by_token(token_hash(token)) if token.startswith(TOKEN_PREFIX) else None
        if user is None:
            raise Refused(401, "refused.bearer_invalid", headers={"WWW-Authenticate": "Bearer"})
        if user.disabled:
            raise Refused(401, "refused.user_disabled", headers={"WWW-Authenticate": "Bearer"}, name=user.name)
        return Principal(name=user.name, role=Role(user.role), via="token")
    if not sessions:
        cookie = bool(request.cookies.get(SESSION_COOKIE))
        raise Refused(401, "refused.bearer_needed" if cookie else "refused.login_needed", headers={"WWW-Authenticate": "Bearer"})
    session = await console.sessions.read(request)
    if session is None:
        expired = bool(request.cookies.get(SESSION_COOKIE))
        raise Refused(401, "refused.session_expired" if expired else "refused.login_needed")
    user = await console.repository.get_user(session.name)
    if user is None or user.disabled:
        raise Refused(401, "refused.user_disabled", name=session.name)
    return Principal(name=user.name, role=Role(user.role), via="session", csrf=session.csrf)


def require_role(role: Role, *, sessions: bool = True) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency: the principal, if its role grants `role` (a supervisor has an officer's
    rights, an admin a supervisor's; intake is a role of its own). `sessions=False`: bearer
    tokens only (the /v1 API)."""
    return require_any(role, sessions=sessions)


def require_any(*roles: Role, sessions: bool = True) -> Callable[[Request], Awaitable[Principal]]:
    async def dependency(request: Request) -> Principal:
        principal = await principal_of(request, sessions=sessions)
        if not any(grants(principal.role, role) for role in roles):
            raise Refused(403, "refused.role", name=principal.name, role=principal.role.value,
                          needed=" / ".join(role.value for role in roles))
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{'_or_'.join(role.value for role in roles)}"
    return dependency


async def checked_form(request: Request, principal: Principal) -> dict[str, str]:
    """A state-changing form's fields, once its CSRF value matches the session's (403
    otherwise). A personal token sends no cookie, so a request with one needs no CSRF value."""
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    if principal.via == "session":
        submitted = fields.get(CSRF_FIELD, "")
        if not submitted or not hmac.compare_digest(submitted.encode(), principal.csrf.encode()):
            raise Refused(403, "refused.csrf")
    return fields
