"""One outbound call, end to end: dial, call progress, then the dialog with speech.

The asyncio side (`CallSession`) never touches a pjsua2 object directly: it asks the pjsua
thread to (`run_in_thread`), and pjsua2 callbacks reach it through `post`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pjsua2 as pj
from pydantic import BaseModel

from ..dialog.const import EscalationMode
from ..dialog.engine import DialogEngine
from ..dialog.events import DialogEvent, EscalationRequested, Say
from ..dialog.schema import Script
from ..private import private_file
from ..speech.kit import SpeechKit
from ..speech.pipeline import AudioClock, CallListener
from ..speech.prompts import script_sentences
from ..speech.vad import SpeechGate, VoiceActivity, WebRtcSpeechDetector
from .config import SipConfig, header_problem
from .endpoint import PjsuaThread, SipError
from .handoff import call_back_text, whisper_text
from .media import PromptPlayer, ReceivePort, audio_format
from .outcome import AnnouncementSpotter, CallOutcome, outcome_for_status
from .speaker import Speaker

_LOGGER = logging.getLogger(__name__)
FRAME_SECONDS = 0.02
HELLO_MAX_SECONDS = 3.0
WATCH_SECONDS = 0.1
"""How often the conversation loop looks whether the call is over (nothing waits on it)."""
DRAIN_SECONDS = 3.0
"""After a hang-up: how long the frames received before it may take to be heard."""


def mask_phone(target: str) -> str:
    """Logs show at most the last 4 digits of a phone number."""
    digits = [c for c in target if c.isdigit()]
    return "*" * max(0, len(digits) - 4) + "".join(digits[-4:]) if digits else "(no number)"


LATE_BACKLOG_FRAMES = 5
"""A received frame still waiting after 100 ms counts as processed late."""


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


class _Fields(dict[str, str]):
    """Fills `{warning_id}`, `{name}` ... in configured headers; unknown names stay as written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class CallResult(BaseModel):
    outcome: str
    """The dialog's outcome when answered, else the call outcome (busy, no_answer, ...)."""
    call_outcome: CallOutcome
    sip_status: int | None
    answered: bool
    duration_seconds: float
    transcript: list[dict[str, Any]]
    escalation: dict[str, Any] | None
    recording: str | None
    path: list[str]
    handoff: dict[str, Any] | None = None
    """For a live escalation: the officer leg's URI, whether it answered, and how long the
    callee and the officer were bridged."""
    stats: dict[str, Any] = {}
    """For metrics: asr_final_seconds and tts_first_audio_seconds (lists), frames_received,
    audio_gaps (receive ticks without audio) and frames_dropped."""


class _SipCall(pj.Call):
    """pjsua2's call object; lives on the pjsua thread and reports to the session."""

    leg = "callee"

    def __init__(self, session: CallSession) -> None:
        assert session.thread.account is not None
        super().__init__(session.thread.account)
        self.session = session
        self.audio: pj.AudioMedia | None = None
        self.port: ReceivePort | None = None
        self.recorder: pj.AudioMediaRecorder | None = None
        # Prompt players by token: the asyncio side only ever holds the token, so every
        # pjsua2 object is destroyed on this thread.
        self.players: dict[int, PromptPlayer] = {}
        self.next_token = 0

    def onCallState(self, prm: pj.OnCallStateParam) -> None:  # noqa: N802
        info = self.getInfo()
        self.session.thread.post(self.session._on_state, self.leg, info.state, info.lastStatusCode)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:  # noqa: N802
        info = self.getInfo()
        for index, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                early = info.state == pj.PJSIP_INV_STATE_EARLY
                # On pjsua's SIP thread: the ports are made on the owning thread instead.
                self.session.thread.call_here(functools.partial(self._connect_media, index, early))
                return

    def _connect_media(self, index: int, early: bool) -> None:
        if self.port is not None or self not in (self.session.sip_call, self.session.officer_call) or not self.isActive():
            return  # already connected, or released meanwhile
        self.audio = self.getAudioMedia(index)
        self.port = ReceivePort()
        self.port.createPort(f"rx{self.getId()}", audio_format())
        self.audio.startTransmit(self.port)
        if self.session.recording_path is not None and self.leg == "callee":
            private_file(self.session.recording_path, truncate=True)  # 0600: pjmedia's writer would use the umask
            self.recorder = pj.AudioMediaRecorder()
            self.recorder.createRecorder(str(self.session.recording_path))
            self.audio.startTransmit(self.recorder)
        self.session.thread.post(self.session._on_media, self.leg, self.port.frames, early)

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:  # noqa: N802
        self.session.thread.post(self.session._on_dtmf, prm.digit)

    # The far end never makes the robot place or take a leg it did not decide on: pjsua would
    # otherwise dial a REFER's Refer-To under the centre's caller ID (toll fraud) with a
    # call nobody owns, accept an INVITE that Replaces this dialog, or follow a 3xx.

    def onCallTransferRequest(self, prm: pj.OnCallTransferRequestParam) -> None:  # noqa: N802
        prm.statusCode = pj.PJSIP_SC_DECLINE
        _LOGGER.warning("call %s: the far end asked for a transfer (REFER): declined", mask_phone(self.session.target))

    def onCallReplaceRequest(self, prm: pj.OnCallReplaceRequestParam) -> None:  # noqa: N802
        prm.statusCode = pj.PJSIP_SC_DECLINE
        _LOGGER.warning("call %s: an INVITE with Replaces for this call: declined", mask_phone(self.session.target))

    def onCallRedirected(self, prm: pj.OnCallRedirectedParam) -> int:  # noqa: N802
        return int(pj.PJSIP_REDIRECT_STOP)  # a 3xx ends the call with its status; nothing else is dialled


