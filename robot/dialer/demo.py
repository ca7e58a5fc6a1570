"""`robot demo`: the daemon, a call worker and simulated citizens, all on loopback.

It runs the real thing on embedded defaults: SQLite in a temporary directory, SIP on
127.0.0.1, the English script, Piper `joe` and PocketSphinx. A pjsua2 "citizen" process
answers by dialled number with a persona. The demo submits warnings over the HTTP API,
shows their progress, and ends with the outcomes and the escalation queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from ..config import REPO_ROOT, SpeechSettings
from ..speech.audio import TELEPHONE_RATE, write_wav
from ..speech.kit import SpeechKit
from .commands import quiet_libraries, serve
from .config import load_dialer_config

TOKEN = "demo-token"
CITIZENS: list[dict[str, Any]] = [
    {"id": "DEMO-1", "phone": "138 0013 8001", "name": "Li Wei", "risk": "medium", "fraud_type": "investment",
     "story": "admits being told to keep it secret", "expect": "escalated"},
    {"id": "DEMO-2", "phone": "13800138002", "name": "Zhang Min", "risk": "low", "fraud_type": "order_brushing",
     "story": "listens and agrees", "expect": "dissuaded"},
    {"id": "DEMO-3", "phone": "+86 138 0013 8003", "name": "Wang Fang", "risk": "medium", "fraud_type": "impersonate_police",
     "story": "is busy (perhaps on the line with the scammer)", "expect": "busy, escalated at once, retried"},
    {"id": "DEMO-4", "phone": "13800138004", "name": "Chen Jie", "risk": "medium", "fraud_type": "online_loan",
     "story": "never answers", "expect": "retried, then escalated"},
    {"id": "DEMO-5", "phone": "020-8888-6666", "name": "Zhao Lei", "risk": "high", "fraud_type": "investment",
     "story": "high risk: officers go in person", "expect": "escalated, not called"},
]
SPEECH = {
    "yes": "Yes, speaking.",
    "secret": "They told me to keep it secret and I am really very scared.",
    "nothing": "No, nothing like that.",
    "agree": "Yes, I will.",
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def personas(voice: dict[str, str]) -> dict[str, Any]:
    turn = {"wait_for_robot_turn": 0.8}
    return {
        "13800138001": {"answer_after_seconds": 1.0, "steps": [turn, {"say": voice["yes"]}, turn, {"say": voice["secret"]}]},
        "13800138002": {"answer_after_seconds": 1.5, "steps": [
            turn, {"say": voice["yes"]}, turn, {"dtmf": "2"}, turn, {"say": voice["nothing"]}, turn, {"say": voice["agree"]},
        ]},
        "13800138003": {"busy": True},
        "13800138004": {"never_answer": True},
    }


def write_configs(workdir: Path, citizen_port: int) -> Path:
    (workdir / "sip.yaml").write_text(
        "transport: {bind_address: 127.0.0.1, public_address: 127.0.0.1, port: 0, rtp_port_start: 0}\n"
        f"dial_template: 'sip:{{phone}}@127.0.0.1:{citizen_port}'\n"
        "caller_id: {display_name: Anti-Fraud Centre, user: '96110'}\n"
        "ring_timeout_seconds: 6\nhello_listen_seconds: 0.5\nmax_call_seconds: 120\n"
        f"recordings_dir: '{workdir / 'recordings'}'\n"
    )
    config = workdir / "robot.yaml"
    config.write_text(
        "node_id: demo\n"
        f"database: '{workdir / 'robot.db'}'\n"
        f"sip_config: '{workdir / 'sip.yaml'}'\n"
        f"dialogs_dir: '{REPO_ROOT / 'dialogs' / 'en-US'}'\n"
        "language: en-US\ntimezone: Asia/Shanghai\n"
        "api: {host: 127.0.0.1, port: 0, token: {env: ROBOT_DEMO_TOKEN}}\n"
        f"workers: {{processes: 1, drain_seconds: 10, log_file: '{workdir / 'robot.log'}'}}\n"
        "calls_per_second: 5\n"
        "calling_windows: {low: null, medium: null}  # the demo runs at any hour\n"
        "policy:\n"
        "  # shortened so the demo finishes in a minute or two (defaults: 2, 5, 10 min / 10, 30 min)\n"
        "  retry_delays_seconds: {medium: [3, 3], low: [3]}\n"
        "  outcomes: {busy: {retry: true, retry_after_seconds: 3, escalate: unanswered_busy}}\n"
    )
    return config


def render_speech(workdir: Path) -> dict[str, str]:
    kit = SpeechKit(SpeechSettings(), deterministic_voices=True)
    voice = kit.prompts("en_US-joe-medium").synthesizer
    paths = {}
    for name, text in SPEECH.items():
        path = workdir / f"citizen-{name}.wav"
        write_wav(path, voice.render(text, TELEPHONE_RATE), TELEPHONE_RATE)
        paths[name] = str(path)
    return paths


async def run_demo(*, keep: bool = False, out: Any = None) -> int:
    out = out or sys.stdout
    workdir = Path(tempfile.mkdtemp(prefix="robot-demo-"))
    say = lambda text="": print(text, file=out, flush=True)  # noqa: E731
    say(f"robot demo in {workdir}")
    say("Preparing the citizens' voices (Piper)...")
    voice = await asyncio.get_running_loop().run_in_executor(None, render_speech, workdir)
    (workdir / "personas.json").write_text(json.dumps(personas(voice)))
    citizen_port = _free_port()
    config_path = write_configs(workdir, citizen_port)
    os.environ["ROBOT_DEMO_TOKEN"] = TOKEN
    config = load_dialer_config(config_path)

    log = workdir / "robot.log"
    handler = logging.FileHandler(log)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    quiet_libraries()

    citizen = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "robot.sip.simulated_callee", "--port", str(citizen_port),
        "--personas", str(workdir / "personas.json"), "--timeout", "900",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    say("Starting the daemon and a call worker (loading Piper and PocketSphinx)...")
    stop = asyncio.Event()
    daemon = asyncio.create_task(serve(config, config_path, ready=ready, stop=stop))
    code = 1
    try:
        waiters: set[asyncio.Future[Any]] = {daemon, ready}
        done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if daemon in done:
            say(f"the daemon did not start; see {log}")
            return 1
        url = ready.result()
        say(f"Daemon up at {url} (OpenAPI: {url}/docs). Submitting warnings:")
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as api:
            code = await _drive(api, say)
    finally:
        if not daemon.done():
            stop.set()  # what SIGTERM does: drain and stop
            with contextlib.suppress(Exception):
                await asyncio.wait_for(daemon, 60)
        if citizen.returncode is None:
            citizen.terminate()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(citizen.wait(), 10)
            if citizen.returncode is None:
                citizen.kill()
        root.removeHandler(handler)
        if keep:
            say(f"kept {workdir} (robot.log, robot.db, recordings/)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return code


async def _drive(api: httpx.AsyncClient, say: Any) -> int:
    batch = [{k: v for k, v in c.items() if k not in ("story", "expect")} | {"received_at": "2026-11-22T09:00:00"}
             for c in CITIZENS]
    response = await api.post("/v1/warnings", json=batch)
    response.raise_for_status()
    for citizen in CITIZENS:
        say(f"  {citizen['id']}  {citizen['name']:<10} {citizen['risk']:<6}  who {citizen['story']}")
    say()
    shown: dict[str, str] = {}
    started = time.monotonic()
    while time.monotonic() - started < 600:
        views = {c["id"]: (await api.get(f"/v1/warnings/{c['id']}")).json() for c in CITIZENS}
        for warning_id, view in views.items():
            line = _progress(view)
            if shown.get(warning_id) != line:
                shown[warning_id] = line
                say(f"[{time.monotonic() - started:5.1f} s] {warning_id}: {line}")
        if all(v["status"] == "done" for v in views.values()):
            break
        await asyncio.sleep(0.5)
    say()
    say("Outcomes")
    say(f"  {'warning':<8} {'name':<10} {'risk':<6} {'attempts':<8} {'outcome':<12} expected")
    ok = True
    for citizen in CITIZENS:
        view = views[citizen["id"]]
        ok &= view["status"] == "done"
        say(f"  {citizen['id']:<8} {citizen['name']:<10} {citizen['risk']:<6} {len(view['attempts']):<8} "
            f"{view['outcome'] or view['status']:<12} {citizen['expect']}")
    say()
    say("Escalation queue (GET /v1/escalations?status=open)")
    for item in (await api.get("/v1/escalations", params={"status": "open"})).json():
        phrase = f' heard: "{item["phrase"]}"' if item["phrase"] else ""
        say(f"  #{item['id']} {item['warning_id']:<8} {item['name']:<10} {item['phone']:<15} {item['reason']:<16} {item['mode']}{phrase}")
    first = next((v for v in views.values() if v["attempts"] and v["attempts"][0]["transcript"]), None)
    if first is not None:
        say()
        say(f"Transcript of {first['id']}, attempt 1:")
        for line in first["attempts"][0]["transcript"]:
            say(f"  {line['at_seconds']:5.1f} s {line['speaker']:>6}: {line['text']}")
    return 0 if ok else 1


def _progress(view: dict[str, Any]) -> str:
    attempts = view["attempts"]
    if view["status"] == "done":
        return f"done: {view['outcome']}" + (f" (escalation: {view['escalation']['reason']})" if view["escalation"] else "")
    if view["status"] == "calling":
        return f"calling (attempt {len(attempts)})"
    last = attempts[-1]["outcome"] if attempts else None
    return f"queued{f', last attempt {last}' if last else ''}" + (", escalated" if view["escalation"] else "")
