"""What delivery needs of an account and of its sender domain, cached for a few seconds.

A worker renders thousands of messages a second for a handful of accounts: asking Redis
for the same rules and DKIM key each time would double its round trips. A change is seen
within TTL seconds (tracking switches, unsubscribe mode, a new DKIM key).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis.asyncio as aioredis

from relay import keys
from relay.delivery.dkim import Signer, signer_for
from relay.store import dkim as dkim_store

#: Seconds a cached entry is trusted.
TTL = 5.0


@dataclass(frozen=True)
class DeliveryRules:
    timezone: str = "UTC"
    unsubscribe: str = "inject"
    track_opens: bool = True
    track_clicks: bool = True


class AccountCache:
    def __init__(self, r: aioredis.Redis, *, clock=time.monotonic) -> None:
        self._r = r
        self._clock = clock
        self._rules: dict[str, tuple[float, DeliveryRules]] = {}
        self._signers: dict[str, tuple[float, Signer | None]] = {}

    async def rules(self, account: str) -> DeliveryRules:
        cached = self._rules.get(account)
        if cached and cached[0] > self._clock():
            return cached[1]
        raw = {k.decode(): v.decode() for k, v in (await self._r.hgetall(
            keys.account(account))).items()}
        rules = DeliveryRules(
            timezone=raw.get("timezone", "UTC"), unsubscribe=raw.get("unsubscribe", "inject"),
            track_opens=raw.get("track_opens", "1") == "1",
            track_clicks=raw.get("track_clicks", "1") == "1")
        self._rules[account] = (self._clock() + TTL, rules)
        return rules

    async def signer(self, domain: str) -> Signer | None:
        """The signer for `domain`'s DKIM key; None when it has none."""
        domain = domain.lower()
        cached = self._signers.get(domain)
        if cached and cached[0] > self._clock():
            return cached[1]
        key = await dkim_store.load(self._r, domain)
        # Loading a private key costs tens of ms: only a new key makes a new Signer.
        signer = signer_for(key) if key is not None else None
        self._signers[domain] = (self._clock() + TTL, signer)
        return signer
