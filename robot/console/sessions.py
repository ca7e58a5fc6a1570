"""Session cookies: signed (itsdangerous, HMAC-SHA1 over a key derived from the API token),
HttpOnly, SameSite=Lax, Secure when the API serves HTTPS, and expiring (the signature's
timestamp is checked on every request, besides the cookie's Max-Age). Each session carries a
random CSRF value that its forms send back; the login form, before any session, gets its own
signed CSRF cookie (a double-submit value nobody else can set)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "robot_session"
LOGIN_CSRF_COOKIE = "robot_login_csrf"
LOGIN_CSRF_SECONDS = 3600
CSRF_FIELD = "csrf"


def session_key(api_token: str) -> bytes:
    """Every node of a cluster has the same API token, so a session made on one is good on all;
    changing the token logs everybody out."""
    return hmac.new(api_token.encode(), b"robot console sessions v1", hashlib.sha256).digest()


@dataclass(frozen=True)
class Session:
    name: str
    csrf: str


class Sessions:
    def __init__(self, key: bytes, *, max_age_seconds: int, secure: bool) -> None:
        self._sessions = URLSafeTimedSerializer(key, salt="session")
        self._login = URLSafeTimedSerializer(key, salt="login-csrf")
        self.max_age_seconds = max_age_seconds
        self.secure = secure

    def start(self, response: Response, name: str) -> Session:
        session = Session(name=name, csrf=secrets.token_urlsafe(24))
        value = self._sessions.dumps({"u": session.name, "c": session.csrf})
        response.set_cookie(SESSION_COOKIE, value, max_age=self.max_age_seconds, httponly=True, samesite="lax",
                             secure=self.secure, path="/")
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return session

    def read(self, request: Request) -> Session | None:
        """The session the request's cookie carries, if it is signed by us and not expired."""
        value = request.cookies.get(SESSION_COOKIE)
        if not value:
            return None
        try:
            data = self._sessions.loads(value, max_age=self.max_age_seconds)
        except BadSignature:  # includes SignatureExpired
            return None
        if not isinstance(data, dict) or not isinstance(data.get("u"), str) or not isinstance(data.get("c"), str):
            return None
        return Session(name=data["u"], csrf=data["c"])

    def end(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=self.secure)

    def login_csrf(self, request: Request) -> tuple[str, str | None]:
        """The login form's CSRF value: the one the browser's cookie holds, or a new one with
        the signed cookie value to set (`set_login_csrf`)."""
        current = self._login_value(request)
        if current is not None:
            return current, None
        value = secrets.token_urlsafe(24)
        return value, self._login.dumps(value)

    def set_login_csrf(self, response: Response, cookie: str) -> None:
        response.set_cookie(LOGIN_CSRF_COOKIE, cookie, max_age=LOGIN_CSRF_SECONDS, httponly=True, samesite="lax",
                            secure=self.secure, path="/")

    def login_csrf_ok(self, request: Request, submitted: str) -> bool:
        expected = self._login_value(request)
        return expected is not None and hmac.compare_digest(expected.encode(), submitted.encode())

    def _login_value(self, request: Request) -> str | None:
        value = request.cookies.get(LOGIN_CSRF_COOKIE)
        if not value:
            return None
        try:
            data = self._login.loads(value, max_age=LOGIN_CSRF_SECONDS)
        except BadSignature:
            return None
        return data if isinstance(data, str) else None
