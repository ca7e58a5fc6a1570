"""The daemon's side of the call workers: a pool of worker processes, each with at most 4
calls (PJSUA_MAX_CALLS in the pjsua2 wheel). A worker that dies is reported (its attempts
go back in the queue) and restarted, always: nothing the daemon does with what a worker
reports (a store that is locked or full, a bad message) cuts a worker off or stops the pool
from bringing it back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from ..dialog.events import EscalationRequested
from ..private import open_private_append
from ..sip.result import CallResult
from .wire import Escalated, Finished, Message, Ready, StartCall, Stop, WireError, decode, encode

_LOGGER = logging.getLogger(__name__)


class PoolListener(ABC):
    """What the pool tells the daemon. None of these may fail: the daemon keeps what it
    cannot store yet and stores it later."""

    @abstractmethod
    def attempt_event(self, attempt_id: int, event: EscalationRequested) -> None: ...

    @abstractmethod
    def attempt_finished(self, attempt_id: int, result: CallResult) -> None: ...

    @abstractmethod
    def attempts_lost(self, attempt_ids: list[int], worker: str) -> None:
        """A worker died with these attempts in flight."""

    def slot_freed(self) -> None:  # noqa: B027 - optional hook
        """A call slot may be free now."""


class CallPool(ABC):
    """Where the scheduler sends calls. `WorkerPool` runs real worker processes; tests
    subclass this with a fake."""

    @abstractmethod
    def free_slots(self) -> int: ...

    @abstractmethod
    def active_calls(self) -> int: ...

    @abstractmethod
    async def dispatch(self, call: StartCall) -> str:
        """Send a call to a worker with a free slot; returns the worker's name."""

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self, drain_seconds: float) -> None:
        """Let calls finish for up to `drain_seconds`, hang up the rest, stop the workers."""

    def alive_workers(self) -> int:
        return 0

    def describe(self) -> list[dict[str, Any]]:
        """For /healthz: each worker's name, pid, readiness and calls."""
        return []


class _Worker:
    def __init__(self, name: str, slots: int) -> None:
        self.name = name
        self.slots = slots
        self.process: asyncio.subprocess.Process | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.ready = False
        self.in_flight: set[int] = set()
        self.supervisor: asyncio.Task[None] | None = None
        self.restarts = 0


