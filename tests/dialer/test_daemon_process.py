"""`robot run` as a real process, with real call workers, SIPp and a real SQLite file:
kill -9 durability, a dying worker, SIGHUP reload and SIGTERM drain."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import DIALOGS, REPO
from tests.sip.conftest import SCENARIOS, free_udp_port, make_certificate, wait_for_udp_port

pytestmark = pytest.mark.slow  # real processes (see pyproject: markers)

TOKEN = "process-test-token"


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RobotProcess:
    def __init__(
        self, workdir: Path, sipp_port: int, *, ring_timeout_seconds: float = 30, drain_seconds: float = 5,
        tls: tuple[Path, Path] | None = None, extra_config: str = "",
    ) -> None:
        self.workdir = workdir
        self.port = free_tcp_port()
        self.dialogs = workdir / "dialogs"
        if not self.dialogs.exists():
            self.dialogs.mkdir()
            shutil.copy(DIALOGS / "en-US" / "generic.yaml", self.dialogs / "generic.yaml")
        (workdir / "sip.yaml").write_text(
            "transport: {bind_address: 127.0.0.1, public_address: 127.0.0.1, port: 0, rtp_port_start: 0}\n"
            f"dial_template: 'sip:{{phone}}@127.0.0.1:{sipp_port}'\n"
            f"ring_timeout_seconds: {ring_timeout_seconds}\nhello_listen_seconds: 0.5\n"
        )
        self.config = workdir / "robot.yaml"
        self.config.write_text(
            f"node_id: node-1\ndatabase: '{workdir / 'robot.db'}'\nsip_config: '{workdir / 'sip.yaml'}'\n"
            f"dialogs_dir: '{self.dialogs}'\nlanguage: en-US\n"
            f"api: {{port: {self.port}, token: {{env: ROBOT_API_TOKEN}}"
            + (f", tls: {{cert_file: '{tls[0]}', key_file: '{tls[1]}'}}" if tls else "") + "}\n"
            f"workers: {{processes: 1, drain_seconds: {drain_seconds}, restart_delay_seconds: 0.5}}\n"
            "calls_per_second: 20\ncalling_windows: {low: null, medium: null}\n"
            "policy: {retry_delays_seconds: {medium: [1, 1], low: [1]}}\n" + extra_config
        )
        self.log = workdir / "robot.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(base_url=f"{'https' if tls else 'http'}://127.0.0.1:{self.port}",
                                   headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10,
                                   verify=ssl.create_default_context(cafile=tls[0]) if tls else True)

    def start(self) -> RobotProcess:
        env = {**os.environ, "ROBOT_API_TOKEN": TOKEN, "ROBOT_CACHE_DIR": str(self.workdir.parent / "prompt-cache")}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "robot.cli", "run", "--config", str(self.config)],
                                            cwd=REPO, env=env, stdout=log, stderr=log)
        self.wait_for(lambda: self._health_ok(), 180, "the daemon to be healthy")
        return self

    def _health_ok(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"robot run exited with {self.process.returncode}:\n{self.log_text()[-3000:]}")
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

    def submit(self, *ids: str) -> None:
        batch = [{"id": i, "phone": f"1380013{n:04d}", "risk": "medium", "received_at": "2026-11-23T09:00:00"}
                 for n, i in enumerate(ids, start=1)]
        assert self.client.post("/v1/warnings", json=batch).status_code == 201

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    @staticmethod
    def wait_for(condition: Any, seconds: float, what: str) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if condition():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.client.close()


@pytest.fixture
def ringing_sipp(tmp_path):
    """A SIPp callee that lets every call ring until it is cancelled (many calls)."""
    port = free_udp_port()
    process = subprocess.Popen(
        [shutil.which("sipp") or "sipp", "-sf", str(SCENARIOS / "ring_no_answer.xml"), "-i", "127.0.0.1", "-p", str(port),
         "-m", "50", "-nostdin", "-mp", str(free_udp_port() & ~1)],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_for_udp_port(port, process, "SIPp")
    yield port
    process.kill()
    process.wait()


@pytest.fixture
def robots():
    started: list[RobotProcess] = []
    yield started
    for robot in started:
        robot.stop()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def test_kill_9_loses_no_warning_and_requeues_calls_in_flight(tmp_path, ringing_sipp, robots):
    robot = RobotProcess(tmp_path, ringing_sipp).start()
    robots.append(robot)
    robot.submit("K1", "K2", "K3")
    robot.wait_for(lambda: all(robot.warning(i)["status"] == "calling" for i in ("K1", "K2", "K3")), 30, "three calls in flight")
    worker_pid = robot.health()["worker_processes"][0]["pid"]
    robot.process.send_signal(signal.SIGKILL)
    robot.process.wait()
    robot.wait_for(lambda: not alive(worker_pid), 20, "the orphaned worker to hang up and exit")

    with sqlite3.connect(tmp_path / "robot.db") as db:
        rows = db.execute("SELECT external_id, status FROM warnings ORDER BY external_id").fetchall()
        in_flight = db.execute("SELECT COUNT(*) FROM attempts WHERE state = 'in_flight'").fetchone()[0]
    assert rows == [("K1", "calling"), ("K2", "calling"), ("K3", "calling")] and in_flight == 3

    restarted = RobotProcess(tmp_path, ringing_sipp).start()
    robots.append(restarted)
    for warning_id in ("K1", "K2", "K3"):
        view = restarted.warning(warning_id)
        assert view["attempts"][0]["outcome"] == "interrupted" and view["attempts"][0]["state"] == "finished"
        assert view["attempts_used"] == 0
    # ... and they are called again.
    restarted.wait_for(lambda: all(len(restarted.warning(i)["attempts"]) == 2 for i in ("K1", "K2", "K3")), 30, "re-dialling")
    assert "closed 3 attempt(s) left in flight by the last run as interrupted" in restarted.log_text()
    assert "13800130001" not in restarted.log_text()  # logs show only the last 4 digits


def test_a_worker_that_dies_is_restarted_and_its_call_requeued(tmp_path, ringing_sipp, robots):
    robot = RobotProcess(tmp_path, ringing_sipp).start()
    robots.append(robot)
    robot.submit("D1")
    robot.wait_for(lambda: robot.warning("D1")["status"] == "calling", 30, "the call")
    [worker] = robot.health()["worker_processes"]
    os.kill(worker["pid"], signal.SIGKILL)
    robot.wait_for(lambda: len(robot.warning("D1")["attempts"]) == 2, 120, "the call to be retried on a new worker")
    first = robot.warning("D1")["attempts"][0]
    assert first["outcome"] == "interrupted"
    [again] = robot.health()["worker_processes"]
    assert again["pid"] != worker["pid"] and again["restarts"] == 1 and again["ready"]
    assert "call worker w1 died with 1 call(s) up" in robot.log_text()


def test_sighup_reloads_scripts_rejects_a_broken_one_and_calls_keep_their_version(tmp_path, ringing_sipp, robots):
    robot = RobotProcess(tmp_path, ringing_sipp, ring_timeout_seconds=3).start()
    robots.append(robot)
    [before] = robot.health()["scripts"]
    assert before.startswith("en-US/generic v1-")
    script = robot.dialogs / "generic.yaml"
    original = script.read_text()

    script.write_text(original.replace("goto: warning", "goto: warnnig", 1))
    robot.process.send_signal(signal.SIGHUP)
    robot.wait_for(lambda: "script reload rejected" in robot.log_text(), 60, "the rejection")
    assert f"{script}:" in robot.log_text() and "warnnig" in robot.log_text()
    assert robot.health()["scripts"] == [before]  # the old version stays

    robot.submit("H1")
    robot.wait_for(lambda: robot.warning("H1")["status"] == "calling", 30, "the first call")
    script.write_text(original.replace("version: 1", "version: 2", 1))
    robot.process.send_signal(signal.SIGHUP)
    robot.wait_for(lambda: robot.health()["scripts"][0].startswith("en-US/generic v2-"), 60, "the new version")
    # The call in progress finishes on the old version; the retry uses the new one.
    robot.wait_for(lambda: len(robot.warning("H1")["attempts"]) == 2, 60, "the retry")
    first, second = robot.warning("H1")["attempts"]
    assert first["script_version"] == before.split()[1] and first["outcome"] == "no_answer"
    assert second["script_version"].startswith("v2-")


def test_sigterm_drains_then_stops(tmp_path, ringing_sipp, robots):
    robot = RobotProcess(tmp_path, ringing_sipp, ring_timeout_seconds=30, drain_seconds=2).start()
    robots.append(robot)
    robot.submit("T1")
    robot.wait_for(lambda: robot.warning("T1")["status"] == "calling", 30, "the call")
    robot.process.send_signal(signal.SIGTERM)
    assert robot.process.wait(60) == 0
    with sqlite3.connect(tmp_path / "robot.db") as db:
        status = db.execute("SELECT status FROM warnings").fetchone()[0]
        outcome = db.execute("SELECT outcome, state FROM attempts").fetchone()
    # The call rings for 30 s; after the 2 s drain deadline it was hung up (not left to ring out,
    # which would have ended it as no_answer), and the warning is back in the queue for the next start.
    assert status == "queued" and outcome == ("interrupted", "finished")
    assert "SIGTERM: draining" in robot.log_text()


def test_https_private_files_and_a_sighup_alias_bomb_refused_while_the_api_answers(tmp_path, ringing_sipp, robots):
    cert, key = make_certificate(tmp_path / "tls", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
    robot = RobotProcess(tmp_path, ringing_sipp, tls=(cert, key)).start()
    robots.append(robot)
    assert robot.client.get("/healthz").status_code == 200  # over HTTPS, verified against our certificate
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{robot.port}/healthz", timeout=5)  # plain HTTP is not served
    robot.submit("P1")
    assert {p.name: p.stat().st_mode & 0o777 for p in tmp_path.glob("robot.db*")} == {
        "robot.db": 0o600, "robot.db-wal": 0o600, "robot.db-shm": 0o600}

    bomb = ["x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    bomb += [f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 8)]
    (robot.dialogs / "bomb.yaml").write_text("\n".join(bomb) + "\n")
    robot.process.send_signal(signal.SIGHUP)
    robot.wait_for(lambda: "script reload rejected" in robot.log_text(), 60, "the rejection")
    assert "bomb.yaml:6:5: this document expands to more than 200000 values" in robot.log_text()
    assert robot.client.get("/healthz").json()["scripts"][0].startswith("en-US/generic v1-")
    robot.process.send_signal(signal.SIGTERM)
    assert robot.process.wait(60) == 0


LOCK_HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
"""


