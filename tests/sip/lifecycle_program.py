"""Run as a separate process by test_worker_lifecycle: 4 calls at once, then shut down with
them still up. Prints one JSON line; the test checks the exit code and stderr too."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from robot.config import SpeechSettings
from robot.dialog.loader import load_script
from robot.sip.config import LOOPBACK_DEFAULT
from robot.sip.result import CallRequest
from robot.sip.worker import CallWorker
from robot.speech.kit import SpeechKit


async def main(uris: list[str], cache: str, models: str, repo: str) -> None:
    script = load_script(Path(repo) / "dialogs" / "en-US" / "generic.yaml").script
    speech = SpeechKit(SpeechSettings(catalog_dir=Path(repo) / "voices", models_dir=Path(models), cache_dir=Path(cache)), deterministic_voices=True)
    config = LOOPBACK_DEFAULT.model_copy(update={"hello_listen_seconds": 0.5, "ring_timeout_seconds": 5})
    async with CallWorker(config, speech, languages=("en-US",)) as worker:
        calls = [asyncio.create_task(worker.call(CallRequest(target=uri, script=script))) for uri in uris]
        # All four up at once, each 2.5 s of audio into its conversation: the callees (SIPp,
        # 2 s of pause after the answer) are all waiting for the robot's BYE by then.
        # (The sessions' audio clocks have no event to wait on, hence the polling.)
        while not (len(worker.sessions) == len(uris) and all(s.clock.now() >= 2.5 for s in worker.sessions)):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        up = worker.active_calls
        await worker.shutdown(drain_seconds=0)
        results = await asyncio.gather(*calls)
        print(json.dumps({
            "up": up,
            "outcomes": [r.outcome for r in results],
            "answered": [r.answered for r in results],
        }))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[4:], sys.argv[1], sys.argv[2], sys.argv[3]))
