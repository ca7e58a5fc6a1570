"""Run as a separate process by test_peer_filter (and bench/security.py): a call worker on a
fixed SIP port that is flooded from outside, then places one call.

    python flood_program.py PORT CACHE MODELS REPO CALLEE_URI [open]

Prints {"event": "ready"} once SIP is up, waits for a line on stdin (the flood is over),
dials CALLEE_URI and prints the call's result as one JSON line; with the rusage of the
process so a benchmark can see what the flood cost. With `open`, SIP is accepted from
anyone (allowed_peers 0.0.0.0/0), as before the peer filter: for the benchmark's comparison."""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from pathlib import Path

from robot.config import SpeechSettings
from robot.dialog.loader import load_script
from robot.sip.config import LOOPBACK_DEFAULT, Transport
from robot.sip.result import CallRequest
from robot.sip.worker import CallWorker
from robot.speech.kit import SpeechKit


def usage() -> dict[str, float]:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_seconds": round(used.ru_utime + used.ru_stime, 3), "max_rss_kb": used.ru_maxrss}


async def main(port: int, cache: str, models: str, repo: str, callee: str, open_to_all: bool) -> None:
    script = load_script(Path(repo) / "dialogs" / "en-US" / "generic.yaml").script
    speech = SpeechKit(SpeechSettings(catalog_dir=Path(repo) / "voices", models_dir=Path(models), cache_dir=Path(cache)),
                       deterministic_voices=True)
    config = LOOPBACK_DEFAULT.model_copy(update={
        "transport": Transport(bind_address="127.0.0.1", public_address="127.0.0.1", port=port, rtp_port_start=0,
                               allowed_peers=["0.0.0.0/0"] if open_to_all else []),
        "ring_timeout_seconds": 5,
    })
    loop = asyncio.get_running_loop()
    async with CallWorker(config, speech) as worker:
        print(json.dumps({"event": "ready", **usage()}), flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)
        before = usage()
        result = await worker.call(CallRequest(target=callee, script=script))
        print(json.dumps({"event": "called", "outcome": result.outcome, "sip_status": result.sip_status,
                          "before_call": before, **usage()}), flush=True)
    speech.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:] == ["open"]))
