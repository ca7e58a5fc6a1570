"""One outbound call, end to end: dial, call progress, then the dialog with speech.

A call is several parts at once: the frame pump (received audio into the listener, VAD and
recogniser), the conversation (the dialog engine and what it decides), the speaker (prompts
played sentence by sentence), key presses, and a live hand-off's officer leg. Once the call
is answered they all run under one supervisor (an `asyncio.TaskGroup`): a part that fails
either recovers (a recogniser stream that died is replaced by a fresh one, and the call goes
on) or ends the call at once, with a spoken apology and the outcome `robot_error`, never
silence. Nothing polls: each part waits on what it needs.

The asyncio side never touches a pjsua2 object directly: `legs.py` asks the pjsua thread to,
and pjsua2 callbacks reach this session through `LegEvents`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pjsua2 as pj

from ..dialog.const import AttemptOutcome, EscalationMode
from ..dialog.engine import DialogEngine
from ..dialog.events import DialogEvent, EscalationRequested, Finished, Say
from ..speech.kit import SpeechKit
from ..speech.pipeline import AudioClock, CallListener, Mark, RecognizerFailed
from ..speech.prompts import script_sentences
from ..speech.vad import WebRtcSpeechDetector
from .config import SipConfig
from .early_media import AnnouncementListener
from .endpoint import PjsuaThread, SipError
from .handoff import OfficerHandOff
from .legs import Leg, LegEvents, Legs
from .outcome import CallOutcome, outcome_for_status
from .parts import CallPartFailed, CallParts
from .phrases import apology_text, fixed_sentences
from .result import CallEscalation, CallRequest, CallResult, CallStats, TimelineEntry
from .speaker import Speaker

_LOGGER = logging.getLogger(__name__)
FRAME_SECONDS = 0.02
DRAIN_SECONDS = 3.0
"""After a hang-up: how long the frames received before it may take to be heard."""
LATE_BACKLOG_FRAMES = 5
"""A received frame still waiting after 100 ms counts as processed late."""
MAX_RECOGNIZER_RESTARTS = 3
"""Fresh recogniser streams a call may take after failures; one more failure ends it."""
MEDIA_WAIT_SECONDS = 5.0
PROMPT_DRAIN_SECONDS = 30.0


class _Fields(dict[str, str]):
    """Fills `{warning_id}`, `{name}` ... in configured headers; unknown names stay as written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class CallSession(LegEvents):
    def __init__(
        self,
        thread: PjsuaThread,
        speech: SpeechKit,
        config: SipConfig,
        request: CallRequest,
        *,
        recording_path: Path | None = None,
        on_event: Callable[[DialogEvent], None] | None = None,
    ) -> None:
        self.config = config
        self.speech = speech
        self.request = request
        self.on_event = on_event
        script = request.script
        self.language = script.meta.language.value
        self.uri = config.dial_uri(request.target)
        self.ring_timeout_seconds = request.ring_timeout_seconds or config.ring_timeout_seconds
        self.warning_id = request.warning_id or request.headers.get("X-Warning-Id", "")
        fields = _Fields(request.variables, warning_id=self.warning_id)
        self.headers = {name: value.format_map(fields) for name, value in config.extra_headers.items()} | request.headers
        # Sentences with a citizen's name (or anything else not in the script) are never cached.
        self.prompts = speech.prompts(script.meta.voice).for_call([*script_sentences(script), *fixed_sentences(self.language)])
        self.stream = speech.take_stream(self.language)
        self.legs = Legs(thread, self, target=request.target, recording_path=recording_path)
        self.rx_frames: deque[bytes] | None = None  # the callee's audio, filled by the media thread
        self.status: int | None = None
        self._confirmed = asyncio.Event()
        self._ended = asyncio.Event()
        self._aborted = asyncio.Event()
        self._media = asyncio.Event()
        self._dialog_finished = asyncio.Event()
        self._dialled = False
        self._timed_out = False
        self.dial_error: SipError | None = None
        self.parts = CallParts(self.legs.name)
        self.clock = AudioClock()
        self.engine = DialogEngine(script, variables=request.variables, clock=self.clock, on_event=self._dialog_event)
        self.listener = CallListener(
            self.engine, self.stream, WebRtcSpeechDetector(), self.clock, interrupt=self._interrupt, resume=self._resume
        )
        self.speaker = Speaker(self.prompts, functools.partial(self.legs.play, Leg.CALLEE), self._prompt_finished,
                               spawn=functools.partial(self.parts.spawn, "speaker"))
        self.handoff = OfficerHandOff(
            self.legs, self.speaker, self.prompts, uri=request.human_queue_uri or config.human_queue_uri,
            language=self.language, warning_id=self.warning_id, ring_timeout_seconds=self.ring_timeout_seconds,
            max_bridge_seconds=config.max_call_seconds, callee_ended=self._ended, mark=self._mark,
        )
        self._ringing: asyncio.Task[None] | None = None
        self.announcements = AnnouncementListener(
            self.language, self.listener, lambda: self.rx_frames, on_announcement=self._announced,
            recover=self._recover_recognizer, name=self.legs.name,
        )
        self._early_listening: asyncio.Task[Any] | None = None
        self.processed_late = 0
        self.recognizer_restarts = 0

    # -- what the legs report (on the event loop) -----------------------------------------

    def leg_state(self, leg: Leg, state: int, status: int) -> None:
        if leg is Leg.OFFICER:
            self.handoff.officer_state(state)
            return
        if status:
            self.status = status
        if state == pj.PJSIP_INV_STATE_CONFIRMED:
            self._mark("answered")
            self._confirmed.set()
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self._mark("ended")
            self._ended.set()

    def leg_media(self, leg: Leg, frames: deque[bytes], early: bool) -> None:
        if leg is not Leg.CALLEE:
            return
        self.rx_frames = frames
        self._media.set()
        if early and self._early_listening is None:  # 183 with media: maybe a carrier announcement
            self._early_listening = self.parts.spawn(
                "early media", self.announcements.listen(lambda: self._confirmed.is_set() or self._ended.is_set())
            )

    def leg_dtmf(self, digit: str) -> None:
        if self._confirmed.is_set():
            self._mark("dtmf", digit)
            self.parts.spawn("keys", self.listener.dtmf(digit))

    # -- recovery ------------------------------------------------------------------------

    async def _recover_recognizer(self, error: RecognizerFailed) -> None:
        """A fresh recogniser stream in place of the one that failed; the call goes on. After
        MAX_RECOGNIZER_RESTARTS, or if no fresh stream can be had, the call ends."""
        while True:
            self.recognizer_restarts += 1
            if self.recognizer_restarts > MAX_RECOGNIZER_RESTARTS:
                raise CallPartFailed("recognizer", error) from error
            _LOGGER.warning("call %s: the recogniser failed (%s); a fresh stream takes over", self.legs.name, error.message)
            try:
                fresh = await asyncio.to_thread(self.speech.take_stream, self.language)
            except Exception as err:
                raise CallPartFailed("recognizer", err) from err
            broken, self.stream = self.stream, fresh
            try:
                await self.listener.replace_stream(fresh)  # hears the utterance under way again: may fail too
                return
            except RecognizerFailed as again:
                error = again
            finally:
                await asyncio.to_thread(self.speech.discard_stream, broken)

    # -- dialog and speech ---------------------------------------------------------------

    def _dialog_event(self, event: DialogEvent) -> None:
        self.listener.dialog_event(event)
        if isinstance(event, Say):
            if not self._ended.is_set():  # nobody is left to hear it
                self._mark("say", event.text)
                self.speaker.say(event.text)
        elif (isinstance(event, EscalationRequested) and event.mode is EscalationMode.LIVE and self._ringing is None
              and not self._ended.is_set()):  # nobody is left to bridge
            self._ringing = self.parts.spawn("hand-off", self.handoff.ring())  # the officer's phone rings during the hold prompt
        elif isinstance(event, Finished):
            self._dialog_finished.set()
        if self.on_event is not None:
            self.on_event(event)

    def _prompt_finished(self) -> None:
        self._mark("prompt_finished")
        self.listener.prompt_finished()

    def _interrupt(self, reason: str) -> bool:
        _LOGGER.info("call %s: robot interrupted (%s)", self.legs.name, reason)
        return self.speaker.stop()

    def _resume(self) -> bool:
        """The callee only said "嗯": the robot picks up the interrupted sentence again."""
        _LOGGER.info("call %s: robot resumes after a backchannel", self.legs.name)
        return self.speaker.resume()

    def _mark(self, what: str, text: str = "") -> None:
        self.listener.marks.append(Mark(round(self.clock.now(), 3), what, text))

    # -- the call ------------------------------------------------------------------------

    def abort(self) -> None:
        """Stop this call now (the worker is shutting down): hang up, outcome `interrupted`."""
        self._mark("aborted")
        self._aborted.set()

    def _invite_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.config.caller_id.p_asserted_identity:
            headers.setdefault("P-Asserted-Identity", self.config.caller_id.p_asserted_identity)
        return headers

    async def run(self) -> CallResult:
        started = time.monotonic()
        answered = False
        try:
            try:
                await self.legs.dial(Leg.CALLEE, self.uri, self._invite_headers())
                self._dialled = True
                _LOGGER.info("call %s: dialling", self.legs.name)
            except SipError as err:
                _LOGGER.error("call %s: not dialled: %s", self.legs.name, err.message)
                self.dial_error = err
            else:
                answered = await self._wait_for_answer()
                if answered:
                    await self._converse()
        except Exception as err:  # a part of the call outside the supervisor: never lost, never a trunk fault
            _LOGGER.exception("call %s failed", self.legs.name)
            self.parts.failure = self.parts.failure or (err if isinstance(err, CallPartFailed) else CallPartFailed("call", err))
        finally:
            try:
                if self._dialled:
                    with contextlib.suppress(Exception):
                        await self.legs.hang_up(Leg.CALLEE, Leg.OFFICER)
                        await asyncio.wait_for(self._ended.wait(), 5)
                with contextlib.suppress(Exception):
                    await self.speaker.interrupt()
                await self.parts.wait_stopped()
            finally:
                # Always: pjsua2 objects must die on the pjsua thread, whatever happened.
                await self.legs.release()
                await self._return_stream()
        return self._result(answered, time.monotonic() - started)

    async def _return_stream(self) -> None:
        await self.listener.settle()
        try:  # resetting the stream is recogniser work (a final decode): off the event loop
            await self.listener.run_on_stream(self.speech.return_stream, self.language, self.stream)
        except RecognizerFailed as err:  # a broken stream is not pooled for the next call
            _LOGGER.warning("call %s: the recogniser stream is not reused (%s)", self.legs.name, err.message)
            await asyncio.to_thread(self.speech.discard_stream, self.stream)
        finally:
            self.listener.close()

    async def _wait_for_answer(self) -> bool:
        confirmed = asyncio.ensure_future(self._confirmed.wait())
        ended = asyncio.ensure_future(self._ended.wait())
        aborted = asyncio.ensure_future(self._aborted.wait())
        done, pending = await asyncio.wait(
            {confirmed, ended, aborted}, timeout=self.ring_timeout_seconds, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in pending:
            waiter.cancel()
        if confirmed in done:
            return True
        if not done:  # ring timeout: CANCEL
            self._mark("ring_timeout")
            self.status = self.status if self.status and self.status >= 300 else None
            await self.legs.hang_up(Leg.CALLEE)
            self._timed_out = True
        return False

    async def _converse(self) -> None:
        """The answered call, its parts under one supervisor."""
        if await self.parts.supervise("conversation", self._conversation()) is not None:
            await self._apologise()

    async def _conversation(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._media.wait(), MEDIA_WAIT_SECONDS)
        if self._early_listening is not None:  # the recogniser stream has one user at a time
            with contextlib.suppress(asyncio.CancelledError):
                await self._early_listening
        # No robot audio before the callee has had a moment to say 喂/hello; an announcement
        # can also come just after the answer.
        await self.announcements.listen(self._ended.is_set, hello_seconds=self.config.hello_listen_seconds)
        if self.announcements.found is not None or self._ended.is_set():
            return
        pump = self.parts.spawn("frame pump", self._pump_frames())
        try:
            await self.engine.start()
            await _first_of(self._dialog_finished, self._ended, self._aborted, timeout_seconds=self.config.max_call_seconds)
            if self._aborted.is_set():
                return  # the result says interrupted; the dialog did not finish
            if self._ended.is_set() and not self.engine.finished:
                # The frames received before the BYE are heard out, and the words said just
                # before the click count ("they told me to keep it secret" *click*).
                await asyncio.wait({pump}, timeout=DRAIN_SECONDS)
                if pump.done():
                    await self.listener.callee_left()
                if not self.engine.finished:
                    await self.engine.callee_hung_up()
                return
            if not self.engine.finished:
                return
            escalation = self.engine.escalation
            if escalation is not None and escalation.mode is EscalationMode.LIVE and not self._ended.is_set():
                await self.handoff.run(self._ringing, phrase=escalation.phrase or "",
                                       fraud_type_label=self.engine.variables.get("fraud_type_label", ""))
            else:
                await self.speaker.drain(PROMPT_DRAIN_SECONDS)
        finally:
            self.parts.stop()  # the pump, a ringing officer leg, a prompt still playing

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
            try:
                while frames:
                    await self.listener.feed(frames.popleft())
            except RecognizerFailed as err:
                await self._recover_recognizer(err)
            await asyncio.sleep(FRAME_SECONDS)

    async def _announced(self, outcome: CallOutcome) -> None:
        self._mark(f"announcement:{outcome.value}")
        await self.legs.hang_up(Leg.CALLEE, Leg.OFFICER)

    async def _apologise(self) -> None:
        """A part failed: say sorry (from the prompt cache, so it plays even if synthesis is
        what failed) and hang up. Never silence."""
        failure = self.parts.failure
        assert failure is not None
        _LOGGER.error("call %s: %s; apologising and hanging up", self.legs.name, failure.message)
        self._mark("failed", failure.message)
        if self._ended.is_set() or self._aborted.is_set():
            return
        with contextlib.suppress(Exception):
            await self.speaker.interrupt()
        apology = Speaker(self.prompts, functools.partial(self.legs.play, Leg.CALLEE), lambda: None)
        self._mark("apology")
        apology.say(apology_text(self.language))
        assert apology.task is not None
        self.parts.keep(apology.task)
        await _first_of(apology.task, self._ended, self._aborted, timeout_seconds=PROMPT_DRAIN_SECONDS)
        if apology.task.done() and not apology.task.cancelled() and apology.task.exception() is not None:
            _LOGGER.error("call %s: the apology could not be played: %s", self.legs.name, apology.task.exception())
        elif apology.task.done():
            self._mark("apology_played")

    def _result(self, answered: bool, duration: float) -> CallResult:
        engine = self.engine
        failure = self.parts.failure
        error = failure.message if failure else self.dial_error.message if self.dial_error else None
        if self.announcements.found is not None:
            call_outcome = self.announcements.found
            outcome = AttemptOutcome(call_outcome.value)
        elif self._aborted.is_set() and not engine.finished:
            call_outcome, outcome = CallOutcome.INTERRUPTED, AttemptOutcome.INTERRUPTED
        elif failure is not None and not engine.finished:
            call_outcome, outcome = CallOutcome.ROBOT_ERROR, AttemptOutcome.ROBOT_ERROR
        elif answered:
            call_outcome = CallOutcome.ANSWERED
            outcome = AttemptOutcome(engine.outcome.value) if engine.outcome else AttemptOutcome.REFUSED
        elif self.dial_error is not None:
            # The trunk or transport refused the INVITE; a header the robot built badly is its own fault.
            robot_side = self.dial_error.code == "sip_header"
            call_outcome = CallOutcome.ROBOT_ERROR if robot_side else CallOutcome.FAILED
            outcome = AttemptOutcome(call_outcome.value)
        elif self._timed_out:
            call_outcome, outcome = CallOutcome.NO_ANSWER, AttemptOutcome.NO_ANSWER
        else:
            call_outcome = outcome_for_status(self.status or 500)
            outcome = AttemptOutcome(call_outcome.value)
        escalation = None
        if engine.escalation is not None:
            mode = engine.escalation.mode
            if mode is EscalationMode.LIVE and not self.handoff.bridged:
                mode = EscalationMode.TICKET  # no officer was reached: an officer calls back
            escalation = CallEscalation(reason=engine.escalation.reason, phrase=engine.escalation.phrase, mode=mode)
        recording = self.legs.recording_path
        recorded = recording if answered and recording is not None and recording.exists() else None
        media = self.legs.media
        return CallResult(
            outcome=outcome,
            call_outcome=call_outcome,
            sip_status=self.status,
            answered=answered,
            duration_seconds=round(duration, 3),
            transcript=engine.transcript(),
            escalation=escalation,
            recording=str(recorded) if recorded else None,
            path=list(engine.path),
            handoff=self.handoff.report,
            error=error,
            timeline=[TimelineEntry(at_seconds=m.at_seconds, what=m.what, text=m.text) for m in self.listener.marks],
            stats=CallStats(
                asr_final_seconds=self.listener.final_latencies, tts_first_audio_seconds=self.speaker.first_audio_seconds,
                frames_received=media.frames_received, audio_gaps=media.audio_gaps, frames_dropped=media.frames_dropped,
                frames_processed_late=self.processed_late, recognizer_restarts=self.recognizer_restarts,
            ),
        )


async def _first_of(*waitables: asyncio.Event | asyncio.Future[Any], timeout_seconds: float) -> None:
    """Wait until any event is set or future done, or the timeout passes."""
    waiters = [asyncio.ensure_future(w.wait()) if isinstance(w, asyncio.Event) else asyncio.shield(w) for w in waitables]
    try:
        await asyncio.wait(waiters, timeout=timeout_seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