class _OfficerCall(_SipCall):
    """The second leg of a live hand-off; no recording, no announcements."""

    leg = "officer"

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:  # noqa: N802
        pass


class CallSession:
    def __init__(
        self,
        thread: PjsuaThread,
        speech: SpeechKit,
        config: SipConfig,
        script: Script,
        *,
        target: str,
        variables: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        recording_path: Path | None = None,
        ring_timeout_seconds: float | None = None,
        human_queue_uri: str | None = None,
        warning_id: str = "",
        on_event: Callable[[DialogEvent], None] | None = None,
    ) -> None:
        self.thread = thread
        self.on_event = on_event
        self.human_queue_uri = human_queue_uri or config.human_queue_uri
        self.ring_timeout_seconds = ring_timeout_seconds or config.ring_timeout_seconds
        self.config = config
        self.script = script
        self.target = target
        self.uri = config.dial_uri(target)
        self.variables = dict(variables or {})
        headers = dict(headers or {})
        self.warning_id = warning_id or str(headers.get("X-Warning-Id", ""))
        fields = _Fields(self.variables, warning_id=self.warning_id)
        self.headers = {name: value.format_map(fields) for name, value in config.extra_headers.items()} | headers
        self.recording_path = recording_path
        # Sentences with a citizen's name (or anything else not in the script) are never cached.
        self.prompts = speech.prompts(script.meta.voice).for_call(script_sentences(script))
        self.speech = speech
        self.language = script.meta.language.value
        self.stream = speech.take_stream(self.language)
        self.sip_call: _SipCall | None = None  # touched only on the pjsua thread
        self.officer_call: _OfficerCall | None = None  # likewise
        self.handoff: dict[str, Any] | None = None
        self._officer_confirmed = asyncio.Event()
        self._officer_ended = asyncio.Event()
        self._officer_status: int | None = None
        self.rx_frames: deque[bytes] | None = None  # the callee's audio, filled by the media thread
        self.status: int | None = None
        self._confirmed = asyncio.Event()
        self._ended = asyncio.Event()
        self._aborted = asyncio.Event()
        self._media = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.announcement: CallOutcome | None = None
        self._early_listener: asyncio.Task[None] | None = None
        self._spotter = AnnouncementSpotter(self.language)
        self.clock = AudioClock()
        self.engine = DialogEngine(script, variables=self.variables, clock=self.clock, on_event=self._dialog_event)
        self.listener = CallListener(
            self.engine, self.stream, WebRtcSpeechDetector(), self.clock, interrupt=self._interrupt, resume=self._resume
        )
        self.speaker = Speaker(self.prompts, functools.partial(self.play_file, "callee"), self.listener.prompt_finished)
        self._officer_ringing: asyncio.Future[None] | None = None
        self.processed_late = 0
        self.media_counts = {"frames_received": 0, "audio_gaps": 0, "frames_dropped": 0}

    # -- callbacks posted from the pjsua thread ------------------------------------------

    def _on_state(self, leg: str, state: int, status: int) -> None:
        if leg == "officer":
            self._officer_status = status or self._officer_status
            if state == pj.PJSIP_INV_STATE_CONFIRMED:
                self._officer_confirmed.set()
            elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
                self._officer_ended.set()
            return
        if status:
            self.status = status
        if state == pj.PJSIP_INV_STATE_CONFIRMED:
            self._confirmed.set()
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self._ended.set()

    def _on_media(self, leg: str, frames: deque[bytes], early: bool) -> None:
        if leg == "officer":
            return
        self.rx_frames = frames
        self._media.set()
        if early and self._early_listener is None:  # 183 with media: maybe a carrier announcement
            self._early_listener = asyncio.create_task(self._listen_to_early_media())
            self._tasks.add(self._early_listener)

    def _on_dtmf(self, digit: str) -> None:
        if self._confirmed.is_set():
            self._spawn(self.listener.dtmf(digit))

    # -- dialog and speech ---------------------------------------------------------------

    def _dialog_event(self, event: DialogEvent) -> None:
        self.listener.dialog_event(event)
        if isinstance(event, Say) and not self._ended.is_set():
            self.speaker.say(event.text)
        if (isinstance(event, EscalationRequested) and event.mode is EscalationMode.LIVE
                and self._officer_ringing is None and not self._ended.is_set()):  # nobody left to bridge
            self._officer_ringing = asyncio.ensure_future(self._ring_officer())
            self._tasks.add(self._officer_ringing)
        if self.on_event is not None:
            self.on_event(event)

    def _interrupt(self, reason: str) -> bool:
        _LOGGER.info("call %s: robot interrupted (%s)", mask_phone(self.target), reason)
        return self.speaker.stop()

    def _resume(self) -> bool:
        """The callee only said "嗯": the robot picks up the interrupted sentence again."""
        _LOGGER.info("call %s: robot resumes after a backchannel", mask_phone(self.target))
        return self.speaker.resume()

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the call ------------------------------------------------------------------------

    def abort(self) -> None:
        """Stop this call now (the worker is shutting down): hang up, outcome `interrupted`."""
        self._aborted.set()

    def _dial(self) -> None:
        call = _SipCall(self)
        self.thread.owned.add(call)
        self.sip_call = call
        parameters = pj.CallOpParam(True)
        headers = dict(self.headers)
        if self.config.caller_id.p_asserted_identity:
            headers.setdefault("P-Asserted-Identity", self.config.caller_id.p_asserted_identity)
        add_headers(parameters, headers)
        call.makeCall(self.uri, parameters)

    def _hangup(self) -> None:
        for call in (self.sip_call, self.officer_call):  # an officer leg still ringing goes too
            if call is not None and call.isActive():
                call.hangup(pj.CallOpParam())

    def _release(self) -> None:
        self._release_officer()
        call, self.sip_call = self.sip_call, None
        if call is None:
            return
        if call.port is not None:
            self.media_counts = {"frames_received": call.port.received, "audio_gaps": call.port.gaps,
                                 "frames_dropped": call.port.dropped}
        for part in (call.port, call.recorder):
            if part is not None and call.audio is not None:
                with contextlib.suppress(pj.Error):
                    call.audio.stopTransmit(part)
        call.players.clear()
        call.port = call.recorder = call.audio = None
        self.thread.owned.discard(call)

    async def run(self) -> CallResult:
        started = time.monotonic()
        answered = False
        try:
            await self.thread.run_in_thread(self._dial)
            _LOGGER.info("call %s: dialling", mask_phone(self.target))
            answered = await self._wait_for_answer()
            if answered:
                await self._converse()
        finally:
            try:
                with contextlib.suppress(Exception):
                    await self.thread.run_in_thread(self._hangup)
                    await asyncio.wait_for(self._ended.wait(), 5)
                with contextlib.suppress(Exception):
                    await self.speaker.interrupt()
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
            finally:
                # Always: pjsua2 objects must die on the pjsua thread, whatever happened.
                await self.thread.run_in_thread(self._release)
                await self.listener.settle()
                # Resetting the stream is recogniser work (a final decode): off the event loop.
                await self.listener.run_on_stream(self.speech.return_stream, self.language, self.stream)
                self.listener.close()
        return self._result(answered, time.monotonic() - started)

    async def _wait_for_answer(self) -> bool:
        confirmed = asyncio.create_task(self._confirmed.wait())
        ended = asyncio.create_task(self._ended.wait())
        aborted = asyncio.create_task(self._aborted.wait())
        done, pending = await asyncio.wait(
            {confirmed, ended, aborted}, timeout=self.ring_timeout_seconds, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        if confirmed in done:
            return True
        if aborted in done:
            return False
        if not done:  # ring timeout: CANCEL
            self.status = self.status if self.status and self.status >= 300 else None
            await self.thread.run_in_thread(self._hangup)
            self._timed_out = True
        return False

    _timed_out = False

    async def _converse(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._media.wait(), 5)
        if self._early_listener is not None:  # the recogniser stream has one user at a time
            with contextlib.suppress(asyncio.CancelledError):
                await self._early_listener
        await self._listen_for_hello()  # reads the received frames itself, before the pump
        if self.announcement is not None or self._ended.is_set():
            return
        pump = asyncio.create_task(self._pump_frames())
        try:
            await self.engine.start()
            deadline = time.monotonic() + self.config.max_call_seconds
            while not self._ended.is_set() and not self._aborted.is_set() and time.monotonic() < deadline:
                if self.engine.finished and (not self.speaker.busy or self._officer_ringing is not None):
                    break  # a live hand-off goes on while the hold prompt plays
                await asyncio.sleep(WATCH_SECONDS)
            if self._aborted.is_set():
                pass  # the result says interrupted; the dialog did not finish
            elif self._ended.is_set() and not self.engine.finished:
                with contextlib.suppress(TimeoutError):  # the frames received before the BYE
                    await asyncio.wait_for(asyncio.shield(pump), DRAIN_SECONDS)
                if pump.done():
                    await self.listener.callee_left()  # the words said just before the click count
                if not self.engine.finished:
                    await self.engine.callee_hung_up()
            elif self.engine.finished:
                escalation = self.engine.escalation
                if escalation is not None and escalation.mode.value == "live" and not self._ended.is_set():
                    await self._hand_off(escalation.phrase or "")  # the hold prompt drains meanwhile
                else:
                    await self.speaker.drain(30)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    async def _listen_for_hello(self) -> None:
        """No robot audio before the callee has had a moment to say 喂/hello."""
        gate = SpeechGate(VoiceActivity(WebRtcSpeechDetector()))
        heard = 0.0
        try:
            while heard < HELLO_MAX_SECONDS and not self._ended.is_set() and self.announcement is None:
                frames = self.rx_frames
                batch: list[bytes] = []
                while frames and heard < HELLO_MAX_SECONDS:
                    batch += gate.process(frames.popleft()).passed
                    heard += FRAME_SECONDS
                await self._hear(batch)  # an announcement can also come just after answer
                if heard >= self.config.hello_listen_seconds and not gate.activity.endpointer.in_speech:
                    return
                await asyncio.sleep(FRAME_SECONDS)
        finally:
            if gate.passed_any:
                await self.listener.run_on_stream(self.stream.finish)

    async def _hear(self, frames: list[bytes]) -> CallOutcome | None:
        """Feed the recogniser; a carrier announcement ends the call with its outcome."""
        if not frames or self.announcement is not None:
            return self.announcement
        for hypothesis in await self.listener.run_on_stream(self.listener.feed_batch, frames):
            found = self._spotter.spot(hypothesis.text)
            if found is not None and self.announcement is None:
                self.announcement = found
                _LOGGER.info("call %s: carrier announcement %r: %s", mask_phone(self.target), hypothesis.text, found)
                await self.thread.run_in_thread(self._hangup)
                return found
        return None

    async def _listen_to_early_media(self) -> None:
        gate = SpeechGate(VoiceActivity(WebRtcSpeechDetector()))
        try:
            while not self._confirmed.is_set() and not self._ended.is_set() and self.announcement is None:
                batch: list[bytes] = []
                while self.rx_frames and not self._confirmed.is_set():
                    batch += gate.process(self.rx_frames.popleft()).passed
                await self._hear(batch)
                await asyncio.sleep(FRAME_SECONDS)
        finally:
            if gate.passed_any:
                await self.listener.run_on_stream(self.stream.finish)

    async def _pump_frames(self) -> None:
        """Feed the received frames to the listener until the call has ended and the last of
        them has been heard (and any turn it ended understood)."""
        while True:
            frames = self.rx_frames
            if self._ended.is_set() and not frames:
                return
            if frames:
                # Frames waiting longer than LATE_BACKLOG_FRAMES ticks are handled late.
                self.processed_late += max(0, len(frames) - LATE_BACKLOG_FRAMES)
            while frames:
                await self.listener.feed(frames.popleft())
            await asyncio.sleep(FRAME_SECONDS)

    # -- live hand-off ------------------------------------------------------------------

    def _dial_officer(self, uri: str) -> None:
        call = _OfficerCall(self)
        self.thread.owned.add(call)
        self.officer_call = call
        parameters = pj.CallOpParam(True)
        add_headers(parameters, {"X-Warning-Id": self.warning_id, "X-Robot-Handoff": "live"})
        call.makeCall(uri, parameters)

    def _bridge(self) -> bool:
        callee, officer = self.sip_call, self.officer_call
        if callee is None or officer is None or callee.audio is None or officer.audio is None:
            return False
        if not (callee.isActive() and officer.isActive()):  # someone hung up during the whisper
            return False
        callee.audio.startTransmit(officer.audio)
        officer.audio.startTransmit(callee.audio)
        if callee.recorder is not None:  # the recording keeps the officer's side too
            officer.audio.startTransmit(callee.recorder)
        return True

    def _forget_officer(self) -> None:
        call, self.officer_call = self.officer_call, None
        if call is not None:
            self.thread.owned.discard(call)

    def _hang_up_officer(self) -> None:
        if self.officer_call is not None and self.officer_call.isActive():
            self.officer_call.hangup(pj.CallOpParam())

    def _release_officer(self) -> None:
        officer, self.officer_call = self.officer_call, None
        if officer is None:
            return
        if officer.port is not None and officer.audio is not None:
            with contextlib.suppress(pj.Error):
                officer.audio.stopTransmit(officer.port)
        officer.players.clear()
        officer.port = officer.audio = None
        self.thread.owned.discard(officer)

    async def play_file(self, leg: str, path: Path, *, until: asyncio.Event | None = None) -> bool:
        """Play one WAV to a leg ("callee" or "officer") until it ends, `until` is set, or the
        caller is cancelled; the player is always stopped and freed on the pjsua thread.
        Callee prompts also go into the recording. False if the leg has no audio."""
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def finished() -> None:
            if not ended.done():
                ended.set_result(None)

        def leg_call() -> _SipCall | None:
            return self.sip_call if leg == "callee" else self.officer_call

        def start() -> int | None:  # on the pjsua thread
            call = leg_call()
            if call is None or call.audio is None:
                return None
            player = PromptPlayer(path, lambda: self.thread.post(finished))
            player.startTransmit(call.audio)
            if call.recorder is not None:
                player.startTransmit(call.recorder)
            call.next_token += 1
            call.players[call.next_token] = player
            return call.next_token

        def stop(token: int) -> None:  # on the pjsua thread, where the player is destroyed
            call = leg_call()
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

    async def _play_to_officer(self, text: str) -> None:
        """The whisper: only the officer hears it."""
        async for path in self.prompts.prompt(text):
            if not await self.play_file("officer", path, until=self._officer_ended) or self._officer_ended.is_set():
                return

    async def _ring_officer(self) -> None:
        """Dial the human queue as soon as a live escalation is decided: the officer's phone
        rings while the callee still hears "connecting you to an officer"."""
        uri = self.human_queue_uri
        if self.handoff is not None:
            return
        self.handoff = {"officer_uri": uri, "answered": False, "bridged_seconds": 0.0}
        if uri:
            _LOGGER.info("call %s: live escalation, dialling the human queue", mask_phone(self.target))
            try:
                await self.thread.run_in_thread(lambda: self._dial_officer(uri))
            except SipError as err:  # e.g. no free pjsua2 call slot in this worker (PJ_ETOOMANY)
                _LOGGER.error("call %s: the officer leg could not be dialled (%s); an officer will call back",
                              mask_phone(self.target), err.message)
                self.handoff["error"] = err.message
                await self.thread.run_in_thread(self._forget_officer)

    async def _officer_ready(self, phrase: str) -> bool:
        """Ring the officer (if not ringing yet), wait for the answer, whisper. Runs while
        the callee still hears the hold prompt. True if the officer is there to bridge to."""
        uri = self.human_queue_uri
        if self._officer_ringing is not None:
            await self._officer_ringing
        else:
            await self._ring_officer()
        assert self.handoff is not None
        if not uri or "error" in self.handoff:
            return False
        answered = asyncio.ensure_future(self._officer_confirmed.wait())
        ended = asyncio.ensure_future(self._officer_ended.wait())
        gone = asyncio.ensure_future(self._ended.wait())
        await asyncio.wait({answered, ended, gone}, timeout=self.ring_timeout_seconds, return_when=asyncio.FIRST_COMPLETED)
        for task in (answered, ended, gone):
            task.cancel()
        if not self._officer_confirmed.is_set() or self._officer_ended.is_set() or self._ended.is_set():
            return False
        self.handoff["answered"] = True
        await self._play_to_officer(
            whisper_text(
                self.language,
                warning_id=self.warning_id,
                fraud_type_label=self.engine.variables.get("fraud_type_label", ""),
                phrase=phrase,
            )
        )
        return not self._officer_ended.is_set() and not self._ended.is_set()

    async def _hand_off(self, phrase: str) -> None:
        """The live escalation: the officer is rung and whispered to while the callee hears
        the hold prompt; then both are bridged, or the callee is promised a call-back."""
        officer = asyncio.ensure_future(self._officer_ready(phrase))
        try:
            await self.speaker.drain(30)
            ready = await officer
        finally:
            officer.cancel()
        if ready and await self.thread.run_in_thread(self._bridge):
            _LOGGER.info("call %s: bridged to an officer", mask_phone(self.target))
            assert self.handoff is not None
            bridged_at = time.monotonic()
            either_hung_up: set[asyncio.Future[Any]] = {
                asyncio.ensure_future(self._ended.wait()),
                asyncio.ensure_future(self._officer_ended.wait()),
            }
            _, pending = await asyncio.wait(
                either_hung_up, timeout=self.config.max_call_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in pending:
                waiter.cancel()
            self.handoff["bridged_seconds"] = round(time.monotonic() - bridged_at, 2)
            await self.thread.run_in_thread(self._hang_up_officer)
            return
        # No officer: promise a call-back, and the escalation becomes a ticket.
        _LOGGER.warning("call %s: no officer to bridge to (officer ready: %s, officer hung up: %s, callee hung up: %s)",
                        mask_phone(self.target), ready, self._officer_ended.is_set(), self._ended.is_set())
        await self.thread.run_in_thread(self._hang_up_officer)
        if not self._ended.is_set():
            self.speaker.say(call_back_text(self.language))
            await asyncio.sleep(FRAME_SECONDS)
            await self.speaker.drain(30)

    def _result(self, answered: bool, duration: float) -> CallResult:
        if self.announcement is not None:
            call_outcome = self.announcement
            outcome = call_outcome.value
        elif self._aborted.is_set() and not self.engine.finished:
            call_outcome = CallOutcome.INTERRUPTED
            outcome = call_outcome.value
        elif answered:
            call_outcome = CallOutcome.ANSWERED
            outcome = self.engine.outcome.value if self.engine.outcome else "refused"
        elif self._timed_out:
            call_outcome = CallOutcome.NO_ANSWER
            outcome = call_outcome.value
        else:
            call_outcome = outcome_for_status(self.status or 500)
            outcome = call_outcome.value
        escalation = None
        if self.engine.escalation is not None:
            mode = self.engine.escalation.mode.value
            if mode == "live" and not (self.handoff and self.handoff["bridged_seconds"] > 0):
                mode = "ticket"  # no officer was reached: an officer calls back
            escalation = {"reason": self.engine.escalation.reason.value, "phrase": self.engine.escalation.phrase, "mode": mode}
        recorded = self.recording_path if answered and self.recording_path and self.recording_path.exists() else None
        return CallResult(
            outcome=outcome,
            call_outcome=call_outcome,
            sip_status=self.status,
            answered=answered,
            duration_seconds=round(duration, 3),
            transcript=self.engine.transcript(),
            escalation=escalation,
            recording=str(recorded) if recorded else None,
            path=list(self.engine.path),
            handoff=self.handoff,
            stats={"asr_final_seconds": self.listener.final_latencies, "tts_first_audio_seconds": self.speaker.first_audio_seconds,
                   "frames_processed_late": self.processed_late, **self.media_counts},
        )
