"""The SQLite store's supervisors' figures (`statistics.py` says what each counts); its
medians are taken with window functions (SQLite has no median aggregate)."""

from __future__ import annotations

from collections.abc import Sequence

from .repository import Repository
from .sqlite_db import Database
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

MARK = "?"


def median_sql(group: str) -> str:
    """Each group's size and median delay: the middle row, or the mean of the two middle rows."""
    return f"""WITH calls AS ({FIRST_CALLS_SQL.format(mark=MARK)}),
        ranked AS (SELECT {group} AS grp, delay,
                          ROW_NUMBER() OVER (PARTITION BY {group} ORDER BY delay) AS rank,
                          COUNT(*) OVER (PARTITION BY {group}) AS size
                   FROM calls)
        SELECT grp, MAX(size), AVG(delay) FROM ranked
        WHERE rank IN ((size + 1) / 2, (size + 2) / 2) GROUP BY grp"""


class SqliteStatistics(Repository):
    database: Database

    async def period_statistics(self, since: float, until: float, bucket_starts: Sequence[float] = ()) -> PeriodStatistics:
        buckets = bucket_bounds(since, until, bucket_starts)
        period = (since, until)
        read = self.database.read_all
        medians = {}
        for kind, group in MEDIAN_GROUPS.items():
            rows = await read(median_sql(group), *period)
            medians[kind] = {str(row[0]): (int(row[1]), float(row[2])) for row in rows}
        series = await read(series_sql(len(buckets), MARK), *[bound for bucket in buckets for bound in bucket]) if buckets else []
        return assemble(
            since, until,
            warnings=[tuple(row) for row in await read(WARNINGS_SQL.format(mark=MARK), *period)],
            attempts=[tuple(row) for row in await read(ATTEMPTS_SQL.format(mark=MARK), *period)],
            escalations=[tuple(row) for row in await read(ESCALATIONS_SQL.format(mark=MARK), *period)],
            medians=medians, series=[tuple(row) for row in series],
        )
