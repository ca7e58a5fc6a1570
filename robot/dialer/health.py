"""`GET /healthz`: whether this node can take warnings and call, and why not."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from .daemon import Daemon


class HealthStatus(StrEnum):
    OK = "ok"
    STARTING = "starting"
    DRAINING = "draining"
    NO_WORKERS = "no_workers"
    STORE_UNAVAILABLE = "store_unavailable"
    """The store is locked by another process or its disk is full: intake answers 503."""


class DeliveryHealth(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backlog: int = Field(description="Deliveries not delivered yet (pending, or failed until requeued)")
    oldest_undelivered_seconds: float = Field(description="Age of the oldest of them (0: none)")
    under_way: int


class NodeHealth(BaseModel):
    model_config = ConfigDict(extra="forbid")

    node_id: str
    api: str
    seen_seconds_ago: float


class Health(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: HealthStatus
    workers: int
    worker_processes: list[dict[str, Any]]
    free_slots: int
    active_calls: int
    trunk_circuit: str
    scripts: list[str]
    store: str = Field(description="ok, or why the store cannot be used now")
    store_name: str = Field(description="Which store: sqlite:PATH, or postgresql://USER@HOST:PORT/DB (no password)")
    node_id: str
    nodes: list[NodeHealth] = Field(description="The nodes this store has heard from in the last 15 s (this one included)")
    results_waiting: int = Field(description="Worker reports not stored yet")
    deliveries: DeliveryHealth

    @property
    def ok(self) -> bool:
        return self.status is HealthStatus.OK


def health_of(daemon: Daemon) -> Health:
    pool, now = daemon.pool, daemon.clock.now()
    workers = pool.alive_workers()
    store_problem = daemon.repository.unavailable()
    if daemon.draining:
        status = HealthStatus.DRAINING
    elif not daemon.started:
        status = HealthStatus.STARTING
    elif store_problem:
        status = HealthStatus.STORE_UNAVAILABLE
    elif not workers:
        status = HealthStatus.NO_WORKERS
    else:
        status = HealthStatus.OK
    backlog, oldest = daemon.delivery_backlog
    return Health(
        status=status, workers=workers, worker_processes=pool.describe(), free_slots=pool.free_slots(),
        active_calls=pool.active_calls(), trunk_circuit=daemon.breaker.state(now),
        scripts=[f"{s.name} {s.version}" for s in daemon.library.scripts], store=store_problem or "ok",
        store_name=daemon.repository.describe(), node_id=daemon.config.node_id,
        nodes=[NodeHealth(node_id=n.node_id, api=n.api, seen_seconds_ago=round(max(0.0, now - n.seen_at), 1))
               for n in daemon.nodes_alive],
        results_waiting=daemon.recorder.pending,
        deliveries=DeliveryHealth(backlog=backlog, oldest_undelivered_seconds=round(max(0.0, now - oldest), 1) if oldest else 0.0,
                                  under_way=daemon.deliverer.in_flight),
    )
