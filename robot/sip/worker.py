"""A call worker: one pjsua2 endpoint and at most 4 calls, end to end."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable
from types import TracebackType

from ..dialog.events import DialogEvent
from ..private import private_dir
from ..speech.kit import SpeechKit
from .call import CallSession
from .config import SipConfig
from .endpoint import MAX_CALLS_PER_PROCESS, PjsuaThread
from .result import CallRequest, CallResult

RECORDING_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


class CallWorker:
    """`async with CallWorker(config, speech) as worker: result = await worker.call(CallRequest(...))`."""

    def __init__(self, config: SipConfig, speech: SpeechKit, *, languages: tuple[str, ...] = ()) -> None:
        self.config = config
        self.speech = speech
        self.languages = languages
        self._slots = asyncio.Semaphore(MAX_CALLS_PER_PROCESS)
        self._thread: PjsuaThread | None = None
        self._sessions: set[CallSession] = set()
        self._finished = asyncio.Condition()
        self.local_address = ""

    async def __aenter__(self) -> CallWorker:
        for language in self.languages:  # before any call: see SpeechKit.warm
            self.speech.warm(language, MAX_CALLS_PER_PROCESS)
        self._thread = PjsuaThread(self.config, asyncio.get_running_loop())
        self._thread.start()
        self.local_address = await self._thread.ready
        if self.config.registration is not None:
            try:
                await asyncio.wait_for(self._thread.registered, self.REGISTRATION_TIMEOUT_SECONDS)
            except BaseException:
                await self.shutdown()
                raise
        return self

    REGISTRATION_TIMEOUT_SECONDS = 15.0

    async def __aexit__(self, *_exc_info: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.shutdown()

    async def shutdown(self, drain_seconds: float = 0.0) -> None:
        """Let active calls finish for up to `drain_seconds`, hang up the rest, stop SIP."""
        async with self._finished:
            try:
                await asyncio.wait_for(self._finished.wait_for(lambda: not self._sessions), drain_seconds)
            except TimeoutError:
                for session in list(self._sessions):
                    session.abort()
                await self._finished.wait_for(lambda: not self._sessions)
        if self._thread is not None:
            await self._thread.stop()
            self._thread = None

    @property
    def active_calls(self) -> int:
        return len(self._sessions)

    @property
    def sessions(self) -> tuple[CallSession, ...]:
        """The calls under way."""
        return tuple(self._sessions)

    @property
    def free_slots(self) -> int:
        return self._slots._value

    async def call(self, request: CallRequest, *, on_event: Callable[[DialogEvent], None] | None = None) -> CallResult:
        """Place the call and run it to its end. Once it is placed, whatever fails is in the
        result (`robot_error` with its `error`), not an exception; `on_event` gets the
        dialog's events as they happen (the daemon stores escalations at once)."""
        thread = self._thread
        assert thread is not None, "use the worker as an async context manager"
        target = request.target
        for uri in (target if target.startswith(("sip:", "sips:")) else None, request.human_queue_uri):
            if uri:  # a URI the robot is told to dial: its answers must get through the peer filter
                await thread.run_in_thread(functools.partial(thread.allow_peer, uri))
        recording = None
        if self.config.recordings_dir is not None:
            name = request.recording_name or "call"
            if not RECORDING_NAME.fullmatch(name):  # never a path: the daemon names recordings by attempt number
                raise ValueError(f"recording name {name!r} must be letters, digits, '-' or '_'")
            recording = private_dir(self.config.recordings_dir) / f"{name}.wav"
        async with self._slots:
            session = CallSession(thread, self.speech, self.config, request, recording_path=recording, on_event=on_event)
            self._sessions.add(session)
            try:
                return await session.run()
            finally:
                async with self._finished:
                    self._sessions.discard(session)
                    self._finished.notify_all()
