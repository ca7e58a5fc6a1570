"""Dialer benchmarks: warning-to-dial latency and the sustained dial rate.

    .venv/bin/python bench/dialer.py [--workers 4] [--rate 25] [--warnings 600]

Drives the real daemon (`robot run` in its own process, with real call-worker processes
and pjsua2) over its HTTP API. The trunk is a small SIP responder in this process: it
timestamps each INVITE as it arrives (with its X-Warning-Id) and answers 486 Busy at once,
so call slots free up immediately and the daemon's own limits are what is measured.

1. Warning to dial: one warning at a time with free capacity, POST sent -> INVITE arrived.
2. Dial rate: a burst of warnings, INVITEs per second over the busy middle of the run,
   with the pacing limit (`calls_per_second`) set to --rate.

Writes bench/results/dialer.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"


class Trunk(asyncio.DatagramProtocol):
    """Answers every INVITE with 486 and remembers when each one arrived."""

    def __init__(self) -> None:
        self.invites: dict[str, float] = {}
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        arrived = time.monotonic()
        text = data.decode(errors="replace")
        if not text.startswith("INVITE "):
            return  # ACKs
        head = text.split("\r\n\r\n", 1)[0].split("\r\n")
        headers = [line for line in head[1:] if line]
        warning = next((line.split(":", 1)[1].strip() for line in headers if line.lower().startswith("x-warning-id:")), "")
        self.invites.setdefault(warning, arrived)
        keep = [line for line in headers if line.split(":", 1)[0].strip().lower() in ("via", "v", "from", "f", "call-id", "i", "cseq")]
        to = next(line for line in headers if line.split(":", 1)[0].strip().lower() in ("to", "t"))
        response = "\r\n".join(["SIP/2.0 486 Busy Here", *keep, f"{to};tag=bench", "Content-Length: 0", "", ""])
        assert self.transport is not None
        self.transport.sendto(response.encode(), addr)


def write_config(workdir: Path, trunk_port: int, api_port: int, workers: int, rate: float) -> Path:
    (workdir / "sip.yaml").write_text(
        "transport: {bind_address: 127.0.0.1, public_address: 127.0.0.1, port: 0, rtp_port_start: 0}\n"
        f"dial_template: 'sip:{{phone}}@127.0.0.1:{trunk_port}'\nring_timeout_seconds: 10\n"
    )
    config = workdir / "robot.yaml"
    config.write_text(
        f"node_id: bench\ndatabase: '{workdir / 'robot.db'}'\nsip_config: '{workdir / 'sip.yaml'}'\n"
        f"dialogs_dir: '{REPO / 'dialogs' / 'en-US'}'\nlanguage: en-US\n"
        f"api: {{port: {api_port}, token: {{env: ROBOT_API_TOKEN}}}}\n"
        f"workers: {{processes: {workers}, calls_per_process: 4, log_file: '{workdir / 'workers.log'}'}}\n"
        f"calls_per_second: {rate}\ncalling_windows: {{low: null, medium: null}}\n"
        "max_attempts_per_number_per_day: 100\n"
        "policy: {outcomes: {busy: {finish: true}}}\n"
    )
    return config


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def warning(n: int, prefix: str) -> dict[str, str]:
    return {"id": f"{prefix}-{n}", "phone": f"139{n:08d}", "risk": "medium", "received_at": "2026-11-22T09:00:00"}


async def main(args: argparse.Namespace) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    trunk = Trunk()
    transport, _ = await loop.create_datagram_endpoint(lambda: trunk, local_addr=("127.0.0.1", 0))
    trunk_port = transport.get_extra_info("sockname")[1]
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        api_port = probe.getsockname()[1]
    workdir = Path(tempfile.mkdtemp(prefix="robot-bench-"))
    config = write_config(workdir, trunk_port, api_port, args.workers, args.rate)
    env = {**os.environ, "ROBOT_API_TOKEN": TOKEN}
    log = (workdir / "robot.log").open("wb")
    daemon = subprocess.Popen([sys.executable, "-m", "robot.cli", "run", "--config", str(config)], cwd=REPO, env=env,
                              stdout=log, stderr=log)
    results: dict[str, object] = {"machine": f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}",
                                  "workers": args.workers, "slots": args.workers * 4, "pacing_calls_per_second": args.rate}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", headers={"Authorization": f"Bearer {TOKEN}"},
                                     timeout=30) as api:
            for _ in range(600):
                try:
                    if (await api.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise SystemExit(f"the daemon did not start; see {workdir / 'robot.log'}")

            # 1. Warning to dial, with free capacity.
            latencies = []
            for n in range(args.samples):
                body = warning(n, "lat")
                sent = time.monotonic()
                response = await api.post("/v1/warnings", json=body)
                response.raise_for_status()
                while body["id"] not in trunk.invites and time.monotonic() - sent < 10:
                    await asyncio.sleep(0.001)
                latencies.append(trunk.invites[body["id"]] - sent)
                await asyncio.sleep(1.0 / args.rate + 0.05)
            results["warning_to_dial_seconds"] = {
                "samples": len(latencies), "p50": round(percentile(latencies, 0.5), 4),
                "p95": round(percentile(latencies, 0.95), 4), "max": round(max(latencies), 4),
            }

            # 2. Sustained dial rate under a burst.
            burst = [warning(n, "rate") for n in range(args.warnings)]
            started = time.monotonic()
            for index in range(0, len(burst), 100):
                (await api.post("/v1/warnings", json=burst[index:index + 100])).raise_for_status()
            accepted = time.monotonic()
            while sum(1 for key in trunk.invites if key.startswith("rate-")) < len(burst) and time.monotonic() - started < 600:
                await asyncio.sleep(0.05)
            times = sorted(t for key, t in trunk.invites.items() if key.startswith("rate-"))
            middle = times[len(times) // 10: len(times) * 9 // 10]
            rate = (len(middle) - 1) / (middle[-1] - middle[0])
            busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
            results["dial_rate"] = {
                "warnings": len(burst), "intake_seconds": round(accepted - started, 3),
                "all_dialled_after_seconds": round(times[-1] - started, 2),
                "sustained_invites_per_second": round(rate, 2), "most_invites_in_any_1_s": busiest,
            }
            metrics = (await api.get("/metrics")).text
            results["metrics_sample"] = [line for line in metrics.splitlines() if line.startswith("robot_warning_to_dial_seconds_count")]
    finally:
        daemon.terminate()
        try:
            daemon.wait(60)
        except subprocess.TimeoutExpired:
            daemon.kill()
        transport.close()
        log.close()
    return results


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rate", type=float, default=25, help="the daemon's calls_per_second pacing")
    parser.add_argument("--warnings", type=int, default=600)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    results = asyncio.run(main(args))
    out = REPO / "bench" / "results" / "dialer.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    latency = results["warning_to_dial_seconds"]
    rate = results["dial_rate"]
    print("| measure | value |\n| --- | --- |")
    print(f"| warning to dial, p50 / p95 / max ({latency['samples']} warnings, free capacity) | "  # type: ignore[index]
          f"{latency['p50'] * 1000:.0f} / {latency['p95'] * 1000:.0f} / {latency['max'] * 1000:.0f} ms |")  # type: ignore[index]
    print(f"| sustained dial rate ({rate['warnings']} warnings, pacing {args.rate:g}/s, {args.workers * 4} slots) | "  # type: ignore[index]
          f"{rate['sustained_invites_per_second']} INVITEs/s (most in any second: {rate['most_invites_in_any_1_s']}) |")  # type: ignore[index]
    print(f"(written to {out})")


if __name__ == "__main__":
    run()
