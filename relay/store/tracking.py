"""What the tracking endpoints read and write: delivered messages, their links, opens, clicks
and unsubscribes.

Invariant: each hit is one atomic script (`scripts/track.lua`, behind the stats
`record_event` library), so an event, its day counters and the first-open/first-click
marks that make a hit unique commit together or not at all; a hit on a message that is
gone records nothing. Unique opens and clicks are the first that are not prefetches,
remembered on the message hash (`first_open`, `first_click`), so they count once per
message however many times the reader comes back.

Values come back as text or bytes alike, so any client works; `hosted_copy` needs a
binary-safe one (``decode_responses=False``), since a message need not be UTF-8.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import redis.asyncio as aioredis

from relay import keys
from relay.redis_client import Script, text
from relay.store import accounts
from stats import recorder
from stats.events import Event, EventName

TRACK_SCRIPT = Script(recorder.LIBRARY + resources.files("relay.store").joinpath(
    "scripts/track.lua").read_text())
#: Longest User-Agent kept in an event: enough to tell agents apart, too short to bloat.
MAX_USER_AGENT = 200


@dataclass(frozen=True)
class TrackedMessage:
    account: str
    recipient: str
    status: str
    #: Epoch seconds of delivery, None when not recorded.
    delivered_at: float | None


async def message_of(r: aioredis.Redis, message_id: str) -> TrackedMessage | None:
    """The message behind a token, or None once its record has expired."""
    account, recipient, status, delivered = await r.hmget(
        keys.message(message_id), "account", "recipient", "status", "delivered_at")
    if account is None:
        return None
    return TrackedMessage(account=text(account), recipient=text(recipient or ""),
                          status=text(status or ""), delivered_at=_epoch(delivered))


async def record_open(r: aioredis.Redis, message_id: str, *, at: float, client_ip: str,
                      user_agent: str, prefetch: bool) -> bool:
    """Record an `opened` event; False when the message is gone and nothing was recorded."""
    detail = _hit_detail(client_ip, user_agent, prefetch)
    result = await _track(r, "open", EventName.OPENED, message_id, at=at, detail=detail,
                          prefetch=prefetch)
    return result is not None and result >= 0


async def record_click(r: aioredis.Redis, message_id: str, index: int, *, at: float,
                       client_ip: str, user_agent: str, prefetch: bool) -> str | None:
    """Record a `clicked` event and return the original link number `index`.

    None when the link or the message is gone; nothing is recorded then.
    """
    link = await r.lindex(keys.links(message_id), index)
    if link is None:
        return None
    link = text(link)
    detail = _hit_detail(client_ip, user_agent, prefetch) | {"url": link, "index": index}
    result = await _track(r, "click", EventName.CLICKED, message_id, at=at, detail=detail,
                          prefetch=prefetch, target=keys.links(message_id),
                          extra=(index, link))
    return link if result is not None and result >= 0 else None


async def unsubscribe(r: aioredis.Redis, message_id: str, *, at: float, client_ip: str) -> bool:
    """Suppress the message's recipient for its account; True the first time only.

    Repeating it is harmless: the address is suppressed again and nothing is counted.
    """
    message = await message_of(r, message_id)
    if message is None:
        return False
    recipient = message.recipient.lower()
    result = await _track(r, "unsubscribe", EventName.UNSUBSCRIBED, message_id, at=at,
                          detail={"client_ip": client_ip, "recipient": recipient},
                          prefetch=False, target=keys.suppressed(message.account),
                          extra=(recipient,), account=message.account)
    return result == 1


async def hosted_copy(r: aioredis.Redis, message_id: str) -> bytes | None:
    """The rendered message behind the [WebVersion] link, or None once it has expired."""
    data = await r.get(keys.web_copy(message_id))
    if data is None:
        return None
    return data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape")


async def _track(r: aioredis.Redis, action: str, name: EventName, message_id: str, *,
                 at: float, detail: dict, prefetch: bool, target: str = "",
                 extra: tuple = (), account: str | None = None) -> int | None:
    """Run the script for one hit; its result, or None when the message is gone.

    The day key depends on the account's timezone, which only Python can turn into a
    local date, so the account is read first and the script checks it is unchanged.
    """
    if account is None:
        found = await r.hget(keys.message(message_id), "account")
        if found is None:
            return None
        account = text(found)
    timezone = await accounts.timezone(r, account)
    # Whether a hit is unique is decided inside the script, so both versions go in.
    plain_detail = detail if action == "unsubscribe" else detail | {"unique": False}
    plain = recorder.prepare(Event(name, account, message_id, at, plain_detail),
                             timezone=timezone)
    unique = Event(name, account, message_id, at, detail | {"unique": True}).to_json()
    return int(await TRACK_SCRIPT(
        r, 4, keys.message(message_id), plain.day, plain.timeline, target,
        action, account, name.value, plain.json, unique, "1" if prefetch else "0", repr(at),
        *extra))


def _hit_detail(client_ip: str, user_agent: str, prefetch: bool) -> dict:
    return {"client_ip": client_ip, "user_agent": user_agent[:MAX_USER_AGENT],
            "prefetch": prefetch}


def _epoch(value: str | bytes | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
