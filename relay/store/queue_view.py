"""The queue and the event counters as an operator sees them, for /metrics. Reads only.

Invariant: cheap enough to run on every Prometheus scrape: a fixed number of O(1) or
O(log n) calls, whatever the queue holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from relay import keys
from relay.redis_client import text
from stats import keys as stats_keys


@dataclass(frozen=True)
class QueueFigures:
    #: Entries in the stream: due now, or held by a worker.
    queued: int
    #: Of those, held by a worker (delivery in progress, or a dead worker's, not yet taken).
    in_delivery: int
    #: Deferred messages waiting for their next attempt.
    deferred: int
    #: Age of the oldest entry in the stream, 0 when it is empty.
    oldest_age: float


async def figures(r: aioredis.Redis, now: float) -> QueueFigures:
    async with r.pipeline(transaction=False) as pipe:
        pipe.xlen(keys.QUEUE)
        pipe.xrange(keys.QUEUE, count=1)
        pipe.zcard(keys.RETRY)
        queued, first, deferred = await pipe.execute()
    try:
        pending = (await r.xpending(keys.QUEUE, keys.QUEUE_GROUP))["pending"]
    except ResponseError:  # no group yet: no worker has ever run
        pending = 0
    oldest = 0.0
    if first:
        entry_id = first[0][0]
        millis = int((entry_id.decode() if isinstance(entry_id, bytes) else entry_id)
                     .split("-")[0])
        oldest = max(0.0, now - millis / 1000)
    return QueueFigures(queued=queued, in_delivery=pending, deferred=deferred,
                        oldest_age=oldest)


@dataclass(frozen=True)
class EventFigures:
    """Counters across all accounts since the start, for /metrics."""

    #: Event counter name (accepted, rejected, delivered, bounced_hard, ...) -> count.
    totals: dict[str, int]
    #: (reply code, rule) -> rejections.
    rejections: dict[tuple[str, str], int]
    #: (upper bound in seconds or "+Inf", cumulative count) in bound order.
    latency_buckets: list[tuple[str, int]]
    latency_sum: float
    latency_count: int


async def event_figures(r: aioredis.Redis) -> EventFigures:
    async with r.pipeline(transaction=False) as pipe:
        pipe.hgetall(stats_keys.TOTALS)
        pipe.hgetall(stats_keys.REJECTIONS)
        pipe.hgetall(stats_keys.DELIVERY_LATENCY)
        totals, rejections, latency = (
            {text(k): text(v) for k, v in raw.items()} for raw in await pipe.execute())
    by_rule = {}
    for field, count in rejections.items():
        code, _, rule = field.partition(" ")
        by_rule[(code, rule)] = int(count)
    cumulative, buckets = 0, []
    for bound in [*map(str, stats_keys.LATENCY_BUCKETS), "+Inf"]:
        cumulative += int(latency.get(f"le:{bound}", 0))
        buckets.append((bound, cumulative))
    return EventFigures(totals={name: int(count) for name, count in totals.items()},
                        rejections=by_rule, latency_buckets=buckets,
                        latency_sum=float(latency.get("sum", 0)),
                        latency_count=int(latency.get("count", 0)))
