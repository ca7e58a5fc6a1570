"""A stand-in call-worker process for the pool's tests: it speaks the real wire protocol
(robot/dialer/wire.py) over the socket pair, answers every call at once with a 486, and can
be told to send a line that is not a message first.

    python fake_worker.py --fd N --name w1 [--garbage]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys

from robot.dialer.wire import Finished, Ready, StartCall, Stop, decode, encode
from robot.sip.outcome import CallOutcome
from robot.sip.result import CallResult


async def main(fd: int, garbage: bool) -> int:
    reader, writer = await asyncio.open_connection(sock=socket.socket(fileno=fd))
    if garbage:
        writer.write(b'{"type": "result", "attempt_id": "not a number"}\n')
    writer.write(encode(Ready(slots=2, pid=os.getpid())))
    while line := await reader.readline():
        message = decode(line)
        if isinstance(message, StartCall):
            result = CallResult(outcome="busy", call_outcome=CallOutcome.BUSY, sip_status=486)  # type: ignore[arg-type]
            writer.write(encode(Finished(attempt_id=message.attempt_id, result=result)))
        elif isinstance(message, Stop):
            break
        await writer.drain()
    writer.close()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--config")
    parser.add_argument("--garbage", action="store_true")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.fd, args.garbage)))
