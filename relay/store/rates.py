"""Per-account sending-rate counters: accepted messages per one-minute window in Redis.

The reads join the MAIL-time pipeline and the increment joins the acceptance MULTI, so
rate limiting adds no round trip. Concurrent sessions may each pass the check before any
of them counts, so an account can exceed its rate by at most its number of parallel
sessions: the price of keeping the check off the critical path.
"""

from __future__ import annotations

from redis.asyncio.client import Pipeline

from policy.facts import RateFacts
from relay import keys

WINDOW = 60


def queue_reads(pipe: Pipeline, account: str, now: float) -> None:
    minute = int(now // WINDOW)
    pipe.get(keys.rate(account, minute))
    pipe.get(keys.rate(account, minute - 1))


def facts_from(current: str | None, previous: str | None, now: float) -> RateFacts:
    return RateFacts(current=int(current or 0), previous=int(previous or 0),
                     elapsed=(now % WINDOW) / WINDOW)


def count_accepted(pipe: Pipeline, account: str, now: float) -> None:
    key = keys.rate(account, int(now // WINDOW))
    pipe.incr(key)
    pipe.expire(key, 2 * WINDOW + 5)