@pytest.fixture
def citizens(tmp_path):
    """Simulated callees by dialled number: ...0001 never answers, ...0002 answers and says nothing."""
    port = free_udp_port()
    personas = tmp_path / "personas.json"
    personas.write_text(json.dumps({"13800130001": {"never_answer": True, "linger_seconds": 120},
                                    "13800130002": {"answer_after_seconds": 0.3, "steps": [], "linger_seconds": 120}}))
    process = subprocess.Popen([sys.executable, "-m", "robot.sip.simulated_callee", "--port", str(port), "--personas",
                                str(personas), "--timeout", "300"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    while line and not line.startswith("{"):
        line = process.stdout.readline()
    assert json.loads(line)["event"] == "ready"
    yield port
    process.kill()
    process.wait()


def test_a_store_locked_by_another_process_costs_no_call_and_the_pool_always_comes_back(tmp_path, citizens, robots):
    """Measured before against robot run: with the write lock held for 20 s, storing a result
    failed, the daemon cut the worker off (its other call ended interrupted) and the result was
    lost, the attempt in flight until a restart; with 35 s the worker was never restarted."""
    robot = RobotProcess(tmp_path, citizens, ring_timeout_seconds=6).start()
    robots.append(robot)
    robot.submit("K1", "K2")  # 13800130001 (never answers) and 13800130002 (answers, silent)
    robot.wait_for(lambda: robot.warning("K1")["status"] == robot.warning("K2")["status"] == "calling", 30, "both calls")
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(tmp_path / "robot.db")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        # K1 rings out (no_answer): its result cannot be stored, and is kept; K2's call goes on.
        robot.wait_for(lambda: robot.health()["results_waiting"] >= 1 and robot.health()["status"] == "store_unavailable", 60,
                       "K1's result to wait for the store")
        health = robot.health()
        [worker] = health["worker_processes"]
        assert "locked" in health["store"] and (worker["restarts"], worker["ready"], worker["calls"]) == (0, True, 1)
        assert health["active_calls"] == 1 and health["results_waiting"] == 1
        refused = robot.client.post("/v1/warnings", json=[{"id": "K3", "phone": "13800130003", "risk": "medium",
                                                           "received_at": "2026-11-23T09:00:00"}])
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
        # A worker that dies while the store is locked is restarted all the same.
        os.kill(worker["pid"], signal.SIGKILL)
        robot.wait_for(lambda: robot.health()["worker_processes"][0]["restarts"] == 1
                       and robot.health()["worker_processes"][0]["ready"], 120, "the worker to come back")
        assert robot.health()["status"] == "store_unavailable" and robot.health()["results_waiting"] == 2
    finally:
        if holder.stdin is not None:
            holder.stdin.write("\n")
            holder.stdin.close()
        holder.wait(10)
    robot.wait_for(lambda: robot.health()["status"] == "ok" and robot.health()["results_waiting"] == 0, 60, "the store")
    first = robot.warning("K1")["attempts"][0]
    assert (first["outcome"], first["state"]) == ("no_answer", "finished")  # stored late, not lost
    second = robot.warning("K2")["attempts"][0]
    assert second["outcome"] == "interrupted"  # the killed worker's call, back in the queue
    assert robot.client.post("/v1/warnings", json=[{"id": "K3", "phone": "13800130003", "risk": "medium",
                                                    "received_at": "2026-11-23T09:00:00"}]).status_code == 201
    log = robot.log_text()
    assert "the store is unavailable: writing robot.db: database is locked" in log
    assert "the store is available again" in log
