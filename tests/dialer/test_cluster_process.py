"""The cluster for real: two `robot run` nodes (their own node_id, API port and call workers)
on one PostgreSQL, sending their calls through one Kamailio (deploy/kamailio/kamailio.cfg) to
a SIPp carrier. 100 warnings are posted to node A; node A is killed with kill -9 while calls
are up; every warning still reaches its final outcome, through node B; no number is ever
dialled twice at the same time; the cluster's rate is never exceeded.

What the carrier saw is the evidence: SIPp logs every INVITE and BYE it received with its time,
so overlapping calls to one number, or INVITEs faster than the rate, show up there whatever
the robot's own records say. Loopback addresses stand for the machines: the nodes 127.0.0.1,
Kamailio 127.0.0.2, the carrier 127.0.0.3."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from robot.speech.audio import TELEPHONE_RATE, silence, write_ulaw_wav
from tests.conftest import REPO
from tests.sip.edge import Edge, SippPeer, free_port, headers

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

TOKEN = "cluster-test-token"
NODE, EDGE, CARRIER = "127.0.0.1", "127.0.0.2", "127.0.0.3"
RATE = 4.0  # calls_per_second, for the cluster
WARNINGS = 100
SHORT_SCRIPT = """\
meta: {id: short, version: 1, language: en-US, voice: en_US-joe-medium, fraud_types: [generic]}
start: hello
states:
  hello:
    say: This is the anti-fraud centre. Goodbye.
    hangup: dissuaded
