"""What the browser tests share: the real app under uvicorn in its own process
(`serve_program.py`) over a real SQLite store, writing into that store from the test, Debian's
Chromium through Playwright (at /usr/bin/chromium; Playwright's own download is never used),
logging in through the real /login form, and screenshots.

Screenshots go into the test's temporary directory; into docs/screenshots (the README shows
them) only when ROBOT_UPDATE_SCREENSHOTS=1 (`make screenshots`), so a test run leaves the
working tree as it found it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from robot.dialer.config import load_dialer_config
from robot.dialer.storage import repository_for
from tests.console.people import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "screenshots"
UPDATE_SCREENSHOTS = "ROBOT_UPDATE_SCREENSHOTS"
TOKEN = "browser-test-intake-token"
TIMEZONE = "Asia/Shanghai"
WAIT_MS = 20_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`serve_program.py` on a free port, with its robot.yaml and SQLite file in `workdir`."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.config = workdir / "robot.yaml"
        self.config.write_text(f"node_id: browser\ndatabase: '{workdir / 'robot.db'}'\ntimezone: {TIMEZONE}\n")
        self.log = workdir / "server.log"
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        env = os.environ | {"ROBOT_API_TOKEN": TOKEN, "PYTHONPATH": str(REPO)}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, str(REPO / "tests" / "console" / "serve_program.py"), str(self.config),
                                             str(self.port)], cwd=REPO, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 120  # a start-up wait (the scripts are checked first), not a timing under test
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/login", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the server did not answer within 120 s: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


def in_store(config: Path, job):  # type: ignore[no-untyped-def]
    """Run `job(repository)` on the server's store, from a thread of its own (Playwright's
    sync API keeps an event loop running in this one)."""

    async def run():  # type: ignore[no-untyped-def]
        repository = repository_for(load_dialer_config(config))
        await repository.open()
        try:
            return await job(repository)
        finally:
            await repository.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result(timeout=60)


def playwright_or_fail():  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists() or shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install chromium chromium-driver)")
    from playwright.sync_api import sync_playwright

    return sync_playwright()


def launch(playwright, *args: str):  # type: ignore[no-untyped-def]
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", *args])


def log_in(page, base: str, name: str) -> None:  # type: ignore[no-untyped-def]
    """Through the real /login form; the console lands on the queue."""
    page.goto(f"{base}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{base}/queue")


def update_screenshots() -> bool:
    """ROBOT_UPDATE_SCREENSHOTS: 1 writes docs/screenshots; unset, empty or 0 does not."""
    value = os.environ.get(UPDATE_SCREENSHOTS, "")
    if value not in ("", "0", "1"):
        raise ValueError(f"{UPDATE_SCREENSHOTS} must be 1 (write docs/screenshots) or 0, not {value!r}")
    return value == "1"


def screenshot(page, name: str, directory: Path, *, full_page: bool = True) -> Path:  # type: ignore[no-untyped-def]
    """`name`.png of the page in `directory`, and in docs/screenshots too when
    ROBOT_UPDATE_SCREENSHOTS=1."""
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG"
    if update_screenshots():
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / path.name)
    return path
