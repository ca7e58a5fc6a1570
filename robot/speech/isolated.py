"""A recogniser stream in its own process, for decoders that hold the GIL.

PocketSphinx's Python binding keeps the GIL while it decodes: measured here, its final pass
held it for up to 0.7 s. In a call worker that stalls everything else in the process, above
all pjsua2's media clock thread, whose frame callbacks need the GIL: the robot's outgoing
audio then arrives late at the callee, and every other call's turn waits. Running the decoder
in a child process leaves the worker's GIL free; the worker only waits on a pipe (which
releases the GIL). Vosk releases the GIL itself (cffi) and does not need this.

The child is a fresh interpreter (`python -m robot.speech.isolated`; the worker has threads,
so forking it would copy pjsua2's state half-way), talking pickles over a socket pair, and is
reused from call to call like any pooled stream.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .asr import Hypothesis, RecognizerStream, SpeechRecognizer
from .error import SpeechError


def _serve(connection: Connection, recognizer: SpeechRecognizer) -> None:
    stream = recognizer.stream()
    connection.send(("ready", stream.sample_rate))
    while True:
        try:
            request, argument = connection.recv()
        except EOFError:
            return
        try:
            if request == "feed":
                connection.send(("ok", stream.feed(argument)))
            elif request == "finish":
                connection.send(("ok", stream.finish()))
            elif request == "grammar":
                stream.set_grammar(argument)
                connection.send(("ok", None))
            elif request == "close":
                connection.send(("ok", None))
                return
        except Exception as err:  # sent back and raised in the worker
            connection.send(("error", f"{type(err).__name__}: {err}"))


class IsolatedStream(RecognizerStream):
    """The same interface as the stream it wraps; each call is one round trip to the child."""

    START_TIMEOUT_SECONDS = 60.0

    def __init__(self, recognizer: SpeechRecognizer) -> None:
        ours, theirs = socket.socketpair()
        spec = {"class": f"{type(recognizer).__module__}:{type(recognizer).__qualname__}", "model_id": recognizer.model_id,
                "language": recognizer.language, "model_path": str(getattr(recognizer, "model_path", ""))}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "robot.speech.isolated", "--fd", str(theirs.fileno()), "--spec", json.dumps(spec)],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self._connection = Connection(ours.detach())
        try:
            if not self._connection.poll(self.START_TIMEOUT_SECONDS):
                raise EOFError("timed out")
            _kind, rate = self._connection.recv()
        except (EOFError, OSError) as err:
            self._process.kill()
            raise SpeechError("recognizer_start", f"the {recognizer.model_id} recogniser process did not start: {err}") from err
        self.sample_rate = rate
        self._lock = threading.Lock()

    @property
    def pid(self) -> int:
        """The recogniser process."""
        return self._process.pid

    def _call(self, request: str, argument: Any = None) -> Any:
        try:
            with self._lock:  # one request and its answer at a time, whichever thread asks
                self._connection.send((request, argument))
                kind, value = self._connection.recv()
        except (EOFError, OSError, BrokenPipeError) as err:
            raise SpeechError("recognizer_process", f"the recogniser process ended: {err}") from err
        if kind == "error":
            raise SpeechError("recognizer_process", value)
        return value

    def feed(self, pcm: bytes) -> Hypothesis | None:
        result: Hypothesis | None = self._call("feed", pcm)
        return result

    def finish(self) -> Hypothesis:
        result: Hypothesis = self._call("finish")
        return result

    def set_grammar(self, phrases: Sequence[str] | None) -> None:
        self._call("grammar", list(phrases) if phrases is not None else None)

    def close(self) -> None:
        if self._process.poll() is None:
            with contextlib.suppress(SpeechError):
                self._call("close")
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(5)
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a recogniser stream for a call worker (started by it)")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--spec", required=True)
    args = parser.parse_args(argv)
    spec = json.loads(args.spec)
    module, name = spec["class"].split(":")
    recognizer_class = getattr(importlib.import_module(module), name)
    recognizer = recognizer_class(spec["model_id"], spec["language"], Path(spec["model_path"]))
    _serve(Connection(args.fd), recognizer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
