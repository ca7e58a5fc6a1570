"""The prompt cache: every sentence a script can say, pre-rendered at the call's rate.

Keys are (voice, model checksum, sentence text, sample rate), so a new model or rate never
reuses old audio. Files are WAVs that a call plays without any Python per frame
(pjsua2's AudioMediaPlayer), and they survive restarts.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

from ..dialog.checks import step_texts, steps
from ..dialog.normalize import tidy_prompt
from ..dialog.schema import Script
from .audio import trim_leading_silence, write_wav
from .tts import Synthesizer, split_sentences

_LOGGER = logging.getLogger(__name__)


def script_sentences(script: Script) -> list[str]:
    """Every sentence the script can say, with its variables at their defaults.

    Sentences without variables are then exactly what a call will ask for; sentences with
    per-call values (a name) are synthesised during the call.
    """
    defaults = script.variable_defaults()
    texts = [text for step in steps(script) for _path, text in step_texts(script, step)]
    sentences: dict[str, None] = {}
    for text in texts:
        rendered = tidy_prompt(text.format_map(defaults), script.meta.language)
        sentences.update(dict.fromkeys(split_sentences(rendered)))
    return list(sentences)


@dataclass
class RenderReport:
    rendered: int = 0
    cached: int = 0


class PromptCache:
    def __init__(self, directory: str | Path, synthesizer: Synthesizer, sample_rate: int, executor: Executor | None = None) -> None:
        self.directory = Path(directory)
        self.synthesizer = synthesizer
        self.sample_rate = sample_rate
        self._executor = executor
        self._pending: dict[str, asyncio.Future[Path]] = {}
        self._rendering: set[asyncio.Future[Path]] = set()

    def path_for(self, sentence: str) -> Path:
        key = json.dumps(
            [self.synthesizer.voice_id, self.synthesizer.model_checksum, sentence, self.sample_rate], ensure_ascii=False
        )
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return self.directory / self.synthesizer.voice_id / str(self.sample_rate) / digest[:2] / f"{digest}.wav"

    def lookup(self, sentence: str) -> Path | None:
        path = self.path_for(sentence)
        return path if path.exists() else None

    async def sentence(self, sentence: str) -> Path:
        """The audio file for one sentence, synthesising it (off the loop) on a miss."""
        hit = self.lookup(sentence)
        if hit is not None:
            return hit
        if sentence in self._pending:  # another call is already synthesising it
            return await asyncio.shield(self._pending[sentence])
        future: asyncio.Future[Path] = asyncio.get_running_loop().create_future()
        self._pending[sentence] = future
        try:
            path = await asyncio.get_running_loop().run_in_executor(self._executor, self._render, sentence)
            future.set_result(path)
            return path
        except BaseException as err:
            future.set_exception(err)
            raise
        finally:
            del self._pending[sentence]

    def _render(self, sentence: str) -> Path:
        path = self.path_for(sentence)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        speech = trim_leading_silence(self.synthesizer.render(sentence, self.sample_rate), self.sample_rate)
        write_wav(temporary, speech, self.sample_rate)
        temporary.replace(path)  # atomic: a reader never sees half a file
        return path

    async def prompt(self, text: str) -> AsyncIterator[Path]:
        """A whole prompt, sentence by sentence: the first file is ready first, and each next
        sentence is synthesised while the one before it plays. Otherwise the robot would fall
        silent mid-prompt for a whole synthesis, and a callee would take the silence as
        their turn to speak."""
        sentences = split_sentences(text)
        upcoming = self._ahead(sentences[0]) if sentences else None
        for following in [*sentences[1:], None]:
            assert upcoming is not None
            path = await upcoming
            upcoming = self._ahead(following) if following is not None else None
            yield path

    def _ahead(self, sentence: str) -> asyncio.Future[Path]:
        # Kept until done: if the prompt is cut off (barge-in), the sentence still lands in
        # the cache. A failure is logged here and also raised to whoever awaits the task.
        task = asyncio.ensure_future(self.sentence(sentence))
        self._rendering.add(task)
        task.add_done_callback(self._rendered)
        return task

    def _rendered(self, task: asyncio.Future[Path]) -> None:
        self._rendering.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.warning("synthesising a prompt sentence failed", exc_info=task.exception())

    async def render_all(self, sentences: Iterable[str]) -> RenderReport:
        report = RenderReport()
        for sentence in dict.fromkeys(sentences):
            if self.lookup(sentence) is not None:
                report.cached += 1
            else:
                await self.sentence(sentence)
                report.rendered += 1
        return report