class WorkerPool(CallPool):
    def __init__(
        self,
        listener: PoolListener,
        *,
        processes: int,
        slots_per_process: int,
        config_path: Path | None,
        start_timeout_seconds: float = 120,
        restart_delay_seconds: float = 2.0,
        command: list[str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.log_path = log_path
        """Workers' own log lines go here (appended); None: the daemon's stderr."""
        self.listener = listener
        self.config_path = config_path
        self.start_timeout_seconds = start_timeout_seconds
        self.restart_delay_seconds = restart_delay_seconds
        self.command = command or [sys.executable, "-m", "robot.dialer.worker_main"]
        self.workers = [_Worker(f"w{index + 1}", slots_per_process) for index in range(processes)]
        self._stopping = False
        self._some_ready = asyncio.Event()

    def free_slots(self) -> int:
        return sum(w.slots - len(w.in_flight) for w in self.workers if w.ready)

    def active_calls(self) -> int:
        return sum(len(w.in_flight) for w in self.workers)

    def alive_workers(self) -> int:
        return sum(w.ready for w in self.workers)

    def describe(self) -> list[dict[str, Any]]:
        return [{"name": w.name, "pid": w.process.pid if w.process else None, "ready": w.ready,
                 "calls": len(w.in_flight), "restarts": w.restarts} for w in self.workers]

    async def start(self) -> None:
        for worker in self.workers:
            worker.supervisor = asyncio.create_task(self._supervise(worker), name=f"worker {worker.name}")
        try:
            await asyncio.wait_for(self._all_ready(), self.start_timeout_seconds)
        except TimeoutError:
            if not any(w.ready for w in self.workers):
                raise RuntimeError(f"no call worker started within {self.start_timeout_seconds:g} s; see the log") from None
            _LOGGER.warning("only %d of %d call workers started", self.alive_workers(), len(self.workers))

    async def _all_ready(self) -> None:
        while not all(w.ready for w in self.workers):
            await self._some_ready.wait()
            self._some_ready.clear()

    async def dispatch(self, call: StartCall) -> str:
        candidates = [w for w in self.workers if w.ready and w.writer is not None and len(w.in_flight) < w.slots]
        if not candidates:
            raise RuntimeError("no free call slot")
        worker = max(candidates, key=lambda w: w.slots - len(w.in_flight))
        assert worker.writer is not None
        worker.in_flight.add(call.attempt_id)
        try:
            worker.writer.write(encode(call))
            await worker.writer.drain()
        except (ConnectionError, RuntimeError):
            worker.in_flight.discard(call.attempt_id)
            raise
        return worker.name

    async def stop(self, drain_seconds: float) -> None:
        self._stopping = True
        for worker in self.workers:
            if worker.writer is not None and not worker.writer.is_closing():
                with contextlib.suppress(ConnectionError):
                    worker.writer.write(encode(Stop(drain_seconds=drain_seconds)))
                    await worker.writer.drain()
        supervisors = [w.supervisor for w in self.workers if w.supervisor is not None]
        done, pending = await asyncio.wait(supervisors, timeout=drain_seconds + 30) if supervisors else (set(), set())
        for task in pending:
            task.cancel()
        for worker in self.workers:
            if worker.process is not None and worker.process.returncode is None:
                worker.process.kill()
                await worker.process.wait()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _supervise(self, worker: _Worker) -> None:
        """Run the worker, and restart it whenever it stops, until the pool stops."""
        while not self._stopping:
            try:
                await self._run_once(worker)
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("call worker %s failed", worker.name)
            worker.ready = False
            lost = sorted(worker.in_flight)
            worker.in_flight.clear()
            if lost:
                self._tell("attempts_lost", self.listener.attempts_lost, lost, worker.name)
            if self._stopping:
                return
            worker.restarts += 1
            _LOGGER.warning("call worker %s stopped; restarting in %g s", worker.name, self.restart_delay_seconds)
            await asyncio.sleep(self.restart_delay_seconds)

    @staticmethod
    def _tell(what: str, function: Any, *args: Any) -> None:
        """Hand a report to the daemon; a failure to is logged, never fatal to the worker."""
        try:
            function(*args)
        except Exception:
            _LOGGER.exception("the daemon could not take a worker's %s", what)

    async def _run_once(self, worker: _Worker) -> None:
        parent, child = socket.socketpair()
        command = [*self.command, "--fd", str(child.fileno()), "--name", worker.name]
        if self.config_path is not None:
            command += ["--config", str(self.config_path)]
        # Opening a local log for append does not block in any way that matters; closed below.
        # Workers log (masked) call details: the file is the robot's alone (0600).
        log = open_private_append(self.log_path) if self.log_path is not None else None
        try:
            worker.process = await asyncio.create_subprocess_exec(
                *command, pass_fds=(child.fileno(),), stdout=asyncio.subprocess.DEVNULL, stdin=asyncio.subprocess.DEVNULL,
                stderr=log,
            )
        finally:
            child.close()
            if log is not None:
                os.close(log)
        reader, writer = await asyncio.open_connection(sock=parent)
        worker.writer = writer
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                try:
                    message = decode(line)
                except WireError as err:
                    _LOGGER.error("call worker %s: %s; ignored", worker.name, err)
                    continue
                self._handle(worker, message)
        finally:
            writer.close()
            worker.writer = None
            code = await worker.process.wait()
            if not self._stopping:
                _LOGGER.error("call worker %s (pid %s) exited with %s", worker.name, worker.process.pid, code)

    def _handle(self, worker: _Worker, message: Message) -> None:
        if isinstance(message, Ready):
            worker.slots = min(worker.slots, message.slots)
            worker.ready = True
            self._some_ready.set()
            _LOGGER.info("call worker %s ready (pid %s, %d slots)", worker.name, message.pid, worker.slots)
            self.listener.slot_freed()
        elif isinstance(message, Escalated):
            self._tell("escalation", self.listener.attempt_event, message.attempt_id, message.event)
        elif isinstance(message, Finished):
            worker.in_flight.discard(message.attempt_id)
            self._tell("result", self.listener.attempt_finished, message.attempt_id, message.result)
            self.listener.slot_freed()
        else:
            _LOGGER.error("call worker %s sent a %s message, which only the daemon sends; ignored", worker.name, message.type)
