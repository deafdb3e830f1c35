"""Where delivery state lives: loading a queued message, recording an attempt's outcome.

Invariant: an outcome, its event, the suppression it causes and the queue ack are one
atomic script (`scripts/finish.lua`), and a message already finished is never finished
again: a worker that took a message over and delivered it wins, the late one only acks.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import redis.asyncio as aioredis

from relay import keys
from relay.redis_client import Script, text
from stats import keys as stats_keys
from stats import recorder
from stats.events import Event, EventName

FINISH_SCRIPT = Script(
    recorder.LIBRARY
    + f"local DELIVERY_LATENCY = '{stats_keys.DELIVERY_LATENCY}'\n"
    + f"local LATENCY_BUCKETS = {{{', '.join(map(str, stats_keys.LATENCY_BUCKETS))}}}\n"
    + resources.files("relay.delivery").joinpath("scripts/finish.lua").read_text())
PROMOTE_SCRIPT = Script(
    resources.files("relay.delivery").joinpath("scripts/promote.lua").read_text())
RENEW_SCRIPT = Script(resources.files("relay.delivery").joinpath("scripts/renew.lua").read_text())
#: Statuses after which a message is never delivered again.
FINISHED = frozenset({"delivered", "bounced", "suppressed"})


@dataclass(frozen=True)
class QueuedMessage:
    """A message as the worker needs it, read from its hash in one call."""

    id: str
    account: str
    sender: str
    recipient: str
    from_domain: str
    status: str
    received: float
    attempts: int
    data: bytes


@dataclass(frozen=True)
class Finish:
    """One attempt's result as the ledger writes it."""

    outcome: str                  # delivered | bounced | deferred | suppressed
    event: Event
    hard: bool = False
    next_attempt: float = 0.0
    hosted_copy: bytes = b""
    links: tuple[str, ...] = ()


async def load(r: aioredis.Redis, message_id: str) -> QueuedMessage | None:
    """The message, or None when its hash is gone (expired after it finished)."""
    raw = await r.hgetall(keys.message(message_id))
    if not raw:
        return None
    text = {k.decode(): v for k, v in raw.items()}

    def field(name: str, default: str = "") -> str:
        value = text.get(name)
        return value.decode("utf-8", "replace") if value is not None else default

    return QueuedMessage(
        id=message_id, account=field("account"), sender=field("sender"),
        recipient=field("recipient"), from_domain=field("from_domain"),
        status=field("status"), received=float(field("received", "0")),
        attempts=int(field("attempts", "0")), data=text.get("data", b""))


async def finish(r: aioredis.Redis, message: QueuedMessage, entry_id: str, result: Finish, *,
                 timezone: str, group: str, retention: float, copy_retention: float) -> bool:
    """Record `result` and ack `entry_id`; False when the message was already finished."""
    write = recorder.prepare(result.event, timezone=timezone)
    counter = write.name
    if result.event.name is EventName.BOUNCED:
        # Day counters split bounces, as the statistics API reports them.
        counter = "bounced_hard" if result.hard else "bounced_soft"
    log = stats_keys.log(message.account) if result.outcome == "bounced" else ""
    done = await FINISH_SCRIPT(
        r, 9, keys.message(message.id), keys.QUEUE, keys.RETRY,
        keys.suppressed(message.account), write.day, write.timeline, log,
        keys.web_copy(message.id), keys.links(message.id),
        result.outcome, entry_id, group, message.id, counter, write.json,
        message.recipient.lower(), "1" if result.hard else "0", repr(result.next_attempt),
        int(retention), int(copy_retention), result.hosted_copy, repr(result.event.at),
        *result.links)
    return bool(done)


async def ack(r: aioredis.Redis, entry_id: str, *, group: str) -> None:
    """Drop a queue entry whose message needs nothing more."""
    async with r.pipeline(transaction=True) as pipe:
        pipe.xack(keys.QUEUE, group, entry_id)
        pipe.xdel(keys.QUEUE, entry_id)
        await pipe.execute()


async def promote_due(r: aioredis.Redis, now: float, *, limit: int = 500) -> int:
    return int(await PROMOTE_SCRIPT(r, 2, keys.RETRY, keys.QUEUE, repr(now), limit))


async def renew(r: aioredis.Redis, entry_ids: list[str], *, group: str,
                consumer: str) -> set[str]:
    """Reset the idle time of our claims; returns those another worker has taken over."""
    if not entry_ids:
        return set()
    lost = await RENEW_SCRIPT(r, 1, keys.QUEUE, group, consumer, *entry_ids)
    return {text(item) for item in lost}

