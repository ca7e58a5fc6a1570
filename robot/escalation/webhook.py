"""Signed webhook deliveries, retried with back-off; their state lives in the store.

Each POST carries:
    X-Robot-Delivery: <delivery id>       the receiver can drop duplicates
    X-Robot-Timestamp: <unix seconds>
    X-Robot-Signature: sha256=<hex>       HMAC-SHA256(secret, f"{timestamp}.{body}")
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Collection, Sequence
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..clock import Clock
from ..store.records import DeliveryRecord
from ..store.repository import Repository

_LOGGER = logging.getLogger(__name__)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def redact(url: str) -> str:
    """A URL fit for logs: no user name or password, no query (it may carry a token)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            netloc += f":{parts.port}"
    except ValueError:
        return "(an unparsable URL)"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _scrub(text: str, url: str) -> str:
    """Remove a URL's secrets from an error message that may quote it."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return text
    for secret in (parts.password, parts.username, parts.query):
        if secret:
            text = text.replace(secret, "***")
    return text


def host_allowed(url: str, hosts: Collection[str]) -> bool:
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        return host in hosts or f"{host}:{parts.port}" in hosts
    except ValueError:
        return False


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """For receivers (and tests): constant-time check of X-Robot-Signature."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class Deliverer:
    """Sends due deliveries; a failure is stored with its error and retried later."""

    def __init__(
        self,
        repository: Repository,
        clock: Clock,
        *,
        secret: str | None,
        retry_delays_seconds: Sequence[float],
        timeout_seconds: float = 10,
        client: httpx.AsyncClient | None = None,
        allowed_hosts: Collection[str] | None = None,
    ) -> None:
        """`allowed_hosts`: deliveries go only to these (`host` or `host:port`); None: anywhere."""
        self.allowed_hosts = frozenset(allowed_hosts) if allowed_hosts is not None else None
        self.repository = repository
        self.clock = clock
        self.secret = secret
        self.retry_delays_seconds = list(retry_delays_seconds)
        self.client = client or httpx.AsyncClient(timeout=timeout_seconds)
        self.delivered = 0
        self.failed_tries = 0

    async def close(self) -> None:
        await self.client.aclose()

    async def deliver_due(self, limit: int = 50) -> int:
        """One pass over the due deliveries; returns how many were tried."""
        due = await self.repository.due_deliveries(self.clock.now(), limit)
        for delivery in due:
            await self.deliver(delivery)
        return len(due)

    async def deliver(self, delivery: DeliveryRecord) -> bool:
        body = delivery.payload.encode()
        timestamp = str(int(self.clock.now()))
        headers = {"Content-Type": "application/json", "X-Robot-Delivery": str(delivery.id), "X-Robot-Timestamp": timestamp,
                   "X-Robot-Event": delivery.kind.value}
        if self.secret:
            headers["X-Robot-Signature"] = sign(self.secret, timestamp, body)
        refused = self.allowed_hosts is not None and not host_allowed(delivery.url, self.allowed_hosts)
        if refused:  # e.g. a callback_url stored before its host left webhooks.allowed_callback_hosts
            error = "host not in webhooks.allowed_callback_hosts; not sent"
        else:
            try:
                response = await self.client.post(delivery.url, content=body, headers=headers)
                error = "" if response.is_success else f"HTTP {response.status_code}"
            except httpx.HTTPError as err:
                error = _scrub(f"{type(err).__name__}: {err}" if str(err) else type(err).__name__, delivery.url)
        now = self.clock.now()
        if not error:
            await self.repository.delivery_done(delivery.id, now)
            self.delivered += 1
            return True
        self.failed_tries += 1
        tries = delivery.tries + 1
        retry_at = now + self.retry_delays_seconds[tries - 1] if tries <= len(self.retry_delays_seconds) and not refused else None
        _LOGGER.warning("delivery %s (%s) to %s failed: %s; %s", delivery.id, delivery.kind.value, redact(delivery.url), error,
                        "giving up" if retry_at is None else f"retry in {retry_at - now:g} s")
        await self.repository.delivery_failed(delivery.id, error, retry_at, now)
        return False
