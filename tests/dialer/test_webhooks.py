"""Signed webhook deliveries and retries, against a local HTTP receiver on a real socket."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import pytest

from robot.clock import VirtualClock
from robot.dialer.outbox import compose_deliveries
from robot.escalation.webhook import Deliverer, Envelope, sign, verify
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


def deliverer_for(h, clock, *, url: str, **settings):  # type: ignore[no-untyped-def]
    """The daemon's own composition (public JSON, routes), with this escalation URL (and no outcomes)."""
    escalations = compose_deliveries(h.store, h.daemon.config.webhooks.model_copy(update={"escalation_url": url}), h.daemon.config.zone)

    async def compose(delivery):  # type: ignore[no-untyped-def]
        return await escalations(delivery) if delivery.kind == "escalation" else Envelope(None, {})

    return Deliverer(h.store, clock, compose=compose, **({"secret": None, "retry_delays_seconds": [5], "timeout_seconds": 5} | settings))


async def deliver(deliverer) -> int:  # type: ignore[no-untyped-def]
    started = await deliverer.deliver_due()
    await deliverer.wait_idle()
    return started


async def test_escalations_are_stored_first_then_delivered_signed_with_retries(harness, receiver):
    url = await receiver.start()
    receiver.statuses = [500, 503]
    h = await harness()
    clock = VirtualClock(local(10))
    deliverer = deliverer_for(h, clock, url=url, secret=SECRET, retry_delays_seconds=[5, 30])
    accepted = await h.store.accept_warning((await _new(h)), clock.now(), escalate="high_risk")
    queued = (await h.store.due_deliveries(clock.now(), 10))[0]
    assert queued.status == "pending"  # stored before any try
    assert await deliver(deliverer) == 1
    assert (await h.store.get_delivery(queued.id)).last_error == "HTTP 500"
    clock.advance(4)
    assert await deliver(deliverer) == 0  # back-off: not yet
    clock.advance(1)
    assert await deliver(deliverer) == 1  # second try: 503
    clock.advance(30)
    assert await deliver(deliverer) == 1  # third try: 200
    done = await h.store.get_delivery(queued.id)
    assert (done.status, done.tries) == ("delivered", 3)
    assert len(receiver.requests) == 3
    bodies = {body for _, body in receiver.requests}
    assert len(bodies) == 1  # every retry sends the same bytes
    headers, body = receiver.requests[-1]
    assert verify(SECRET, headers["x-robot-timestamp"], body, headers["x-robot-signature"])
    assert headers["x-robot-delivery"] == str(queued.id) and headers["x-robot-event"] == "escalation"
    payload = json.loads(body)
    assert payload["escalation"]["reason"] == "high_risk" and payload["escalation"]["warning_id"] == accepted.warning.external_id
    assert payload["warning"]["id"] == accepted.warning.external_id and payload["warning"]["status"] == "done"
    await deliverer.close()


async def test_a_delivery_is_never_given_up_its_back_off_is_capped(harness):
    """It used to be given up for good after the schedule (about 1 h 51 min by default)."""
    h = await harness()
    clock = VirtualClock(local(10))
    deliverer = deliverer_for(h, clock, url="http://127.0.0.1:9/closed", retry_delays_seconds=[1, 10], timeout_seconds=2)
    await h.store.accept_warning(await _new(h), clock.now(), escalate="high_risk")
    waits = []
    for _ in range(5):
        assert await deliver(deliverer) == 1
        delivery = await h.store.get_delivery(1)
        waits.append(delivery.next_try_at - clock.now())
        clock.advance(delivery.next_try_at - clock.now())
    assert delivery.status == "pending" and delivery.tries == 5 and "ConnectError" in delivery.last_error
    assert waits == [1, 10, 10, 10, 10]  # the schedule, then its last delay again and again
    await deliverer.close()


async def test_the_final_outcome_goes_to_the_warnings_callback_url(harness, receiver):
    url = await receiver.start()
    h = await harness(webhooks={"allowed_callback_hosts": ["127.0.0.1"]})
    await h.submit({"id": "W", "phone": "13800138000", "callback_url": url})
    [job] = await h.tick()
    await h.end(job, "dissuaded", transcript=[{"speaker": "callee", "text": "好的，我不转账了", "at_seconds": 30.1}])
    await deliver(h.daemon.deliverer)
    [(headers, body)] = receiver.requests
    payload = json.loads(body)
    assert headers["x-robot-event"] == "outcome" and "x-robot-signature" not in headers  # no secret configured
    assert payload["type"] == "outcome"
    assert payload["warning"] == await h.warning("W")  # the same JSON as GET /v1/warnings/W
    assert payload["warning"]["outcome"] == "dissuaded"
    assert payload["warning"]["attempts"][0]["transcript"][0]["text"] == "好的，我不转账了"


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
        await deliver(h.daemon.deliverer)
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
    await deliver(h.daemon.deliverer)
    assert receiver.requests == []
    delivery = await h.store.get_delivery(1)
    assert delivery.status == "failed" and "not in webhooks.allowed_callback_hosts" in delivery.last_error


@dataclass
class HangingReceiver(Receiver):
    """Takes requests and answers none until `release` is set: a callback host that hangs."""

    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head.decode().split("\r\n")[1:] if line)}
        body = await reader.readexactly(int(headers.get("content-length", 0)))
        self.requests.append((headers, body))
        await self.release.wait()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()


