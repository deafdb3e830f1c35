"""The embedded Redis compacts its append-only file when that is cheap.

A compaction (BGREWRITEAOF) forks Redis and writes out the live data, so its cost grows
with the live data, and what it reclaims is the file's size less that. Redis's own
trigger (the file has doubled) fires wherever the growth happens to end: in the middle of
a burst, when the undelivered backlog makes the live data, and so the rewrite, as large
as they ever get. In a run of 6,000 messages of 100 KB, one such rewrite cost 22% of the
messages per second. So the process that runs `tidings serve` asks for the rewrite
itself, once the file is past REWRITE_FROM and the live data is at most a tenth of it
(typically just after a burst has been delivered), and Redis's own trigger stays as the
backstop at a larger size (relay.redis_embedded.AOF_REWRITE_MIN_SIZE).

Invariant: this only ever starts a rewrite that Redis would also run by itself later; a
rewrite changes no data, and a failed check is retried at the next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as aioredis

from relay.redis_client import REDIS_FAILURES

log = logging.getLogger(__name__)

#: File size from which a cheap compaction is asked for.
REWRITE_FROM = 1 << 30
#: A compaction is cheap when the file is at least this many times the live data.
CHEAP_RATIO = 10
#: Seconds between two looks at the file and the data (two INFO commands).
CHECK_INTERVAL = 1.0


def cheap_to_compact(file_size: int, live_data: int, *, rewriting: bool,
                     rewrite_from: int = REWRITE_FROM) -> bool:
    """Whether a compaction now would reclaim much for little."""
    return (not rewriting and file_size >= rewrite_from
            and live_data * CHEAP_RATIO <= file_size)


async def compact_if_cheap(r: aioredis.Redis, *, rewrite_from: int = REWRITE_FROM) -> bool:
    """Ask Redis for a compaction if it is cheap now; whether one was asked for."""
    persistence = await r.info("persistence")
    memory = await r.info("memory")
    file_size = int(persistence.get("aof_current_size", 0))
    live_data = int(memory.get("used_memory_dataset", memory.get("used_memory", 0)))
    rewriting = bool(int(persistence.get("aof_rewrite_in_progress", 0))
                     or int(persistence.get("aof_rewrite_scheduled", 0)))
    if not cheap_to_compact(file_size, live_data, rewriting=rewriting,
                            rewrite_from=rewrite_from):
        return False
    await r.bgrewriteaof()
    log.info("compacting the append-only file: %d MB of file for %d MB of data",
             file_size >> 20, live_data >> 20)
    return True


async def compact_when_cheap(r: aioredis.Redis, stop: asyncio.Event, *,
                             interval: float = CHECK_INTERVAL,
                             rewrite_from: int = REWRITE_FROM) -> None:
    """Look every `interval` seconds until `stop` is set."""
    log.info("this process compacts the embedded Redis's append-only file once it is %d MB "
             "or more and %d times the data or more", rewrite_from >> 20, CHEAP_RATIO)
    while not stop.is_set():
        try:
            await compact_if_cheap(r, rewrite_from=rewrite_from)
        except REDIS_FAILURES as error:
            log.debug("append-only file check failed, retrying: %s", error)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
