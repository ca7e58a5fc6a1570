"""The PostgreSQL store's supervisors' figures (`statistics.py` says what each counts); its
medians are PostgreSQL's own `percentile_cont(0.5)` (the mean of the two middle values for an
even count, as SQLite's are taken)."""

from __future__ import annotations

from collections.abc import Sequence

from .postgres_db import PostgresDatabase
from .repository import Repository
from .statistics import (
    ATTEMPTS_SQL,
    ESCALATIONS_SQL,
    FIRST_CALLS_SQL,
    MEDIAN_GROUPS,
    WARNINGS_SQL,
    PeriodStatistics,
    assemble,
    bucket_bounds,
    series_sql,
)

MARK = "%s"


def median_sql(group: str) -> str:
    return f"""SELECT {group} AS grp, COUNT(*) AS size, percentile_cont(0.5) WITHIN GROUP (ORDER BY delay) AS median
        FROM ({FIRST_CALLS_SQL.format(mark=MARK)}) AS calls GROUP BY grp"""


class PostgresStatistics(Repository):
    database: PostgresDatabase

    async def period_statistics(self, since: float, until: float, bucket_starts: Sequence[float] = ()) -> PeriodStatistics:
        buckets = bucket_bounds(since, until, bucket_starts)
        period = (since, until)
        read = self.database.read_all
        medians = {}
        for kind, group in MEDIAN_GROUPS.items():
            rows = await read(median_sql(group), *period)
            medians[kind] = {str(row["grp"]): (int(row["size"]), float(row["median"])) for row in rows}
        series = await read(series_sql(len(buckets), MARK), *[bound for bucket in buckets for bound in bucket]) if buckets else []
        return assemble(
            since, until,
            warnings=[tuple(row.values()) for row in await read(WARNINGS_SQL.format(mark=MARK), *period)],
            attempts=[tuple(row.values()) for row in await read(ATTEMPTS_SQL.format(mark=MARK), *period)],
            escalations=[tuple(row.values()) for row in await read(ESCALATIONS_SQL.format(mark=MARK), *period)],
            medians=medians, series=[tuple(row.values()) for row in series],
        )
