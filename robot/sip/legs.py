"""A call's pjsua2 legs: the callee, and an officer's for a live hand-off.

Every pjsua2 object is created, used and destroyed on the pjsua thread (`run_in_thread`);
pjsua2 callbacks only hand what happened to the event loop (`post`) through `LegEvents`.
Prompts are played with pjsua2's `AudioMediaPlayer` (no Python per frame), the callee's
audio arrives in a deque (`ReceivePort`), and the callee leg is recorded, both sides.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

import pjsua2 as pj

from ..masking import mask_phone
from ..private import private_file
from .config import header_problem
from .endpoint import PjsuaThread, SipError
from .media import PromptPlayer, ReceivePort, audio_format

_LOGGER = logging.getLogger(__name__)


class Leg(StrEnum):
    CALLEE = "callee"
    OFFICER = "officer"


class LegEvents(ABC):
    """What the legs report; always called on the event loop."""

    @abstractmethod
    def leg_state(self, leg: Leg, state: int, status: int) -> None:
        """A pjsip invite state (`pj.PJSIP_INV_STATE_*`) and the last SIP status."""

    @abstractmethod
    def leg_media(self, leg: Leg, frames: deque[bytes], early: bool) -> None:
        """The leg's received audio (20 ms frames) is flowing; `early`: before the answer."""

    @abstractmethod
    def leg_dtmf(self, digit: str) -> None:
        """A key the callee pressed."""


def add_headers(parameters: pj.CallOpParam, headers: Mapping[str, str]) -> None:
    """The one place SIP headers are built: each must be one well-formed header, whatever
    filled it in (a warning id, a configured template), or the call is not placed."""
    for name, value in headers.items():
        problem = header_problem(name, value)
        if problem is not None:
            raise SipError("sip_header", f"not dialled: {problem}")
        header = pj.SipHeader()
        header.hName, header.hValue = name, value
        parameters.txOption.headers.append(header)


class SipLeg(pj.Call):
    """pjsua2's call object for one leg; lives on the pjsua thread."""

    def __init__(self, legs: Legs, leg: Leg) -> None:
        assert legs.thread.account is not None
        super().__init__(legs.thread.account)
        self.legs = legs
        self.leg = leg
        self.audio: pj.AudioMedia | None = None
        self.port: ReceivePort | None = None
        self.recorder: pj.AudioMediaRecorder | None = None
        # Prompt players by token: the asyncio side only ever holds the token, so every
        # pjsua2 object is destroyed on this thread.
        self.players: dict[int, PromptPlayer] = {}
        self.next_token = 0

    def onCallState(self, prm: pj.OnCallStateParam) -> None:  # noqa: N802
        info = self.getInfo()
        self.legs.thread.post(self.legs.events.leg_state, self.leg, info.state, info.lastStatusCode)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:  # noqa: N802
        info = self.getInfo()
        for index, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                early = info.state == pj.PJSIP_INV_STATE_EARLY
                # On pjsua's SIP thread: the ports are made on the owning thread instead.
                self.legs.thread.call_here(functools.partial(self._connect_media, index, early))
                return

    def _connect_media(self, index: int, early: bool) -> None:
        if self.port is not None or self.legs.current(self.leg) is not self or not self.isActive():
            return  # already connected, or released meanwhile
        self.audio = self.getAudioMedia(index)
        self.port = ReceivePort()
        self.port.createPort(f"rx{self.getId()}", audio_format())
        self.audio.startTransmit(self.port)
        recording = self.legs.recording_path
        if recording is not None and self.leg is Leg.CALLEE:
            private_file(recording, truncate=True)  # 0600: pjmedia's writer would use the umask
            self.recorder = pj.AudioMediaRecorder()
            self.recorder.createRecorder(str(recording))
            self.audio.startTransmit(self.recorder)
        self.legs.thread.post(self.legs.events.leg_media, self.leg, self.port.frames, early)

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:  # noqa: N802
        if self.leg is Leg.CALLEE:  # an officer's keys mean nothing to the dialog
            self.legs.thread.post(self.legs.events.leg_dtmf, prm.digit)

    # The far end never makes the robot place or take a leg it did not decide on: pjsua would
    # otherwise dial a REFER's Refer-To under the centre's caller ID (toll fraud) with a
    # call nobody owns, accept an INVITE that Replaces this dialog, or follow a 3xx.

    def onCallTransferRequest(self, prm: pj.OnCallTransferRequestParam) -> None:  # noqa: N802
        prm.statusCode = pj.PJSIP_SC_DECLINE
        _LOGGER.warning("call %s: the far end asked for a transfer (REFER): declined", self.legs.name)

    def onCallReplaceRequest(self, prm: pj.OnCallReplaceRequestParam) -> None:  # noqa: N802
        prm.statusCode = pj.PJSIP_SC_DECLINE
        _LOGGER.warning("call %s: an INVITE with Replaces for this call: declined", self.legs.name)

    def onCallRedirected(self, prm: pj.OnCallRedirectedParam) -> int:  # noqa: N802
        return int(pj.PJSIP_REDIRECT_STOP)  # a 3xx ends the call with its status; nothing else is dialled


