"""The one write interface for events: record(events) onto a Redis pipeline.

Invariant: every event costs O(1) work in Redis, done by one Lua call
(`scripts/record_events.lua`) that joins the caller's pipeline, so it commits in the
same round trip, and the same MULTI, as the state change it describes.

EVAL, not EVALSHA: Redis caches the compiled script either way, and EVAL can never
fail with NOSCRIPT after a restart or failover in the middle of a MULTI.
"""

from __future__ import annotations

from importlib import resources

from redis.asyncio.client import Pipeline

from stats import keys
from stats.aggregate import local_day, zone
from stats.events import Event, EventName

#: Events that also go to the account's log of problems (`/v1/logs`).
LOGGED = frozenset({EventName.REJECTED})
SCRIPT = resources.files("stats").joinpath("scripts/record_events.lua").read_text()


def record(pipe: Pipeline, *events: Event, timezone: str = "UTC") -> None:
    """Queue the recording of `events` on `pipe`; the caller executes the pipeline."""
    event_keys: list[str] = []
    args: list[str | int] = [keys.RETENTION_DAYS, keys.RETENTION_TIMELINE, keys.LOG_MAXLEN]
    for event in events:
        event_keys += [
            keys.day(event.account, local_day(event.at, zone(timezone)))
            if event.account is not None else "",
            keys.timeline(event.message_id) if event.message_id is not None else "",
            keys.log(event.account) if event.name in LOGGED else "",
        ]
        args += [event.name.value, event.to_json()]
    pipe.eval(SCRIPT, len(event_keys), *event_keys, *args)
