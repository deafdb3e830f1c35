"""An account's suppression list: the addresses Tidings stores mail for but never delivers to.

Invariant: members are lower-case mailbox addresses valid by `policy.recipients`; the
acceptance and delivery scripts test membership with the lower-cased recipient, so an
address added here in any case suppresses every spelling of it. Unsubscribes, hard
bounces and complaints add to the same set (`relay.keys.suppressed`).
"""

from __future__ import annotations

import redis.asyncio as aioredis

from policy.recipients import is_valid_address
from relay import keys
from relay.redis_client import text


class InvalidAddress(ValueError):
    """Not a mailbox address a receiving server could take."""


def normalize(address: str) -> str:
    lowered = address.strip().lower()
    if not is_valid_address(lowered, smtputf8=True):
        raise InvalidAddress(f"not a valid email address: {address!r}")
    return lowered


async def add(r: aioredis.Redis, account: str, address: str) -> bool:
    """Suppress `address` for `account`; False when it already was."""
    return bool(await r.sadd(keys.suppressed(account), normalize(address)))


async def remove(r: aioredis.Redis, account: str, address: str) -> bool:
    """Lift the suppression; False when the address was not suppressed."""
    return bool(await r.srem(keys.suppressed(account), address.strip().lower()))


async def page(r: aioredis.Redis, account: str, *, cursor: int, count: int
               ) -> tuple[list[str], int]:
    """One SSCAN step: some addresses and the cursor to continue from (0 when done).

    SSCAN guarantees every address present for the whole walk is returned at least once;
    `count` is a hint, so a page may be shorter or longer.
    """
    next_cursor, members = await r.sscan(keys.suppressed(account), cursor=cursor, count=count)
    return sorted(text(m) for m in members), int(next_cursor)
