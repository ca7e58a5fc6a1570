"""The dashboard's numbers: which period a request means, the store's counts for it, and the
rates worked out from them. A browser test can call the same functions to know what the page
must show (`dashboard_statistics`, `connect_rate`, `dissuasion_rate`, `percent`).

Periods are local days in the centre's timezone (`timezone` in robot.yaml): "today" runs
from local midnight, in hourly buckets; the last 7 or 30 days are those days up to and
including today, in daily buckets. Each period ends at the next local midnight."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from ..clock import Clock
from ..dialer.scripts import ScriptVersion
from ..store.repository import Repository
from ..store.statistics import CallCounts, PeriodStatistics

if TYPE_CHECKING:
    from ..dialer.daemon import Daemon

PERIOD_DAYS: tuple[int, ...] = (1, 7, 30)
"""The periods the dashboard offers: today, the last 7 days, the last 30 days."""
REFERENCE_DISSUASION_RATE = 0.6382
"""The effective dissuasion rate a district reported (Wuhou, Chengdu: 63.82 %), shown beside ours."""
HOUR_SECONDS = 3600.0


@dataclass(frozen=True)
class Period:
    days: int
    since: float
    until: float
    bucket_starts: list[float]
    bucket: Literal["hour", "day"]


def _midnight(day: dt.date, zone: ZoneInfo) -> float:
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone).timestamp()


def period_for(days: int, now: float, zone: ZoneInfo) -> Period:
    """The `days` local days ending with today (`now`'s local date)."""
    if days not in PERIOD_DAYS:
        raise ValueError(f"days must be one of {', '.join(map(str, PERIOD_DAYS))}, not {days}")
    today = dt.datetime.fromtimestamp(now, zone).date()
    first = today - dt.timedelta(days=days - 1)
    since, until = _midnight(first, zone), _midnight(today + dt.timedelta(days=1), zone)
    if days == 1:
        starts, start = [], since
        while start < until:  # 24 buckets, or 23/25 where the clocks change
            starts.append(start)
            start += HOUR_SECONDS
        return Period(days, since, until, starts, "hour")
    return Period(days, since, until, [_midnight(first + dt.timedelta(days=n), zone) for n in range(days)], "day")


async def dashboard_statistics(repository: Repository, days: int, now: float, zone: ZoneInfo) -> tuple[Period, PeriodStatistics]:
    """The store's figures for the period the dashboard shows for `days` at `now`."""
    period = period_for(days, now, zone)
    return period, await repository.period_statistics(period.since, period.until, period.bucket_starts)


def connect_rate(counts: CallCounts) -> float | None:
    """Answered ÷ calls placed (None when nothing was placed)."""
    return counts.answered / counts.calls_placed if counts.calls_placed else None


def dissuasion_rate(counts: CallCounts) -> float | None:
    """Dissuaded ÷ answered (None when nothing was answered)."""
    return counts.dissuaded / counts.answered if counts.answered else None


def percent(rate: float | None) -> str:
    """`0.6382` → `63.82 %`; no rate → `-`."""
    return "-" if rate is None else f"{rate * 100:.2f} %"


DURATION_UNITS = ("h", "min", "s")


def duration(seconds: float | None, units: tuple[str, str, str] = DURATION_UNITS) -> str:
    """`100` → `1 min 40 s`, `42.5` → `42.5 s`, `3720` → `1 h 2 min`; none → `-`. `units`:
    the words for hours, minutes and seconds (the page's language)."""
    hour, minute, second = units
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}".removesuffix(".0") + f" {second}"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} {hour} {minutes} {minute}" if hours else f"{minutes} {minute} {secs} {second}"


def bucket_label(start: float, bucket: str, zone: ZoneInfo) -> str:
    moment = dt.datetime.fromtimestamp(start, zone)
    return moment.strftime("%H:00") if bucket == "hour" else moment.strftime("%m-%d")


@dataclass(frozen=True)
class DashboardSource:
    """What the dashboard and scripts pages read: the store, the centre's timezone, the wall
    clock (epoch seconds) and the dialog scripts in use."""

    repository: Repository
    zone: ZoneInfo
    clock: Clock
    scripts: Callable[[], Sequence[ScriptVersion]]

    @classmethod
    def of_daemon(cls, daemon: Daemon) -> DashboardSource:
        """From the `Daemon` (robot/dialer/daemon.py) that `robot run` serves."""
        library = daemon.library
        return cls(repository=daemon.repository, zone=daemon.config.zone, clock=daemon.clock, scripts=lambda: library.scripts)