async def until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_slow_callback_host_holds_up_neither_escalations_nor_other_hosts(harness):
    """Deliveries went one at a time with a 10 s timeout: six slow callbacks delayed the
    escalation webhooks by up to 49 s."""
    slow, other, officers = HangingReceiver(statuses=[]), Receiver(statuses=[]), Receiver(statuses=[])
    slow_url, other_url, officers_url = await slow.start(), await other.start(), await officers.start()
    try:
        h = await harness(slots=8, calls_per_second=100, webhooks={
            "escalation_url": officers_url, "allowed_callback_hosts": ["127.0.0.1"], "timeout_seconds": 60})
        await h.submit(*({"id": f"S{n}", "phone": f"1380013{n:04d}", "callback_url": slow_url} for n in range(6)),
                       {"id": "O", "phone": "13800139999", "callback_url": other_url})
        for job in await h.tick():
            await h.end(job, "dissuaded")
        deliverer = h.daemon.deliverer
        assert await deliverer.deliver_due() == 5  # at most 4 at once to one host; the other host's at once too
        await until(lambda: len(slow.requests) == 4 and len(other.requests) == 1, "the first deliveries")
        # Now a busy line: an escalation, while the slow host still hangs.
        await h.submit({"id": "B", "phone": "13800138888"})
        [job] = await h.tick()
        await h.end(job, "busy", sip_status=486)
        assert await deliverer.deliver_due() == 1
        await until(lambda: len(officers.requests) == 1, "the escalation")
        assert json.loads(officers.requests[0][1])["escalation"]["reason"] == "unanswered_busy"
        assert len(slow.requests) == 4  # still hanging, and still only four of them
        slow.release.set()
        await deliverer.wait_idle()
        assert await deliver(deliverer) == 2
        assert len(slow.requests) == 6
    finally:
        slow.release.set()
        for server in (slow, other, officers):
            if server.server is not None:
                server.server.close()


async def test_a_high_risk_warning_gets_its_outcome_delivered(harness, receiver):
    """High-risk warnings reached their final state at intake and none got an outcome delivery."""
    url = await receiver.start()
    h = await harness(webhooks={"outcome_url": url})
    await h.submit({"id": "H", "phone": "13800138000", "risk": "high"})
    assert await deliver(h.daemon.deliverer) == 1  # the escalation has no URL configured: skipped
    [(headers, body)] = receiver.requests
    payload = json.loads(body)
    assert headers["x-robot-event"] == "outcome" and payload["warning"]["id"] == "H"
    assert (payload["warning"]["status"], payload["warning"]["outcome"]) == ("done", "escalated")
    assert payload["warning"]["escalation"]["reason"] == "high_risk"
    [escalation] = await h.store.deliveries(kind="escalation")  # type: ignore[arg-type]
    assert escalation.status == "skipped" and "no URL" in escalation.last_error


async def test_the_backlog_and_its_oldest_age_are_in_metrics_and_healthz(harness):
    h = await harness(webhooks={"escalation_url": "http://127.0.0.1:9/closed"})
    h.daemon.started = True
    await h.submit({"id": "H", "phone": "13800138000", "risk": "high"})
    await deliver(h.daemon.deliverer)
    h.clock.advance(90)
    await h.daemon.refresh_gauges()
    health = h.daemon.health()
    assert (health.deliveries.backlog, health.deliveries.oldest_undelivered_seconds) == (1, 90.0)
    metrics = h.daemon.metrics_text().decode()
    assert "robot_delivery_backlog 1.0" in metrics and "robot_delivery_oldest_undelivered_seconds 90.0" in metrics


def test_robot_deliveries_lists_and_requeues(tmp_path):
    import asyncio as aio
    import subprocess
    import sys

    from robot.store import SqliteRepository
    from tests.conftest import REPO
    from tests.store.test_sqlite import NOW, warning

    config = tmp_path / "robot.yaml"
    config.write_text(f"database: '{tmp_path / 'robot.db'}'\n")

    async def prepare() -> int:
        store = SqliteRepository(tmp_path / "robot.db")
        await store.open()
        await store.accept_warning(warning("W-1"), NOW, escalate="high_risk")
        [delivery, _outcome] = await store.due_deliveries(NOW, 10)
        await store.delivery_prepared(delivery.id, "https://robot:pw@hooks.centre.example/esc?token=t", "{}")
        await store.delivery_failed(delivery.id, "host not in webhooks.allowed_callback_hosts; not sent", None, NOW)
        await store.close()
        return delivery.id

    delivery_id = aio.run(prepare())

    def robot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "robot.cli", "deliveries", *args, "--config", str(config)],
                              capture_output=True, text=True, cwd=REPO, timeout=60)

    listed = robot("list", "--status", "failed")
    assert listed.returncode == 0, listed.stderr
    [line] = listed.stdout.splitlines()
    assert line.startswith(f"{delivery_id}\tescalation\tfailed\t1 tries\t") and "https://hooks.centre.example/esc" in line
    assert "pw" not in line and "token" not in line  # never a URL's credentials or query
    assert "2 delivery(ies) not delivered yet" in listed.stderr
    retried = robot("retry", str(delivery_id), "999")
    assert retried.returncode == 1 and f"1 delivery(ies) requeued: {delivery_id}" in retried.stderr and "999" in retried.stderr
    assert robot("list", "--status", "failed").stdout == ""
    pending = json.loads(robot("list", "--kind", "escalation", "--json").stdout)
    assert (pending["status"], pending["tries"]) == ("pending", 0)
