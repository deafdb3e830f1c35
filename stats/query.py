"""The reads behind the statistics API: day counters over a range, one message and its
events, message search and the account's log, each paged by an opaque cursor.

Invariant: every read is scoped to the account it is given and reads only that account's
keys (a message by id is returned only when its record or its events name the account),
and every call costs work bounded by its limit: at most MAX_DAYS day hashes, at most
SCAN_BUDGET index entries per search page. Cursors are opaque to clients; a cursor that
does not decode is a QueryError, which the API answers with 422. Values come back as text
whichever client is used.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Generic, TypeVar

import redis.asyncio as aioredis

from stats import keys
from stats.aggregate import zone
from stats.events import Event

#: The counters of SPEC section 5, in the order the API shows them.
FIELDS = ("accepted", "rejected", "suppressed", "delivered", "deferred", "bounced_hard",
          "bounced_soft", "opened", "opened_unique", "clicked", "clicked_unique",
          "unsubscribed", "complained")
#: Longest range of /v1/stats, in days: a leap year.
MAX_DAYS = 366
#: Page sizes of search and logs.
DEFAULT_LIMIT, MAX_LIMIT = 50, 500
#: Index entries one search page may look at when a status filter skips most of them; the
#: page then comes back short, with a cursor to go on from.
SCAN_BUDGET = 5000
T = TypeVar("T")
#: What is read of a message's record: never its raw bytes, which can be megabytes.
RECORD_FIELDS = ("account", "sender", "recipient", "subject", "size", "status", "received",
                 "attempts", "bounce")
_MESSAGE_ID = re.compile(r"[0-9a-z]{26}")
_STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")


class QueryError(ValueError):
    """A request the data cannot answer as asked: bad range, limit or cursor."""


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    #: Where the next page starts; None when this page is the last.
    next_cursor: str | None


@dataclass(frozen=True)
class LogEntry:
    id: str
    event: Event


def day_range(date_from: date, date_to: date) -> list[date]:
    """Every day from `date_from` to `date_to`, inclusive; QueryError when reversed or too long."""
    if date_from > date_to:
        raise QueryError("from must not be after to")
    days = (date_to - date_from).days + 1
    if days > MAX_DAYS:
        raise QueryError(f"the range covers {days} days; at most {MAX_DAYS} are allowed")
    return [date_from + timedelta(days=n) for n in range(days)]


def recent_days(tz: str, now: float, days: int = 30) -> tuple[date, date]:
    """The last `days` local days of the zone `tz`, today included."""
    today = datetime.fromtimestamp(now, UTC).astimezone(zone(tz)).date()
    return today - timedelta(days=days - 1), today


async def stats_range(r: aioredis.Redis, account: str, date_from: date, date_to: date
                      ) -> tuple[dict[str, int], list[tuple[date, dict[str, int]]]]:
    """Totals and the per-day series of the account's counters (0 where nothing happened).

    Day hashes are keyed by the account's local date at the time of each event, so the
    range is in local days and needs no conversion here.
    """
    days = day_range(date_from, date_to)
    async with r.pipeline(transaction=False) as pipe:
        for day in days:
            pipe.hgetall(keys.day(account, day.isoformat()))
        hashes = await pipe.execute()
    series = [(day, _counts(raw)) for day, raw in zip(days, hashes, strict=True)]
    totals = {name: sum(counts[name] for _, counts in series) for name in FIELDS}
    return totals, series


async def message(r: aioredis.Redis, account: str, message_id: str, *,
                  message_key: Callable[[str], str]) -> tuple[dict[str, str], list[Event]] | None:
    """The message's record and events in order; None unless it exists and is the account's.

    The record expires after the message is finished and the timeline later, so either
    may name the owner; both being gone means the message is gone.
    """
    if not _MESSAGE_ID.fullmatch(message_id):
        return None
    async with r.pipeline(transaction=False) as pipe:
        pipe.hmget(message_key(message_id), RECORD_FIELDS)
        pipe.lrange(keys.timeline(message_id), 0, -1)
        raw, timeline = await pipe.execute()
    fields = _record(raw)
    events = [Event.from_json(item) for item in timeline]
    owner = fields.get("account") or (events[0].account if events else None)
    if owner != account:
        return None
    return fields, events


async def search(r: aioredis.Redis, account: str, *, message_key: Callable[[str], str],
                 recipient: str | None = None, status: str | None = None,
                 since: float | None = None, until: float | None = None,
                 limit: int = DEFAULT_LIMIT, cursor: str | None = None
                 ) -> Page[dict[str, str]]:
    """The account's messages, newest first, as their records (with `id`), by the indexes
    `keys.messages` / `keys.recipient`; a status filter is applied to each record."""
    _check_limit(limit)
    if since is not None and until is not None and since > until:
        raise QueryError("since must not be after until")
    index = keys.recipient(account, recipient) if recipient else keys.messages(account)
    low = "-inf" if since is None else since
    position = _decode_position(cursor) if cursor else None
    if position is None and until is not None:
        position = (until, None)
    found: list[dict[str, str]] = []
    scanned = 0
    while len(found) < limit and scanned < SCAN_BUDGET:
        # Unfiltered, a page needs just what is missing; filtered, read ahead in bigger steps.
        want = limit - len(found) if status is None else max(limit, 100)
        batch = await _older(r, index, low, position, min(SCAN_BUDGET - scanned, want))
        if not batch:
            return Page(found, None)
        records = await _records(r, [member for member, _ in batch], message_key)
        for (member, score), record in zip(batch, records, strict=True):
            position, scanned = (score, member), scanned + 1
            if record and (status is None or record.get("status") == status):
                found.append(record)
                if len(found) == limit:
                    break
    more = bool(await _older(r, index, low, position, 1))
    return Page(found, _encode(f"{position[0]!r}:{position[1]}") if more else None)


async def logs(r: aioredis.Redis, account: str, *, since: float | None = None,
               limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> Page[LogEntry]:
    """The account's log of rejections and problems, newest first."""
    _check_limit(limit)
    newest = "+" if cursor is None else "(" + _decode_stream_id(cursor)
    oldest = "-" if since is None else str(max(0, int(since * 1000)))
    entries = await r.xrevrange(keys.log(account), max=newest, min=oldest, count=limit + 1)
    page = [LogEntry(_text(entry_id), Event.from_json(_text_dict(fields)["event"]))
            for entry_id, fields in entries[:limit]]
    more = len(entries) > limit
    return Page(page, _encode(page[-1].id) if more else None)


