"""Pacing of new calls: `calls_per_second` for this node alone (the embedded store), or for
the whole cluster (a shared store keeps one token bucket that every node takes from).

A token is taken before a call is claimed and given back if the call is not started after all
(another node took the warning, the number has a live call), so a refused claim costs no pace."""

from __future__ import annotations

from abc import ABC, abstractmethod

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


def pacing_for(repository: Repository, rate_per_second: float) -> Pacing:
    return ClusterPacing(repository, rate_per_second) if repository.shared else LocalPacing(rate_per_second)
