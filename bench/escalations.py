"""The officers' queue at scale: `GET /v1/escalations` with 10,000 open escalations (issue 13).

    .venv/bin/python bench/escalations.py [--open 10000] [--requests 200]

Runs the real daemon (`robot run`, one call-worker process) on a fresh database, fills it
through the API with high-risk warnings (each is an open escalation at once), waits until the
node is idle, then times requests against it: the first page (the default `limit` of 100),
a page deep in the queue (keyset `after`), a filtered page, and the largest page (1,000).
Writes bench/results/escalations.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def timed(api: httpx.Client, params: dict[str, Any], requests: int) -> dict[str, Any]:
    seconds, sizes, counts = [], [], []
    for _ in range(requests):
        started = time.perf_counter()
        response = api.get("/v1/escalations", params=params)
        seconds.append(time.perf_counter() - started)
        response.raise_for_status()
        sizes.append(len(response.content))
        counts.append(len(response.json()))
    return {"params": params, "requests": requests, "items": counts[0], "bytes": sizes[0],
            "p50_ms": round(percentile(seconds, 0.5) * 1000, 1), "p95_ms": round(percentile(seconds, 0.95) * 1000, 1),
            "max_ms": round(max(seconds) * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="robot-bench-queue-"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (workdir / "sip.yaml").write_text("transport: {bind_address: 127.0.0.1, public_address: 127.0.0.1, port: 0, rtp_port_start: 0}\n"
                                      "dial_template: 'sip:{phone}@127.0.0.1:9'\n")
    config = workdir / "robot.yaml"
    config.write_text(f"node_id: bench\ndatabase: '{workdir / 'robot.db'}'\nsip_config: '{workdir / 'sip.yaml'}'\n"
                      f"dialogs_dir: '{REPO / 'dialogs' / 'en-US'}'\nlanguage: en-US\n"
                      f"api: {{port: {port}, token: {{env: ROBOT_API_TOKEN}}}}\n"
                      f"workers: {{processes: 1, log_file: '{workdir / 'workers.log'}'}}\n")
    log = (workdir / "robot.log").open("wb")
    daemon = subprocess.Popen([sys.executable, "-m", "robot.cli", "run", "--config", str(config)], cwd=REPO,
                              env={**os.environ, "ROBOT_API_TOKEN": TOKEN}, stdout=log, stderr=log)
    results: dict[str, Any] = {"open_escalations": args.open}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120) as api:
            for _ in range(1200):
                try:
                    if api.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            else:
                raise SystemExit(f"the daemon did not start; see {workdir / 'robot.log'}")
            started = time.monotonic()
            for first in range(0, args.open, 1000):
                batch = [{"id": f"Q-{n}", "phone": f"139{n:08d}", "name": "Li Hua", "risk": "high", "fraud_type": "investment",
                          "received_at": "2026-11-23T09:00:00+08:00"} for n in range(first, min(args.open, first + 1000))]
                api.post("/v1/warnings", json=batch).raise_for_status()
            results["intake_seconds"] = round(time.monotonic() - started, 1)
            while api.get("/healthz").json()["deliveries"]["backlog"]:  # nowhere to deliver: skipped, then idle
                time.sleep(0.5)
            results["idle_after_seconds"] = round(time.monotonic() - started, 1)
            deep_after = api.get("/v1/escalations", params={"status": "open", "limit": 1, "after": 0}).json()[0]["id"] + args.open - 200
            results["pages"] = [
                timed(api, {"status": "open"}, args.requests),
                timed(api, {"status": "open", "after": deep_after}, args.requests),
                timed(api, {"status": "open", "reason": "high_risk", "since": "2026-01-01T00:00:00+08:00"}, args.requests),
                timed(api, {"status": "open", "limit": 1000}, max(20, args.requests // 10)),
            ]
    finally:
        daemon.terminate()
        try:
            daemon.wait(60)
        except subprocess.TimeoutExpired:
            daemon.kill()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
    out = REPO / "bench" / "results" / "escalations.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
