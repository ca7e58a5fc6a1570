"""The console over the daemon on virtual time (a fake call pool, a real SQLite file), in
process (ASGI): seeded with a high-risk warning (escalated at intake) and a called one whose
call was escalated, with its transcript, path and a real WAV recording."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path
from typing import Any

import httpx
import pytest

from robot.dialer.api import create_app
from tests.console.people import person_token
from tests.dialer import conftest as dialer

harness = dialer.harness  # the daemon on virtual time, as the dialer tests have it
shipped_scripts = dialer.shipped_scripts

INTAKE_TOKEN = "intake-token-for-tests"
HIGH = {"id": "W-high", "phone": "020-88886666", "name": "李华", "risk": "high", "fraud_type": "investment",
        "received_at": "2026-11-23T09:00:00+08:00"}
CALLED = {"id": "W-call", "phone": "13800138000", "name": "王芳", "risk": "medium", "fraud_type": "impersonate_police",
          "received_at": "2026-11-23T09:05:00+08:00"}
TRANSCRIPT = [
    {"speaker": "robot", "text": "您好，这里是公安反诈中心。", "at_seconds": 0.5},
    {"speaker": "callee", "text": "嗯", "input": "speech", "at_seconds": 1.2, "backchannel": True},
    {"speaker": "callee", "text": "我刚把钱转到安全账户了", "input": "speech", "at_seconds": 6.0},
]
PATH = ["greet", "ask_transfer", "urgent_handoff"]


def write_tone(path: Path, seconds: float = 3.0, rate: int = 8000) -> Path:
    """A real WAV file: a 440 Hz tone (what a browser's audio element can play)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate)))
                                 for n in range(int(seconds * rate))))
    return path


class Seeded:
    def __init__(self, h: Any, client: httpx.AsyncClient, tokens: dict[str, str], attempt_id: int,
                 escalations: dict[str, int]) -> None:
        self.h = h
        self.client = client
        self.tokens = tokens
        self.attempt_id = attempt_id
        self.escalations = escalations


async def seed(h: Any, tmp_path: Path) -> tuple[int, dict[str, int]]:
    await h.daemon.submit([HIGH])
    await h.submit(CALLED)
    [job] = await h.tick()
    recording = write_tone(tmp_path / f"attempt-{job.attempt_id}.wav")
    await h.end(job, "escalated", transcript=TRANSCRIPT, recording=str(recording), path=PATH,
                escalation={"reason": "urgent_speech", "phrase": "安全账户", "mode": "ticket"})
    escalations = {entry.warning_external_id: entry.id for entry in await h.store.escalation_queue()}
    return job.attempt_id, escalations


@pytest.fixture
async def console(harness, tmp_path):
    h = await harness(calls_per_second=100)
    h.daemon.started = True
    attempt_id, escalations = await seed(h, tmp_path)
    tokens = {"intake": INTAKE_TOKEN}
    for name, role in (("li.officer", "officer"), ("zhao.supervisor", "supervisor"), ("wu.admin", "admin")):
        tokens[role] = await person_token(h.store, name, role)
    transport = httpx.ASGITransport(app=create_app(h.daemon, INTAKE_TOKEN))
    async with httpx.AsyncClient(transport=transport, base_url="http://robot", follow_redirects=False) as client:
        yield Seeded(h, client, tokens, attempt_id, escalations)
