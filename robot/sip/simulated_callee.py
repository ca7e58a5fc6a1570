"""A simulated callee on pjsua2, in its own process, for tests, benchmarks and the demo.

It answers incoming calls and follows a persona: wait for the robot to finish a turn, say
a recorded utterance, press keys, barge in, hang up. It measures what a real phone would:
when the robot's audio starts and stops relative to its own speech.

    python -m robot.sip.simulated_callee --port 5090 --persona persona.json [--tls-cert C --tls-key K] [--codec G722/16000/1]

A persona is JSON: {"answer_after_seconds": 0.5, "steps": [...]} with steps such as
{"wait_for_robot_turn": 0.8}   the robot spoke, then was quiet this long
{"wait_for_robot_speech": true} the robot started talking
{"say": "utterance.wav"}       play an 8 kHz 16-bit WAV and wait until it has been played
{"dtmf": "12"}                 RFC 4733 key presses
{"wait_seconds": 1.5}
{"hang_up": true}
Output: one JSON line per event on stdout, ending with {"event": "done", ...}.

With `--personas FILE` it serves many calls (up to 4 at once, pjsua2's limit) until
`--timeout`, choosing the persona by the dialled number (the To user):
{"13800138001": {persona}, ..., "*": {persona}}. A persona may also be
{"busy": true} (486 at once) or {"never_answer": true} (rings until cancelled).
Events then carry "number"; each call ends with {"event": "call_done", ...}.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
import time
import warnings
from collections import deque
from typing import Any

import pjsua2 as pj

from robot.sip.media import vector_bytes

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

SPEECH_RMS = 300  # robot prompts are far louder; line silence is ~0
FRAME_SECONDS = 0.02


_PRINT = threading.Lock()


def emit(event: str, **fields: Any) -> None:
    line = json.dumps({"event": event, "at": round(time.monotonic(), 3), **fields})
    with _PRINT:
        print(line, flush=True)


class Ear(pj.AudioMediaPort):
    """Loudness of every received 20 ms frame, with its arrival time (media thread: cheap)."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: deque[tuple[float, int]] = deque(maxlen=100_000)

    def onFrameReceived(self, frame: pj.MediaFrame) -> None:  # noqa: N802
        self.frames.append((time.monotonic(), audioop.rms(vector_bytes(frame.buf), 2)))

    def onFrameRequested(self, frame: pj.MediaFrame) -> None:  # noqa: N802
        frame.type = pj.PJMEDIA_FRAME_TYPE_NONE

    def robot_speaking_since(self, seconds: float) -> bool:
        now = time.monotonic()
        return any(at >= now - seconds and rms > SPEECH_RMS for at, rms in self.frames)

    def first_speech_after(self, moment: float) -> float | None:
        return next((at for at, rms in self.frames if at >= moment and rms > SPEECH_RMS), None)

    def last_speech_before(self, moment: float) -> float | None:
        return next((at for at, rms in reversed(self.frames) if at <= moment and rms > SPEECH_RMS), None)


class Mouth(pj.AudioMediaPlayer):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.done = False
        self.createPlayer(path, pj.PJMEDIA_FILE_NO_LOOP)

    def onEof2(self) -> None:  # noqa: N802
        self.done = True


class IncomingCall(pj.Call):
    def __init__(self, account: pj.Account, call_id: int) -> None:
        super().__init__(account, call_id)
        self.audio: pj.AudioMedia | None = None
        self.ear: Ear | None = None
        self.disconnected = False

    def onCallState(self, prm: pj.OnCallStateParam) -> None:  # noqa: N802
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:  # noqa: N802
        info = self.getInfo()  # keep it alive: `media` points into it
        for index, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE and self.ear is None:
                self.audio = self.getAudioMedia(index)
                fmt = pj.MediaFormatAudio()
                fmt.type, fmt.clockRate, fmt.channelCount, fmt.bitsPerSample, fmt.frameTimeUsec = pj.PJMEDIA_TYPE_AUDIO, 8000, 1, 16, 20000
                self.ear = Ear()
                self.ear.createPort("ear", fmt)
                self.audio.startTransmit(self.ear)


