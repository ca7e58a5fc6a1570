"""Signed webhook deliveries, retried with a capped back-off until delivered; their state
lives in the store (an outbox: the store records what must be sent, this decides how).

Each POST carries:
    X-Robot-Delivery: <delivery id>       the receiver can drop duplicates
    X-Robot-Timestamp: <unix seconds>
    X-Robot-Signature: sha256=<hex>       HMAC-SHA256(secret, f"{timestamp}.{body}")
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..clock import Clock
from ..store.records import DeliveryKind, DeliveryRecord
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


@dataclass(frozen=True)
class Envelope:
    """Where a delivery goes and what it says; `url` None: nowhere (nothing configured)."""

    url: str | None
    body: dict[str, Any]


Compose = Callable[[DeliveryRecord], Awaitable[Envelope]]


class Deliverer:
    """Sends due deliveries, concurrently: escalations and outcomes each have their own lane
    (so outcomes never hold up an escalation), and at most `per_host` deliveries go to one
    host at a time (so one slow host never holds up another). A delivery is tried until it
    is delivered, after `retry_delays_seconds` (the last repeats): an escalation must reach
    the officers' queue. Only a host that is no longer allowed stops it (`failed`, until an
    operator requeues it with `robot deliveries retry`)."""

    def __init__(
        self,
        repository: Repository,
        clock: Clock,
        *,
        compose: Compose,
        secret: str | None,
        retry_delays_seconds: Sequence[float],
        timeout_seconds: float = 10,
        client: httpx.AsyncClient | None = None,
        allowed_hosts: Collection[str] | None = None,
        lanes: Mapping[DeliveryKind, int] | None = None,
        per_host: int = 4,
    ) -> None:
        """`compose` says where a delivery goes and builds its body (at its first try);
        `allowed_hosts`: deliveries go only to these (`host` or `host:port`); None: anywhere."""
        self.allowed_hosts = frozenset(allowed_hosts) if allowed_hosts is not None else None
        self.repository = repository
        self.clock = clock
        self.compose = compose
        self.secret = secret
        self.retry_delays_seconds = list(retry_delays_seconds)
        self.client = client or httpx.AsyncClient(timeout=timeout_seconds)
        self.lanes = dict(lanes or {DeliveryKind.ESCALATION: 8, DeliveryKind.OUTCOME: 8})
        self.per_host = per_host
        self.delivered = 0
        self.failed_tries = 0
        self._in_flight: dict[int, tuple[DeliveryKind, str, asyncio.Task[bool]]] = {}
        self.finished = asyncio.Event()
        """Set whenever a delivery ends (a lane or a host has room again)."""

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def close(self, drain_seconds: float = 0.0) -> None:
        """Let deliveries under way finish for up to `drain_seconds`, cancel the rest (they
        stay pending and are sent after the next start)."""
        tasks = [task for _kind, _host, task in self._in_flight.values()]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=drain_seconds) if drain_seconds > 0 else (set(), set(tasks))
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        await self.client.aclose()

    async def deliver_due(self, limit: int = 200) -> int:
        """Start the due deliveries there is room for (escalations first); returns how many
        were started. They run on; `wait_idle` waits for them."""
        due = await self.repository.due_deliveries(self.clock.now(), limit, exclude=list(self._in_flight))
        started = 0
        try:
            for delivery in due:
                started += await self._start(delivery)
        finally:
            # A shared store let this node claim them: other nodes may have those not under way now.
            await self.repository.release_deliveries([d.id for d in due if d.id not in self._in_flight])
        return started

    async def _start(self, delivery: DeliveryRecord) -> bool:
        """Start sending it if its lane and host have room; False if not (or it has nowhere to go)."""
        kind = delivery.kind
        if sum(1 for k, _h, _t in self._in_flight.values() if k is kind) >= self.lanes[kind]:
            return False  # this lane is full; the other may still have room
        prepared = await self._prepare(delivery)
        if prepared is None:
            return False
        host = _host_of(prepared.url or "")
        if sum(1 for _k, h, _t in self._in_flight.values() if h == host) >= self.per_host:
            return False  # this host has enough under way; others go on
        task = asyncio.create_task(self.deliver(prepared), name=f"delivery {delivery.id}")
        self._in_flight[delivery.id] = (kind, host, task)
        task.add_done_callback(functools.partial(self._done, delivery.id))
        return True

    def _done(self, delivery_id: int, task: asyncio.Task[bool]) -> None:
        self._in_flight.pop(delivery_id, None)
        self.finished.set()
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("delivery %s could not be recorded: %s", delivery_id, task.exception())

    async def wait_idle(self) -> None:
        """Until every delivery under way has ended (tests, shutdown)."""
        while self._in_flight:
            await asyncio.gather(*(task for _k, _h, task in list(self._in_flight.values())), return_exceptions=True)

    async def _prepare(self, delivery: DeliveryRecord) -> DeliveryRecord | None:
        """Fix the delivery's URL and body at its first try; None if it has nowhere to go."""
        if delivery.url is not None and delivery.payload is not None:
            return delivery
        envelope = await self.compose(delivery)
        if envelope.url is None:
            await self.repository.delivery_skipped(delivery.id, f"no URL is configured for {delivery.kind.value} deliveries",
                                                   self.clock.now())
            return None
        body = json.dumps(envelope.body, ensure_ascii=False)
        return await self.repository.delivery_prepared(delivery.id, envelope.url, body)

    def retry_delay(self, tries: int) -> float:
        """Seconds before the next try after `tries` failed ones: the schedule, then its last."""
        return self.retry_delays_seconds[min(tries, len(self.retry_delays_seconds)) - 1]

    async def deliver(self, delivery: DeliveryRecord) -> bool:
        """One try of a prepared delivery; its result is stored."""
        assert delivery.url is not None and delivery.payload is not None
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
        retry_at = None if refused else now + self.retry_delay(delivery.tries + 1)
        if refused:
            _LOGGER.error("delivery %s (%s) to %s not sent: %s; `robot deliveries retry %s` once the host is allowed again",
                          delivery.id, delivery.kind.value, redact(delivery.url), error, delivery.id)
        else:
            _LOGGER.warning("delivery %s (%s) to %s failed: %s; retry in %g s", delivery.id, delivery.kind.value,
                            redact(delivery.url), error, (retry_at or now) - now)
        await self.repository.delivery_failed(delivery.id, error, retry_at, now)
        return False


def _host_of(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{(parts.hostname or '').lower()}:{parts.port or ''}"
    except ValueError:
        return ""
