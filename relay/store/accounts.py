"""Accounts and their rules in Redis: the one set of operations behind the CLI and admin API.

Invariant: every change bumps the account's version key and announces it, and the SMTP
front end judges every transaction by the current version (`relay/smtp/rules_cache.py`),
so a change takes effect on the next transaction without a restart. Values are validated here, on
the way in, so what the SMTP front end reads is always well-formed.
"""

from __future__ import annotations

import ipaddress
import re
import time
import zoneinfo
from dataclasses import dataclass

import redis.asyncio as aioredis

from policy.facts import AccountRules, UnsubscribeMode
from policy.network import parse_network
from policy.senders import normalize_sender
from relay import keys
from relay.redis_client import text

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
SWITCHES = {"on": "1", "off": "0"}


class AccountError(Exception):
    """A refused account operation; the message is shown to the operator as it is."""


class AccountNotFound(AccountError):
    pass


@dataclass(frozen=True)
class RuleChanges:
    """Only the rules given are changed; None leaves a rule as it is."""

    timezone: str | None = None
    rate: int | None = None
    unsubscribe: str | None = None
    track_opens: str | None = None
    track_clicks: str | None = None


def normalize_name(name: str) -> str:
    lowered = name.strip().lower()
    if not NAME.fullmatch(lowered):
        raise AccountError(f"invalid account name {name!r}: use letters, digits, '.', '_' or "
                           "'-', starting with a letter or digit, at most 63 characters")
    return lowered


def validate_timezone(tz: str) -> str:
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise AccountError(f"unknown timezone {tz!r} (use an IANA name such as "
                           "Europe/Berlin or UTC)") from None
    return tz


async def create(r: aioredis.Redis, name: str, *, timezone: str = "UTC") -> str:
    name = normalize_name(name)
    rules = {
        "timezone": validate_timezone(timezone),
        "rate": "0",
        "unsubscribe": UnsubscribeMode.INJECT.value,
        "track_opens": "1",
        "track_clicks": "1",
        "created": str(int(time.time())),
    }
    if not await r.sadd(keys.ACCOUNTS, name):
        raise AccountError(f"account {name} already exists")
    await r.hset(keys.account(name), mapping=rules)
    await _changed(r, name)
    return name


async def exists(r: aioredis.Redis, name: str) -> str:
    """The normalised name of an existing account, else AccountNotFound."""
    name = normalize_name(name)
    if not await r.sismember(keys.ACCOUNTS, name):
        raise AccountNotFound(f"no account named {name}")
    return name


async def timezone(r: aioredis.Redis, name: str) -> str:
    """The account's IANA timezone (UTC when none is recorded), with either kind of client:
    the one reader for everything that files an event under the account's local day."""
    return text(await r.hget(keys.account(name), "timezone")) or "UTC"


async def list_names(r: aioredis.Redis) -> list[str]:
    return sorted(await r.smembers(keys.ACCOUNTS))


async def show(r: aioredis.Redis, name: str) -> dict:
    """Everything about an account except secrets: rules, senders, IPs, logins, key ids."""
    name = await exists(r, name)
    async with r.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.account(name))
        for key in (keys.senders, keys.ips, keys.logins, keys.api_keys):
            pipe.smembers(key(name))
        rules, senders, ips, logins, api_keys = await pipe.execute()
    return {
        "name": name,
        "timezone": rules.get("timezone", "UTC"),
        "rate": int(rules.get("rate", 0)),
        "unsubscribe": rules.get("unsubscribe", UnsubscribeMode.INJECT.value),
        "track_opens": rules.get("track_opens", "1") == "1",
        "track_clicks": rules.get("track_clicks", "1") == "1",
        "senders": sorted(senders),
        "ips": sorted(ips),
        "logins": sorted(logins),
        "api_keys": sorted(api_keys),
    }


async def change(r: aioredis.Redis, name: str, changes: RuleChanges) -> None:
    name = await exists(r, name)
    mapping: dict[str, str] = {}
    if changes.timezone is not None:
        mapping["timezone"] = validate_timezone(changes.timezone)
    if changes.rate is not None:
        if changes.rate < 0:
            raise AccountError("--rate must be 0 (no limit) or a positive number per minute")
        mapping["rate"] = str(changes.rate)
    if changes.unsubscribe is not None:
        try:
            mapping["unsubscribe"] = UnsubscribeMode(changes.unsubscribe).value
        except ValueError:
            raise AccountError("--unsubscribe must be inject, require or off") from None
    for field, value in (("track_opens", changes.track_opens),
                         ("track_clicks", changes.track_clicks)):
        if value is not None:
            if value not in SWITCHES:
                raise AccountError(f"--{field.replace('_', '-')} must be on or off")
            mapping[field] = SWITCHES[value]
    if mapping:
        await r.hset(keys.account(name), mapping=mapping)
        await _changed(r, name)


async def add_sender(r: aioredis.Redis, name: str, address: str) -> str:
    return await _add_member(r, name, keys.senders, _sender(address))


async def remove_sender(r: aioredis.Redis, name: str, address: str) -> str:
    return await _remove_member(r, name, keys.senders, _sender(address), "a sender of")


async def list_senders(r: aioredis.Redis, name: str) -> list[str]:
    return await _members(r, name, keys.senders)


async def allow_ip(r: aioredis.Redis, name: str, cidr: str) -> str:
    return await _add_member(r, name, keys.ips, str(_network(cidr)))


async def deny_ip(r: aioredis.Redis, name: str, cidr: str) -> str:
    return await _remove_member(r, name, keys.ips, str(_network(cidr)),
                                "in the allowlist of")


async def list_ips(r: aioredis.Redis, name: str) -> list[str]:
    return await _members(r, name, keys.ips)


async def _add_member(r: aioredis.Redis, name: str, key, value: str) -> str:
    name = await exists(r, name)
    await r.sadd(key(name), value)
    await _changed(r, name)
    return value


async def _remove_member(r: aioredis.Redis, name: str, key, value: str, where: str) -> str:
    name = await exists(r, name)
    if not await r.srem(key(name), value):
        raise AccountError(f"{value} is not {where} {name}")
    await _changed(r, name)
    return value


async def _members(r: aioredis.Redis, name: str, key) -> list[str]:
    name = await exists(r, name)
    return sorted(await r.smembers(key(name)))


async def _changed(r: aioredis.Redis, name: str) -> None:
    """Tell every cache of this account's rules that they are stale: the version key is
    the authority, the message on ACCOUNT_CHANGES the prompt (relay/smtp/rules_cache.py)."""
    async with r.pipeline(transaction=True) as pipe:
        pipe.incr(keys.version(name))
        pipe.publish(keys.ACCOUNT_CHANGES, name)
        await pipe.execute()


def rules_from(name: str, rules: dict, senders: set, ips: set) -> AccountRules:
    return AccountRules(
        name=name,
        timezone=rules.get("timezone", "UTC"),
        senders=frozenset(senders),
        networks=tuple(ipaddress.ip_network(ip, strict=False) for ip in sorted(ips)),
        rate=int(rules.get("rate", 0)),
        unsubscribe=UnsubscribeMode(rules.get("unsubscribe", UnsubscribeMode.INJECT.value)),
        track_opens=rules.get("track_opens", "1") == "1",
        track_clicks=rules.get("track_clicks", "1") == "1",
    )


def _sender(address: str) -> str:
    try:
        return normalize_sender(address)
    except ValueError as error:
        raise AccountError(str(error)) from None


def _network(cidr: str):
    try:
        return parse_network(cidr)
    except ValueError as error:
        raise AccountError(str(error)) from None
