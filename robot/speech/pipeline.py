"""Listening on a call: frames in; VAD, recogniser, urgency spotting and the dialog engine.

A call worker creates one `CallListener` per call and calls `feed()` with every 20 ms frame
it receives, `dialog_event()` with every engine event, `dtmf()` with every key, and
`prompt_finished()` when a prompt has been played. The listener calls `interrupt(reason)`
when the robot must stop talking, and `resume()` when it should pick up where it stopped.

Turn-taking: speech over the robot stops it only once it is clearly a turn: an urgent
partial result, or enough words that are not backchannels (嗯, 对, uh-huh), or speech that
has lasted long enough without being all backchannel (the state's `listen` settings). A
backchannel said over a prompt answers nothing; if the robot had stopped for it, it resumes
the interrupted sentence. The end of an utterance adapts to what was said: a complete short
answer (是 / 没有 / yes) ends sooner, one that trails off (然后… / and…) or is only a filler
("oh", 喂) waits longer, so it stays one turn.

Time is audio time: an `AudioClock` advances 20 ms per frame, so the same code is exact on
a recorded file and on a live call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from ..clock import Clock
from ..dialog.engine import DialogEngine
from ..dialog.events import DialogEvent, Listening, Say
from ..dialog.matcher import Match
from ..understanding.turns import Ending
from .asr import Hypothesis, RecognizerStream
from .error import SpeechError
from .vad import (
    PRE_ROLL_SECONDS,
    EndpointSettings,
    SpeechDetector,
    SpeechGate,
    VadEvent,
    VoiceActivity,
)

T = TypeVar("T")
_LOGGER = logging.getLogger(__name__)


def _nothing() -> None:
    pass


def _log_failure(done: asyncio.Future[object]) -> None:
    if not done.cancelled() and done.exception() is not None:
        _LOGGER.error("recogniser work failed", exc_info=done.exception())


class RecognizerFailed(SpeechError):
    """The call's recogniser stream failed (its process died, the engine raised): the stream
    is unusable, and a fresh one can take its place."""

    def __init__(self, message: str) -> None:
        super().__init__("recognizer_failed", message)


def _guarded(function: Callable[..., T], *args: object) -> T:
    """Recogniser work, with any failure of it as RecognizerFailed (on the stream's thread)."""
    try:
        return function(*args)
    except RecognizerFailed:
        raise
    except Exception as err:
        name = getattr(function, "__name__", "recogniser work")
        raise RecognizerFailed(f"{name}: {type(err).__name__}: {err}") from err


class AudioClock(Clock):
    """Seconds of audio received so far on this call."""

    def __init__(self) -> None:
        self._seconds = 0.0

    def now(self) -> float:
        return self._seconds

    def advance(self, seconds: float) -> None:
        self._seconds += seconds


@dataclass(frozen=True)
class ListenerSettings:
    endpoint: EndpointSettings = field(default_factory=EndpointSettings)
    pre_roll_seconds: float = PRE_ROLL_SECONDS
    """Audio kept from before speech was detected, so the first syllable is not lost."""
    use_grammar: bool = True
    """Limit the recogniser to the state's expected phrases (where the engine supports it)."""
    early_final_seconds: float | None = 0.25
    """After this much silence inside an utterance, ask the recogniser for its final result
    while the endpoint silence runs on: the final decode (PocketSphinx's second pass, Vosk's
    rescoring) then costs no response time. If the callee speaks again before the utterance
    ends, that result is dropped and the utterance is decoded again from its start. None: off."""
    recognize_every_frames: int = 3
    """Speech goes to the recogniser in batches of this many 20 ms frames: one hop to the
    recogniser's thread per batch instead of per frame (a third of the wake-ups at 3), at
    the price of at most 40 ms more before a partial result is seen. Every partial of a
    batch is still checked for urgency."""


@dataclass
class Mark:
    """Something that happened, at an audio time (for transcripts and latency figures)."""

    at_seconds: float
    what: str
    text: str = ""


class CallListener:
    def __init__(
        self,
        engine: DialogEngine,
        stream: RecognizerStream,
        detector: SpeechDetector,
        clock: AudioClock,
        *,
        interrupt: Callable[[str], bool] | None = None,
        resume: Callable[[], bool] | None = None,
        settings: ListenerSettings | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings or ListenerSettings()
        self.clock = clock
        self.vad = VoiceActivity(detector, self.settings.endpoint)
        self._gate = SpeechGate(self.vad, self.settings.pre_roll_seconds)
        self.stream = stream
        self.marks: list[Mark] = []
        self.final_latencies: list[float] = []
        """Seconds from the end of each utterance to its final recognition (wall time)."""
        self._interrupt = interrupt or (lambda reason: True)
        self._resume = resume or (lambda: False)
        # The stream is not thread-safe: all its work runs on one thread of its own, in the
        # order asked, so nothing here has to wait for one piece of work before asking the next.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="recognizer")
        self._robot_speaking = False
        self._barge_in = True
        self._in_utterance = False
        self._utterance_handled = False
        self._pending_grammar: list[str] | None = None
        """A state's phrases that arrived mid-utterance: the grammar changes at the next one."""
        self._unfed: list[bytes] = []
        self._utterance_frames: list[bytes] = []
        self._quiet_frames = 0
        self._early_final: asyncio.Future[Hypothesis] | None = None
        self.early_finals_dropped = 0
        self._speech_started_at = 0.0
        self._heard_so_far = ""
        """The latest partial result of the utterance."""
        self._stopped_robot = False
        """This utterance stopped the robot (so a backchannel can give the turn back)."""
        self.endings: list[tuple[Ending, float]] = []
        """Per utterance handed to the dialog: how it ended and the trailing silence waited."""
        self._grammar: list[str] | None = None
        """The grammar last asked of the stream (a fresh stream gets it too)."""

    # -- from the call worker ------------------------------------------------------------

    def dialog_event(self, event: DialogEvent) -> None:
        if isinstance(event, Say):
            self._robot_speaking = True
            self._barge_in = event.barge_in
        elif isinstance(event, Listening) and self.settings.use_grammar:
            if self._in_utterance:
                self._pending_grammar = event.expected_phrases
            else:
                # Switch now, while the callee is quiet: building a grammar can take Vosk a
                # while, and frames would queue behind it if it waited for speech to start.
                self._set_grammar(event.expected_phrases)

    async def dtmf(self, digits: str) -> None:
        """Key presses: they take the turn at once (where the prompt may be interrupted)."""
        if self._robot_speaking and self._barge_in:
            self._stop_robot("dtmf")
        await self.engine.handle_dtmf(digits)
        self._listen_if_quiet()

    def prompt_finished(self) -> None:
        """All queued prompts have been played (or cut off)."""
        self._robot_speaking = False
        self.engine.prompt_finished()
        if self.engine.listening and not self._in_utterance:
            state = self.engine.script.states[self.engine.state]
            self.vad.endpointer.listen(self.engine.script.listen_for(state).no_input_timeout_seconds)

    async def feed(self, frame: bytes) -> None:
        """One frame of received audio (16-bit mono PCM at the detector's rate)."""
        self.clock.advance(self.vad.frame_seconds)
        speech, events, passed = self._gate.process(frame)
        if VadEvent.SPEECH_STARTED in events:
            await self._speech_started(pre_roll=passed[:-1])  # this frame follows below
        if self._in_utterance and not self._utterance_handled:
            await self._recognize_in_utterance(frame, speech)
            self._check_barge_in()
        for event in events:
            if event in (VadEvent.UTTERANCE_ENDED, VadEvent.MAX_LENGTH):
                await self._utterance_ended(event)
            elif event is VadEvent.NO_INPUT:
                self._mark("no_input")
                await self.engine.handle_no_input()

    def run_on_stream(self, function: Callable[..., T], *args: object) -> asyncio.Future[T]:
        """Run recogniser work on the stream's own thread (in order, one at a time). Its
        failure is RecognizerFailed."""
        return asyncio.get_running_loop().run_in_executor(self._executor, _guarded, function, *args)

    async def finish_stream(self) -> Hypothesis:
        """End whatever the stream has heard (before the stream is used for something else)."""
        return await self.run_on_stream(self._finish)

    def _finish(self) -> Hypothesis:
        return self.stream.finish()

    async def replace_stream(self, stream: RecognizerStream) -> RecognizerStream:
        """A fresh recogniser stream in place of one that failed; returns the old one. The
        state's grammar carries over, and an utterance under way is heard again from its
        start (its frames so far are fed to the fresh stream), so the callee need not repeat
        it. RecognizerFailed if the fresh stream fails as well."""
        await self.settle()
        old, self.stream = self.stream, stream
        replay = self._utterance_frames if self._in_utterance and not self._utterance_handled else []
        self._utterance_frames = []
        self._pending_grammar = None
        self._mark("recognizer_restarted")
        if self._grammar is not None:
            self._set_grammar(self._grammar)
        for frame in replay:
            for hypothesis in await self._recognize(frame):
                self._heard(hypothesis.text)
        return old

    def _set_grammar(self, phrases: list[str] | None) -> None:
        self._grammar = phrases
        self._in_background(self._apply_grammar, phrases)

    def _apply_grammar(self, phrases: list[str] | None) -> None:
        self.stream.set_grammar(phrases)

    def _in_background(self, function: Callable[..., object], *args: object) -> None:
        """Stream work whose result nobody waits for; a failure is logged, not lost."""
        self.run_on_stream(function, *args).add_done_callback(_log_failure)

    # -- internals -----------------------------------------------------------------------

    async def _recognize_in_utterance(self, frame: bytes, speech: bool) -> None:
        self._quiet_frames = 0 if speech else self._quiet_frames + 1
        if self._early_final is not None:
            if not speech:
                self._utterance_frames.append(frame)  # trailing silence: nothing to decode
                return
            # The callee went on after a pause: drop the early result, decode it all again.
            await asyncio.wait({self._early_final})
            self._early_final = None
            self.early_finals_dropped += 1
            self._mark("early_final_dropped")
            replay, self._utterance_frames = self._utterance_frames, []
            for earlier in replay:
                await self._recognize(earlier)
        for hypothesis in await self._recognize(frame):
            await self._partial(hypothesis)
            if self._utterance_handled:
                return
            self._heard(hypothesis.text)
        early = self.settings.early_final_seconds
        if (early is not None and not self._utterance_handled
                and self._quiet_frames * self.vad.frame_seconds >= early - 1e-6):
            await self._flush()
            self._mark("early_final")
            self._early_final = self.run_on_stream(self._finish)
            self._early_final.add_done_callback(self._early_final_heard)

    def _early_final_heard(self, done: asyncio.Future[Hypothesis]) -> None:
        if done is self._early_final and not done.cancelled() and done.exception() is None:
            self._heard(done.result().text)

    def _heard(self, text: str) -> None:
        """What the utterance says so far decides how long a silence ends it."""
        if not text:
            return
        self._heard_so_far = text
        ending = self.engine.turn_taking.ending(text)
        endpoint = self.settings.endpoint
        seconds = {
            Ending.SHORT_ANSWER: endpoint.short_answer_end_silence_seconds,
            Ending.TRAILING: endpoint.trailing_end_silence_seconds,
        }.get(ending)
        self.vad.endpointer.set_end_silence(seconds)

    def _check_barge_in(self) -> None:
        """Speech over the robot stops it once it is clearly a turn, not "嗯" or "uh-huh"."""
        if not (self._robot_speaking and self._barge_in) or self._utterance_handled:
            return
        listen = self.engine.script.listen_for(self.engine.script.states[self.engine.state]) if not self.engine.finished else None
        if listen is None:
            return
        heard = self._heard_so_far
        turn_taking = self.engine.turn_taking
        if heard and turn_taking.turn_units(heard) >= listen.barge_in_min_words:
            self._stop_robot("barge_in")
            self._stopped_robot = True
            return
        lasted = self.clock.now() - self._speech_started_at
        if lasted >= listen.barge_in_min_seconds - 1e-6 and not (heard and turn_taking.is_backchannel(heard)):
            self._stop_robot("barge_in")
            self._stopped_robot = True

    async def _recognize(self, frame: bytes) -> list[Hypothesis]:
        """Queue a frame for the recogniser; every few frames, feed them and return the
        partial results that changed (texts only)."""
        self._utterance_frames.append(frame)
        self._unfed.append(frame)
        if len(self._unfed) < self.settings.recognize_every_frames:
            return []
        return await self._flush()

    async def _flush(self) -> list[Hypothesis]:
        if not self._unfed:
            return []
        batch, self._unfed = self._unfed, []
        return await self.run_on_stream(self.feed_batch, batch)

    def feed_batch(self, batch: list[bytes]) -> list[Hypothesis]:
        """Feed frames to the stream (on its thread): the partial results that changed."""
        changed = []
        for frame in batch:
            hypothesis = self.stream.feed(frame)
            if hypothesis is not None and hypothesis.text:
                changed.append(hypothesis)
        return changed

    async def _speech_started(self, pre_roll: list[bytes]) -> None:
        self._mark("speech_started")
        self._in_utterance = True
        self._utterance_handled = False
        self._speech_started_at = self.clock.now()
        self._heard_so_far = ""
        self._stopped_robot = False
        self.engine.speech_started()
        if self._pending_grammar is not None:  # queued ahead of this utterance's audio
            grammar, self._pending_grammar = self._pending_grammar, None
            self._set_grammar(grammar)
        self._utterance_frames = []
        self._unfed = []
        self._quiet_frames = 0
        self._early_final = None
        for frame in pre_roll:
            await self._recognize(frame)

    async def callee_left(self) -> None:
        """The callee hung up mid-utterance: what they said before hanging up is still a
        turn ("they told me to keep it secret" *click*), so it is recognised and understood
        now instead of being dropped with the call. Call after the frame pump has stopped."""
        if not self._in_utterance or self._utterance_handled:
            return
        self._robot_speaking = False  # nobody is listening to the prompt any more
        await self._utterance_ended(VadEvent.UTTERANCE_ENDED)

    async def settle(self) -> None:
        """Wait until the stream's thread has done all it was asked (before the stream is
        reused): work goes in order, so that is when a no-op queued now has run. Work keeps
        running even if the pump that asked for it was cancelled."""
        await self.run_on_stream(_nothing)
        self._early_final = None
        self._unfed = []

    def close(self) -> None:
        """After `settle`: stop the stream's thread."""
        self._executor.shutdown(wait=False)

    async def _partial(self, hypothesis: Hypothesis) -> None:
        match: Match | None = self.engine.spot_urgent(hypothesis.text)
        if match is None:
            return
        # Urgent: act now, on the partial result, even if the robot is talking. The stream's
        # final decode (which can take a PocketSphinx second pass) runs after, in the background.
        self._mark("urgent_spotted", hypothesis.text)
        self._utterance_handled = True
        self._stop_robot("urgent")
        self._unfed = []
        self._in_background(self._finish)
        self._mark("final", hypothesis.text)
        await self.engine.handle_speech(hypothesis.text)
        self._listen_if_quiet()

    async def _utterance_ended(self, event: VadEvent) -> None:
        self._in_utterance = False
        self._mark(event.value)
        if self._utterance_handled:
            return
        started = time.perf_counter()
        if self._early_final is not None:
            final, self._early_final = await self._early_final, None
        else:
            await self._flush()
            final = await self.run_on_stream(self._finish)
        self.final_latencies.append(round(time.perf_counter() - started, 4))
        self._mark("final", final.text)
        if self._robot_speaking and not self._barge_in:
            return  # the callee talked over a prompt that may not be interrupted
        over_prompt = self._robot_speaking or self._stopped_robot
        self.endings.append((self.engine.turn_taking.ending(final.text), self.vad.endpointer.last_end_silence))
        if over_prompt and (not final.text.strip() or self.engine.is_backchannel(final.text)):
            # "嗯" / "uh-huh", or a noise nothing could be made of, over the prompt: not a turn.
            self._mark("backchannel", final.text)
            if final.text.strip():
                await self.engine.handle_speech(final.text, over_prompt=True)
            if self._stopped_robot and not self._robot_speaking:
                self._mark("resume")
                self._robot_speaking = self._resume()
            self._listen_if_quiet()
            return
        self._stop_robot("turn")  # a real turn said over the prompt: the answer comes now
        await self.engine.handle_speech(final.text, alternatives=final.alternatives, over_prompt=over_prompt)
        self._listen_if_quiet()

    def _listen_if_quiet(self) -> None:
        """After a turn that made the robot say nothing, the silence timing starts now."""
        if not self._robot_speaking and self.engine.listening:
            self.prompt_finished()

    def _stop_robot(self, reason: str) -> None:
        if self._robot_speaking:
            self._robot_speaking = False
            self._mark(f"interrupt:{reason}")
            self._interrupt(reason)

    def _mark(self, what: str, text: str = "") -> None:
        self.marks.append(Mark(round(self.clock.now(), 3), what, text))

    def first(self, what: str) -> Mark | None:
        return next((mark for mark in self.marks if mark.what == what), None)
