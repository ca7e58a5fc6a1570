"""The dashboard's periods in the centre's timezone, its rates and how numbers are written,
and the catalogue (every language has every string)."""

from __future__ import annotations

import datetime as dt
import re
import string
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from starlette.requests import Request

from robot.console import dashboard_text
from robot.console.stats import connect_rate, dissuasion_rate, duration, percent, period_for
from robot.store.statistics import CallCounts

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
TEMPLATES = Path(dashboard_text.__file__).parent / "templates"


def local(zone: ZoneInfo, *fields: int) -> float:
    return dt.datetime(*fields, tzinfo=zone).timestamp()


def test_today_is_the_local_day_in_hours():
    # 00:30 on 24 November in Shanghai is still 23 November in UTC: the day is Shanghai's.
    period = period_for(1, local(SHANGHAI, 2026, 11, 24, 0, 30), SHANGHAI)
    assert (period.since, period.until) == (local(SHANGHAI, 2026, 11, 24), local(SHANGHAI, 2026, 11, 25))
    assert period.bucket == "hour" and len(period.bucket_starts) == 24
    assert period.bucket_starts[1] - period.bucket_starts[0] == 3600


def test_the_last_7_and_30_days_end_with_today_in_local_days():
    now = local(SHANGHAI, 2026, 11, 24, 15, 0)
    week = period_for(7, now, SHANGHAI)
    assert (week.since, week.until) == (local(SHANGHAI, 2026, 11, 18), local(SHANGHAI, 2026, 11, 25))
    assert week.bucket == "day" and week.bucket_starts == [local(SHANGHAI, 2026, 11, d) for d in range(18, 25)]
    month = period_for(30, now, SHANGHAI)
    assert month.since == local(SHANGHAI, 2026, 10, 26) and len(month.bucket_starts) == 30
    with pytest.raises(ValueError, match="1, 7, 30"):
        period_for(3, now, SHANGHAI)


def test_a_day_when_the_clocks_change_has_its_real_length():
    autumn = period_for(1, local(BERLIN, 2026, 10, 25, 12, 0), BERLIN)  # 25 hours
    assert autumn.until - autumn.since == 25 * 3600 and len(autumn.bucket_starts) == 25
    week = period_for(7, local(BERLIN, 2026, 10, 27, 12, 0), BERLIN)
    assert week.bucket_starts[4] == local(BERLIN, 2026, 10, 25) and week.bucket_starts[5] == local(BERLIN, 2026, 10, 26)


def test_rates_and_how_they_are_written():
    counts = CallCounts(calls_placed=7, answered=4, dissuaded=2)
    assert (connect_rate(counts), dissuasion_rate(counts)) == (4 / 7, 0.5)
    assert connect_rate(CallCounts()) is None and dissuasion_rate(CallCounts(calls_placed=3)) is None
    assert (percent(0.6382), percent(4 / 7), percent(None)) == ("63.82 %", "57.14 %", "-")
    assert [duration(s) for s in (None, 0, 42.5, 60, 100, 3720)] == ["-", "0 s", "42.5 s", "1 min 0 s", "1 min 40 s", "1 h 2 min"]
    assert duration(100, ("小时", "分", "秒")) == "1 分 40 秒"


def _request(query: str = "", cookie: str = "") -> Request:
    headers = [(b"cookie", cookie.encode())] if cookie else []
    return Request({"type": "http", "query_string": query.encode(), "headers": headers})


def test_the_language_comes_from_the_query_then_the_cookie_else_mandarin():
    assert dashboard_text.language_of(_request()) == "zh-CN"
    assert dashboard_text.language_of(_request(cookie="lang=en-US")) == "en-US"
    assert dashboard_text.language_of(_request("lang=zh-CN", cookie="lang=en-US")) == "zh-CN"
    assert dashboard_text.language_of(_request("lang=fr-FR")) == "zh-CN"


def test_every_language_has_every_string_with_the_same_fields():
    zh, en = dashboard_text.TEXT["zh-CN"], dashboard_text.TEXT["en-US"]
    assert zh.keys() == en.keys()
    fields = string.Formatter()
    for key in zh:
        assert {f for _, f, _, _ in fields.parse(zh[key]) if f} == {f for _, f, _, _ in fields.parse(en[key]) if f}, key
    assert dashboard_text.CODES["zh-CN"].keys() == dashboard_text.CODES["en-US"].keys()
    # Every key the templates and the view ask for is in the catalogue.
    used = set()
    for path in [*TEMPLATES.glob("*.html"), Path(dashboard_text.__file__).with_name("dashboard_view.py")]:
        used |= set(re.findall(r"""text(?:\.text)?\(\s*['"](\w+)['"]""", path.read_text()))
    assert used and used <= zh.keys(), used - zh.keys()
