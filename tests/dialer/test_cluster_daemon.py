"""Two daemons on one PostgreSQL database, on virtual time, with fake call pools (subclasses
of the real interface): warnings posted to one node are shared by both, each is dialled by one
node only, the pace holds for the cluster, and each node's /healthz lists both."""

from __future__ import annotations

import pytest

from robot.clock import VirtualClock
from robot.dialer.config import DialerConfig
from robot.dialer.daemon import Daemon
from robot.dialer.pacing import ClusterPacing, SharePacing
from robot.store import PostgresRepository
from tests.conftest import DIALOGS
from tests.dialer.conftest import FakePool, local


@pytest.fixture
async def cluster(request, postgres_url, shipped_scripts, tmp_path):
    mode = getattr(request, "param", "bucket")
    clock = VirtualClock(local(10))
    daemons = []
    for name in ("node-a", "node-b"):
        config = DialerConfig(node_id=name, database=postgres_url, dialogs_dir=DIALOGS, calls_per_second=4,
                              cluster_pacing=mode, results_journal_file=tmp_path / f"{name}.jsonl")
        daemon = Daemon(config, PostgresRepository(postgres_url, node_id=name), clock=clock, pool=FakePool(slots=100),
                        library=shipped_scripts, api_url=f"http://{name}:8080")
        await daemon.repository.open()
        daemons.append(daemon)
    yield clock, daemons
    for daemon in daemons:
        await daemon.deliverer.close()
        await daemon.repository.close()


async def test_two_nodes_share_the_work_and_one_pace(cluster):
    clock, (a, b) = cluster
    assert all(isinstance(d.pacing, ClusterPacing) for d in (a, b))
    await a.submit([{"id": f"W-{n}", "phone": f"1380013{n:04d}", "risk": "medium", "received_at": "2026-11-23T09:00:00"}
                    for n in range(40)])
    started_by_second: list[int] = []
    for step in range(40):  # 5 s in steps of 1/8 s; each node runs its scheduler at every step
        for daemon in ((a, b) if step // 2 % 2 else (b, a)):  # a token comes every 2 steps; each node is first in turn
            await daemon.schedule_once()
        if step % 8 == 7:
            started_by_second.append(sum(len(d.pool.jobs) for d in (a, b)))  # type: ignore[attr-defined]
        clock.advance(1 / 8)
    # 4 a second for the cluster: 1 at once (the burst), then 4 a second.
    assert started_by_second == [4, 8, 12, 16, 20]
    jobs = [job.request.warning_id for d in (a, b) for job in d.pool.jobs]  # type: ignore[attr-defined]
    assert len(jobs) == len(set(jobs)) == 20  # no warning dialled by both
    assert min(len(d.pool.jobs) for d in (a, b)) > 0  # type: ignore[attr-defined]


def started(*daemons: Daemon) -> int:
    return sum(len(d.pool.jobs) for d in daemons)  # type: ignore[attr-defined]


@pytest.mark.parametrize("cluster", ["shares"], indirect=True)
async def test_with_shares_each_node_paces_itself_at_its_share_and_takes_a_dead_nodes_share(cluster):
    clock, (a, b) = cluster
    assert all(isinstance(d.pacing, SharePacing) for d in (a, b))
    for daemon in (a, b, a):  # each writes that it is alive and reads who else is
        await daemon.refresh_gauges()
    await a.submit([{"id": f"W-{n}", "phone": f"1380013{n:04d}", "risk": "medium", "received_at": "2026-11-23T09:00:00"}
                    for n in range(60)])
    started_by_second: list[tuple[int, int]] = []
    for step in range(40):  # 5 s in steps of 1/8 s
        for daemon in (a, b):
            await daemon.schedule_once()
        if step % 8 == 7:
            started_by_second.append((started(a), started(b)))
            for daemon in (a, b):
                await daemon.refresh_gauges()
        clock.advance(1 / 8)
    # 4 a second for the cluster: 2 each, one at once (each node's burst), then one every half second.
    assert started_by_second == [(2, 2), (4, 4), (6, 6), (8, 8), (10, 10)]
    # node-b dies (no more heartbeats): once it is no longer listed, node-a paces at the whole rate.
    clock.advance(16)
    await a.refresh_gauges()
    before = started(a)
    for _ in range(8):
        await a.schedule_once()
        clock.advance(1 / 8)
    assert [n.node_id for n in a.nodes_alive] == ["node-a"] and started(a) - before == 4


async def test_each_nodes_health_names_the_store_and_both_nodes(cluster):
    clock, (a, b) = cluster
    for daemon in (a, b):
        await daemon.refresh_gauges()
    clock.advance(1)
    await a.refresh_gauges()
    health = a.health()
    assert health.store_name.startswith("postgresql://robot@127.0.0.1:") and "password" not in health.store_name
    assert [(n.node_id, n.api) for n in health.nodes] == [("node-a", "http://node-a:8080"), ("node-b", "http://node-b:8080")]
    clock.advance(20)  # node-b stops: after 15 s without a heartbeat it is no longer listed
    await a.refresh_gauges()
    assert [n.node_id for n in a.health().nodes] == ["node-a"]
