"""Account rules for MAIL, usually without a Redis round trip, never out of date at the write.

Every account change bumps the account's version key and publishes its name on
ACCOUNT_CHANGES (relay/store/accounts.py). Each process keeps the rules it has read and
listens on that channel, dropping an account the moment it changes:

- while the subscription is live, MAIL for an account without a sending rate is judged
  from the cache, with no Redis call (that call was a fifth of the cost of a message);
- an account with a rate, or any account while the subscription is down, is read with one
  MGET (version and both rate windows), and the full rules only when the version moved;
- the acceptance script compares the version the transaction was judged by with the
  current one and refuses to write on a mismatch (relay/scripts/accept.lua), so a change
  that raced its own announcement, or whose announcement was lost, still applies: the
  handler re-reads the rules and judges the transaction again before anything is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import redis.asyncio as aioredis

from policy.facts import AccountRules, RateFacts
from relay import keys
from relay.redis_client import REDIS_FAILURES
from relay.store import rates
from relay.store.accounts import rules_from

log = logging.getLogger(__name__)
#: Pause before subscribing again after the subscription broke.
RESUBSCRIBE_DELAY = 1.0


@dataclass(frozen=True)
class Judged:
    """The rules a transaction is judged by, and the version they were read at."""

    rules: AccountRules | None
    version: str
    rate: RateFacts


class RulesCache:
    def __init__(self, redis: aioredis.Redis):
        self.redis = redis
        self._cache: dict[str, tuple[str, AccountRules | None]] = {}
        self._live = False
        self._listener: asyncio.Task | None = None

    def start(self) -> None:
        self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    @property
    def live(self) -> bool:
        """True while change announcements arrive, so cached rules may be trusted at MAIL."""
        return self._live

    def holds(self, account: str) -> bool:
        return account in self._cache

    async def load(self, account: str) -> Judged:
        return self.cached(account) or await self.reload(account)

    def cached(self, account: str) -> Judged | None:
        """The rules if they may be used without a Redis call, else None."""
        cached = self._cache.get(account)
        if self._live and cached is not None and cached[1] is not None and not cached[1].rate:
            return Judged(cached[1], cached[0], RateFacts())
        return None

    async def reload(self, account: str) -> Judged:
        """Read the version and rate windows, and the rules themselves if the version moved."""
        now = time.time()
        current_key, previous_key = rates.window_keys(account, now)
        version, current, previous = await self.redis.mget(keys.version(account), current_key,
                                                            previous_key)
        version = version or ""
        cached = self._cache.get(account)
        if cached is None or cached[0] != version or not version:
            cached = (version, await self._read(account))
            self._cache[account] = cached
        return Judged(cached[1], version, rates.facts_from(current, previous, now))

    async def _read(self, account: str) -> AccountRules | None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.account(account))
            pipe.smembers(keys.senders(account))
            pipe.smembers(keys.ips(account))
            rules, senders, ips = await pipe.execute()
        # An account deleted mid-session is treated as if the session never logged in.
        return rules_from(account, rules, senders, ips) if rules else None

    async def _listen(self) -> None:
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(keys.ACCOUNT_CHANGES)
                # Anything changed before the subscription took hold was not announced to us.
                self._cache.clear()
                self._live = True
                while True:
                    # Polled, not listen(): the client's socket timeout would end a quiet
                    # listen() every few seconds.
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "message":
                        self._cache.pop(message["data"], None)
            except REDIS_FAILURES as error:
                log.warning("account change announcements lost (%s); reading rules from "
                            "Redis at every MAIL until they are back", error)
            finally:
                self._live = False
                self._cache.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(RESUBSCRIBE_DELAY)
