"""A light SIP + RTP callee for benchmarks: many calls in one asyncio process.

pjsua2's simulated callee holds at most 4 calls per process and costs a Python frame
callback per 20 ms per call; a 48-call benchmark needs a peer that is cheap and measures
exactly. This one speaks just enough SIP (answers INVITE with PCMU, handles ACK and BYE)
and sends and receives RTP itself, so it knows:

- when its own utterance ended (the last voiced packet it sent), and when the robot's first
  voiced packet arrived after it: the response latency, as the callee hears it;
- when the robot's audio stopped after an urgent phrase spoken over it;
- how many of the robot's packets were lost (sequence gaps) or late (more than 40 ms behind
  their RTP timestamp, relative to the best packet so far): the sent side's health.

Every call follows one persona: a list of steps like the simulated callee's
({"wait_for_robot_turn": 0.8}, {"say": "file.wav"}, {"say_over_robot": "file.wav", "after_seconds": 1.0}).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import struct
import time
import warnings
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

FRAME_SECONDS = 0.02
FRAME_SAMPLES = 160
SILENCE = b"\xff" * FRAME_SAMPLES  # μ-law silence
SPEECH_RMS = 300
LATE_SECONDS = 0.04


def load_ulaw_frames(path: str | Path) -> tuple[list[bytes], int]:
    """20 ms μ-law frames of an 8 kHz 16-bit mono WAV, and the index after its last voiced frame."""
    with wave.open(str(path), "rb") as source:
        assert source.getframerate() == 8000 and source.getsampwidth() == 2 and source.getnchannels() == 1, path
        pcm = source.readframes(source.getnframes())
    frames, last_voiced = [], 0
    for start in range(0, len(pcm), FRAME_SAMPLES * 2):
        chunk = pcm[start:start + FRAME_SAMPLES * 2].ljust(FRAME_SAMPLES * 2, b"\0")
        frames.append(audioop.lin2ulaw(chunk, 2))
        if audioop.rms(chunk, 2) > SPEECH_RMS:
            last_voiced = len(frames)
    return frames, last_voiced


@dataclass
class CallStats:
    number: str
    started: float
    warning_id: str = ""
    answered: float = 0.0
    ended: float = 0.0
    response_latencies: list[float] = field(default_factory=list)
    response_by_utterance: list[tuple[str, float]] = field(default_factory=list)
    """(utterance name, seconds from its end to the robot's voice)."""
    cut_offs: list[str] = field(default_factory=list)
    """Utterances the robot started talking over before they ended (an endpoint too early)."""
    stop_after_urgent: list[float] = field(default_factory=list)
    urgent_phrase_ended: list[float] = field(default_factory=list)
    received: int = 0
    lost: int = 0
    late: int = 0
    sent: int = 0
    robot_hung_up: bool = False


class PeerCall:
    def __init__(self, peer: BenchPeer, invite: dict[str, Any], remote_rtp: tuple[str, int]) -> None:
        self.peer = peer
        self.invite = invite
        self.remote_rtp = remote_rtp
        self.stats = CallStats(number=invite["user"], started=time.monotonic(), warning_id=invite["warning_id"])
        self.outgoing: list[bytes] = []  # frames queued to send (the persona's speech)
        self.ssrc = random.getrandbits(32)
        self.sequence = random.getrandbits(16)
        self.timestamp = random.getrandbits(32)
        self.rtp: asyncio.DatagramTransport | None = None
        self.ended = asyncio.Event()
        self.acked = asyncio.Event()
        self.robot_voice: list[tuple[float, bool]] = []  # (arrival, voiced) of recent robot packets
        self.last_voiced_at = 0.0
        self.first_seq: int | None = None
        self.expected_seq: int | None = None
        self.best_offset: float | None = None  # min(arrival - rtp time): the no-delay reference
        self.speech_done = asyncio.Event()
        self.voiced = asyncio.Event()
        """Set by each voiced robot packet (and at the end of the call): waits wake on it, not on a poll."""
        self.task: asyncio.Task[None] | None = None

    # -- RTP ---------------------------------------------------------------------------

    def rtp_received(self, data: bytes, arrived: float) -> None:
        if len(data) < 12 + FRAME_SAMPLES:
            return
        sequence, rtp_time = struct.unpack("!HI", data[2:8])
        payload_type = data[1] & 0x7F
        if payload_type != 0:
            return
        stats = self.stats
        stats.received += 1
        if self.expected_seq is not None:
            gap = (sequence - self.expected_seq) & 0xFFFF
            if 0 < gap < 1000:
                stats.lost += gap
        self.expected_seq = (sequence + 1) & 0xFFFF
        if self.first_seq is None:
            self.first_seq = rtp_time
        offset = arrived - ((rtp_time - self.first_seq) & 0xFFFFFFFF) / 8000
        if self.best_offset is None or offset < self.best_offset:
            self.best_offset = offset
        elif offset - self.best_offset > LATE_SECONDS:
            stats.late += 1
        voiced = audioop.rms(audioop.ulaw2lin(data[12:12 + FRAME_SAMPLES], 2), 2) > SPEECH_RMS
        if voiced:
            self.last_voiced_at = arrived
            if not self.voiced.is_set():
                self.voiced.set()
        self.robot_voice.append((arrived, voiced))
        if len(self.robot_voice) > 500:
            del self.robot_voice[:250]

    def next_frame(self) -> bytes:
        frame = self.outgoing.pop(0) if self.outgoing else SILENCE
        if not self.outgoing and not self.speech_done.is_set() and frame is not SILENCE:
            self.peer.loop.call_soon(self.speech_done.set)
        header = struct.pack("!BBHII", 0x80, 0, self.sequence, self.timestamp, self.ssrc)
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (self.timestamp + FRAME_SAMPLES) & 0xFFFFFFFF
        self.stats.sent += 1
        return header + frame

    def robot_stopped_after(self, moment: float, gap_packets: int = 4) -> float | None:
        """Arrival of the robot's last voiced packet before its first gap of 80 ms after `moment`."""
        history = [(at, voiced) for at, voiced in self.robot_voice if at >= moment]
        last_voiced, quiet = None, 0
        for at, voiced in history:
            if voiced:
                last_voiced, quiet = at, 0
            else:
                quiet += 1
                if quiet >= gap_packets and last_voiced is not None:
                    return last_voiced
        return None

    # -- the persona -------------------------------------------------------------------

    async def pause(self, seconds: float) -> None:
        """Wait this long, or until the call ends."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ended.wait(), seconds)

    async def robot_voiced_after(self, moment: float, limit_seconds: float) -> bool:
        """Wait for a voiced robot packet that arrived after `moment` (monotonic seconds)."""
        end = time.monotonic() + limit_seconds
        while self.last_voiced_at <= moment and not self.ended.is_set():
            remaining = end - time.monotonic()
            if remaining <= 0:
                break
            self.voiced.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.voiced.wait(), remaining)
        return self.last_voiced_at > moment

    async def robot_quiet_for(self, quiet_seconds: float, limit_seconds: float) -> bool:
        """Wait until the robot has sent no voiced packet for `quiet_seconds`."""
        end = time.monotonic() + limit_seconds
        while not self.ended.is_set():
            now = time.monotonic()
            still = self.last_voiced_at + quiet_seconds - now
            if still <= 0:
                return True
            if now >= end:
                return False
            await self.pause(min(still, end - now))
        return False

    async def say(self, name: str) -> float:
        """Queue an utterance; returns when its last voiced frame was sent."""
        frames, last_voiced = self.peer.audio[name]
        self.speech_done.clear()
        self.outgoing.extend(frames[:last_voiced])
        await asyncio.wait({asyncio.ensure_future(self.speech_done.wait()), asyncio.ensure_future(self.ended.wait())},
                           return_when=asyncio.FIRST_COMPLETED)
        return time.monotonic()

    async def run_persona(self, steps: list[dict[str, Any]]) -> None:
        stats = self.stats
        for step in steps:
            if self.ended.is_set():
                break
            if "wait_for_robot_turn" in step:
                await self.robot_voiced_after(time.monotonic() - 0.1, 60)
                await self.robot_quiet_for(step["wait_for_robot_turn"], 120)
            elif "say" in step:
                started = time.monotonic()
                ended = await self.say(step["say"])
                if any(voiced and started + 0.2 < at < ended for at, voiced in self.robot_voice):
                    stats.cut_offs.append(step["say"])
                if await self.robot_voiced_after(ended, 10):
                    first = next((at for at, voiced in self.robot_voice if voiced and at > ended), self.last_voiced_at)
                    stats.response_latencies.append(first - ended)
                    stats.response_by_utterance.append((step["say"], first - ended))
            elif "say_over_robot" in step:
                await self.robot_voiced_after(time.monotonic() - 0.1, 60)
                await self.pause(step.get("after_seconds", 1.0))
                started = time.monotonic()
                ended = await self.say(step["say_over_robot"])
                await self.pause(1.0)
                stop = self.robot_stopped_after(started)
                if stop is not None:
                    stats.stop_after_urgent.append(stop - ended)
                stats.urgent_phrase_ended.append(ended)
            elif "wait_seconds" in step:
                await self.pause(step["wait_seconds"])
        await self.pause(600)


class BenchPeer(asyncio.DatagramProtocol):
    """SIP UAS on one UDP port; RTP on one UDP port per call."""

    def __init__(self, persona: list[dict[str, Any]], audio: dict[str, tuple[list[bytes], int]], *,
                 answer_after_seconds: float = 0.2, answer_delays: list[float] | None = None) -> None:
        self.persona = persona
        self.audio = audio
        self.answer_after_seconds = answer_after_seconds
        self.answer_delays = list(answer_delays or [])
        """Per call, in order of arrival; then answer_after_seconds."""
        self.calls: dict[str, PeerCall] = {}
        self.finished: list[CallStats] = []
        self.other_invites: list[tuple[float, str]] = []  # (arrival, X-Warning-Id) of officer legs
        self.transport: asyncio.DatagramTransport | None = None
        self.loop = asyncio.get_event_loop()
        self.port = 0
        self._ticker: asyncio.Task[None] | None = None
        self.tick_lateness: list[float] = []

    async def start(self) -> int:
        self.loop = asyncio.get_running_loop()
        transport, _ = await self.loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        self._ticker = asyncio.create_task(self._tick())
        return self.port

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        for call in list(self.calls.values()):
            if call.rtp is not None:
                call.rtp.close()
        if self.transport is not None:
            self.transport.close()

    async def _tick(self) -> None:
        """One clock for every call's outgoing RTP, 20 ms apart, without drift."""
        start = time.monotonic()
        tick = 0
        while True:
            tick += 1
            due = start + tick * FRAME_SECONDS
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.tick_lateness.append(max(0.0, time.monotonic() - due))
            for call in list(self.calls.values()):
                if call.rtp is not None and call.acked.is_set() and not call.ended.is_set():
                    call.rtp.sendto(call.next_frame(), call.remote_rtp)

    # -- SIP ---------------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        text = data.decode(errors="replace")
        head, _, body = text.partition("\r\n\r\n")
        lines = head.split("\r\n")
        method = lines[0].split(" ", 1)[0]
        headers = lines[1:]

        def header(*names: str) -> list[str]:
            return [line for line in headers if line.split(":", 1)[0].strip().lower() in names]

        call_id = header("call-id", "i")[0].split(":", 1)[1].strip()
        warning_id = next((h.split(":", 1)[1].strip() for h in header("x-warning-id")), "")
        if method == "INVITE":
            request_uri = lines[0].split(" ")[1]
            user = request_uri.split(":", 1)[1].split("@", 1)[0]
            if call_id in self.calls:
                return  # a retransmission
            if user in ("officer", "queue"):
                self.other_invites.append((time.monotonic(), warning_id))
                self._respond(addr, headers, "486 Busy Here", tag="busy")
                return
            media = next(line for line in body.split("\r\n") if line.startswith("m=audio"))
            address = next((line.split()[-1] for line in body.split("\r\n") if line.startswith("c=")), "127.0.0.1")
            invite = {"user": user, "headers": headers, "addr": addr, "warning_id": warning_id}
            call = PeerCall(self, invite, (address, int(media.split()[1])))
            self.calls[call_id] = call
            self._respond(addr, headers, "180 Ringing", tag=call_id[:8])
            call.task = asyncio.create_task(self._answer(call_id, call))
        elif method == "ACK":
            call = self.calls.get(call_id)
            if call is not None:
                call.acked.set()
        elif method == "BYE":
            self._respond(addr, headers, "200 OK", tag=None)
            call = self.calls.pop(call_id, None)
            if call is not None:
                call.stats.robot_hung_up = True
                self._end(call)
        elif method == "CANCEL":
            self._respond(addr, headers, "200 OK", tag=None)
            call = self.calls.pop(call_id, None)
            if call is not None:
                self._end(call)

    def _end(self, call: PeerCall) -> None:
        call.stats.ended = time.monotonic()
        call.ended.set()
        call.voiced.set()
        if call.rtp is not None:
            call.rtp.close()
        self.finished.append(call.stats)

    def _respond(self, addr: tuple[str, int], headers: list[str], status: str, *, tag: str | None,
                 body: str = "", extra: list[str] | None = None) -> None:
        keep = [h for h in headers if h.split(":", 1)[0].strip().lower() in ("via", "v", "from", "f", "call-id", "i", "cseq")]
        to = next(h for h in headers if h.split(":", 1)[0].strip().lower() in ("to", "t"))
        if tag and ";tag=" not in to:
            to = f"{to};tag={tag}"
        lines = [f"SIP/2.0 {status}", *keep, to, *(extra or [])]
        if body:
            lines += ["Content-Type: application/sdp", f"Content-Length: {len(body)}", "", body]
        else:
            lines += ["Content-Length: 0", "", ""]
        assert self.transport is not None
        self.transport.sendto("\r\n".join(lines).encode(), addr)

    async def _answer(self, call_id: str, call: PeerCall) -> None:
        rtp, _ = await self.loop.create_datagram_endpoint(lambda: _RtpProtocol(call), local_addr=("127.0.0.1", 0))
        call.rtp = rtp
        rtp_port = rtp.get_extra_info("sockname")[1]
        await asyncio.sleep(self.answer_delays.pop(0) if self.answer_delays else self.answer_after_seconds)
        sdp = "\r\n".join([
            "v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=bench", "c=IN IP4 127.0.0.1", "t=0 0",
            f"m=audio {rtp_port} RTP/AVP 0 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-16", "a=ptime:20", "a=sendrecv", "",
        ])
        contact = [f"Contact: <sip:{call.invite['user']}@127.0.0.1:{self.port}>"]
        for _ in range(8):  # retransmit the 200 until the ACK arrives (RFC 3261 17.2.1, roughly)
            if call.ended.is_set():
                return
            self._respond(call.invite["addr"], call.invite["headers"], "200 OK", tag=call_id[:8], body=sdp, extra=contact)
            try:
                await asyncio.wait_for(call.acked.wait(), 0.5)
                break
            except TimeoutError:
                continue
        call.stats.answered = time.monotonic()
        await call.run_persona(self.persona)


class _RtpProtocol(asyncio.DatagramProtocol):
    def __init__(self, call: PeerCall) -> None:
        self.call = call

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.call.rtp_received(data, time.monotonic())