async def _older(r: aioredis.Redis, index: str, low: float | str,
                 position: tuple[float, str | None] | None, count: int
                 ) -> list[tuple[str, float]]:
    """Up to `count` index entries after `position` in newest-first order, not below `low`.

    Entries sort by (score, id) descending; those sharing the position's score and not
    below its id were on earlier pages, and are skipped by offset.
    """
    if position is None:
        return _members(await r.zrange(index, "+inf", low, desc=True, byscore=True,
                                       offset=0, num=count, withscores=True))
    score, last = position
    offset = 0
    if last is not None:
        ties = await r.zrange(index, score, score, desc=True, byscore=True)
        offset = sum(1 for member in ties if _text(member) >= last)
    return _members(await r.zrange(index, score, low, desc=True, byscore=True,
                                   offset=offset, num=count, withscores=True))


async def _records(r: aioredis.Redis, ids: list[str], message_key: Callable[[str], str]
                   ) -> list[dict[str, str]]:
    """The records of `ids` (RECORD_FIELDS); {} for one that expired."""
    async with r.pipeline(transaction=False) as pipe:
        for message_id in ids:
            pipe.hmget(message_key(message_id), RECORD_FIELDS)
        raws = await pipe.execute()
    return [(record := _record(raw)) and {"id": message_id, **record}
            for message_id, raw in zip(ids, raws, strict=True)]


def _members(pairs) -> list[tuple[str, float]]:
    return [(_text(member), float(score)) for member, score in pairs]


def _counts(raw: dict) -> dict[str, int]:
    values = _text_dict(raw)
    return {name: int(values.get(name, 0)) for name in FIELDS}


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT}")


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise QueryError("invalid cursor") from None


def _decode_position(cursor: str) -> tuple[float, str]:
    score, _, member = _decode(cursor).partition(":")
    try:
        value = float(score)
    except ValueError:
        raise QueryError("invalid cursor") from None
    if not _MESSAGE_ID.fullmatch(member) or value != value:  # NaN is not a position
        raise QueryError("invalid cursor")
    return value, member


def _decode_stream_id(cursor: str) -> str:
    entry_id = _decode(cursor)
    if not _STREAM_ID.fullmatch(entry_id):
        raise QueryError("invalid cursor")
    return entry_id


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _text_dict(raw: dict) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items()}


def _record(values: list) -> dict[str, str]:
    """RECORD_FIELDS of a message hash as text; {} when the hash does not exist."""
    return {name: _text(value) for name, value in zip(RECORD_FIELDS, values, strict=True)
            if value is not None}
