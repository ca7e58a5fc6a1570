"""Real SIP peers on loopback: SIPp (Debian's sip-tester) plays the callee."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from robot.config import SpeechSettings
from robot.sip.config import LOOPBACK_DEFAULT, CallerId, SipConfig
from robot.sip.worker import CallWorker
from robot.speech.kit import SpeechKit
from tests.conftest import REPO

SCENARIOS = Path(__file__).parent / "scenarios"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def udp_port_bound(port: int) -> bool:
    """Whether some process has a UDP socket on this local port (read from /proc, so the
    check never takes the port itself)."""
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        if any(int(line.split()[1].rsplit(":", 1)[1], 16) == port for line in lines):
            return True
    return False


def wait_for_udp_port(port: int, process: subprocess.Popen[Any], what: str, timeout_seconds: float = 30) -> None:
    """Until `process` listens on `port`: a peer is ready when its socket is, not after a guess."""
    deadline = time.monotonic() + timeout_seconds
    while not udp_port_bound(port):
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode} before listening on port {port}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not listen on UDP port {port} within {timeout_seconds:g} s")
        time.sleep(0.01)


async def until(condition: Any, timeout_seconds: float = 30, what: str = "the condition") -> None:
    """Wait until `condition()` is true (checked every 10 ms), or fail the test."""
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


SIPP_CANNOT_BIND = 254
"""SIPp's exit status when a port it was given is taken."""


class Sipp:
    """One SIPp callee, serving one call on a free loopback port."""

    def __init__(self, scenario: str, workdir: Path, extra: tuple[str, ...] = ()) -> None:
        binary = shutil.which("sipp")
        assert binary, "SIPp (Debian sip-tester) is required: `make test` installs it"
        self.workdir = workdir
        for attempt in range(5):
            self.port = free_udp_port()
            # A free port rounded down to even could be the RTCP or stream port of a peer
            # already running (another SIPp's media port + 1): SIPp then exits 254, its
            # "cannot bind" status, before listening. Pick fresh ports and start it again.
            self.media_port = free_udp_port() & ~1
            self.process = subprocess.Popen(
                [binary, "-sf", str(SCENARIOS / f"{scenario}.xml"), "-i", "127.0.0.1", "-p", str(self.port),
                 "-mp", str(self.media_port), "-m", "1", "-nostdin", "-trace_err", "-trace_msg", *extra],
                cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            try:
                wait_for_udp_port(self.port, self.process, f"SIPp ({scenario})")
                return
            except AssertionError:
                if self.process.poll() != SIPP_CANNOT_BIND or attempt == 4:
                    raise

    @property
    def uri(self) -> str:
        return f"sip:13800138000@127.0.0.1:{self.port}"

    def finish(self, timeout: float = 15) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return -1

    def messages(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.workdir.glob("*_messages.log"))


@pytest.fixture
def sipp(tmp_path) -> Iterator:
    started: list[Sipp] = []

    def start(scenario: str, utterance: Path | None = None, *extra: str) -> Sipp:
        workdir = tmp_path / f"sipp{len(started)}"
        workdir.mkdir()
        if utterance is not None:
            shutil.copy(utterance, workdir / "utterance.wav")
        peer = Sipp(scenario, workdir, extra)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        if peer.process.poll() is None:
            peer.process.kill()


@pytest.fixture(scope="session")
def speech_kit(tmp_path_factory) -> Iterator[SpeechKit]:
    settings = SpeechSettings(
        catalog_dir=REPO / "voices",
        models_dir=tmp_path_factory.mktemp("models"),
        cache_dir=tmp_path_factory.mktemp("prompts"),
    )
    kit = SpeechKit(settings, deterministic_voices=True)
    yield kit
    kit.close()


def loopback_config(**changes) -> SipConfig:  # type: ignore[no-untyped-def]
    changes = {"ring_timeout_seconds": 3.0, "hello_listen_seconds": 0.5, "max_call_seconds": 60.0, **changes}
    return LOOPBACK_DEFAULT.model_copy(update=changes)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def worker(speech_kit, tmp_path_factory):
    config = loopback_config(
        recordings_dir=tmp_path_factory.mktemp("recordings"),
        caller_id=CallerId(display_name="Anti-Fraud Centre", user="96110", p_asserted_identity="<sip:96110@127.0.0.1>"),
    )
    async with CallWorker(config, speech_kit, languages=("en-US",)) as running:
        yield running


class SimulatedCallee:
    """A pjsua2 callee or officer (`robot.sip.simulated_callee`) in its own process."""

    def __init__(self, process: asyncio.subprocess.Process, port: int, tls: bool) -> None:
        self.process = process
        self.port = port
        self.tls = tls

    @classmethod
    async def start(
        cls, persona: dict[str, Any], workdir: Path, *, tls: tuple[Path, Path] | None = None, codec: str | None = None
    ) -> SimulatedCallee:
        port = free_udp_port()
        write_persona(workdir, persona)
        command = [sys.executable, "-m", "robot.sip.simulated_callee", "--port", str(port),
                   "--persona", str(workdir / "persona.json"), "--timeout", "150"]
        if tls:
            command += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
        if codec:
            command += ["--codec", codec]
        process = await asyncio.create_subprocess_exec(
            *command, cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        assert process.stdout is not None
        line = (await process.stdout.readline()).decode()
        while line and not line.startswith("{"):  # pjlib logs a few lines during libCreate
            line = (await process.stdout.readline()).decode()
        assert line and json.loads(line)["event"] == "ready", "the simulated callee did not start"
        return cls(process, port, bool(tls))

    @property
    def uri(self) -> str:
        return f"sip:callee@127.0.0.1:{self.port}" + (";transport=tls" if self.tls else "")

    async def finish(self, timeout_seconds: float = 60) -> list[dict[str, Any]]:
        """Its events, ending with "done"; fails the test if it crashed."""
        try:
            raw_out, raw_err = await asyncio.wait_for(self.process.communicate(), timeout_seconds)
        finally:
            await self.kill()
        assert self.process.returncode == 0, raw_err.decode()[-2000:]
        events = [json.loads(line) for line in raw_out.decode().splitlines() if line.startswith("{")]
        assert events and events[-1]["event"] == "done", events
        return events

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


def write_persona(workdir: Path, persona: dict[str, Any]) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "persona.json").write_text(json.dumps(persona))


def make_certificate(directory: Path, subject: str, *extra: str) -> tuple[Path, Path]:
    """A throwaway self-signed certificate and its key (PEM)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", str(key), "-out", str(cert),
         "-subj", subject, *extra],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.fixture
def self_signed_certificate(tmp_path) -> tuple[Path, Path]:
    """For 127.0.0.1."""
    return make_certificate(tmp_path / "tls", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")


@pytest.fixture
def unrelated_certificate(tmp_path) -> tuple[Path, Path]:
    return make_certificate(tmp_path / "other", "/CN=someone else")
