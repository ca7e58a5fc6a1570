"""Real peers for the Kamailio edge tests: deploy/kamailio/kamailio.cfg run by Kamailio as a
foreground process, and SIPp trunks and officers' queues on their own loopback addresses.
Every wait is on a condition (a port bound, the control socket answering, a state reached)."""

from __future__ import annotations

import asyncio
import errno
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import REPO
from tests.sip.conftest import SCENARIOS

EDGE_CONFIG = REPO / "deploy" / "kamailio" / "kamailio.cfg"
START_TIMEOUT_SECONDS = 15.0


def free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def udp_bound(address: str, port: int) -> bool:
    """Whether some process has bound `address:port` (our bind fails with EADDRINUSE)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((address, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def wait_until(condition: Callable[[], bool], what: str, timeout_seconds: float = START_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


async def eventually(condition: Callable[[], bool], what: str, timeout_seconds: float = 30.0) -> None:
    """The async `wait_until`, for tests whose event loop also runs a call worker."""
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


class SippPeer:
    """A SIPp UAS (a trunk, the officers' queue) on `address:port`, serving every call and
    OPTIONS probe until stopped; its messages are logged by SIPp as they pass."""

    def __init__(self, scenario: str, workdir: Path, address: str, port: int | None = None,
                 utterance: Path | None = None) -> None:
        binary = shutil.which("sipp")
        assert binary, "SIPp (Debian sip-tester) is required: `make test` installs it"
        self.address, self.port, self.workdir = address, port or free_port(address), workdir
        workdir.mkdir(parents=True, exist_ok=True)
        if utterance is not None:
            shutil.copy(utterance, workdir / "utterance.wav")
        self.process = subprocess.Popen(
            [binary, "-sf", str(SCENARIOS / f"{scenario}.xml"), "-i", address, "-p", str(self.port),
             "-mp", str(free_port(address) & ~1), "-nostdin", "-trace_msg", "-trace_err"],
            cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(lambda: udp_bound(address, self.port) or self.process.poll() is not None, f"SIPp on {address}:{self.port}")
            assert self.process.poll() is None, f"SIPp {scenario} on {address}:{self.port} exited: {self.errors()}"
        except BaseException:
            self.stop()
            raise

    @property
    def uri(self) -> str:
        return f"sip:{self.address}:{self.port}"

    def messages(self) -> list[str]:
        """Every SIP message SIPp received, in order."""
        text = "".join(path.read_text(errors="replace") for path in sorted(self.workdir.glob("*_messages.log")))
        blocks = re.split(r"-{20,} [^\n]*\n", text)
        return [block.split(":\n", 1)[1].strip() for block in blocks if block.startswith("UDP message received")]

    def requests(self, method: str) -> list[str]:
        return [message for message in self.messages() if message.startswith(f"{method} ")]

    def errors(self) -> str:
        return "".join(path.read_text(errors="replace") for path in self.workdir.glob("*_errors.log"))[-2000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def headers(message: str, name: str) -> list[str]:
    """The values of every `name:` header of a message, top first."""
    head = message.split("\n\n", 1)[0]
    return [line.split(":", 1)[1].strip() for line in head.splitlines() if line.lower().startswith(f"{name.lower()}:")]


class Edge:
    """Kamailio with the shipped config (copied unchanged into a temporary folder), its settings
    given as `-A NAME=value` defines: listening on `address:port` for the nodes in `nodes`."""

    def __init__(self, workdir: Path, address: str, port: int, nodes: str, destinations: list[str],
                 **settings: int) -> None:
        binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.control_dir = Path(tempfile.mkdtemp(prefix="edge-"))  # a unix socket path must be short
        self.control = f"unix:{self.control_dir / 'ctl'}"
        config = workdir / "kamailio.cfg"
        shutil.copy(EDGE_CONFIG, config)
        (workdir / "dispatcher.list").write_text("\n".join(destinations) + "\n")
        defines = {
            "LISTEN": f"udp:{address}:{port}",
            "ROBOT_NODES": f'"{nodes}"',
            "DISPATCHER_LIST": f'"{workdir / "dispatcher.list"}"',
            "CTL_SOCKET": f'"{self.control}"',
            "CHILDREN": 2,
            **settings,
        }
        self.log_path = workdir / "kamailio.log"
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [binary, "-f", str(config), "-DD", "-E", "-Y", str(workdir), "-w", str(workdir),
                 *(argument for name, value in defines.items() for argument in ("-A", f"{name}={value}"))],
                stdout=log, stderr=subprocess.STDOUT,
            )
        try:
            wait_until(lambda: self.process.poll() is not None or self._answers(), "Kamailio's control socket")
            assert self.process.poll() is None, f"Kamailio did not start:\n{self.log()}"
        except BaseException:
            self.stop()
            raise

    def _answers(self) -> bool:
        return subprocess.run(["kamcmd", "-s", self.control, "core.version"], capture_output=True).returncode == 0

    def rpc(self, *command: str) -> str:
        done = subprocess.run(["kamcmd", "-s", self.control, *command], capture_output=True, text=True, timeout=10)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def dispatcher_flags(self) -> dict[str, str]:
        """Each destination's FLAGS from `dispatcher.list`: A active, I inactive, T trying, then P
        if it is being probed with OPTIONS (X if not yet)."""
        return dict(re.findall(r"URI: (\S+)\s+FLAGS: (\w+)", self.rpc("dispatcher.list")))

    def dispatcher_states(self) -> dict[str, str]:
        """A (active), I (inactive) or T (trying) for each destination."""
        return {uri: flags[0] for uri, flags in self.dispatcher_flags().items()}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.control_dir, ignore_errors=True)
