"""Per-account sending-rate counters: accepted messages per one-minute window in Redis.

The reads join the MAIL-time MGET and the increment is part of the acceptance script
(relay/scripts/accept.lua), so rate limiting adds no round trip. Concurrent sessions may
each pass the check before any of them counts, so an account can exceed its rate by at
most its number of parallel sessions: the price of keeping the check off the critical path.
"""

from __future__ import annotations

from policy.facts import RateFacts
from relay import keys

WINDOW = 60
#: A window's counter is needed for two windows, then it may go.
COUNTER_TTL = 2 * WINDOW + 5


def window_keys(account: str, now: float) -> tuple[str, str]:
    """The current and the previous window's counters, for one MGET at MAIL."""
    minute = int(now // WINDOW)
    return keys.rate(account, minute), keys.rate(account, minute - 1)


def facts_from(current: str | None, previous: str | None, now: float) -> RateFacts:
    return RateFacts(current=int(current or 0), previous=int(previous or 0),
                     elapsed=(now % WINDOW) / WINDOW)


def counter_key(account: str, now: float) -> str:
    return keys.rate(account, int(now // WINDOW))
