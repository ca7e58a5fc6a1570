"""A call's parts and their supervisor.

Once a call is answered its parts (the conversation, the frame pump, the speaker, key
presses, a hand-off) run in one `asyncio.TaskGroup`: the first part that fails for good
cancels the others, and the call learns which part failed and why (`CallPartFailed`).
Before the answer, and while the group winds down, a part runs as a task of the call's own,
kept and cancelled with the call; its failure is remembered the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from ..error import RobotError

_LOGGER = logging.getLogger(__name__)


class CallPartFailed(RobotError):
    """A part of a call failed and could not recover: the call ends with an apology."""

    def __init__(self, part: str, error: BaseException) -> None:
        detail = error.message if isinstance(error, RobotError) else f"{type(error).__name__}: {error}"
        super().__init__(f"{part.replace(' ', '_')}_failed", f"{part}: {detail}")
        self.part = part


class CallParts:
    def __init__(self, name: str) -> None:
        self.name = name
        """How logs name the call."""
        self.failure: CallPartFailed | None = None
        """The first part that failed for good."""
        self._group: asyncio.TaskGroup | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, part: str, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Start a part: in the supervisor while it runs, else as a task of the call's own."""
        supervised = self._supervised(part, coroutine)
        task: asyncio.Task[Any] | None = None
        if self._group is not None:
            with contextlib.suppress(RuntimeError):  # the group is shutting down
                task = self._group.create_task(supervised, name=f"call {self.name}: {part}")
        if task is None:
            task = asyncio.create_task(supervised, name=f"call {self.name}: {part}")
            task.add_done_callback(self._remember_failure)
        self.keep(task)
        return task

    def keep(self, task: asyncio.Task[Any]) -> None:
        """A task that ends with the call (cancelled by `stop` if still running)."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def supervise(self, part: str, coroutine: Coroutine[Any, Any, Any]) -> CallPartFailed | None:
        """Run `coroutine` and every part spawned meanwhile under one TaskGroup, until all
        have ended; the first part that failed for good, if any."""
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                self.spawn(part, coroutine)
        except* Exception as failed:
            found = [error for error in failed.exceptions if isinstance(error, CallPartFailed)]
            self.failure = self.failure or (found[0] if found else CallPartFailed("call", failed.exceptions[0]))
        finally:
            self._group = None
        return self.failure

    def stop(self) -> None:
        """Cancel every part still running (except the one asking)."""
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()

    async def wait_stopped(self) -> None:
        self.stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _supervised(self, part: str, coroutine: Coroutine[Any, Any, Any]) -> Any:
        try:
            return await coroutine
        except CallPartFailed:
            raise
        except Exception as err:
            _LOGGER.exception("call %s: the %s failed", self.name, part)
            raise CallPartFailed(part, err) from err

    def _remember_failure(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or task.exception() is None or self.failure is not None:
            return
        error = task.exception()
        assert error is not None
        self.failure = error if isinstance(error, CallPartFailed) else CallPartFailed(task.get_name(), error)
