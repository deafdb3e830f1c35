"""GET /v1/stats: counters of a real submission, delivery, open and click, and local days of
an account far from UTC."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from relay.store.accounts import RuleChanges
from stats import recorder
from stats.events import Event, EventName
from tests.api.test_tracked_delivery import BROWSER, delivered_with_links
from tests.api.v1 import bearer


def _around_today() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {"from": (today - timedelta(days=1)).isoformat(),
            "to": (today + timedelta(days=1)).isoformat()}


async def test_totals_count_a_message_through_delivery_open_and_click(
        server, account, make_worker, serve_app, redis_url, r, tmp_path):
    message_id, paths, http = await delivered_with_links(
        server, account, make_worker, serve_app, redis_url, r, tmp_path)
    browser = {"User-Agent": BROWSER}

    def hits():
        assert http.get(paths["o"][0], headers=browser).status_code == 200
        assert http.get(paths["c"][0], headers=browser).status_code == 302
        assert http.get(paths["c"][0], headers=browser).status_code == 302
        return http.get("/v1/stats", params=_around_today(), headers=bearer(account))

    answer = await asyncio.to_thread(hits)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["timezone"] == "UTC"
    assert body["totals"] == {
        "accepted": 1, "rejected": 0, "suppressed": 0, "delivered": 1, "deferred": 0,
        "bounced_hard": 0, "bounced_soft": 0, "opened": 1, "opened_unique": 1,
        "clicked": 2, "clicked_unique": 1, "unsubscribed": 0, "complained": 0}
    assert len(body["series"]) == 3
    assert sum(day["delivered"] for day in body["series"]) == 1


def test_days_are_the_accounts_local_days(make_account, http, redis_url):
    account = make_account("far", changes=RuleChanges(timezone="Asia/Vladivostok"))
    # 13:30 UTC is 23:30 in Vladivostok (UTC+10), 14:30 UTC is 00:30 the next day there.
    evening = datetime(2026, 3, 10, 13, 30, tzinfo=UTC).timestamp()
    after_midnight = datetime(2026, 3, 10, 14, 30, tzinfo=UTC).timestamp()

    async def write():
        from relay.redis_client import redis_client

        client = redis_client(redis_url, timeout=5)
        try:
            await recorder.record(client, Event(EventName.DELIVERED, "far", at=evening),
                                  Event(EventName.DELIVERED, "far", at=after_midnight),
                                  Event(EventName.OPENED, "far", at=after_midnight),
                                  timezone="Asia/Vladivostok")
        finally:
            await client.aclose()

    asyncio.run(write())
    answer = http.get("/v1/stats", params={"from": "2026-03-10", "to": "2026-03-12"},
                      headers=bearer(account))

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["from"], body["to"], body["timezone"]) == (
        "2026-03-10", "2026-03-12", "Asia/Vladivostok")
    assert [(d["date"], d["delivered"], d["opened"]) for d in body["series"]] == [
        ("2026-03-10", 1, 0), ("2026-03-11", 1, 1), ("2026-03-12", 0, 0)]
    assert body["totals"]["delivered"] == 2 and body["totals"]["opened"] == 1


@pytest.mark.parametrize(("params", "fragment"), [
    ({"from": "2026-03-12", "to": "2026-03-10"}, "from must not be after to"),
    ({"from": "2025-01-01", "to": "2026-01-02"}, "at most 366"),
    ({"from": "2026-02-30", "to": "2026-03-01"}, "from"),
    ({"from": "yesterday", "to": "2026-03-01"}, "from"),
])
def test_bad_ranges_are_422(account, http, params, fragment):
    answer = http.get("/v1/stats", params=params, headers=bearer(account))
    assert answer.status_code == 422
    assert fragment in answer.json()["error"]


def test_a_leap_year_is_not_too_long(account, http):
    answer = http.get("/v1/stats", params={"from": "2024-01-01", "to": "2024-12-31"},
                      headers=bearer(account))
    assert answer.status_code == 200 and len(answer.json()["series"]) == 366


def test_the_default_range_is_the_last_30_days(account, http):
    body = http.get("/v1/stats", headers=bearer(account)).json()
    assert len(body["series"]) == 30 and body["series"][-1]["date"] == body["to"]


@pytest.mark.parametrize("header", [
    None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer tid_000000000000_nosuchsecret",
    "Bearer not-a-key",
])
def test_without_a_valid_key_it_is_401(account, http, header):
    headers = {} if header is None else {"Authorization": header}
    for path in ("/v1/stats", "/v1/messages", "/v1/logs", "/v1/suppressions",
                 "/v1/messages/0000000000000000000000000a"):
        answer = http.get(path, headers=headers)
        assert answer.status_code == 401, (path, answer.text)
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json()["error"]


def test_a_revoked_key_is_401(account, http, redis_url):
    from relay.redis_client import redis_client
    from relay.store import credentials

    key_id = account.api_key.split("_")[1]

    async def revoke():
        client = redis_client(redis_url, timeout=5)
        try:
            await credentials.revoke_key(client, account.name, key_id)
        finally:
            await client.aclose()

    assert http.get("/v1/stats", headers=bearer(account)).status_code == 200
    asyncio.run(revoke())
    assert http.get("/v1/stats", headers=bearer(account)).status_code == 401
