"""Open SMTP sessions of every submission process, as /metrics reports them.

Invariant: each process reports only its own count, under its own name, with the time
it reported; a process that stopped reporting (killed, or its host gone) drops out of
the sum after STALE seconds, so the figure never counts sessions of the dead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

import redis.asyncio as aioredis

from relay.redis_client import REDIS_FAILURES, text
from stats import keys as stats_keys

log = logging.getLogger(__name__)

#: Seconds between a process's reports.
INTERVAL = 5.0
#: A report older than this is a process that is gone.
STALE = 30.0


def process_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


async def report_forever(r: aioredis.Redis, count, *, clock, interval: float = INTERVAL,
                         name: str | None = None) -> None:
    """Every `interval`, write `count()` for this process; removed again on cancel."""
    name = name or process_name()
    try:
        while True:
            try:
                await r.hset(stats_keys.SESSIONS, name, f"{count()} {clock():.0f}")
            except REDIS_FAILURES as error:
                log.debug("session count not reported: %s", error)
            await asyncio.sleep(interval)
    finally:
        with contextlib.suppress(*REDIS_FAILURES):
            await r.hdel(stats_keys.SESSIONS, name)


async def open_sessions(r: aioredis.Redis, now: float) -> int:
    """The sum over processes that reported within STALE seconds; stale ones are dropped."""
    total, stale = 0, []
    for name, value in (await r.hgetall(stats_keys.SESSIONS)).items():
        count, _, at = text(value).partition(" ")
        try:
            fresh = now - float(at) <= STALE
            total += int(count) if fresh else 0
        except ValueError:
            fresh = False
        if not fresh:
            stale.append(name)
    if stale:
        await r.hdel(stats_keys.SESSIONS, *stale)
    return total
