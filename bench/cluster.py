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
3. The two ways to pace a cluster (`cluster_pacing: bucket|shares`), with two nodes: the same
   warning->INVITE and uncapped rate, and at a capped rate (`--capped`, default 20/s): the rate
   reached and the most INVITEs in any one second (must not exceed the cap).

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


def postmaster(server: PostgresServer) -> int:
    return int((server.data / "postmaster.pid").read_text().split()[0])


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def start_nodes(database: str, count: int, trunk_port: int, workers: int, rate: float,
                      workdir: Path, pacing: str = "bucket") -> tuple[list[subprocess.Popen[bytes]], list[str]]:
    processes, urls = [], []
    for n in range(count):
        home = workdir / f"node-{n}"
        home.mkdir()
        port = free_port()
        config = write_config(home, trunk_port, port, workers, rate)
        text = config.read_text().replace("node_id: bench", f"node_id: bench-{n}")
        text = text.replace(f"database: '{home / 'robot.db'}'", f"database: '{database or home / 'robot.db'}'")
        config.write_text(text + f"results_journal_file: '{home / 'results.jsonl'}'\ncluster_pacing: {pacing}\n")
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


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def tree_cpu_seconds(roots: list[int]) -> float:
    """CPU seconds (user + system) used so far by these processes and all their descendants alive."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    wanted, total = set(roots), 0.0
    for pid in sorted(parents):  # descendants have larger pids, mostly; walk up to be sure
        walk = pid
        while walk not in wanted and walk in parents and walk > 1:
            walk = parents[walk]
        if walk in wanted:
            total += times.get(pid, 0.0)
    return total


def most_in_one_second(times: list[float]) -> int:
    """The most INVITEs that arrived within any one second (times sorted)."""
    most, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


async def measure(label: str, database: str, nodes: int, args: argparse.Namespace, pacing: str = "bucket",
                  rate: float = UNCAPPED, postgres: PostgresServer | None = None) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    trunk = Trunk()
    transport, _ = await loop.create_datagram_endpoint(lambda: trunk, local_addr=("127.0.0.1", 0))
    workdir = Path(tempfile.mkdtemp(prefix="robot-cluster-bench-"))
    processes, urls = await start_nodes(database, nodes, transport.get_extra_info("sockname")[1], args.workers, rate, workdir,
                                        pacing)
    result: dict[str, Any] = {"store": label, "nodes": nodes, "slots": nodes * args.workers * 4, "pacing": pacing,
                              "calls_per_second": rate}
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
            busy_before, total_before = cpu_ticks()
            roots = [p.pid for p in processes] + ([postmaster(postgres)] if postgres and database else [])
            robot_cpu_before, bench_cpu_before = tree_cpu_seconds(roots), time.process_time()
            burst = [warning(n, "rate") for n in range(args.warnings)]
            started = time.monotonic()
            for index in range(0, len(burst), 100):
                (await api.post("/v1/warnings", json=burst[index:index + 100])).raise_for_status()
            while sum(1 for key in trunk.invites if key.startswith("rate-")) < len(burst) and time.monotonic() - started < 600:
                await asyncio.sleep(0.05)
            times = sorted(t for key, t in trunk.invites.items() if key.startswith("rate-"))
            middle = times[len(times) // 10: len(times) * 9 // 10]
            result["sustained_invites_per_second"] = round((len(middle) - 1) / (middle[-1] - middle[0]), 1)
            result["most_invites_in_one_second"] = most_in_one_second(times)
            result["most_invites_in_five_seconds"] = most_in_one_second([t / 5 for t in times])
            result["all_dialled_after_seconds"] = round(times[-1] - started, 2)
            result["load_average_before_burst"] = load_before
            result["load_average_after_burst"] = load_average()
            busy_after, total_after = cpu_ticks()
            result["cpu_busy_during_burst"] = round((busy_after - busy_before) / max(1, total_after - total_before), 3)
            # CPU spent per call started, by the nodes, their workers and PostgreSQL (the trunk apart):
            # cores / this is the most INVITEs a second these processes could start on this machine.
            robot_cpu = tree_cpu_seconds(roots) - robot_cpu_before
            result["cpu_ms_per_invite"] = round(robot_cpu / len(burst) * 1000, 2)
            result["trunk_cpu_ms_per_invite"] = round((time.process_time() - bench_cpu_before) / len(burst) * 1000, 2)
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
    runs = []
    try:
        if "stores" in args.parts:
            runs.append(await measure("sqlite", "", 1, args))
            runs.append(await measure("postgresql", server.create_database("bench"), 1, args, postgres=server))
            runs.append(await measure("postgresql", server.create_database("bench"), 2, args, postgres=server))
        if "pacing" in args.parts:  # the two, alternately, in the same conditions
            for rate in (UNCAPPED, args.capped):
                for pacing in ("bucket", "shares"):
                    runs.append(await measure("postgresql", server.create_database("bench"), 2, args, pacing, rate, server))
    finally:
        server.stop()
    return {"machine": f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}",
            "workers_per_node": args.workers, "warnings": args.warnings, "runs": runs}


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="call-worker processes per node (4 calls each)")
    parser.add_argument("--warnings", type=int, default=400)
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--capped", type=float, default=20.0, help="calls_per_second of the capped pacing runs")
    parser.add_argument("--parts", nargs="+", choices=("stores", "pacing"), default=["stores", "pacing"])
    args = parser.parse_args()
    results = asyncio.run(main(args))
    out = REPO / "bench" / "results" / "cluster.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print("| store | nodes | pacing | calls_per_second | warning->INVITE p50 / p95 | sustained INVITEs/s | most in 1 s |\n"
          "| --- | --- | --- | --- | --- | --- | --- |")
    for r in results["runs"]:
        lat = r["warning_to_invite_ms"]
        cap = "uncapped" if r["calls_per_second"] == UNCAPPED else r["calls_per_second"]
        print(f"| {r['store']} | {r['nodes']} | {r['pacing']} | {cap} | {lat['p50']} / {lat['p95']} ms | "
              f"{r['sustained_invites_per_second']} | {r['most_invites_in_one_second']} |")
    print(f"(written to {out})")


if __name__ == "__main__":
    run()