class Callee(pj.Account):
    def __init__(self, personas: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.calls: list[IncomingCall] = []
        self.personas = personas
        self.new_calls: list[tuple[IncomingCall, str, dict[str, Any]]] = []

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:  # noqa: N802
        call = IncomingCall(self, prm.callId)
        self.calls.append(call)
        if self.personas is not None:
            number = call.getInfo().localUri.split("sip:", 1)[-1].split("@", 1)[0]
            persona = self.personas.get(number) or self.personas.get("*") or {}
            emit("incoming", number=number)
            if persona.get("busy"):
                busy = pj.CallOpParam()
                busy.statusCode = 486
                call.answer(busy)
                emit("call_done", number=number, busy=True)
                return
            self.new_calls.append((call, number, persona))
        ringing = pj.CallOpParam()
        ringing.statusCode = 180
        call.answer(ringing)


class Runner:
    def __init__(self, endpoint: pj.Endpoint, persona: dict[str, Any], timeout_seconds: float, *, pumps: bool = True) -> None:
        self.endpoint = endpoint
        self.persona = persona
        self.deadline = time.monotonic() + timeout_seconds
        self.pumps = pumps
        """False in a per-call thread: the main thread runs pjsua2's events."""

    def pump(self, seconds: float = 0.02) -> None:
        if self.pumps:
            self.endpoint.libHandleEvents(int(seconds * 1000))
        else:
            time.sleep(seconds)

    def until(self, condition: Any, limit_seconds: float = 60) -> bool:
        end = min(self.deadline, time.monotonic() + limit_seconds)
        while time.monotonic() < end:
            if condition():
                return True
            self.pump()
        return False

    def step(
        self, call: IncomingCall, step: dict[str, Any], latencies: list[float], robot_stops: list[float], players: list[Mouth]
    ) -> None:
        ear = call.ear
        assert ear is not None
        if "wait_for_robot_turn" in step:
            quiet = step["wait_for_robot_turn"]
            self.until(lambda: ear.robot_speaking_since(0.1) or call.disconnected)
            self.until(lambda: not ear.robot_speaking_since(quiet) or call.disconnected)
            emit("robot_turn_ended")
        elif step.get("wait_for_robot_speech"):
            self.until(lambda: ear.robot_speaking_since(0.05) or call.disconnected)
            emit("robot_speaking")
        elif "say" in step:
            mouth = Mouth(step["say"])
            players.append(mouth)
            started = time.monotonic()
            robot_was_talking = ear.robot_speaking_since(0.06)
            mouth.startTransmit(call.audio)
            self.until(lambda: mouth.done or call.disconnected)
            ended = time.monotonic()
            mouth.stopTransmit(call.audio)
            self.until(lambda: call.disconnected, 0.3)
            emit("said", file=step["say"], started=round(started, 3), ended=round(ended, 3), over_robot=robot_was_talking)
            if robot_was_talking:
                stop = ear.last_speech_before(ended)
                if stop is not None and stop > started:
                    robot_stops.append(round(stop - started, 3))
            self.until(lambda: ear.first_speech_after(ended) is not None or call.disconnected, step.get("reply_within_seconds", 10))
            reply = ear.first_speech_after(ended)
            if reply is not None:
                latencies.append(round(reply - ended, 3))
                emit("robot_replied", after_seconds=round(reply - ended, 3))
        elif "dtmf" in step:
            call.dialDtmf(step["dtmf"])
            emit("dtmf", digits=step["dtmf"])
            self.until(lambda: call.disconnected, 0.5)
        elif "wait_seconds" in step:
            self.until(lambda: call.disconnected, step["wait_seconds"])
        elif step.get("hang_up"):
            call.hangup(pj.CallOpParam())
            emit("hung_up")
            self.until(lambda: call.disconnected, 3)

    def run(self, account: Callee) -> dict[str, Any]:
        if not self.until(lambda: bool(account.calls), 120):
            return {"error": "no call arrived"}
        return self.converse(account.calls[0])

    def converse(self, call: IncomingCall) -> dict[str, Any]:
        if self.persona.get("never_answer"):
            emit("ringing")
            self.until(lambda: call.disconnected, self.persona.get("linger_seconds", 120))
            return {"robot_hung_up": call.disconnected, "answered": False}
        emit("ringing")
        self.until(lambda: call.disconnected, self.persona.get("answer_after_seconds", 0.5))
        answer = pj.CallOpParam()
        answer.statusCode = 200
        call.answer(answer)
        if not self.until(lambda: call.ear is not None or call.disconnected, 5) or call.ear is None:
            return {"error": "no audio after answering", "robot_hung_up": call.disconnected}
        emit("answered")
        latencies: list[float] = []
        robot_stops: list[float] = []
        players: list[Mouth] = []
        for step in self.persona.get("steps", []):
            if call.disconnected:
                break
            self.step(call, step, latencies, robot_stops, players)
        self.until(lambda: call.disconnected, self.persona.get("linger_seconds", 30))
        summary = {
            "robot_hung_up": call.disconnected,
            "response_latencies_seconds": latencies,
            "robot_kept_talking_after_barge_in_seconds": robot_stops,
        }
        for mouth in players:
            with_suppressed(lambda m=mouth: m.stopTransmit(call.audio))
        players.clear()
        return summary


def serve_personas(endpoint: pj.Endpoint, account: Callee, timeout_seconds: float) -> dict[str, Any]:
    """Each answered call runs its persona in its own thread (registered with pjsua2);
    this thread runs pjsua2's events until the timeout."""
    deadline = time.monotonic() + timeout_seconds
    threads: list[threading.Thread] = []
    served = 0

    def converse(call: IncomingCall, number: str, persona: dict[str, Any]) -> None:
        endpoint.libRegisterThread(f"persona-{number}")
        try:
            summary = Runner(endpoint, persona, max(1.0, deadline - time.monotonic()), pumps=False).converse(call)
        except Exception as err:  # reported, not raised: the other calls go on
            summary = {"error": f"{type(err).__name__}: {err}"}
        emit("call_done", number=number, **summary)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # a clean exit: calls hung up, library destroyed
    while time.monotonic() < deadline and not stop.is_set():
        endpoint.libHandleEvents(20)
        while account.new_calls:
            call, number, persona = account.new_calls.pop(0)
            served += 1
            thread = threading.Thread(target=converse, args=(call, number, persona), daemon=True)
            threads.append(thread)
            thread.start()
        threads = [t for t in threads if t.is_alive()]
    return {"calls": served}


def hang_up_all(calls: list[IncomingCall]) -> None:
    for call in calls:
        with_suppressed(lambda c=call: c.hangup(pj.CallOpParam()) if c.isActive() else None)


def with_suppressed(action: Any) -> None:
    with contextlib.suppress(pj.Error):
        action()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--persona", help="persona JSON file: serve one call")
    parser.add_argument("--personas", help="personas by dialled number (JSON file): serve calls until --timeout")
    parser.add_argument("--timeout", type=float, default=180)
    parser.add_argument("--tls-cert", help="listen on SIP over TLS with this PEM certificate (and --tls-key)")
    parser.add_argument("--tls-key", help="PEM private key for --tls-cert")
    parser.add_argument("--codec", help="accept only this codec, e.g. G722/16000/1")
    args = parser.parse_args(argv)
    if bool(args.persona) == bool(args.personas):
        parser.error("give --persona or --personas")
    with open(args.persona or args.personas, encoding="utf-8") as handle:
        persona = json.load(handle)

    endpoint = pj.Endpoint()
    endpoint.libCreate()
    config = pj.EpConfig()
    config.uaConfig.threadCnt = 0
    config.uaConfig.mainThreadOnly = False
    config.logConfig.consoleLevel = 0
    config.logConfig.level = 1
    config.medConfig.clockRate = 8000
    config.medConfig.sndClockRate = 8000
    config.medConfig.noVad = True
    config.medConfig.ecTailLen = 0
    endpoint.libInit(config)
    endpoint.audDevManager().setNullDev()
    transport = pj.TransportConfig()
    transport.port = args.port
    transport.boundAddress = "127.0.0.1"
    kind = pj.PJSIP_TRANSPORT_UDP
    if args.tls_cert:
        transport.tlsConfig.certFile = args.tls_cert
        transport.tlsConfig.privKeyFile = args.tls_key or ""
        kind = pj.PJSIP_TRANSPORT_TLS
    endpoint.transportCreate(kind, transport)
    endpoint.libStart()
    if args.codec:
        for codec in endpoint.codecEnum2():
            endpoint.codecSetPriority(codec.codecId, 255 if codec.codecId == args.codec else 0)
    account_config = pj.AccountConfig()
    account_config.idUri = f"sip:callee@127.0.0.1:{args.port}"
    account_config.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    account = Callee(persona if args.personas else None)
    account.create(account_config)
    emit("ready", port=args.port)
    try:
        if args.personas:
            summary = serve_personas(endpoint, account, args.timeout)
        else:
            summary = Runner(endpoint, persona, args.timeout).run(account)
    except Exception as err:  # reported, and its traceback (holding Call objects) released here
        summary = {"error": f"{type(err).__name__}: {err}"}
    finally:
        # Python objects first, then the library: otherwise libDestroy asserts.
        hang_up_all(account.calls)  # in a function: no loop variable may outlive libDestroy
        for _ in range(20):
            endpoint.libHandleEvents(10)
        account.calls.clear()
        account.shutdown()
        del account
        endpoint.libDestroy()
    emit("done", **summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
