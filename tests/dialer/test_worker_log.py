"""The call workers' log file is the robot's alone: it holds (masked) details of calls."""

from __future__ import annotations

import sys

import pytest

from robot.dialer.workers import PoolListener, WorkerPool

pytestmark = pytest.mark.slow  # real processes (see pyproject: markers)


class Listener(PoolListener):
    async def attempt_event(self, attempt_id, event):  # type: ignore[no-untyped-def]
        pass

    async def attempt_finished(self, attempt_id, result):  # type: ignore[no-untyped-def]
        pass

    async def attempts_lost(self, attempt_ids, worker):  # type: ignore[no-untyped-def]
        pass


async def test_the_worker_log_is_created_0600_in_a_0700_folder(tmp_path):
    log = tmp_path / "logs" / "workers.log"
    pool = WorkerPool(
        Listener(), processes=1, slots_per_process=1, config_path=None, start_timeout_seconds=1, restart_delay_seconds=0.1,
        command=[sys.executable, "-c", "import sys; print('worker says hello', file=sys.stderr)"], log_path=log,
    )
    with pytest.raises(RuntimeError, match="no call worker started"):
        await pool.start()  # the stand-in worker logs a line and exits without ever being ready
    await pool.stop(0)
    assert "worker says hello" in log.read_text()
    assert log.stat().st_mode & 0o777 == 0o600
    assert log.parent.stat().st_mode & 0o777 == 0o700
