"""The queue as an operator sees it: how much waits, and for how long. Reads only.

Invariant: cheap enough to run on every Prometheus scrape: a fixed number of O(1) or
O(log n) calls, whatever the queue holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from relay import keys


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
