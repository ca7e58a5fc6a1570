"""The robot's voice on a call: prompts played in order, sentence by sentence, stopped at
once when the callee takes the turn, and resumed from the interrupted sentence when the
callee turned out only to be saying "嗯" / "uh-huh"."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from ..dialog.normalize import split_sentences
from ..speech.prompts import PromptCache


class Speaker:
    """Plays prompts to the callee.

    `play(path)` plays one sentence's audio to the end (cancelled: stopped); `finished()` is
    called whenever everything queued has been played. `spawn` starts the task that plays
    (a call puts it under its supervisor, so a failure to play ends the call, not silence).
    """

    def __init__(
        self, prompts: PromptCache, play: Callable[[Path], Awaitable[object]], finished: Callable[[], None],
        *, spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]] | None = None,
    ) -> None:
        self.prompts = prompts
        self._play = play
        self._finished = finished
        self.spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]] = spawn or asyncio.create_task
        self.pending: deque[str] = deque()
        self.task: asyncio.Task[None] | None = None
        self._stopping: asyncio.Task[None] | None = None
        self._sentences: list[str] = []
        """The sentences of the prompt being played, and how many were played to the end."""
        self._played = 0
        self._interrupted: list[str] = []
        """What was cut off by the last stop: the sentence being played and everything after."""
        self.first_audio_seconds: list[float] = []
        """Seconds from a prompt being asked for to its first audio (synthesis or cache)."""

    @property
    def busy(self) -> bool:
        return self.task is not None and not self.task.done()

    def say(self, text: str) -> None:
        self.pending.append(text)
        if not self.busy:
            self.task = self.spawn(self._run(self._stopping))
            self._stopping = None

    def stop(self) -> bool:
        """Stop talking now and drop what was still to be said (kept for `resume`). Takes
        effect at once: a `say` right after starts afresh. True if the robot was talking."""
        if not self.busy:
            return False
        assert self.task is not None
        self._interrupted = self._sentences[self._played :] + list(self.pending)
        self.pending.clear()
        self.task.cancel()  # play() stops the player as the task unwinds
        self._stopping, self.task = self.task, None
        return True

    def resume(self) -> bool:
        """Say again what the last stop cut off, from the interrupted sentence on. False if
        there was nothing to resume."""
        left, self._interrupted = self._interrupted, []
        if not left:
            return False
        for text in left:
            self.say(text)
        return True

    async def interrupt(self) -> None:
        """Stop, and wait until the audio has really stopped."""
        self.stop()
        self._interrupted = []
        if self._stopping is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._stopping

    async def drain(self, timeout_seconds: float) -> None:
        if self.task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self.task), timeout_seconds)

    async def _run(self, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:  # the stopped prompt's player is released first
            with contextlib.suppress(asyncio.CancelledError):
                await previous
        while self.pending:
            text = self.pending.popleft()
            self._sentences, self._played = split_sentences(text) or [text], 0
            asked = time.perf_counter()
            async for path in self.prompts.prompt(text):
                if asked:
                    self.first_audio_seconds.append(round(time.perf_counter() - asked, 4))
                    asked = 0.0
                await self._play(path)
                self._played += 1
        self._sentences, self._played = [], 0
        self._interrupted = []
        self._finished()
