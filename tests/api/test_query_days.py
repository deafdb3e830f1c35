"""The pure day arithmetic of stats.query, by table."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from stats.query import MAX_DAYS, QueryError, day_range, recent_days


@pytest.mark.parametrize(("first", "last", "days"), [
    (date(2026, 3, 10), date(2026, 3, 10), 1),
    (date(2026, 2, 27), date(2026, 3, 2), 4),
    (date(2024, 1, 1), date(2024, 12, 31), MAX_DAYS),
])
def test_day_range(first, last, days):
    found = day_range(first, last)
    assert (len(found), found[0], found[-1]) == (days, first, last)


@pytest.mark.parametrize(("first", "last"), [
    (date(2026, 3, 11), date(2026, 3, 10)), (date(2025, 1, 1), date(2026, 1, 2)),
])
def test_impossible_ranges(first, last):
    with pytest.raises(QueryError):
        day_range(first, last)


@pytest.mark.parametrize(("tz", "utc_time", "today"), [
    ("UTC", datetime(2026, 3, 10, 14, 30, tzinfo=UTC), date(2026, 3, 10)),
    ("Asia/Vladivostok", datetime(2026, 3, 10, 13, 30, tzinfo=UTC), date(2026, 3, 10)),
    ("Asia/Vladivostok", datetime(2026, 3, 10, 14, 30, tzinfo=UTC), date(2026, 3, 11)),
    ("America/Los_Angeles", datetime(2026, 3, 10, 2, 0, tzinfo=UTC), date(2026, 3, 9)),
])
def test_recent_days_end_today_in_the_accounts_zone(tz, utc_time, today):
    first, last = recent_days(tz, utc_time.timestamp(), days=7)
    assert last == today and (last - first).days == 6
