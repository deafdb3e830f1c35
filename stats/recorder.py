"""The one write interface for events: `record` for events of their own, and the Lua
library `record_event` for scripts that must commit a state change and its event together.

Invariant: every event costs O(1) work in Redis, in one atomic script. `record` sends
its script with EVAL: events on their own (rejections) are few, and EVAL can never fail
with NOSCRIPT after a restart or a failover. The per-message scripts that prepend
LIBRARY run by EVALSHA instead (relay.redis_client.Script, which falls back to EVAL).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import redis.asyncio as aioredis

from stats import keys
from stats.aggregate import local_day, zone
from stats.events import Event, EventName

#: Events that also go to the account's log of problems (`/v1/logs`).
LOGGED = frozenset({EventName.REJECTED})
_FUNCTION = resources.files("stats").joinpath("scripts/record_event.lua").read_text()
#: Prepend to a script that calls record_event(day, timeline, log, name, json).
LIBRARY = (f"local RETENTION_DAY, RETENTION_TIMELINE, LOG_MAXLEN = {keys.RETENTION_DAYS}, "
           f"{keys.RETENTION_TIMELINE}, {keys.LOG_MAXLEN}\n"
           f"local TOTALS, REJECTIONS = '{keys.TOTALS}', '{keys.REJECTIONS}'\n"
           # The operator's retention settings, as every process wrote them at start-up.
           f"local configured = redis.call('HMGET', '{keys.CONFIG}', 'retention_day', "
           f"'retention_timeline')\n"
           f"RETENTION_DAY = tonumber(configured[1]) or RETENTION_DAY\n"
           f"RETENTION_TIMELINE = tonumber(configured[2]) or RETENTION_TIMELINE\n{_FUNCTION}")


async def store_retention(r: aioredis.Redis, *, message_seconds: float,
                          stats_seconds: float) -> None:
    """Make the retention settings the ones every script applies from now on."""
    await r.hset(keys.CONFIG, mapping={"retention_day": int(stats_seconds),
                                       "retention_timeline": int(message_seconds)})
_RECORD_ALL = LIBRARY + """
for i = 0, (#KEYS / 3) - 1 do
  record_event(KEYS[3 * i + 1], KEYS[3 * i + 2], KEYS[3 * i + 3], ARGV[2 * i + 1], ARGV[2 * i + 2])
end
return #KEYS / 3
"""


@dataclass(frozen=True)
class EventWrite:
    """An event as record_event takes it: three keys ('' where absent), name, JSON."""

    day: str
    timeline: str
    log: str
    name: str
    json: str


def prepare(event: Event, *, timezone: str = "UTC") -> EventWrite:
    return EventWrite(
        day=keys.day(event.account, local_day(event.at, zone(timezone)))
        if event.account is not None else "",
        timeline=keys.timeline(event.message_id) if event.message_id is not None else "",
        log=keys.log(event.account) if event.name in LOGGED else "",
        name=event.name.value,
        json=event.to_json(),
    )


async def record(r: aioredis.Redis, *events: Event, timezone: str = "UTC") -> None:
    """Record `events` in one atomic call."""
    writes = [prepare(event, timezone=timezone) for event in events]
    event_keys = [key for w in writes for key in (w.day, w.timeline, w.log)]
    args = [arg for w in writes for arg in (w.name, w.json)]
    await r.eval(_RECORD_ALL, len(event_keys), *event_keys, *args)
