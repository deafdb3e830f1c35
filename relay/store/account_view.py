"""What the statistics API reads about an account: whose API key a request carries, the
account's timezone, and where its messages are kept.

Invariant: these readers take the API's binary-safe client (``decode_responses=False``)
or a text one alike, and return text. An API key is checked as `credentials.verify_key`
checks it (same format, same keyed hash), and a key that is unknown costs the same hash
work as a wrong one, so timing does not tell which key ids exist.
"""

from __future__ import annotations

import re

import redis.asyncio as aioredis

from relay import keys
from relay.store.credentials import KEY_PREFIX
from relay.store.passwords import verify_secret

_KEY_ID = re.compile(r"[0-9a-f]{12}")
#: A well-formed hash that matches no secret, checked on a miss to keep the timing flat.
_NO_HASH = "hmac-sha256$00$00"
#: The key of a message's hash, for readers outside relay (the API, and `stats.query` through
#: it) that must not name relay's keys themselves.
message_key = keys.message


async def account_for_key(r: aioredis.Redis, api_key: str) -> str | None:
    """The account name for a valid API key (`tid_<key id>_<secret>`), else None."""
    prefix, _, rest = api_key.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not _KEY_ID.fullmatch(key_id) or not secret:
        return None
    account, stored = (_text(value) for value in
                       await r.hmget(keys.api_key(key_id), "account", "hash"))
    if account is None or stored is None:
        verify_secret(secret, _NO_HASH)
        return None
    return account if verify_secret(secret, stored) else None


async def timezone(r: aioredis.Redis, account: str) -> str:
    """The account's IANA timezone; UTC when the account has none recorded."""
    return _text(await r.hget(keys.account(account), "timezone")) or "UTC"


def _text(value: bytes | str | None) -> str | None:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
