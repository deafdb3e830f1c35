"""The delivery queue: a Redis stream of accepted message ids, consumed by a consumer group.

Invariant: a message is stored, its id added to the stream, its events recorded and the
message indexed for search (`/v1/messages`) by one atomic Lua call (`scripts/accept.lua`
behind the stats `record_event` library), and the SMTP front end answers 250 only after
that call has returned, i.e. (with appendfsync always) after it is on disk. The writer
never trims the stream: an entry leaves only when a worker acknowledges it, so no cap can
lose mail.
"""

from __future__ import annotations

from importlib import resources

import redis.asyncio as aioredis

from relay import keys
from relay.redis_client import Script
from relay.store import rates
from relay.store.messages import AcceptedMessage, record_fields
from stats import keys as stats_keys
from stats import recorder
from stats.events import Event, EventName

ACCEPT_SCRIPT = Script(recorder.LIBRARY + resources.files("relay").joinpath(
    "scripts/accept.lua").read_text())


class RulesChanged(Exception):
    """The account's rules changed since the transaction was judged; nothing was written."""


async def accept(r: aioredis.Redis, message: AcceptedMessage, *, detail: dict,
                 timezone: str, rules_version: str) -> bool:
    """Store and enqueue `message`; True when its recipient was suppressed (stored only).

    Raises RulesChanged when the account's rules are no longer at `rules_version`.
    """
    accepted = recorder.prepare(Event(EventName.ACCEPTED, message.account, message.id,
                                      message.received, detail), timezone=timezone)
    # The same event under the other name: rarely needed, so not built from scratch.
    suppressed = accepted.json.replace('"name":"accepted"', '"name":"suppressed"', 1)
    fields = record_fields(message)
    flat = [item for pair in fields.items() for item in pair]
    result = await ACCEPT_SCRIPT(
        r, 9, keys.message(message.id), keys.QUEUE,
        rates.counter_key(message.account, message.received),
        keys.suppressed(message.account), accepted.day, accepted.timeline,
        keys.version(message.account), stats_keys.messages(message.account),
        stats_keys.recipient(message.account, message.recipient),
        message.id, message.recipient.lower(), rates.COUNTER_TTL, accepted.json, suppressed,
        rules_version, message.data, repr(message.received), *flat)
    if result == -1:
        raise RulesChanged(message.account)
    return bool(result)
