"""Two accounts on one Tidings: neither API key reads or changes the other's data."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from relay import keys
from stats import recorder
from stats.events import Event, EventName
from tests.api.v1 import accept, bearer


def test_neither_key_reaches_the_other_accounts_data(make_account, http, r, redis_url):
    shop = make_account("shop")
    other = make_account("other", senders=("@other.example",))
    (message_id,) = accept(redis_url, "shop", [("alice@example.com", time.time())])
    r.sadd(keys.suppressed("shop"), "carol@example.com")

    async def reject():
        from relay.redis_client import redis_client

        client = redis_client(redis_url, timeout=5)
        try:
            await recorder.record(client, Event(EventName.REJECTED, "shop", detail={
                "client_ip": "192.0.2.1", "reply": "554 no", "reason": "attachment"}))
        finally:
            await client.aclose()

    asyncio.run(reject())
    today = datetime.now(UTC).date()
    days = {"from": (today - timedelta(days=1)).isoformat(),
            "to": (today + timedelta(days=1)).isoformat()}

    # The owner sees it all.
    assert http.get(f"/v1/messages/{message_id}", headers=bearer(shop)).status_code == 200
    assert http.get("/v1/stats", params=days, headers=bearer(shop)).json()["totals"][
        "accepted"] == 1
    assert len(http.get("/v1/logs", headers=bearer(shop)).json()["items"]) == 1
    assert [m["id"] for m in http.get("/v1/messages", headers=bearer(shop)).json()[
        "items"]] == [message_id]

    # The other account sees none of it, and an existing message looks like an absent one.
    theirs = http.get(f"/v1/messages/{message_id}", headers=bearer(other))
    absent = http.get("/v1/messages/0000000000000000000000000a", headers=bearer(other))
    assert (theirs.status_code, theirs.json()) == (404, {"error": f"no message {message_id}"})
    assert (absent.status_code, absent.json()) == (
        404, {"error": "no message 0000000000000000000000000a"})
    totals = http.get("/v1/stats", params=days, headers=bearer(other)).json()["totals"]
    assert set(totals.values()) == {0}
    assert http.get("/v1/logs", headers=bearer(other)).json()["items"] == []
    for params in ({}, {"recipient": "alice@example.com"}, {"status": "queued"}):
        assert http.get("/v1/messages", params=params, headers=bearer(other)).json()[
            "items"] == []
    assert http.get("/v1/suppressions", headers=bearer(other)).json()["items"] == []
    assert http.delete("/v1/suppressions/carol@example.com",
                       headers=bearer(other)).status_code == 404
    assert r.sismember(keys.suppressed("shop"), "carol@example.com")
    http.post("/v1/suppressions", json={"address": "dave@example.com"}, headers=bearer(other))
    assert not r.sismember(keys.suppressed("shop"), "dave@example.com")
