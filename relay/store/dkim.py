"""DKIM keys in Redis, one per sending domain: written by `tidings dkim`, read by the worker.

Invariant: a domain's hash is written whole in one transaction, so a reader finds either
no key or a complete one, and an existing key is replaced only when asked to: replacing
it breaks verification until the new record is published.
"""

from __future__ import annotations

import time

import redis
import redis.asyncio as aioredis

from relay import keys
from relay.dkim_keys import DkimKey
from relay.redis_client import text

FIELDS = ("selector", "algorithm", "private_key", "public_key")


class DkimError(Exception):
    """A refused DKIM key operation; the message is shown to the operator as it is."""


async def save(r: aioredis.Redis, key: DkimKey, *, replace: bool) -> None:
    name = keys.dkim(key.domain)
    mapping = {"selector": key.selector, "algorithm": key.algorithm,
               "private_key": key.private_key.decode("ascii"), "public_key": key.public_key,
               "created": str(int(time.time()))}
    async with r.pipeline(transaction=True) as pipe:
        try:
            # WATCH makes the existence check and the write one decision, so two
            # concurrent generates without --replace cannot both succeed.
            await pipe.watch(name)
            if not replace and await pipe.exists(name):
                raise DkimError(f"{key.domain} already has a DKIM key; use --replace to make "
                                "a new one (the old DNS record stops working)")
            pipe.multi()
            pipe.delete(name)
            pipe.hset(name, mapping=mapping)
            await pipe.execute()
        except redis.WatchError:
            raise DkimError(f"the DKIM key of {key.domain} changed meanwhile; "
                            "try again") from None


async def load(r: aioredis.Redis, domain: str) -> DkimKey | None:
    """The domain's key, or None when it has none (its mail then goes out unsigned)."""
    values = [text(value) for value in await r.hmget(keys.dkim(domain), FIELDS)]
    if any(value is None for value in values):
        return None
    selector, algorithm, private_key, public_key = values
    return DkimKey(domain=domain.lower(), selector=selector, algorithm=algorithm,
                   private_key=private_key.encode("ascii"), public_key=public_key)


async def created(r: aioredis.Redis, domain: str) -> int | None:
    """When the domain's key was made (epoch seconds), to tell an operator its age."""
    value = await r.hget(keys.dkim(domain), "created")
    return int(value) if value is not None else None


async def remove(r: aioredis.Redis, domain: str) -> bool:
    return bool(await r.delete(keys.dkim(domain)))


async def domains(r: aioredis.Redis) -> list[str]:
    prefix = keys.dkim("")
    found = {name[len(prefix):] async for name in r.scan_iter(match=prefix + "*", count=500)}
    return sorted(found)