class MediaCounts:
    """The callee leg's receive counters, read when the leg is released."""

    def __init__(self) -> None:
        self.frames_received = 0
        self.audio_gaps = 0
        self.frames_dropped = 0


class Legs:
    """The legs of one call. Methods are called on the event loop; the work runs on the
    pjsua thread."""

    def __init__(self, thread: PjsuaThread, events: LegEvents, *, target: str, recording_path: Path | None) -> None:
        self.thread = thread
        self.events = events
        self.name = mask_phone(target)
        """How logs name the call."""
        self.recording_path = recording_path
        self._calls: dict[Leg, SipLeg] = {}  # touched only on the pjsua thread
        self.media = MediaCounts()

    def current(self, leg: Leg) -> SipLeg | None:
        """On the pjsua thread: the leg's pjsua2 call, if it has one."""
        return self._calls.get(leg)

    async def dial(self, leg: Leg, uri: str, headers: Mapping[str, str]) -> None:
        """Place the leg's call. SipError if it cannot be placed (bad header, no free pjsua2
        call slot, a transport that cannot reach the far end); the leg is then forgotten."""

        def place() -> None:
            call = SipLeg(self, leg)
            self.thread.owned.add(call)
            self._calls[leg] = call
            parameters = pj.CallOpParam(True)
            try:
                add_headers(parameters, headers)
                call.makeCall(uri, parameters)
            except BaseException:
                self._forget(leg)
                raise

        await self.thread.run_in_thread(place)

    def _forget(self, leg: Leg) -> None:
        call = self._calls.pop(leg, None)
        if call is not None:
            self.thread.owned.discard(call)

    async def hang_up(self, *legs: Leg) -> None:
        def hang_up() -> None:
            for leg in legs:
                call = self._calls.get(leg)
                if call is not None and call.isActive():
                    call.hangup(pj.CallOpParam())

        await self.thread.run_in_thread(hang_up)

    async def bridge(self) -> bool:
        """Connect the callee's and the officer's audio both ways (the recording keeps both).
        False if either leg is gone or has no audio."""

        def bridge() -> bool:
            callee, officer = self._calls.get(Leg.CALLEE), self._calls.get(Leg.OFFICER)
            if callee is None or officer is None or callee.audio is None or officer.audio is None:
                return False
            if not (callee.isActive() and officer.isActive()):  # someone hung up during the whisper
                return False
            callee.audio.startTransmit(officer.audio)
            officer.audio.startTransmit(callee.audio)
            if callee.recorder is not None:
                officer.audio.startTransmit(callee.recorder)
            return True

        return await self.thread.run_in_thread(bridge)

    async def release(self) -> None:
        """Stop every port, recorder and player and drop the legs: pjsua2 objects must die
        on the pjsua thread, whatever happened to the call."""

        def release() -> None:
            for leg in (Leg.OFFICER, Leg.CALLEE):
                call = self._calls.pop(leg, None)
                if call is None:
                    continue
                if leg is Leg.CALLEE and call.port is not None:
                    self.media.frames_received = call.port.received
                    self.media.audio_gaps = call.port.gaps
                    self.media.frames_dropped = call.port.dropped
                for part in (call.port, call.recorder):
                    if part is not None and call.audio is not None:
                        with contextlib.suppress(pj.Error):
                            call.audio.stopTransmit(part)
                call.players.clear()
                call.port = call.recorder = call.audio = None
                self.thread.owned.discard(call)

        await self.thread.run_in_thread(release)

    async def play(self, leg: Leg, path: Path, *, until: asyncio.Event | None = None) -> bool:
        """Play one WAV to a leg until it ends, `until` is set, or the caller is cancelled;
        the player is always stopped and freed on the pjsua thread. Callee prompts also go
        into the recording. False if the leg has no audio."""
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def finished() -> None:
            if not ended.done():
                ended.set_result(None)

        def start() -> int | None:
            call = self._calls.get(leg)
            if call is None or call.audio is None:
                return None
            player = PromptPlayer(path, lambda: self.thread.post(finished))
            player.startTransmit(call.audio)
            if call.recorder is not None:
                player.startTransmit(call.recorder)
            call.next_token += 1
            call.players[call.next_token] = player
            return call.next_token

        def stop(token: int) -> None:
            call = self._calls.get(leg)
            player = call.players.pop(token, None) if call else None
            if player is not None and call is not None and call.audio is not None:
                with contextlib.suppress(pj.Error):
                    player.stopTransmit(call.audio)

        token = await self.thread.run_in_thread(start)
        if token is None:
            return False
        waiters: set[asyncio.Future[Any]] = {ended}
        if until is not None:
            waiters.add(asyncio.ensure_future(until.wait()))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await self.thread.run_in_thread(lambda: stop(token))
        return True
