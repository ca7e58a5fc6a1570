"""`robot run` refuses to start, at once and with a non-zero exit, when it cannot run safely."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from tests.conftest import DIALOGS, REPO


def run(tmp_path, *, token: str, extra_files: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    dialogs = tmp_path / "dialogs"
    dialogs.mkdir()
    shutil.copy(DIALOGS / "en-US" / "generic.yaml", dialogs / "generic.yaml")
    for name, text in (extra_files or {}).items():
        (dialogs / name).write_text(text)
    config = tmp_path / "robot.yaml"
    config.write_text(f"database: '{tmp_path / 'robot.db'}'\ndialogs_dir: '{dialogs}'\nlanguage: en-US\napi: {{port: 0}}\n")
    env = {**os.environ, "ROBOT_API_TOKEN": token, "ROBOT_CACHE_DIR": str(tmp_path / "cache")}
    # A start-up failure must end the process; it used to hang with the store's thread alive.
    return subprocess.run([sys.executable, "-m", "robot.cli", "run", "--config", str(config)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_an_empty_api_token_is_refused(tmp_path):
    result = run(tmp_path, token="  ")
    assert result.returncode != 0
    assert "the API token (environment variable ROBOT_API_TOKEN) is empty" in result.stderr


def test_a_script_with_a_python_tag_fails_the_start_with_its_position(tmp_path):
    script = "meta: !!python/object/apply:os.system [\"touch pwned\"]\nstart: s\nstates: {s: {say: hi, hangup: dissuaded}}\n"
    result = run(tmp_path, token="a-token", extra_files={"evil.yaml": script})
    assert result.returncode == 1
    assert "evil.yaml:1:7: YAML tag tag:yaml.org,2002:python/object/apply:os.system is not allowed" in result.stderr
    assert "Traceback" not in result.stderr and not (REPO / "pwned").exists()


async def test_scripts_are_read_and_checked_off_the_event_loop(monkeypatch):
    """SIGHUP once parsed scripts on the daemon's loop: the API went dead while it read."""
    import threading

    from robot.dialer.scripts import ScriptLibrary

    library = ScriptLibrary(DIALOGS)
    threads: list[threading.Thread] = []
    real = library._read

    def watched():  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread())
        return real()

    monkeypatch.setattr(library, "_read", watched)
    await library.load()
    assert threads and threads[0] is not threading.main_thread() and library.scripts


async def test_api_connections_send_without_waiting_for_acks(tmp_path):
    """socket.create_server made the listener with proto 0, so asyncio left Nagle's algorithm
    on for the API's connections: each response on a kept-alive connection waited about 40 ms
    for the client's delayed ACK (the officers' queue: 55 ms p95 instead of 6 ms)."""
    import asyncio
    import socket

    from robot.dialer.commands import api_listener

    listener = api_listener("127.0.0.1", 0)
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(connection, sock=listener)
    try:
        _reader, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        assert await accepted == 1
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
