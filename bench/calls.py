"""Call benchmarks: capacity, response latency, urgency interrupt, and their scaling.

    .venv/bin/python bench/calls.py [--calls 1,4,16,32,48] [--urgent 12]

For each load it starts the real daemon (`robot run`, ceil(N/4) call-worker processes,
pjsua2, Piper joe, PocketSphinx) and a light SIP+RTP callee (bench/peer.py) that answers
every call and follows a persona with recorded speech and realistic pauses. It submits N
warnings at once and measures, while all N calls are up:

- response latency: end of the callee's utterance (known exactly from the audio it sent)
  to the robot's first voiced RTP packet at the callee; p50 and p95;
- frames: robot->callee packets lost or late at the callee; callee->robot frames that the
  worker received as gaps (underruns) or processed more than 100 ms late (from /metrics);
- CPU (user+system) and memory (RSS) of each worker process, per worker and per call.

With --urgent K it also places K calls whose callee says an urgent phrase over the robot's
greeting, and measures from the end of the phrase to the robot's audio stopping (at the
callee) and to the INVITE of the officer hand-off leaving (at the peer).

Writes bench/results/calls.json and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
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
sys.path.insert(0, str(REPO / "bench"))

from peer import BenchPeer, load_ulaw_frames  # noqa: E402

from robot.config import SpeechSettings  # noqa: E402
from robot.speech.audio import TELEPHONE_RATE, write_wav  # noqa: E402
from robot.speech.kit import SpeechKit  # noqa: E402

TOKEN = "bench-token"
ENDPOINT_SILENCE_SECONDS = 0.55
UTTERANCES = {
    "yes": "Yes, speaking.",
    "nothing": "No, nothing like that.",
    "no": "No, I have not.",
    "agree": "Yes, I will.",
    "urgent": "They told me to keep it secret.",
}
TURN = {"wait_for_robot_turn": 0.8}
CONVERSATION = [TURN, {"say": "yes"}, TURN, {"say": "nothing"}, TURN, {"say": "no"}, TURN, {"say": "agree"}, TURN,
                {"say": "agree"}]
URGENT = [{"say_over_robot": "urgent", "after_seconds": 1.5}]
KOREAN = {"yes": "네", "no": "아니요", "agree": "네 알겠습니다", "urgent": "비밀로 하라고 했어요"}
KOREAN_CONVERSATION = [TURN, {"say": "yes"}, TURN, {"say": "no"}, TURN, {"say": "agree"}, TURN, {"say": "agree"}]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else float("nan")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def family(pid: int) -> list[int]:
    """A worker and its children (the isolated recogniser processes)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return [pid, *children]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        line = next(x for x in status if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def metric(text: str, name: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ") or line.startswith(name + "{"))


def render_audio(workdir: Path) -> dict[str, tuple[list[bytes], int]]:
    kit = SpeechKit(SpeechSettings(), deterministic_voices=True)
    voice = kit.prompts("en_US-joe-medium").synthesizer
    audio = {}
    for name, text in UTTERANCES.items():
        path = workdir / f"{name}.wav"
        write_wav(path, voice.render(text, TELEPHONE_RATE), TELEPHONE_RATE)
        audio[name] = load_ulaw_frames(path)
    return audio


def render_korean(workdir: Path) -> dict[str, tuple[list[bytes], int]]:
    """Korean callee speech from espeak-ng (for the Vosk engine), at 8 kHz."""
    import shutil

    from robot.speech.audio import read_wav, resample

    audio = {}
    for name, text in KOREAN.items():
        raw = workdir / f"ko-{name}-raw.wav"
        subprocess.run([shutil.which("espeak-ng") or "espeak-ng", "-v", "ko", "-s", "140", "-w", str(raw), text], check=True)
        samples, rate = read_wav(raw)
        path = workdir / f"ko-{name}.wav"
        write_wav(path, resample(samples, rate, TELEPHONE_RATE), TELEPHONE_RATE)
        audio[name] = load_ulaw_frames(path)
    return audio


def handoff_delays(stats: list[Any], invites: list[tuple[float, str]]) -> list[float]:
    """For each urgent phrase, the first officer INVITE after it, relative to the phrase's end."""
    delays = []
    for call in stats:
        officer = [at for at, warning_id in invites if warning_id == call.warning_id]
        if call.urgent_phrase_ended and officer:
            delays.append(round(min(officer) - call.urgent_phrase_ended[0], 3))
    return sorted(delays)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Daemon:
    def __init__(self, workdir: Path, peer_port: int, workers: int, human_queue: bool, engine: str, per_worker: int) -> None:
        self.api_port = free_port()
        (workdir / "sip.yaml").write_text(
            "transport: {bind_address: 127.0.0.1, public_address: 127.0.0.1, port: 0, rtp_port_start: 0}\n"
            f"dial_template: 'sip:{{phone}}@127.0.0.1:{peer_port}'\nring_timeout_seconds: 20\nhello_listen_seconds: 0.5\n"
            + (f"human_queue_uri: 'sip:officer@127.0.0.1:{peer_port}'\n" if human_queue else "")
        )
        self.config = workdir / "robot.yaml"
        self.config.write_text(
            f"node_id: bench\ndatabase: '{workdir / 'robot.db'}'\nsip_config: '{workdir / 'sip.yaml'}'\n"
            + (f"dialogs_dir: '{REPO / 'dialogs' / 'en-US'}'\n" if engine == "pocketsphinx" else
               f"dialogs_dir: '{REPO / 'bench' / 'dialogs'}'\n")
            + f"language: {'en-US' if engine == 'pocketsphinx' else 'ko-KR'}\n"
            f"api: {{port: {self.api_port}, token: {{env: ROBOT_API_TOKEN}}}}\n"
            f"workers: {{processes: {workers}, calls_per_process: {per_worker}, log_file: '{workdir / 'workers.log'}', start_timeout_seconds: 600}}\n"
            "calls_per_second: 25\ncalling_windows: {low: null, medium: null}\nmax_attempts_per_number_per_day: 100\n"
            "policy: {outcomes: {no_answer: {finish: true}, refused: {finish: true}, no_input: {finish: true}}}\n"
        )
        self.log = (workdir / "robot.log").open("wb")
        env = {**os.environ, "ROBOT_API_TOKEN": TOKEN, "ROBOT_CACHE_DIR": str(workdir.parent / "robot-bench-prompts")}
        self.process = subprocess.Popen([sys.executable, "-m", "robot.cli", "run", "--config", str(self.config)],
                                        cwd=REPO, env=env, stdout=self.log, stderr=self.log)
        self.api = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.api_port}",
                                     headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)

    async def ready(self) -> dict[str, Any]:
        for _ in range(3000):
            try:
                response = await self.api.get("/healthz")
                if response.status_code == 200:
                    return response.json()
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                raise SystemExit(f"robot run exited; see {self.log.name}")
            await asyncio.sleep(0.2)
        raise SystemExit("the daemon did not become healthy")

    async def stop(self) -> None:
        await self.api.aclose()
        self.process.terminate()
        try:
            self.process.wait(120)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def short_answer_names(texts: dict[str, str], language: str) -> set[str]:
    """The utterances the robot takes for complete short answers (and answers sooner)."""
    from robot.dialog.const import Language
    from robot.understanding.lexicon import language_words
    from robot.understanding.turns import Ending, TurnTaking

    turns = TurnTaking(language_words(Language(language)), Language(language))
    return {name for name, text in texts.items() if turns.ending(text) is Ending.SHORT_ANSWER}


async def run_load(calls: int, audio: dict[str, Any], persona: list[dict[str, Any]], workdir: Path, *,
                   human_queue: bool = False, engine: str = "pocketsphinx", per_worker: int = 4) -> dict[str, Any]:
    # Calls are answered 0.5 to 8 s after they ring (a fixed pseudo-random spread), so that
    # callees do not all speak in the same instant, as real ones do not.
    peer = BenchPeer(persona, audio, answer_delays=[0.5 + (n * 7.919) % 7.5 for n in range(calls)])
    short_answers = (short_answer_names(UTTERANCES, "en-US") if engine == "pocketsphinx"
                     else short_answer_names(KOREAN, "ko-KR"))
    peer_port = await peer.start()
    workers = max(1, math.ceil(calls / per_worker))
    daemon = Daemon(workdir, peer_port, workers, human_queue, engine, per_worker)
    try:
        health = await daemon.ready()
        pids = [w["pid"] for w in health["worker_processes"]]
        warnings = [{"id": f"B{calls}-{n}", "phone": f"139{n:08d}", "risk": "medium", "received_at": "2026-11-22T09:00:00"}
                    for n in range(calls)]
        (await daemon.api.post("/v1/warnings", json=warnings)).raise_for_status()
        # Steady state: from when every call is answered until the first one ends.
        start = time.monotonic()
        while sum(1 for c in peer.calls.values() if c.stats.answered) < calls and time.monotonic() - start < 120:
            await asyncio.sleep(0.05)
        all_up = time.monotonic()
        families = {pid: family(pid) for pid in pids}
        cpu_before = {pid: sum(cpu_seconds(p) for p in members) for pid, members in families.items()}
        while not peer.finished and time.monotonic() - all_up < 300:
            await asyncio.sleep(0.1)
        window = time.monotonic() - all_up
        cpu = {pid: (sum(cpu_seconds(p) for p in members) - cpu_before[pid]) / window for pid, members in families.items()}
        rss = {pid: sum(rss_mb(p) for p in members) for pid, members in families.items()}
        while len(peer.finished) < calls and time.monotonic() - start < 600:
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.5)  # the last results reach the daemon
        metrics = (await daemon.api.get("/metrics")).text
    finally:
        await daemon.stop()
        await peer.stop()
    stats = peer.finished
    latencies = [x for s in stats for x in s.response_latencies]
    by_kind: dict[str, list[float]] = {"short_answer": [], "other": []}
    for s in stats:
        for name, seconds in s.response_by_utterance:
            by_kind["short_answer" if name in short_answers else "other"].append(seconds)
    received = sum(s.received for s in stats)
    frames_in = metric(metrics, "robot_audio_frames_received_total")
    return {
        "engine": engine, "calls": calls, "workers": workers, "calls_finished": len(stats),
        "steady_window_seconds": round(window, 1),
        "response_latency": {"samples": len(latencies), "p50": round(percentile(latencies, 0.5), 3),
                             "p95": round(percentile(latencies, 0.95), 3)},
        "response_latency_by_turn": {kind: {"samples": len(values), "p50": round(percentile(values, 0.5), 3),
                                            "p95": round(percentile(values, 0.95), 3)} for kind, values in by_kind.items()},
        "cut_offs": sum(len(s.cut_offs) for s in stats),
        "turns_said": sum(len(s.response_by_utterance) for s in stats),
        "urgent_stop_seconds": [round(x, 3) for s in stats for x in s.stop_after_urgent],
        "robot_to_callee": {"packets": received, "lost": sum(s.lost for s in stats), "late": sum(s.late for s in stats),
                            "bad_percent": round(100 * (sum(s.lost for s in stats) + sum(s.late for s in stats)) / max(1, received), 3)},
        "callee_to_robot": {"frames": int(frames_in), "gaps": int(metric(metrics, "robot_audio_underruns_total")),
                            "late": int(metric(metrics, "robot_audio_frames_late_total")),
                            "bad_percent": round(100 * (metric(metrics, "robot_audio_underruns_total")
                                                        + metric(metrics, "robot_audio_frames_late_total")) / max(1, frames_in), 3)},
        "peer_tick_late_over_5ms": sum(1 for x in peer.tick_lateness if x > 0.005),
        "cpu_percent_per_worker": [round(100 * v, 1) for v in cpu.values()],
        "cpu_percent_per_call": round(100 * sum(cpu.values()) / calls, 2),
        "rss_mb_per_worker": [round(v) for v in rss.values()],
        "rss_mb_per_call": round(sum(rss.values()) / calls),
        "officer_invites": [round(at, 3) for at, _ in peer.other_invites],
        "handoff_after_phrase_end_seconds": handoff_delays(stats, peer.other_invites),
        "outcomes": {line.split('"')[1]: float(line.split()[-1]) for line in metrics.splitlines()
                     if line.startswith("robot_call_outcomes_total{")},
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="robot-bench-calls-"))
    render = render_audio if args.engine == "pocketsphinx" else render_korean
    audio = await asyncio.get_running_loop().run_in_executor(None, render, workdir)
    conversation = CONVERSATION if args.engine == "pocketsphinx" else KOREAN_CONVERSATION
    results: dict[str, Any] = {"machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
                                          f"Python {platform.python_version()}", "loads": []}
    for calls in [int(x) for x in args.calls.split(",") if x]:
        load_dir = workdir / f"load-{calls}"
        load_dir.mkdir()
        print(f"... {calls} calls", file=sys.stderr, flush=True)
        results["loads"].append(await run_load(calls, audio, conversation, load_dir, engine=args.engine))
        print(json.dumps(results["loads"][-1]), file=sys.stderr, flush=True)
    if args.urgent:
        load_dir = workdir / "urgent"
        load_dir.mkdir()
        print(f"... {args.urgent} urgent calls", file=sys.stderr, flush=True)
        # 3 calls per worker: the fourth pjsua2 call slot is the officer leg (the daemon's default).
        results["urgent"] = await run_load(args.urgent, audio, URGENT, load_dir, human_queue=True, engine=args.engine,
                                           per_worker=3)
    return results


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="1,4,16,32,48", help="comma-separated loads")
    parser.add_argument("--urgent", type=int, default=8, help="calls with an urgent phrase over the robot (0: skip)")
    parser.add_argument("--engine", choices=["pocketsphinx", "vosk-ko"], default="pocketsphinx",
                        help="pocketsphinx: the English demo stack; vosk-ko: Vosk in grammar mode (the production "
                             "recogniser path) with the Korean model and Korean callee speech")
    args = parser.parse_args()
    results = asyncio.run(main(args))
    out = REPO / "bench" / "results" / f"calls-{args.engine}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print("| calls | workers | response p50 / p95 | short answers p50 / p95 | other turns p50 / p95 | cut-offs | "
          "robot->callee lost+late | callee->robot gaps+late | CPU per call | RSS per call |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for load in results["loads"]:
        latency = load["response_latency"]
        short, other = load["response_latency_by_turn"]["short_answer"], load["response_latency_by_turn"]["other"]
        print(f"| {load['calls']} | {load['workers']} | {latency['p50'] * 1000:.0f} / {latency['p95'] * 1000:.0f} ms | "
              f"{short['p50'] * 1000:.0f} / {short['p95'] * 1000:.0f} ms | {other['p50'] * 1000:.0f} / {other['p95'] * 1000:.0f} ms | "
              f"{load['cut_offs']} of {load['turns_said']} | "
              f"{load['robot_to_callee']['bad_percent']} % | {load['callee_to_robot']['bad_percent']} % | "
              f"{load['cpu_percent_per_call']} % | {load['rss_mb_per_call']} MB |")
    print(f"(written to {out})")


if __name__ == "__main__":
    run()
