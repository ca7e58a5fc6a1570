"""Security measurements too slow for the test suite (issue 12).

    .venv/bin/python bench/security.py [--flood-seconds 30] [--flood-rate 200]

1. YAML: a 9-level alias bomb through `robot dialogs check` (time, peak memory).
2. Models: a 300 MiB file in a zip of a few hundred KB through `robot voices install`.
3. INVITE flood: a call worker (`tests/sip/flood_program.py`, pjsua2 on a fixed port) takes
   --flood-rate INVITEs a second for --flood-seconds from 127.0.0.2 (SIPp's built-in UAC)
   while the trunk is 127.0.0.1, then places one call to a SIPp callee on the trunk. Run
   twice: with the peer filter (the default) and with SIP open to all
   (`allowed_peers: [0.0.0.0/0]`, the behaviour before the filter).
4. Intake against `robot run` (one worker): 20 MB and 2 MB bodies, a batch of 1,000 valid
   and of 1,000 invalid warnings, one of 1,001; the daemon's memory, and how long /healthz
   took to answer while each request was handled.

Writes bench/results/security.json and prints it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.sip.conftest import SCENARIOS, free_udp_port  # noqa: E402

TOKEN = "bench-security-token"
ROBOT = [sys.executable, "-m", "robot.cli"]


def children_peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def yaml_bomb(workdir: Path) -> dict[str, Any]:
    lines = ['meta: {id: bomb, version: 1, language: en-US, voice: en_US-joe-medium, fraud_types: [generic]}',
             'x0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    path = workdir / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    run = subprocess.run([*ROBOT, "dialogs", "check", str(path)], capture_output=True, text=True, cwd=REPO, timeout=600)
    return {"file_bytes": path.stat().st_size, "seconds": round(time.monotonic() - started, 2), "exit_code": run.returncode,
            "message": run.stdout.strip().splitlines()[0], "peak_rss_mb_of_any_child_so_far": children_peak_mb()}


def zip_bomb(workdir: Path) -> dict[str, Any]:
    archive = workdir / "vosk-model-small-cn-0.22.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name in ("am/final.mdl", "conf/model.conf", "graph/HCLr.fst", "graph/Gr.fst", "ivector/final.ie"):
            bundle.writestr(f"model/{name}", b"x")
        with bundle.open("model/am/padding.bin", "w", force_zip64=True) as padding:
            block = bytes(1 << 20)
            for _ in range(300):
                padding.write(block)
    env = {**os.environ, "ROBOT_MODELS_DIR": str(workdir / "models")}
    started = time.monotonic()
    run = subprocess.run([*ROBOT, "voices", "install", "vosk-model-small-cn-0.22", "--from", str(archive)],
                         capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    written = sum(p.stat().st_size for p in (workdir / "models").rglob("*") if p.is_file()) if (workdir / "models").exists() else 0
    return {"archive_bytes": archive.stat().st_size, "unpacked_bytes": 300 << 20, "seconds": round(time.monotonic() - started, 2),
            "exit_code": run.returncode, "message": run.stderr.strip().splitlines()[-1] if run.stderr.strip() else "",
            "bytes_written_to_models_dir": written}


def flood(workdir: Path, seconds: float, rate: int, open_to_all: bool) -> dict[str, Any]:
    sipp = shutil.which("sipp")
    assert sipp, "SIPp (sip-tester) is needed"
    callee_port = free_udp_port()
    callee = subprocess.Popen([sipp, "-sf", str(SCENARIOS / "busy.xml"), "-i", "127.0.0.1", "-p", str(callee_port), "-m", "1",
                               "-nostdin", "-mp", str(free_udp_port() & ~1)], cwd=workdir,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = free_udp_port()
    worker = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "sip" / "flood_program.py"), str(port), str(workdir / "cache"),
         str(workdir / "models"), str(REPO), f"sip:13800138000@127.0.0.1:{callee_port}", *(["open"] if open_to_all else [])],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert worker.stdout is not None and worker.stdin is not None and worker.stderr is not None
    line = worker.stdout.readline()
    while line and not line.startswith("{"):
        line = worker.stdout.readline()
    rss_before, cpu_before = status_kb(worker.pid, "VmRSS"), cpu_seconds(worker.pid)
    invites = int(seconds * rate)
    started = time.monotonic()
    flooder = subprocess.Popen([sipp, "-sn", "uac", "-i", "127.0.0.2", "-p", str(free_udp_port()), f"127.0.0.1:{port}",
                                "-r", str(rate), "-m", str(invites), "-recv_timeout", "2000", "-nostdin",
                                "-trace_stat", "-stf", str(workdir / f"flood-{open_to_all}.csv"), "-fd", "1"],
                               cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    died_after = None
    rss_peak = rss_before
    while flooder.poll() is None:
        time.sleep(0.5)
        if worker.poll() is not None:
            died_after = round(time.monotonic() - started, 1)
            break
        rss_peak = max(rss_peak, status_kb(worker.pid, "VmRSS"))
    flooder.kill()
    flooder.wait()
    flood_seconds = round(time.monotonic() - started, 1)
    result: dict[str, Any] = {"peer_filter": not open_to_all, "rate_per_second": rate, "invites": invites,
                              "flood_seconds": flood_seconds, "worker_died_after_seconds": died_after}
    stats = (workdir / f"flood-{open_to_all}.csv").read_text().splitlines() if (workdir / f"flood-{open_to_all}.csv").exists() else []
    if len(stats) >= 2:
        header, last = stats[0].split(";"), stats[-1].split(";")
        if "TotalCallCreated" in header:
            result["invites_sent"] = int(last[header.index("TotalCallCreated")])
    if died_after is None:
        result["worker_cpu_seconds_during_flood"] = round(cpu_seconds(worker.pid) - cpu_before, 2)
        result["worker_rss_mb_before"], result["worker_rss_mb_peak"] = round(rss_before / 1024, 1), round(rss_peak / 1024, 1)
        worker.stdin.write("go\n")
        worker.stdin.flush()
        called = json.loads(worker.stdout.readline())
        result["call_after_flood"] = f"{called['outcome']} ({called['sip_status']})"
        result["worker_exit_code"] = worker.wait(60)
    else:
        result["worker_exit_code"] = worker.returncode
        result["worker_error"] = next((line for line in worker.stderr.read().splitlines() if "Assertion" in line), "")[-160:]
    callee.kill()
    callee.wait()
    return result


async def intake(workdir: Path) -> dict[str, Any]:
    sip_port = free_udp_port()
    api_port = free_udp_port()
    dialogs = workdir / "dialogs"
    dialogs.mkdir(exist_ok=True)
    shutil.copy(REPO / "dialogs" / "en-US" / "generic.yaml", dialogs / "generic.yaml")
    (workdir / "sip.yaml").write_text("transport: {bind_address: 127.0.0.1, public_address: 127.0.0.1, port: 0, rtp_port_start: 0}\n"
                                      f"dial_template: 'sip:{{phone}}@127.0.0.1:{sip_port}'\n")
    (workdir / "robot.yaml").write_text(
        f"database: '{workdir / 'robot.db'}'\nsip_config: '{workdir / 'sip.yaml'}'\ndialogs_dir: '{dialogs}'\nlanguage: en-US\n"
        f"api: {{port: {api_port}}}\nworkers: {{processes: 1}}\ncalls_per_second: 0.001\n")
    env = {**os.environ, "ROBOT_API_TOKEN": TOKEN, "ROBOT_CACHE_DIR": str(workdir / "cache")}
    log = (workdir / "robot.log").open("wb")
    daemon = subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is measured
        [*ROBOT, "run", "--config", str(workdir / "robot.yaml")], cwd=REPO, env=env, stdout=log, stderr=log)
    results: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", headers={"Authorization": f"Bearer {TOKEN}"},
                                 timeout=300) as api:
        for _ in range(600):
            try:
                if (await api.get("/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.5)
        results["daemon_rss_mb_at_start"] = round(status_kb(daemon.pid, "VmRSS") / 1024, 1)

        def warning(n: int, **changes: Any) -> dict[str, Any]:
            return {"id": f"S-{n}", "phone": f"139{n:08d}", "name": "Li Hua", "risk": "medium",
                    "received_at": "2026-11-22T09:00:00"} | changes

        cases = {
            "20 MB body": json.dumps([warning(0, extra={"pad": "x" * (20 << 20)})]).encode(),
            "2 MB body": json.dumps([warning(0, extra={"pad": "x" * (2 << 20)})]).encode(),
            "1,000 valid warnings": json.dumps([warning(n) for n in range(1000)]).encode(),
            "1,000 invalid warnings": json.dumps([warning(n, phone="12345", name="y" * 100) for n in range(1000, 2000)]).encode(),
            "1,001 warnings": json.dumps([warning(n) for n in range(3000, 4001)]).encode(),
        }
        async def probe(done: asyncio.Event, gaps: list[float]) -> None:
            while not done.is_set():
                asked = time.monotonic()
                await api.get("/healthz")
                gaps.append(time.monotonic() - asked)
                await asyncio.sleep(0.02)

        for label, body in cases.items():
            gaps: list[float] = []
            done = asyncio.Event()
            prober = asyncio.create_task(probe(done, gaps))
            started = time.monotonic()
            response = await api.post("/v1/warnings", content=body, headers={"Content-Type": "application/json"})
            seconds = time.monotonic() - started
            done.set()
            await prober
            results[label] = {"body_bytes": len(body), "status": response.status_code, "seconds": round(seconds, 3),
                              "response_bytes": len(response.content), "healthz_slowest_ms": round(max(gaps) * 1000, 1),
                              "daemon_rss_mb_after": round(status_kb(daemon.pid, "VmRSS") / 1024, 1)}
        results["daemon_peak_rss_mb"] = round(status_kb(daemon.pid, "VmHWM") / 1024, 1)
    daemon.terminate()
    daemon.wait(180)
    log.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flood-seconds", type=float, default=30)
    parser.add_argument("--flood-rate", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="robot-bench-security-") as scratch:
        workdir = Path(scratch)
        results: dict[str, Any] = {"yaml_alias_bomb": yaml_bomb(workdir), "zip_bomb_install": zip_bomb(workdir)}
        results["invite_flood"] = [flood(workdir, args.flood_seconds, args.flood_rate, open_to_all=False),
                                   flood(workdir, args.flood_seconds, args.flood_rate, open_to_all=True)]
        results["intake"] = asyncio.run(intake(workdir))
    out = REPO / "bench" / "results" / "security.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
