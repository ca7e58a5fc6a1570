"""Run as a separate process by test_worker_lifecycle: 4 calls at once, then shut down with
them still up. Prints one JSON line; the test checks the exit code and stderr too."""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from pathlib import Path

from robot.config import SpeechSettings
from robot.dialog.loader import load_script
from robot.sip.config import LOOPBACK_DEFAULT
from robot.sip.worker import CallWorker
from robot.speech.kit import SpeechKit


async def main(uris: list[str], cache: str, models: str, repo: str) -> None:
    script = load_script(Path(repo) / "dialogs" / "en-US" / "generic.yaml").script
    speech = SpeechKit(SpeechSettings(catalog_dir=Path(repo) / "voices", models_dir=Path(models), cache_dir=Path(cache)), deterministic_voices=True)
    config = LOOPBACK_DEFAULT.model_copy(update={"hello_listen_seconds": 0.5, "ring_timeout_seconds": 5})
    async with CallWorker(config, speech, languages=("en-US",)) as worker:
        calls = [asyncio.create_task(worker.call(uri, script)) for uri in uris]
        for _ in range(100):  # wait until all four are up
            await asyncio.sleep(0.1)
            if worker.active_calls == len(uris):
                break
        await asyncio.sleep(4.0)  # all four talking at once
        up = worker.active_calls
        cpu_start, wall_start = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        await asyncio.sleep(3.0)
        cpu_end, wall = resource.getrusage(resource.RUSAGE_SELF), time.monotonic() - wall_start
        cpu = (cpu_end.ru_utime + cpu_end.ru_stime) - (cpu_start.ru_utime + cpu_start.ru_stime)
        started = time.monotonic()
        await worker.shutdown(drain_seconds=0)
        results = await asyncio.gather(*calls)
        print(json.dumps({
            "up": up,
            "outcomes": [r.outcome for r in results],
            "answered": [r.answered for r in results],
            "cpu_per_call_percent": round(100 * cpu / wall / len(uris), 1),
            "shutdown_seconds": round(time.monotonic() - started, 2),
        }))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[4:], sys.argv[1], sys.argv[2], sys.argv[3]))
