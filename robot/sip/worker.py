"""A call worker: one pjsua2 endpoint and at most 4 calls, end to end."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from ..dialog.schema import Script
from ..speech.kit import SpeechKit
from .call import CallResult, CallSession
from .config import SipConfig
from .endpoint import MAX_CALLS_PER_PROCESS, PjsuaThread


class CallWorker:
    """`async with CallWorker(config, speech) as worker: result = await worker.call(...)`."""

    def __init__(self, config: SipConfig, speech: SpeechKit) -> None:
        self.config = config
        self.speech = speech
        self._slots = asyncio.Semaphore(MAX_CALLS_PER_PROCESS)
        self._thread: PjsuaThread | None = None
        self.local_address = ""

    async def __aenter__(self) -> CallWorker:
        self._thread = PjsuaThread(self.config, asyncio.get_running_loop())
        self._thread.start()
        self.local_address = await self._thread.ready
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._thread is not None:
            await self._thread.stop()
            self._thread = None

    @property
    def free_slots(self) -> int:
        return self._slots._value

    async def call(
        self,
        target: str,
        script: Script,
        *,
        variables: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        recording_name: str | None = None,
    ) -> CallResult:
        assert self._thread is not None, "use the worker as an async context manager"
        recording = None
        if self.config.recordings_dir is not None:
            self.config.recordings_dir.mkdir(parents=True, exist_ok=True)
            recording = Path(self.config.recordings_dir) / f"{recording_name or 'call'}.wav"
        async with self._slots:
            session = CallSession(
                self._thread, self.speech, self.config, script,
                target=target, variables=variables, headers=headers, recording_path=recording,
            )
            return await session.run()
