"""The real API app (the console included) under uvicorn, over a real store, as its own
process, for the browser tests: `python tests/console/serve_program.py CONFIG PORT`.

It is `robot run` without the dialling: the scripts are loaded and checked as `robot run` does
at start (for the scripts page; but not whether their voices are installed, as nothing here
speaks), the daemon is not started and its call pool has no slots, so nothing is ever called; escalations reach the store the way a call worker's report
puts them there (the test process writes them, as another node would)."""

from __future__ import annotations

import asyncio
import os
import sys

import uvicorn

from robot.dialer.api import create_app
from robot.dialer.config import load_dialer_config
from robot.dialer.daemon import Daemon
from robot.dialer.scripts import ScriptLibrary
from robot.dialer.storage import repository_for
from robot.dialer.wire import StartCall
from robot.dialer.workers import CallPool


class NoCalls(CallPool):
    def free_slots(self) -> int:
        return 0

    def active_calls(self) -> int:
        return 0

    async def dispatch(self, call: StartCall) -> str:
        raise RuntimeError("this server dials nobody")

    async def start(self) -> None:
        return None

    async def stop(self, drain_seconds: float) -> None:
        return None


async def main(config_path: str, port: int) -> None:
    config = load_dialer_config(config_path)
    repository = repository_for(config)
    await repository.open()
    library = ScriptLibrary(config.dialogs_dir)  # no speech kit: no voice is needed
    await library.load()
    daemon = Daemon(config, repository, pool=NoCalls(), library=library)
    server = uvicorn.Server(uvicorn.Config(create_app(daemon, os.environ["ROBOT_API_TOKEN"]), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    try:
        await server.serve()
    finally:
        await repository.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
