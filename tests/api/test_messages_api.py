"""GET /v1/messages/{id} and the search of GET /v1/messages, walked page by page."""

from __future__ import annotations

import asyncio
import time

import pytest

from relay import keys
from tests.api.v1 import accept, bearer
from tests.helpers.delivery import submit


async def test_a_delivered_message_and_its_events(server, account, make_worker, serve_app,
                                                  redis_url, tmp_path):
    message_id = await asyncio.to_thread(submit, server.smtp_port, account,
                                         recipient="Alice@Example.test")
    worker = await make_worker(delivery=f"maildir://{tmp_path}/Maildir")
    await worker.drain()
    http = serve_app(redis_url)

    answer = await asyncio.to_thread(http.get, f"/v1/messages/{message_id}",
                                     headers=bearer(account))

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert {k: body[k] for k in ("id", "from", "to", "subject", "status", "attempts")} == {
        "id": message_id, "from": "news@shop.example", "to": "Alice@Example.test",
        "subject": "Your order", "status": "delivered", "attempts": 1}
    assert body["size"] > 0 and body["received"].endswith("Z")
    assert [event["name"] for event in body["events"]] == ["accepted", "delivered"]
    assert body["events"][0]["detail"]["client_ip"] == "127.0.0.1"
    assert body["events"][0]["at"] <= body["events"][1]["at"]
    assert "data" not in body and "login" not in body


def test_an_unknown_or_malformed_id_is_404(account, http):
    for message_id in ("0000000000000000000000000a", "nope", "06H1F1RY3EPYRV93TJ0398DZ64"):
        answer = http.get(f"/v1/messages/{message_id}", headers=bearer(account))
        assert answer.status_code == 404
        assert answer.json() == {"error": f"no message {message_id}"}


def test_an_expired_record_is_shown_from_its_events(account, http, redis_url, r):
    (message_id,) = accept(redis_url, account.name, [("alice@example.com", time.time())])
    r.delete(keys.message(message_id))
    body = http.get(f"/v1/messages/{message_id}", headers=bearer(account)).json()
    assert (body["to"], body["status"]) == ("alice@example.com", "expired")


def walk(http, account, **params) -> list[list[str]]:
    """Every page of a search, as lists of ids."""
    pages, cursor = [], None
    while True:
        answer = http.get("/v1/messages", headers=bearer(account),
                          params={**params, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50


@pytest.fixture
def mailbag(account, redis_url, r):
    """Seven messages, two pairs of them accepted in the same instant, newest first."""
    base = time.time() - 600
    plan = [("alice@example.com", base), ("bob@example.com", base + 1),
            ("Alice@Example.com", base + 2), ("alice@example.com", base + 2),
            ("bob@example.com", base + 3), ("bob@example.com", base + 3),
            ("alice@example.com", base + 4)]
    ids = accept(redis_url, account.name, plan)
    for message_id in ids[1::2]:
        r.hset(keys.message(message_id), "status", "delivered")
    by_time = sorted(zip(ids, plan, strict=True), key=lambda p: (p[1][1], p[0]), reverse=True)
    return [(message_id, recipient.lower(), at) for message_id, (recipient, at) in by_time]


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 50])
def test_a_cursor_walk_returns_every_message_once_newest_first(account, http, mailbag, limit):
    pages = walk(http, account, limit=limit)
    assert [i for page in pages for i in page] == [m for m, _, _ in mailbag]
    assert all(len(page) <= limit for page in pages)


def test_search_by_recipient_in_any_case(account, http, mailbag):
    pages = walk(http, account, recipient="ALICE@example.com", limit=2)
    assert [i for page in pages for i in page] == [
        m for m, rcpt, _ in mailbag if rcpt == "alice@example.com"]


def test_search_by_status(account, http, mailbag, r):
    delivered = [m for m, _, _ in mailbag if r.hget(keys.message(m), "status") == "delivered"]
    assert len(delivered) == 3
    pages = walk(http, account, status="delivered", limit=1)
    assert [i for page in pages for i in page] == delivered
    queued = walk(http, account, status="queued", recipient="bob@example.com", limit=10)
    assert [i for page in queued for i in page] == [
        m for m, rcpt, _ in mailbag if rcpt == "bob@example.com" and m not in delivered]


def test_search_between_times(account, http, mailbag):
    # Half a second off the instants: query times have microsecond precision, scores more.
    since, until = mailbag[4][2] - 0.5, mailbag[1][2] + 0.5
    pages = walk(http, account, since=repr(since), until=repr(until), limit=2)
    assert [i for page in pages for i in page] == [
        m for m, _, at in mailbag if since <= at <= until]


@pytest.mark.parametrize(("params", "fragment"), [
    ({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"cursor": "!!"}, "invalid cursor"),
    ({"cursor": "bm90IGEgY3Vyc29y"}, "invalid cursor"), ({"status": "lost"}, "status"),
    ({"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "since"),
    ({"since": "last week"}, "since"),
])
def test_bad_search_parameters_are_422(account, http, params, fragment):
    answer = http.get("/v1/messages", params=params, headers=bearer(account))
    assert answer.status_code == 422
    assert fragment in answer.json()["error"]
