"""The store under faults, against the real daemon (issue 13).

    .venv/bin/python bench/faults.py [--lock-seconds 20,35] [--no-full-disk]

Each scenario runs `robot run` (one call-worker process, pjsua2) against simulated callees
(`robot.sip.simulated_callee --personas`): 13800130001 never answers (the robot's ring
timeout is 6 s, so its result arrives while the store is failing), 13800130002 answers and
stays silent (a call that goes on meanwhile).

- Lock: another process holds SQLite's write lock for N seconds (BEGIN IMMEDIATE).
- Full disk: the database lives on a small tmpfs (mounted here; needs root) that a filler
  file fills up; a batch of 200 warnings is posted; then the filler is removed.

Measured: what intake answers meanwhile and how fast, /healthz, whether the other call and
the worker survive, how long after the fault ends the waiting results are stored, what was
lost, and the WAL's size. Writes bench/results/faults.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
LOCK_HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
"""


def free_port(kind: int) -> int:
    import socket

    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Node:
    """robot run and its simulated callees, in a folder of their own."""

    def __init__(self, workdir: Path, database: Path) -> None:
        import socket

        self.workdir = workdir
        self.callee_port = free_port(socket.SOCK_DGRAM)
        self.api_port = free_port(socket.SOCK_STREAM)
        personas = workdir / "personas.json"
        personas.write_text(json.dumps({"13800130001": {"never_answer": True, "linger_seconds": 300},
                                        "13800130002": {"answer_after_seconds": 0.3, "steps": [], "linger_seconds": 300}}))
        self.callees = subprocess.Popen(
            [sys.executable, "-m", "robot.sip.simulated_callee", "--port", str(self.callee_port), "--personas", str(personas),
             "--timeout", "900"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.callees.stdout is not None
        while not (line := self.callees.stdout.readline()).startswith("{"):
            assert line, "the simulated callees did not start"
        dialogs = workdir / "dialogs"
        dialogs.mkdir()
        shutil.copy(REPO / "dialogs" / "en-US" / "generic.yaml", dialogs / "generic.yaml")
        (workdir / "sip.yaml").write_text(
            "transport: {bind_address: 127.0.0.1, public_address: 127.0.0.1, port: 0, rtp_port_start: 0}\n"
            f"dial_template: 'sip:{{phone}}@127.0.0.1:{self.callee_port}'\nring_timeout_seconds: 6\nhello_listen_seconds: 0.5\n")
        config = workdir / "robot.yaml"
        config.write_text(
            f"node_id: bench\ndatabase: '{database}'\nsip_config: '{workdir / 'sip.yaml'}'\ndialogs_dir: '{dialogs}'\n"
            f"language: en-US\napi: {{port: {self.api_port}, token: {{env: ROBOT_API_TOKEN}}}}\n"
            f"workers: {{processes: 1, restart_delay_seconds: 0.5, log_file: '{workdir / 'workers.log'}'}}\n"
            "calling_windows: {low: null, medium: null}\npolicy: {retry_delays_seconds: {medium: [600]}}\n")
        self.log = workdir / "robot.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "robot.cli", "run", "--config", str(config)], cwd=REPO,
                                            env={**os.environ, "ROBOT_API_TOKEN": TOKEN}, stdout=log, stderr=log)
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{self.api_port}", headers={"Authorization": f"Bearer {TOKEN}"},
                                timeout=60)
        self.wait(lambda: self._healthy(), 240, "the daemon")

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise SystemExit(f"robot run exited: {self.log.read_text()[-2000:]}")
        try:
            return self.api.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    @staticmethod
    def wait(condition: Any, seconds: float, what: str) -> float:
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            if condition():
                return time.monotonic() - started
            time.sleep(0.05)
        raise SystemExit(f"timed out waiting for {what}")

    def health(self) -> dict[str, Any]:
        return self.api.get("/healthz").json()

    def warning(self, warning_id: str) -> dict[str, Any]:
        return self.api.get(f"/v1/warnings/{warning_id}").json()

    def post(self, warnings: list[dict[str, Any]]) -> tuple[int, float, str | None]:
        started = time.monotonic()
        response = self.api.post("/v1/warnings", json=warnings)
        return response.status_code, round(time.monotonic() - started, 3), response.headers.get("Retry-After")

    def start_two_calls(self) -> None:
        self.post([warning(1, "K1"), warning(2, "K2")])
        self.wait(lambda: self.warning("K1")["status"] == self.warning("K2")["status"] == "calling", 60, "both calls")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.process.terminate()
            self.process.wait(60)
        if self.process.poll() is None:
            self.process.kill()
        self.callees.kill()
        self.api.close()


def keep_log(node: Node, scenario: str) -> None:
    """The daemon's log of a scenario, kept beside the results (bench/results/faults-SCENARIO.log)."""
    out = REPO / "bench" / "results" / f"faults-{scenario}.log"
    out.parent.mkdir(exist_ok=True)
    with contextlib.suppress(OSError):
        shutil.copy(node.log, out)


def warning(n: int, warning_id: str) -> dict[str, Any]:
    return {"id": warning_id, "phone": f"1380013{n:04d}", "risk": "medium", "received_at": "2026-11-23T09:00:00"}


def healthz_times(node: Node, seconds: float) -> list[float]:
    times, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        node.api.get("/healthz")
        times.append(time.monotonic() - started)
        time.sleep(0.1)
    return times


