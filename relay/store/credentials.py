"""SMTP logins and API keys: created with a secret shown once, stored only as a keyed hash.

An API key reads `tid_<key id>_<secret>`: the id finds the stored hash in one lookup,
the secret is checked against it in constant time. A login is a name of its own, unique
across all accounts, with a generated password.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

import redis.asyncio as aioredis

from relay import keys
from relay.redis_client import text
from relay.store import accounts
from relay.store.passwords import hash_secret, new_secret, verify_secret

LOGIN = re.compile(r"[a-z0-9][a-z0-9._@+-]{0,63}")
KEY_PREFIX = "tid"


@dataclass(frozen=True)
class Login:
    login: str
    password: str


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    key: str


async def create_login(r: aioredis.Redis, name: str, login: str | None = None) -> Login:
    name = await accounts.exists(r, name)
    login = _login_name(login) if login else f"{name}-{secrets.token_hex(3)}"
    password = new_secret()
    created = await r.hsetnx(keys.login(login), "account", name)
    if not created:
        raise accounts.AccountError(f"login {login} is already taken")
    await r.hset(keys.login(login), mapping={"hash": hash_secret(password),
                                             "created": str(int(time.time()))})
    await r.sadd(keys.logins(name), login)
    return Login(login, password)


async def revoke_login(r: aioredis.Redis, name: str, login: str) -> None:
    name = await accounts.exists(r, name)
    login = login.strip().lower()
    if await r.hget(keys.login(login), "account") != name:
        raise accounts.AccountError(f"{login} is not a login of {name}")
    await r.delete(keys.login(login))
    await r.srem(keys.logins(name), login)


async def verify_login(r: aioredis.Redis, login: str, password: str) -> str | None:
    """The account name for a correct login and password, else None."""
    if not LOGIN.fullmatch(login.lower()):
        return None
    record = await r.hmget(keys.login(login.lower()), "account", "hash")
    account, stored = record
    if account is None or stored is None:
        # Same work on a miss, so timing does not tell which logins exist.
        verify_secret(password, "hmac-sha256$00$00")
        return None
    return account if verify_secret(password, stored) else None


async def create_key(r: aioredis.Redis, name: str) -> ApiKey:
    name = await accounts.exists(r, name)
    key_id = secrets.token_hex(6)
    secret = new_secret()
    await r.hset(keys.api_key(key_id), mapping={"account": name, "hash": hash_secret(secret),
                                                "created": str(int(time.time()))})
    await r.sadd(keys.api_keys(name), key_id)
    return ApiKey(key_id, f"{KEY_PREFIX}_{key_id}_{secret}")


async def revoke_key(r: aioredis.Redis, name: str, key_id: str) -> None:
    name = await accounts.exists(r, name)
    key_id = key_id.strip()
    if await r.hget(keys.api_key(key_id), "account") != name:
        raise accounts.AccountError(f"{key_id} is not an API key of {name}")
    await r.delete(keys.api_key(key_id))
    await r.srem(keys.api_keys(name), key_id)


#: A well-formed hash that matches no secret, checked on a miss to keep the timing flat.
_NO_HASH = "hmac-sha256$00$00"


async def verify_key(r: aioredis.Redis, key: str) -> str | None:
    """The account name for a valid API key, else None; with either kind of client.

    An unknown key id costs the same hash work as a wrong secret, so the answer's timing
    does not tell which key ids exist.
    """
    prefix, _, rest = key.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not re.fullmatch(r"[0-9a-f]{12}", key_id) or not secret:
        return None
    account, stored = (text(value) for value in
                       await r.hmget(keys.api_key(key_id), "account", "hash"))
    if account is None or stored is None:
        verify_secret(secret, _NO_HASH)
        return None
    return account if verify_secret(secret, stored) else None


def _login_name(login: str) -> str:
    lowered = login.strip().lower()
    if not LOGIN.fullmatch(lowered):
        raise accounts.AccountError(f"invalid login {login!r}: letters, digits and . _ @ + -, "
                                    "at most 64 characters")
    return lowered
