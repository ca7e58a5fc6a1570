"""What the scripts page shows of each dialog script in use: its name, version, language,
scam types, the result of its embedded tests (run as `robot dialogs check` runs them, on the
script in memory, i.e. exactly the version the robot calls with) and its Mermaid diagram
(`robot dialogs graph`).

A script's tests are run once per version, on a thread of their own (they use the CPU for a
second or so per script): the first view of a new version waits up to a limit for them and
otherwise says they are running; later views read the result."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Sequence
from dataclasses import dataclass

from ..dialer.scripts import ScriptVersion
from ..dialog.checks import test_problems
from ..dialog.graph import mermaid
from ..dialog.loader import LoadedScript, Locations, Position


@dataclass(frozen=True)
class TestStatus:
    total: int
    failures: tuple[str, ...]
    """One line per failing test, as `robot dialogs check` words it."""

    @property
    def passed(self) -> int:
        return self.total - len(self.failures)


@dataclass(frozen=True)
class ScriptView:
    name: str
    """`language/id`, as attempts record it."""
    version: str
    """As attempts record it: meta.version plus a hash of the content."""
    meta_version: int
    language: str
    description: str
    fraud_types: tuple[str, ...]
    risk_levels: tuple[str, ...]
    file: str
    tests: TestStatus | None
    """None: still running."""
    mermaid: str


def run_embedded_tests(version: ScriptVersion) -> TestStatus:
    """The script's embedded tests, on its own event loop (call it on a worker thread)."""
    # The script in memory, not its file (which may have changed since it was loaded):
    # problems point at the top of the file.
    loaded = LoadedScript(script=version.script, path=version.path,
                          locations=Locations(at={(): Position(str(version.path), 1, 1)}))
    problems = asyncio.run(test_problems(loaded))
    return TestStatus(total=len(version.script.tests), failures=tuple(problem.message for problem in problems))


def _status(version: ScriptVersion, run: concurrent.futures.Future[TestStatus]) -> TestStatus:
    error = run.exception()
    if error is None:
        return run.result()
    return TestStatus(total=len(version.script.tests), failures=(f"the tests could not run: {type(error).__name__}: {error}",))


class EmbeddedTests:
    """Each script version's test results, run once on one worker thread. Results are kept in
    concurrent futures, so they outlive the event loop of the request that started them."""

    def __init__(self) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="script-tests")
        self._runs: dict[tuple[str, str], concurrent.futures.Future[TestStatus]] = {}

    def _run(self, version: ScriptVersion) -> concurrent.futures.Future[TestStatus]:
        key = (version.name, version.version)
        run = self._runs.get(key)
        if run is None:
            run = self._runs[key] = self._executor.submit(run_embedded_tests, version)
        return run

    async def statuses(self, versions: Sequence[ScriptVersion], wait_seconds: float) -> list[TestStatus | None]:
        """Each version's result, waiting at most `wait_seconds` in all; None for those not done by then."""
        current = {(v.name, v.version) for v in versions}
        for key in [key for key in self._runs if key not in current]:  # versions no longer in use
            del self._runs[key]
        runs = [self._run(version) for version in versions]
        pending = [run for run in runs if not run.done()]
        if pending:  # waited for on a thread: no callback of the worker's lands on this event loop
            await asyncio.to_thread(concurrent.futures.wait, pending, wait_seconds)
        return [_status(version, run) if run.done() else None for version, run in zip(versions, runs, strict=True)]

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


async def script_views(versions: Sequence[ScriptVersion], tests: EmbeddedTests, wait_seconds: float) -> list[ScriptView]:
    ordered = sorted(versions, key=lambda v: (v.script.meta.language.value, v.script.meta.id))
    statuses = await tests.statuses(ordered, wait_seconds)
    return [
        ScriptView(
            name=version.name, version=version.version, meta_version=version.script.meta.version,
            language=version.script.meta.language.value, description=version.script.meta.description,
            fraud_types=tuple(version.script.meta.fraud_types), risk_levels=tuple(r.value for r in version.script.meta.risk_levels),
            file=version.path.name, tests=status, mermaid=mermaid(version.script),
        )
        for version, status in zip(ordered, statuses, strict=True)
    ]