def outcome_of(node: Node) -> dict[str, Any]:
    """Once both calls have ended (K2's silent callee ends in no_input) and every result is stored."""
    ended_after = node.wait(lambda: (h := node.health())["active_calls"] == 0 and h["results_waiting"] == 0, 180, "the calls to end")
    health = node.health()
    [worker] = health["worker_processes"]
    attempts = {wid: [(a["outcome"], a["state"]) for a in node.warning(wid)["attempts"]] for wid in ("K1", "K2")}
    return {"calls_ended_after_seconds": round(ended_after, 1), "worker_restarts": worker["restarts"], "attempts": attempts,
            "attempts_in_flight_left": sum(state == "in_flight" for runs in attempts.values() for _o, state in runs)}


def lock_scenario(seconds: float) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="robot-bench-faults-"))
    node = Node(workdir, workdir / "robot.db")
    try:
        node.start_two_calls()
        holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(workdir / "robot.db")], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        locked_at = time.monotonic()
        node.wait(lambda: node.health()["results_waiting"] >= 1, seconds, "K1's result")
        result_arrived = time.monotonic() - locked_at
        status, post_seconds, retry_after = node.post([warning(3, "K3")])
        health = node.health()
        during = {"result_arrived_after_seconds": round(result_arrived, 2), "intake_status": status,
                  "intake_seconds": post_seconds, "retry_after": retry_after, "healthz_status": health["status"],
                  "active_calls": health["active_calls"], "results_waiting": health["results_waiting"]}
        node.wait(lambda: node.health()["status"] == "store_unavailable", 30, "/healthz to say the store is unavailable")
        during["store_unavailable_after_seconds"] = round(time.monotonic() - locked_at, 2)
        later = [node.post([warning(5 + n, f"K{5 + n}")]) for n in range(3)]
        during["intake_later"] = [{"status": s, "seconds": secs, "retry_after": ra} for s, secs, ra in later]
        remaining = seconds - (time.monotonic() - locked_at)
        slowest = healthz_times(node, max(0.0, remaining - 0.5))
        during["healthz_slowest_ms"] = round(max(slowest) * 1000, 1) if slowest else None
        during["worker_restarts_while_locked"] = node.health()["worker_processes"][0]["restarts"]
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(10)
        released = time.monotonic()
        stored_after = node.wait(lambda: node.health()["results_waiting"] == 0 and node.health()["status"] == "ok", 120, "the store")
        return {"lock_seconds": seconds, "during": during, "stored_after_release_seconds": round(stored_after, 2),
                "intake_after_release": node.post([warning(4, "K4")])[0], "released_at": round(released - locked_at, 1),
                **outcome_of(node)}
    finally:
        node.stop()
        keep_log(node, f"lock-{seconds:g}s")
        shutil.rmtree(workdir, ignore_errors=True)


def full_disk_scenario(size_mb: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="robot-bench-disk-"))
    disk = workdir / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(disk)], check=True)
    node = None
    try:
        database = disk / "robot.db"
        node = Node(workdir, database)
        node.start_two_calls()
        filler = disk / "filler"
        with filler.open("wb") as out, contextlib.suppress(OSError):
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        wal = Path(f"{database}-wal")
        wal_before = wal.stat().st_size
        node.wait(lambda: node.health()["results_waiting"] >= 1, 60, "K1's result")
        batch = [warning(100 + n, f"B-{n}") | {"phone": f"1390013{n:04d}"} for n in range(200)]
        status, post_seconds, retry_after = node.post(batch)
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
            stored = db.execute("SELECT COUNT(*) FROM warnings WHERE external_id LIKE 'B-%'").fetchone()[0]
        health = node.health()
        during = {"batch_status": status, "batch_seconds": post_seconds, "retry_after": retry_after,
                  "batch_items_stored": stored, "healthz_status": health["status"], "store": health["store"],
                  "results_waiting": health["results_waiting"], "active_calls": health["active_calls"],
                  "wal_bytes_before_failure": wal_before, "wal_bytes_after_failure": wal.stat().st_size}
        filler.unlink()
        stored_after = node.wait(lambda: node.health()["results_waiting"] == 0 and node.health()["status"] == "ok", 120, "the store")
        after: dict[str, Any] = {"stored_after_space_returned_seconds": round(stored_after, 2),
                                 "wal_bytes_after_recovery": wal.stat().st_size}
        outcome = outcome_of(node)  # before the batch is posted again (its 200 warnings would be called)
        after["batch_status_again"] = node.post(batch)[0]
        return {"tmpfs_mb": size_mb, "during": during, "after": after, **outcome}
    finally:
        if node is not None:
            node.stop()
            keep_log(node, "full-disk")
        for _ in range(50):  # the daemon's worker may take a moment to exit and close its files
            if subprocess.run(["umount", str(disk)], check=False, stderr=subprocess.DEVNULL).returncode == 0:
                break
            time.sleep(0.2)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock-seconds", default="20,35")
    parser.add_argument("--full-disk", action=argparse.BooleanOptionalAction, default=True, help="needs root (tmpfs)")
    parser.add_argument("--disk-mb", type=int, default=4)
    args = parser.parse_args()
    results: dict[str, Any] = {"lock": [lock_scenario(float(s)) for s in args.lock_seconds.split(",") if s]}
    if args.full_disk:
        results["full_disk"] = full_disk_scenario(args.disk_mb)
    out = REPO / "bench" / "results" / "faults.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
