"""Account rules for MAIL in one Redis command: a per-process cache checked against a version.

Every MAIL reads the account's version key and both rate windows with one MGET; the full
rules (a hash and two sets) are read only when the version moved. Every change made
through Tidings bumps the version (relay/store/accounts.py), so it applies from the next
transaction on, in every front end, without a restart.
"""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from policy.facts import AccountRules, RateFacts
from relay import keys
from relay.store import rates
from relay.store.accounts import rules_from


class RulesCache:
    def __init__(self, redis: aioredis.Redis):
        self.redis = redis
        self._cache: dict[str, tuple[str | None, AccountRules | None]] = {}

    async def load(self, account: str) -> tuple[AccountRules | None, RateFacts]:
        """The account's current rules (None if it no longer exists) and its rate facts."""
        now = time.time()
        current_key, previous_key = rates.window_keys(account, now)
        version, current, previous = await self.redis.mget(keys.version(account), current_key,
                                                            previous_key)
        cached = self._cache.get(account)
        if cached is None or cached[0] != version or version is None:
            cached = (version, await self._read(account))
            self._cache[account] = cached
        return cached[1], rates.facts_from(current, previous, now)

    async def _read(self, account: str) -> AccountRules | None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.account(account))
            pipe.smembers(keys.senders(account))
            pipe.smembers(keys.ips(account))
            rules, senders, ips = await pipe.execute()
        # An account deleted mid-session is treated as if the session never logged in.
        return rules_from(account, rules, senders, ips) if rules else None
