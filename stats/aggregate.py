"""Pure time arithmetic for statistics: which local day an instant belongs to for an account."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_day(at: float, tz: ZoneInfo) -> str:
    """The YYYY-MM-DD of the instant `at` (epoch seconds) in the zone `tz`."""
    return datetime.fromtimestamp(at, UTC).astimezone(tz).date().isoformat()
