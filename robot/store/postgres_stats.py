"""The PostgreSQL store's supervisors' figures (`statistics.py` says what each counts), read
on any pooled connection (committed data only)."""

from __future__ import annotations

from collections.abc import Sequence

from .postgres_db import PostgresDatabase
from .repository import Repository
from .statistics import (
    ATTEMPTS_SQL,
    ESCALATIONS_SQL,
    FIRST_CALLS_SQL,
    WARNINGS_SQL,
    PeriodStatistics,
    assemble,
    bucket_bounds,
    series_sql,
)

MARK = "%s"


class PostgresStatistics(Repository):
    database: PostgresDatabase

    async def period_statistics(self, since: float, until: float, bucket_starts: Sequence[float] = ()) -> PeriodStatistics:
        buckets = bucket_bounds(since, until, bucket_starts)

        async def rows(sql: str, *args: float) -> list[tuple[object, ...]]:
            # Rows come as dicts in column order (every column of these queries has its own name).
            return [tuple(row.values()) for row in await self.database.read_all(sql.format(mark=MARK), *args)]

        return assemble(
            since, until, warnings=await rows(WARNINGS_SQL, since, until), attempts=await rows(ATTEMPTS_SQL, since, until),
            escalations=await rows(ESCALATIONS_SQL, since, until), first_calls=await rows(FIRST_CALLS_SQL, since, until),
            series=await rows(series_sql(len(buckets), MARK), *[bound for bucket in buckets for bound in bucket]) if buckets else [],
        )
