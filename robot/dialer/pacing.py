"""Pacing of new calls: `calls_per_second` for this node alone (the embedded store), or for
the whole cluster, in one of two ways (`cluster_pacing`):

- `bucket`: the shared store keeps one token bucket that every node takes from (one short
  transaction per call; the rate holds exactly, whatever the nodes come and go);
- `shares`: each node paces itself at `rate / nodes alive`, counted from the store's nodes
  table with the heartbeat (nothing per call; a node joining is counted by the others within
  about a second, so for that long the cluster may start up to one share more; a node that
  dies keeps its share unused until it is no longer listed, 15 s).

A token is taken before a call is claimed and given back if the call is not started after all
(another node took the warning, the number has a live call), so a refused claim costs no pace."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Literal

from ..store.repository import Repository
from .policy import Pacer


class Pacing(ABC):
    @abstractmethod
    async def acquire(self, now: float) -> float:
        """Take a token: 0.0, or how many seconds until one is there (nothing taken)."""

    @abstractmethod
    async def give_back(self, now: float) -> None:
        """The token taken last was not used."""


class LocalPacing(Pacing):
    def __init__(self, rate_per_second: float) -> None:
        self.pacer = Pacer(rate_per_second)

    async def acquire(self, now: float) -> float:
        wait = self.pacer.wait_seconds(now)
        if wait > 0:
            return wait
        self.pacer.take(now)
        return 0.0

    async def give_back(self, now: float) -> None:
        self.pacer.give_back(now)


class ClusterPacing(Pacing):
    """The store's bucket: every node of the cluster together starts at most `rate` calls a second."""

    def __init__(self, repository: Repository, rate_per_second: float) -> None:
        self.repository = repository
        self.rate = rate_per_second
        self.burst = Pacer(rate_per_second).burst

    async def acquire(self, now: float) -> float:
        wait = await self.repository.take_dial_token(self.rate, self.burst, now)
        if wait is None:
            raise RuntimeError(f"{self.repository.describe()} keeps no pacing bucket")
        return wait

    async def give_back(self, now: float) -> None:
        await self.repository.return_dial_token(self.burst)


class SharePacing(Pacing):
    """This node's share of the cluster's rate: `rate / nodes alive`, no store round trip per call."""

    def __init__(self, rate_per_second: float, nodes_alive: Callable[[], int]) -> None:
        self.rate = rate_per_second
        self.nodes_alive = nodes_alive
        self.pacer = Pacer(rate_per_second)
        self.nodes = 1

    def _share(self, now: float) -> Pacer:
        nodes = max(1, self.nodes_alive())
        if nodes != self.nodes:
            self.pacer.set_rate(self.rate / nodes, now)
            self.nodes = nodes
        return self.pacer

    async def acquire(self, now: float) -> float:
        pacer = self._share(now)
        wait = pacer.wait_seconds(now)
        if wait > 0:
            return wait
        pacer.take(now)
        return 0.0

    async def give_back(self, now: float) -> None:
        self.pacer.give_back(now)


ClusterPacingMode = Literal["bucket", "shares"]


def pacing_for(repository: Repository, rate_per_second: float, mode: ClusterPacingMode = "bucket",
               nodes_alive: Callable[[], int] = lambda: 1) -> Pacing:
    if not repository.shared:
        return LocalPacing(rate_per_second)
    if mode == "shares":
        return SharePacing(rate_per_second, nodes_alive)
    return ClusterPacing(repository, rate_per_second)
