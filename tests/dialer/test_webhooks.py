"""Signed webhook deliveries and retries, against a local HTTP receiver on a real socket."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import pytest

from robot.clock import VirtualClock
from robot.escalation.webhook import Deliverer, sign, verify
from tests.dialer.conftest import local

SECRET = "hmac-key"


@dataclass
class Receiver:
    """A minimal HTTP/1.1 server that answers with the next scripted status."""

    statuses: list[int]
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        body = await reader.readexactly(int(headers.get("content-length", 0)))
        self.requests.append((headers, body))
        status = self.statuses.pop(0) if self.statuses else 200
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    async def start(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/hook"


@pytest.fixture
async def receiver():
    made = Receiver(statuses=[])
    yield made
    if made.server is not None:
        made.server.close()
        await made.server.wait_closed()


def test_signature_is_hmac_sha256_of_timestamp_and_body():
    signature = sign(SECRET, "1795000000", b'{"a":1}')
    assert signature == "sha256=" + __import__("hmac").new(b"hmac-key", b'1795000000.{"a":1}', "sha256").hexdigest()
    assert verify(SECRET, "1795000000", b'{"a":1}', signature)
    assert not verify(SECRET, "1795000001", b'{"a":1}', signature)


async def test_escalations_are_stored_first_then_delivered_signed_with_retries(harness, receiver):
    url = await receiver.start()
    receiver.statuses = [500, 503]
    h = await harness()
    clock = VirtualClock(local(10))
    deliverer = Deliverer(h.store, clock, secret=SECRET, retry_delays_seconds=[5, 30], timeout_seconds=5)
    accepted = await h.store.accept_warning(
        (await _new(h)), clock.now(), escalate_reason="high_risk", escalation_url=url,
    )
    [queued] = await h.store.due_deliveries(clock.now(), 10)
    assert queued.status == "pending"  # stored before any try
    assert await deliverer.deliver_due() == 1
    assert (await h.store.get_delivery(queued.id)).last_error == "HTTP 500"
    clock.advance(4)
    assert await deliverer.deliver_due() == 0  # back-off: not yet
    clock.advance(1)
    assert await deliverer.deliver_due() == 1  # second try: 503
    clock.advance(30)
    assert await deliverer.deliver_due() == 1  # third try: 200
    done = await h.store.get_delivery(queued.id)
    assert (done.status, done.tries) == ("delivered", 3)
    assert len(receiver.requests) == 3
    bodies = {body for _, body in receiver.requests}
    assert len(bodies) == 1  # every retry sends the same bytes
    headers, body = receiver.requests[-1]
    assert verify(SECRET, headers["x-robot-timestamp"], body, headers["x-robot-signature"])
    assert headers["x-robot-delivery"] == str(queued.id) and headers["x-robot-event"] == "escalation"
    payload = json.loads(body)
    assert payload["escalation"]["reason"] == "high_risk" and payload["warning"]["id"] == accepted.warning.external_id
    await deliverer.close()


async def test_a_delivery_gives_up_after_its_last_retry(harness):
    h = await harness()
    clock = VirtualClock(local(10))
    deliverer = Deliverer(h.store, clock, secret=None, retry_delays_seconds=[1], timeout_seconds=2)
    await h.store.accept_warning(await _new(h), clock.now(), escalate_reason="high_risk", escalation_url="http://127.0.0.1:9/closed")
    await deliverer.deliver_due()
    clock.advance(1)
    await deliverer.deliver_due()
    [delivery] = [await h.store.get_delivery(1)]
    assert delivery.status == "failed" and delivery.tries == 2 and "ConnectError" in delivery.last_error
    await deliverer.close()


async def test_the_final_outcome_goes_to_the_warnings_callback_url(harness, receiver):
    url = await receiver.start()
    h = await harness(webhooks={"allowed_callback_hosts": ["127.0.0.1"]})
    await h.submit({"id": "W", "phone": "13800138000", "callback_url": url})
    [job] = await h.tick()
    await h.end(job, "dissuaded", transcript=[{"speaker": "callee", "text": "好的，我不转账了", "at_seconds": 30.1}])
    await h.daemon.deliverer.deliver_due()
    [(headers, body)] = receiver.requests
    payload = json.loads(body)
    assert headers["x-robot-event"] == "outcome" and "x-robot-signature" not in headers  # no secret configured
    assert payload["warning"]["id"] == "W" and payload["warning"]["outcome"] == "dissuaded"
    assert payload["attempts"][0]["transcript"][0]["text"] == "好的，我不转账了"


async def _new(h):
    from robot.dialer.intake import validate_warning

    return validate_warning(
        {"id": "W-hook", "phone": "13800138000", "risk": "high", "received_at": "2026-11-23T09:00:00"}, h.daemon.intake_rules(),
    )


async def test_a_failed_delivery_never_logs_the_urls_credentials(harness, caplog):
    h = await harness(webhooks={"allowed_callback_hosts": ["127.0.0.1"]})
    await h.submit({"id": "W", "phone": "13800138000", "callback_url": "http://robot:hunter2@127.0.0.1:9/hook?token=t0k3n"})
    [job] = await h.tick()
    await h.end(job, "dissuaded")
    with caplog.at_level("WARNING"):
        await h.daemon.deliverer.deliver_due()
    [delivery] = await h.store.due_deliveries(h.clock.now() + 3600, 10)
    assert delivery.tries == 1 and "ConnectError" in delivery.last_error
    assert "http://127.0.0.1:9/hook failed" in caplog.text
    for secret in ("hunter2", "t0k3n", "robot:"):
        assert secret not in caplog.text and secret not in delivery.last_error


async def test_a_stored_callback_url_whose_host_is_no_longer_allowed_is_not_called(harness, receiver):
    url = await receiver.start()
    h = await harness(webhooks={"allowed_callback_hosts": ["127.0.0.1"]})
    await h.submit({"id": "W", "phone": "13800138000", "callback_url": url})
    [job] = await h.tick()
    await h.end(job, "dissuaded")
    h.daemon.deliverer.allowed_hosts = frozenset({"hooks.centre.example"})  # the operator narrowed the list since
    await h.daemon.deliverer.deliver_due()
    assert receiver.requests == []
    delivery = await h.store.get_delivery(1)
    assert delivery.status == "failed" and "not in webhooks.allowed_callback_hosts" in delivery.last_error
