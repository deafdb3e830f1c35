"""The delivery queue: a Redis stream of accepted message ids, consumed by a consumer group.

Invariant: a message is stored and its id added to the stream by one atomic Lua call
(`scripts/accept.lua`), and the SMTP front end answers 250 only after that call has
returned, i.e. (with appendfsync always) after it is on disk. The writer never trims the
stream: an entry leaves only when a worker acknowledges it, so no cap can lose mail.
"""

from __future__ import annotations

from importlib import resources

from redis.asyncio.client import Pipeline

from relay import keys
from relay.store import rates
from relay.store.messages import AcceptedMessage, record_fields

#: EVAL rather than EVALSHA: no NOSCRIPT failure is possible after a Redis restart.
ACCEPT_SCRIPT = resources.files("relay").joinpath("scripts/accept.lua").read_text()


def accept(pipe: Pipeline, message: AcceptedMessage, *, suppressed: bool) -> None:
    """Queue on `pipe` the atomic store (+ enqueue unless suppressed) of `message`."""
    fields = record_fields(message, keep_data=not suppressed)
    flat = [item for pair in fields.items() for item in pair]
    pipe.eval(ACCEPT_SCRIPT, 3, keys.message(message.id), keys.QUEUE,
              rates.counter_key(message.account, message.received),
              message.id, "suppressed" if suppressed else "queued", rates.COUNTER_TTL, *flat)
