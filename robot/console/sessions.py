"""Session cookies, kept server-side: logging in stores a session (its user, its CSRF value,
when it was made and when it expires) in the store, under the SHA-256 of a random 256-bit id;
the cookie carries only that id. Nothing is signed, so there is no key to steal or derive:
a cookie is good only while its session is in the store, which every node of a cluster
shares. Logging out deletes the session; disabling a user deletes theirs; an expired one is
refused and deleted. The cookie is HttpOnly, SameSite=Lax, Secure when the API serves HTTPS.

The login form, before any session, uses a double-submit CSRF value: a random value in an
HttpOnly, SameSite=Lax cookie that the form must send back; another site's form cannot make
the browser send that cookie with its POST, nor read it to copy it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request, Response

from ..store.records import SessionRecord
from ..store.repository import Repository

SESSION_COOKIE = "robot_session"
LOGIN_CSRF_COOKIE = "robot_login_csrf"
LOGIN_CSRF_SECONDS = 3600
CSRF_FIELD = "csrf"
MAX_COOKIE_LENGTH = 200


@dataclass(frozen=True)
class Session:
    name: str
    csrf: str


def session_id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class Sessions:
    def __init__(self, repository: Repository, now: Callable[[], float], *, max_age_seconds: int, secure: bool) -> None:
        self._repository = repository
        self._now = now
        self.max_age_seconds = max_age_seconds
        self.secure = secure

    async def start(self, response: Response, name: str) -> Session:
        session_id = secrets.token_urlsafe(32)
        now = self._now()
        record = SessionRecord(id_hash=session_id_hash(session_id), user_name=name, csrf=secrets.token_urlsafe(24),
                               created_at=now, expires_at=now + self.max_age_seconds)
        await self._repository.add_session(record)
        response.set_cookie(SESSION_COOKIE, session_id, max_age=self.max_age_seconds, httponly=True, samesite="lax",
                            secure=self.secure, path="/")
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return Session(name=record.user_name, csrf=record.csrf)

    async def read(self, request: Request) -> Session | None:
        """The session the request's cookie names, if the store holds it and it has not expired."""
        session_id = request.cookies.get(SESSION_COOKIE)
        if not session_id or len(session_id) > MAX_COOKIE_LENGTH:
            return None
        record = await self._repository.session_by_hash(session_id_hash(session_id), self._now())
        return Session(name=record.user_name, csrf=record.csrf) if record else None

    async def end(self, request: Request, response: Response) -> None:
        """Log out: the session is deleted from the store (a copy of the cookie is worth nothing)."""
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id and len(session_id) <= MAX_COOKIE_LENGTH:
            await self._repository.delete_session(session_id_hash(session_id))
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=self.secure)

    def login_csrf(self, request: Request) -> tuple[str, str | None]:
        """The login form's CSRF value: the one the browser's cookie holds, or a new one that is
        also the cookie value to set (`set_login_csrf`)."""
        current = self._login_value(request)
        if current is not None:
            return current, None
        value = secrets.token_urlsafe(24)
        return value, value

    def set_login_csrf(self, response: Response, cookie: str) -> None:
        response.set_cookie(LOGIN_CSRF_COOKIE, cookie, max_age=LOGIN_CSRF_SECONDS, httponly=True, samesite="lax",
                            secure=self.secure, path="/")

    def login_csrf_ok(self, request: Request, submitted: str) -> bool:
        expected = self._login_value(request)
        return expected is not None and bool(submitted) and hmac.compare_digest(expected.encode(), submitted.encode())

    @staticmethod
    def _login_value(request: Request) -> str | None:
        value = request.cookies.get(LOGIN_CSRF_COOKIE)
        if not value or len(value) > MAX_COOKIE_LENGTH or not value.isascii():
            return None
        return value
