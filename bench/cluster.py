"""Cluster benchmarks: warning->INVITE latency and the sustained dial rate, with one node on
SQLite, one node on PostgreSQL and two nodes on one PostgreSQL.

    .venv/bin/python bench/cluster.py [--workers 2] [--warnings 400] [--samples 60]

Each node is a real `robot run` process with real call workers (pjsua2). The trunk is
bench/dialer.py's responder in this process: it timestamps every INVITE (by X-Warning-Id) and
answers 486 at once, so slots free up immediately and the robot's own limits are measured.
PostgreSQL is a throwaway server (tests/postgres.py) with production durability (fsync on).
Warnings are posted to the first node only (as a warning system would post to one address).

1. Warning to dial: one warning at a time, POST sent -> INVITE arrived (free capacity).
2. Dial rate, uncapped (`calls_per_second: 1000`): a burst of warnings; INVITEs per second
   over the middle 80 % of the run.

Writes bench/results/cluster.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.dialer import TOKEN, Trunk, percentile, warning, write_config  # noqa: E402
from tests.postgres import PostgresServer  # noqa: E402

UNCAPPED = 1000.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def start_nodes(database: str, count: int, trunk_port: int, workers: int, rate: float,
                      workdir: Path) -> tuple[list[subprocess.Popen[bytes]], list[str]]:
    processes, urls = [], []
    for n in range(count):
        home = workdir / f"node-{n}"
        home.mkdir()
        port = free_port()
        config = write_config(home, trunk_port, port, workers, rate)
        text = config.read_text().replace("node_id: bench", f"node_id: bench-{n}")
        text = text.replace(f"database: '{home / 'robot.db'}'", f"database: '{database or home / 'robot.db'}'")
        config.write_text(text + f"results_journal_file: '{home / 'results.jsonl'}'\n")
        env = {**os.environ, "ROBOT_API_TOKEN": TOKEN, "PYTHONPATH": str(REPO)}
        log = (home / "robot.log").open("wb")
        processes.append(subprocess.Popen([sys.executable, "-m", "robot.cli", "run", "--config", str(config)], cwd=REPO,
                                          env=env, stdout=log, stderr=log))
        urls.append(f"http://127.0.0.1:{port}")
    async with httpx.AsyncClient(timeout=5) as client:
        for url in urls:
            for _ in range(900):
                try:
                    if (await client.get(f"{url}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise SystemExit(f"a node did not start; see {workdir}")
    return processes, urls


async def measure(label: str, database: str, nodes: int, args: argparse.Namespace) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    trunk = Trunk()
    transport, _ = await loop.create_datagram_endpoint(lambda: trunk, local_addr=("127.0.0.1", 0))
    workdir = Path(tempfile.mkdtemp(prefix="robot-cluster-bench-"))
    processes, urls = await start_nodes(database, nodes, transport.get_extra_info("sockname")[1], args.workers, UNCAPPED, workdir)
    result: dict[str, Any] = {"store": label, "nodes": nodes, "slots": nodes * args.workers * 4}
    try:
        async with httpx.AsyncClient(base_url=urls[0], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as api:
            await asyncio.sleep(3)  # let every node's scheduler settle
            latencies = []
            for n in range(args.samples):
                body = warning(n, "lat")
                sent = time.monotonic()
                (await api.post("/v1/warnings", json=body)).raise_for_status()
                while body["id"] not in trunk.invites and time.monotonic() - sent < 10:
                    await asyncio.sleep(0.001)
                latencies.append(trunk.invites[body["id"]] - sent)
                await asyncio.sleep(0.1)
            result["warning_to_invite_ms"] = {"p50": round(percentile(latencies, 0.5) * 1000, 1),
                                              "p95": round(percentile(latencies, 0.95) * 1000, 1),
                                              "max": round(max(latencies) * 1000, 1), "samples": len(latencies)}
            load_before = load_average()
            burst = [warning(n, "rate") for n in range(args.warnings)]
            started = time.monotonic()
            for index in range(0, len(burst), 100):
                (await api.post("/v1/warnings", json=burst[index:index + 100])).raise_for_status()
            while sum(1 for key in trunk.invites if key.startswith("rate-")) < len(burst) and time.monotonic() - started < 600:
                await asyncio.sleep(0.05)
            times = sorted(t for key, t in trunk.invites.items() if key.startswith("rate-"))
            middle = times[len(times) // 10: len(times) * 9 // 10]
            result["sustained_invites_per_second"] = round((len(middle) - 1) / (middle[-1] - middle[0]), 1)
            result["all_dialled_after_seconds"] = round(times[-1] - started, 2)
            result["load_average_before_burst"] = load_before
            result["load_average_after_burst"] = load_average()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        transport.close()
    print(json.dumps(result), flush=True)
    return result


async def main(args: argparse.Namespace) -> dict[str, Any]:
    server = PostgresServer(durable=True).start()
    try:
        runs = [await measure("sqlite", "", 1, args)]
        runs.append(await measure("postgresql", server.create_database("bench"), 1, args))
        runs.append(await measure("postgresql", server.create_database("bench"), 2, args))
    finally:
        server.stop()
    return {"machine": f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}",
            "workers_per_node": args.workers, "warnings": args.warnings, "runs": runs}


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="call-worker processes per node (4 calls each)")
    parser.add_argument("--warnings", type=int, default=400)
    parser.add_argument("--samples", type=int, default=60)
    args = parser.parse_args()
    results = asyncio.run(main(args))
    out = REPO / "bench" / "results" / "cluster.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print("| store | nodes | warning->INVITE p50 / p95 | sustained INVITEs/s (uncapped) |\n| --- | --- | --- | --- |")
    for r in results["runs"]:
        lat = r["warning_to_invite_ms"]
        print(f"| {r['store']} | {r['nodes']} | {lat['p50']} / {lat['p95']} ms | {r['sustained_invites_per_second']} |")
    print(f"(written to {out})")


if __name__ == "__main__":
    run()
