"""A call-worker process: one pjsua2 endpoint, at most 4 calls, driven by the daemon.

    python -m robot.dialer.worker_main --fd N --name w1 [--config robot.yaml]

The daemon and the worker talk JSON lines over a socket pair (fd N), the messages of
`wire.py`; stdout is left to pjlib's own logging. From the daemon: `call`, `stop`. To the
daemon: `ready`, `escalation` (as it happens), `result`. A call that fails inside the worker
is reported as `robot_error` with its error, never lost. If the daemon goes away, the worker
hangs up its calls (outcome `interrupted`) and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import os
import signal
import socket
import sys

import uvloop

from ..dialog.events import DialogEvent, EscalationRequested
from ..dialog.matcher import matcher_for
from ..sip.config import load_sip_config
from ..sip.outcome import CallOutcome
from ..sip.phrases import fixed_sentences
from ..sip.result import CallResult
from ..sip.worker import CallWorker
from ..speech.kit import SpeechKit
from ..speech.prompts import script_sentences
from .config import load_dialer_config
from .scripts import ScriptLibrary
from .wire import Escalated, Finished, Message, Ready, StartCall, Stop, WireError, decode, encode

_LOGGER = logging.getLogger("robot.worker")
SWITCH_INTERVAL_SECONDS = 0.001


class WorkerProcess:
    def __init__(self, worker: CallWorker, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.worker = worker
        self.reader = reader
        self.writer = writer
        self.calls: dict[int, asyncio.Task[None]] = {}

    def send(self, message: Message) -> None:
        if not self.writer.is_closing():
            self.writer.write(encode(message))

    async def serve(self, slots: int) -> None:
        self.send(Ready(slots=slots, pid=os.getpid()))
        while True:
            line = await self.reader.readline()
            if not line:
                _LOGGER.warning("the daemon went away: hanging up")
                await self.worker.shutdown(0)
                return
            try:
                message = decode(line)
            except WireError as err:
                _LOGGER.error("%s; ignored", err)
                continue
            if isinstance(message, StartCall):
                task = asyncio.create_task(self.run_call(message))
                self.calls[message.attempt_id] = task
                task.add_done_callback(functools.partial(self._forget, message.attempt_id))
            elif isinstance(message, Stop):
                await self.worker.shutdown(message.drain_seconds)
                if self.calls:
                    await asyncio.gather(*self.calls.values(), return_exceptions=True)
                await self.writer.drain()
                return
            else:
                _LOGGER.error("the daemon sent a %s message, which only workers send; ignored", message.type)

    def _forget(self, attempt_id: int, _: asyncio.Task[None]) -> None:
        self.calls.pop(attempt_id, None)

    async def run_call(self, call: StartCall) -> None:
        attempt_id = call.attempt_id

        def on_event(event: DialogEvent) -> None:
            if isinstance(event, EscalationRequested):
                self.send(Escalated(attempt_id=attempt_id, event=event))

        try:
            result = await self.worker.call(call.request, on_event=on_event)
        except Exception as err:  # the robot's own fault, reported with its error, never lost
            _LOGGER.exception("attempt %s failed inside the worker", attempt_id)
            result = CallResult.failure(CallOutcome.ROBOT_ERROR, f"{type(err).__name__}: {err}")
        self.send(Finished(attempt_id=attempt_id, result=result))
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()


async def main_async(args: argparse.Namespace) -> int:
    config = load_dialer_config(args.config)
    sip = load_sip_config(config.sip_config)
    speech = SpeechKit(config.speech)
    library = ScriptLibrary(config.dialogs_dir)
    await library.load()
    for version in library.scripts:  # warm the prompt cache (shared on disk by all workers)
        sentences = [*script_sentences(version.script), *fixed_sentences(version.script.meta.language.value)]
        await speech.prompts(version.script.meta.voice).render_all(sentences)
        # ... and the understanding (lexicons, classifier, the English pronouncing dictionary):
        # loaded now, not on the event loop in the middle of a first call.
        matcher_for(version.script)
    sock = socket.socket(fileno=args.fd)
    reader, writer = await asyncio.open_connection(sock=sock)
    languages = tuple(library.languages())
    try:
        async with CallWorker(sip, speech, languages=languages) as worker:
            process = WorkerProcess(worker, reader, writer)
            await process.serve(config.workers.calls_per_process)
    finally:
        speech.close()  # the recogniser processes
    writer.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="robot call-worker process (started by `robot run`)")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--config")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format=f"%(asctime)s {args.name} %(levelname)s %(name)s: %(message)s")
    logging.getLogger("transitions").setLevel(logging.WARNING)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the daemon decides when workers stop (Ctrl-C reaches the group)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # pjsua2's media clock thread needs the GIL for every received frame; with Python's
    # default 5 ms switch interval it can wait that long behind a busy thread, per frame.
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
