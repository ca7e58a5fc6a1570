"""The prompt cache: every sentence a script can say, pre-rendered at the call's rate.

Keys are (voice, model checksum, sentence text, sample rate), so a new model or rate never
reuses old audio. Files are WAVs that a call plays without any Python per frame
(pjsua2's AudioMediaPlayer), and they survive restarts.

Only sentences every call may say are kept. A call asks through `for_call`: a sentence that
is not one of its script's own (it has a citizen's name in it, a warning id, a phrase heard)
is synthesised into a private folder of this process (in memory where /dev/shm exists) and
deleted as soon as it has been played. Folders are 0700 and files 0600.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import itertools
import json
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Collection, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

from ..dialog.checks import step_texts, steps
from ..dialog.normalize import tidy_prompt
from ..dialog.schema import Script
from ..machine.screen import machine_message
from ..private import FILE_MODE, private_dir
from .audio import trim_leading_silence, write_wav
from .tts import Synthesizer, split_sentences

_LOGGER = logging.getLogger(__name__)
PERSONAL_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else None
"""Where a process keeps the sentences of one call: in memory if it can."""


def script_sentences(script: Script) -> list[str]:
    """Every sentence the script can say, with its variables at their defaults.

    Sentences without variables are then exactly what a call will ask for; sentences with
    per-call values (a name) are synthesised during the call.
    """
    defaults = script.variable_defaults()
    texts = [text for step in steps(script) for _path, text in step_texts(script, step)]
    if script.machine.detect and (message := machine_message(script)):
        texts.append(message)
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
        self._private: tempfile.TemporaryDirectory[str] | None = None
        self._private_count = itertools.count()
        self.shared: frozenset[str] | None = None
        """With `for_call`: the sentences kept in the cache; any other is personal. None: all are kept."""

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
        private_dir(path.parent)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        self._write(sentence, temporary)
        temporary.replace(path)  # atomic: a reader never sees half a file
        return path

    def _write(self, sentence: str, path: Path) -> None:
        speech = trim_leading_silence(self.synthesizer.render(sentence, self.sample_rate), self.sample_rate)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE))
        write_wav(path, speech, self.sample_rate)

    async def personal(self, sentence: str) -> Path:
        """A sentence for one call only: synthesised (off the loop) into this process's private
        folder, never into the cache. The caller deletes it once played."""
        if self._private is None:
            self._private = tempfile.TemporaryDirectory(prefix="robot-prompts-", dir=PERSONAL_DIR)  # 0700; removed at exit
        path = Path(self._private.name) / f"{os.getpid()}-{next(self._private_count)}.wav"
        await asyncio.get_running_loop().run_in_executor(self._executor, self._write, sentence, path)
        return path

    def for_call(self, shared: Collection[str]) -> PromptCache:
        """The cache as one call uses it: `shared` sentences (its script's own) come from the
        cache, any other is synthesised for the call alone into a private folder of its own,
        which goes with the call. In-flight syntheses are still shared with other calls."""
        view = copy.copy(self)  # same folders, synthesiser and in-flight renders
        view.shared = frozenset(shared)
        view._private = None
        return view

    async def prompt(self, text: str, *, keep: Callable[[str], bool] | None = None) -> AsyncIterator[Path]:
        """A whole prompt, sentence by sentence: the first file is ready first, and each next
        sentence is synthesised while the one before it plays. Otherwise the robot would fall
        silent mid-prompt for a whole synthesis, and a callee would take the silence as
        their turn to speak. Sentences `keep` refuses are not cached: each such file is
        deleted once the caller asks for the next one (it has been played) or stops."""
        sentences = split_sentences(text)
        keep = keep or (self.shared.__contains__ if self.shared is not None else None)
        kept = [keep is None or keep(sentence) for sentence in sentences]
        upcoming = self._ahead(sentences[0], kept[0]) if sentences else None
        upcoming_kept = bool(kept and kept[0])
        playing: Path | None = None  # a personal file the caller is playing
        try:
            for index in range(len(sentences)):
                assert upcoming is not None
                path = await upcoming
                playing = None if upcoming_kept else path
                following = index + 1
                if following < len(sentences):
                    upcoming, upcoming_kept = self._ahead(sentences[following], kept[following]), kept[following]
                else:
                    upcoming = None
                yield path
                _remove(playing)
                playing = None
        finally:
            _remove(playing)
            if upcoming is not None and not upcoming_kept:  # cut off: the next one goes when it is made
                upcoming.add_done_callback(_remove_result)

    def _ahead(self, sentence: str, cached: bool = True) -> asyncio.Future[Path]:
        # Kept until done: if the prompt is cut off (barge-in), the sentence still lands in
        # the cache. A failure is logged here and also raised to whoever awaits the task.
        task = asyncio.ensure_future(self.sentence(sentence) if cached else self.personal(sentence))
        self._rendering.add(task)
        task.add_done_callback(self._rendered)
        return task

    async def idle(self) -> None:
        """Wait for sentences still being synthesised ahead (and their clean-up) to finish."""
        while self._rendering:
            await asyncio.gather(*self._rendering, return_exceptions=True)
            await asyncio.sleep(0)  # their done callbacks

    def _rendered(self, task: asyncio.Future[Path]) -> None:
        self._rendering.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.warning("synthesising a prompt sentence failed", exc_info=task.exception())

    async def render_all(self, sentences: Iterable[str]) -> RenderReport:
        """Put `sentences` in the cache (a script's own, with its variables' defaults)."""
        report = RenderReport()
        for sentence in dict.fromkeys(sentences):
            if self.lookup(sentence) is not None:
                report.cached += 1
            else:
                await self.sentence(sentence)
                report.rendered += 1
        return report



def _remove(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)  # a player that still has it open keeps reading it


def _remove_result(task: asyncio.Future[Path]) -> None:
    if not task.cancelled() and task.exception() is None:
        _remove(task.result())
