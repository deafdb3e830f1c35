"""The one write interface for events: record(event) onto a Redis pipeline.

Invariant: every event costs O(1) commands, and recording joins the caller's pipeline so
it commits in the same round trip, and the same MULTI, as the state change it describes.
"""

from __future__ import annotations

from redis.asyncio.client import Pipeline

from stats import keys
from stats.aggregate import local_day, zone
from stats.events import Event, EventName

#: Events that also go to the account's log of problems (`/v1/logs`).
LOGGED = frozenset({EventName.REJECTED})


def record(pipe: Pipeline, event: Event, *, timezone: str = "UTC") -> None:
    """Queue the commands that record `event` on `pipe`; the caller executes the pipeline."""
    if event.account is not None:
        day_key = keys.day(event.account, local_day(event.at, zone(timezone)))
        pipe.hincrby(day_key, event.name.value, 1)
        pipe.expire(day_key, keys.RETENTION_DAYS)
    if event.message_id is not None:
        timeline = keys.timeline(event.message_id)
        pipe.rpush(timeline, event.to_json())
        pipe.expire(timeline, keys.RETENTION_TIMELINE)
    if event.name in LOGGED:
        pipe.xadd(keys.log(event.account), {"event": event.to_json()},
                  maxlen=keys.LOG_MAXLEN, approximate=True)
