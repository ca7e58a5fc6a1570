"""Carrier announcements: "the number you dialled is switched off" played as early media
(183 with SDP) or just after the answer, recognised and turned into the call's outcome.

One loop serves both moments. Before the answer it listens until the call is answered or
ends; after the answer it is also the robot's moment of silence for the callee's "喂/hello":
no robot audio before `hello_listen_seconds` have passed with nobody speaking (longer while
they still speak, at most `HELLO_MAX_SECONDS`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from ..speech.pipeline import CallListener, RecognizerFailed
from ..speech.vad import SpeechGate, VoiceActivity, WebRtcSpeechDetector
from .outcome import AnnouncementSpotter, CallOutcome

_LOGGER = logging.getLogger(__name__)
FRAME_SECONDS = 0.02
HELLO_MAX_SECONDS = 3.0


class AnnouncementListener:
    def __init__(
        self,
        language: str,
        listener: CallListener,
        frames: Callable[[], deque[bytes] | None],
        *,
        on_announcement: Callable[[CallOutcome], Awaitable[None]],
        recover: Callable[[RecognizerFailed], Awaitable[None]],
        name: str,
    ) -> None:
        """`frames()`: the callee leg's received audio, once it flows. `on_announcement` ends
        the call; `recover` replaces a failed recogniser stream (or raises)."""
        self._spotter = AnnouncementSpotter(language)
        self._listener = listener
        self._frames = frames
        self._on_announcement = on_announcement
        self._recover = recover
        self._name = name
        self.found: CallOutcome | None = None

    async def listen(self, until: Callable[[], bool], *, hello_seconds: float | None = None) -> CallOutcome | None:
        """Hear the callee leg until `until()` is true or an announcement is recognised (its
        outcome is returned). With `hello_seconds`: the hello after the answer (see above)."""
        gate = SpeechGate(VoiceActivity(WebRtcSpeechDetector()))
        heard_seconds = 0.0
        limit = HELLO_MAX_SECONDS if hello_seconds is not None else float("inf")
        try:
            while not until() and self.found is None and heard_seconds < limit:
                frames = self._frames()
                batch: list[bytes] = []
                while frames and not until() and heard_seconds < limit:
                    batch += gate.process(frames.popleft()).passed
                    heard_seconds += FRAME_SECONDS
                await self._hear(batch)
                if hello_seconds is not None and heard_seconds >= hello_seconds and not gate.activity.endpointer.in_speech:
                    break
                await asyncio.sleep(FRAME_SECONDS)
        finally:
            if gate.passed_any:  # the recogniser has one user at a time: leave it clean
                try:
                    await self._listener.finish_stream()
                except RecognizerFailed as err:
                    await self._recover(err)
        return self.found

    async def _hear(self, frames: list[bytes]) -> None:
        if not frames or self.found is not None:
            return
        try:
            hypotheses = await self._listener.run_on_stream(self._listener.feed_batch, frames)
        except RecognizerFailed as err:
            await self._recover(err)
            return
        for hypothesis in hypotheses:
            found = self._spotter.spot(hypothesis.text)
            if found is not None:
                self.found = found
                _LOGGER.info("call %s: carrier announcement %r: %s", self._name, hypothesis.text, found)
                await self._on_announcement(found)
                return
