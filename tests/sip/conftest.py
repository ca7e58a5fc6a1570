"""Real SIP peers on loopback: SIPp (Debian's sip-tester) plays the callee."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

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


class Sipp:
    """One SIPp callee, serving one call on a free loopback port."""

    def __init__(self, scenario: str, workdir: Path) -> None:
        binary = shutil.which("sipp")
        assert binary, "SIPp (Debian sip-tester) is required: `make test` installs it"
        self.port = free_udp_port()
        self.media_port = free_udp_port() & ~1
        self.workdir = workdir
        self.process = subprocess.Popen(
            [binary, "-sf", str(SCENARIOS / f"{scenario}.xml"), "-i", "127.0.0.1", "-p", str(self.port),
             "-mp", str(self.media_port), "-m", "1", "-nostdin", "-trace_err", "-trace_msg"],
            cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(0.3)

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

    def start(scenario: str, utterance: Path | None = None) -> Sipp:
        workdir = tmp_path / f"sipp{len(started)}"
        workdir.mkdir()
        if utterance is not None:
            shutil.copy(utterance, workdir / "utterance.wav")
        peer = Sipp(scenario, workdir)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        if peer.process.poll() is None:
            peer.process.kill()


@pytest.fixture(scope="session")
def speech_kit(tmp_path_factory) -> SpeechKit:
    settings = SpeechSettings(
        catalog_dir=REPO / "voices",
        models_dir=tmp_path_factory.mktemp("models"),
        cache_dir=tmp_path_factory.mktemp("prompts"),
    )
    return SpeechKit(settings, deterministic_voices=True)


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