"""


class Node:
    def __init__(self, workdir: Path, name: str, database: str, edge_port: int) -> None:
        self.name, self.workdir = name, workdir
        workdir.mkdir(parents=True)
        dialogs = workdir / "dialogs"
        dialogs.mkdir()
        (dialogs / "short.yaml").write_text(SHORT_SCRIPT)
        (workdir / "sip.yaml").write_text(
            f"transport: {{bind_address: {NODE}, public_address: {NODE}, port: 0, rtp_port_start: 0, allowed_peers: [{EDGE}]}}\n"
            f"outbound_proxy: 'sip:{EDGE}:{edge_port};lr'\ndial_template: 'sip:{{phone}}@{EDGE}:{edge_port}'\n"
            "ring_timeout_seconds: 10\nmax_call_seconds: 20\nhello_listen_seconds: 0.2\n"
        )
        self.port = free_port(NODE)
        config = workdir / "robot.yaml"
        config.write_text(
            f"node_id: {name}\ndatabase: '{database}'\nsip_config: '{workdir / 'sip.yaml'}'\n"
            f"results_journal_file: '{workdir / 'results.jsonl'}'\n"
            f"dialogs_dir: '{dialogs}'\nlanguage: en-US\n"
            f"api: {{port: {self.port}, token: {{env: ROBOT_API_TOKEN}}}}\n"
            "workers: {processes: 2, calls_per_process: 4, drain_seconds: 5, restart_delay_seconds: 0.5}\n"
            f"calls_per_second: {RATE}\ncalling_windows: {{low: null, medium: null}}\n"
            "lease_margin_seconds: 10\n"  # a lease: 20 s of call + 10 s of ringing + 10 s
            "max_attempts_per_number_per_day: 20\n"
        )
        self.log = workdir / "robot.log"
        env = {**os.environ, "ROBOT_API_TOKEN": TOKEN, "ROBOT_CACHE_DIR": str(workdir / "prompts"), "PYTHONPATH": str(REPO)}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "robot.cli", "run", "--config", str(config)],
                                            cwd=REPO, env=env, stdout=log, stderr=log)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", headers={"Authorization": f"Bearer {TOKEN}"},
                                   timeout=10)

    def healthy(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
        try:
            return self.client.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    def health(self) -> dict[str, Any]:
        return self.client.get("/healthz").json()

    def warning(self, warning_id: str) -> dict[str, Any]:
        response = self.client.get(f"/v1/warnings/{warning_id}")
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.client.close()


def wait_for(condition: Any, seconds: float, what: str) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def carrier_log(peer: SippPeer) -> list[tuple[float, str]]:
    """(time received, message) of every SIP message the carrier received, in order."""
    text = "".join(path.read_text(errors="replace") for path in sorted(peer.workdir.glob("*_messages.log")))
    parts = re.split(r"-{20,} ([^\n]*)\n", text)
    found = []
    for stamp, block in zip(parts[1::2], parts[2::2], strict=True):
        if not block.startswith("UDP message received"):
            continue
        # SIPp writes the local time: "2026-12-01 03:13:31.981690"
        at = dt.datetime.strptime(stamp.strip(), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        found.append((at, block.split(":\n", 1)[1].strip()))
    return found


def calls_at_the_carrier(peer: SippPeer) -> dict[str, dict[str, Any]]:
    """Each call by Call-ID: its number, when its first INVITE and its BYE arrived."""
    calls: dict[str, dict[str, Any]] = {}
    for at, message in carrier_log(peer):
        [call_id] = headers(message, "Call-ID") or headers(message, "i")
        if message.startswith("INVITE "):
            number = message.split()[1].removeprefix("sip:").split("@")[0]
            calls.setdefault(call_id, {"number": number, "invite": at, "bye": None})
        elif message.startswith("BYE ") and call_id in calls:
            calls[call_id]["bye"] = calls[call_id]["bye"] or at
    return calls


@pytest.fixture
def running(tmp_path):
    started: list[Any] = []
    yield started
    for thing in reversed(started):
        thing.stop()


def test_two_nodes_one_killed_every_warning_finished_no_number_twice_at_once_and_the_rate_held(
    tmp_path, postgres_url, running
):
    write_ulaw_wav(tmp_path / "quiet.wav", silence(3.0, TELEPHONE_RATE))  # what each callee says: nothing
    carrier = SippPeer("trunk_answers", tmp_path / "carrier", CARRIER, utterance=tmp_path / "quiet.wav")
    running.append(carrier)
    edge_port = free_port(EDGE)
    running.append(Edge(tmp_path / "kamailio", EDGE, edge_port, f"{NODE}/32", [f"1 {carrier.uri}"]))
    a = Node(tmp_path / "node-a", "node-a", postgres_url, edge_port)
    running.append(a)
    b = Node(tmp_path / "node-b", "node-b", postgres_url, edge_port)
    running.append(b)
    wait_for(lambda: a.healthy() and b.healthy(), 240, "both nodes healthy")
    wait_for(lambda: len(a.health()["nodes"]) == 2, 20, "node A to see both nodes")
    assert a.health()["store_name"].startswith("postgresql://robot@127.0.0.1:")

    ids = [f"C-{n}" for n in range(WARNINGS)]
    batch = [{"id": i, "phone": f"1380013{n:04d}", "risk": "medium", "received_at": "2026-11-23T09:00:00"}
             for n, i in enumerate(ids)]
    assert a.client.post("/v1/warnings", json=batch).status_code == 201

    # Kill node A while it has calls up (and a good part of the work is still queued).
    def a_has_calls_up() -> bool:
        return a.health()["active_calls"] >= 2 and sum(1 for _ in calls_at_the_carrier(carrier)) >= 20

    wait_for(a_has_calls_up, 120, "node A with calls up")
    a.process.send_signal(signal.SIGKILL)
    a.process.wait()
    killed_at = time.time()

    def finished() -> list[str]:
        return [i for i in ids if b.warning(i)["status"] != "done"]

    wait_for(lambda: not finished(), 300, f"every warning finished through node B (left: {finished()[:5]}...)")
    views = {i: b.warning(i) for i in ids}
    assert {v["outcome"] for v in views.values()} == {"dissuaded"}
    interrupted = [i for i, v in views.items() if any(x["outcome"] == "interrupted" for x in v["attempts"])]
    assert interrupted, "node A had calls in flight when it was killed"
    for i in interrupted:  # A's calls were dialled again, by node B, after A's lease expired
        view = views[i]
        assert view["attempts"][-1]["outcome"] == "dissuaded"
    assert "re-queued" in b.log.read_text() and "attempt(s) whose lease expired" in b.log.read_text()

    calls = calls_at_the_carrier(carrier)
    # No number dialled twice at the same time: each number's calls, at the carrier, one after another.
    by_number: dict[str, list[dict[str, Any]]] = {}
    for call in calls.values():
        by_number.setdefault(call["number"], []).append(call)
    assert len(by_number) == WARNINGS
    for number, seen in by_number.items():
        seen.sort(key=lambda c: c["invite"])
        for earlier, later in zip(seen, seen[1:], strict=False):
            assert earlier["bye"] is not None and earlier["bye"] <= later["invite"], (number, seen)
    redialled = [n for n, seen in by_number.items() if len(seen) > 1]
    assert redialled and all(seen[-1]["invite"] > killed_at for n, seen in by_number.items() if len(seen) > 1)

    # The rate: a token bucket of RATE a second (burst 1) allows 1 + RATE * T in any T seconds;
    # one more for INVITEs that left together but arrived apart.
    invites = sorted(call["invite"] for call in calls.values())
    window_seconds = 2.0
    busiest = max(sum(1 for t in invites if start <= t < start + window_seconds) for start in invites)
    assert busiest <= 1 + RATE * window_seconds + 1, busiest
