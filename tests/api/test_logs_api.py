"""GET /v1/logs: SMTP rejections of a real submission, newest first, page by page."""

from __future__ import annotations

import smtplib
import time

import pytest

from stats import recorder
from stats.events import Event, EventName
from tests.api.v1 import bearer
from tests.helpers.clients import message, submission


def reject_sender(port: int, account, sender: str) -> str:
    """A MAIL FROM the account has not confirmed: refused with 554; the reply line."""
    with (submission(port, account.login, account.password) as client,
          pytest.raises(smtplib.SMTPSenderRefused) as refused):
        client.sendmail(sender, ["alice@example.com"], message(sender))
    return f"{refused.value.smtp_code} {refused.value.smtp_error.decode()}"


def test_a_rejected_transaction_is_in_the_log(server, account, serve_app, redis_url):
    before = time.time()
    reply = reject_sender(server.smtp_port, account, "ceo@elsewhere.example")
    http = serve_app(redis_url)

    answer = http.get("/v1/logs", headers=bearer(account))

    assert answer.status_code == 200, answer.text
    (entry,) = answer.json()["items"]
    assert {k: entry[k] for k in ("event", "client_ip", "reason", "sender")} == {
        "event": "rejected", "client_ip": "127.0.0.1", "reason": "disallowed_source",
        "sender": "ceo@elsewhere.example"}
    assert entry["reply"].startswith("554 5.7.1") and entry["reply"] == reply
    assert entry["at"] >= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(before)))
    assert answer.json()["next_cursor"] is None


def test_logs_page_newest_first_and_filter_by_time(account, http, redis_url):
    import asyncio

    from relay.redis_client import redis_client

    start = time.time()

    async def write():
        client = redis_client(redis_url, timeout=5)
        try:
            for n in range(5):
                await recorder.record(client, Event(
                    EventName.REJECTED, account.name, at=start + n,
                    detail={"client_ip": "192.0.2.9", "reply": f"554 {n}", "reason": "attachment"}))
        finally:
            await client.aclose()

    asyncio.run(write())
    replies, cursor = [], None
    while True:
        body = http.get("/v1/logs", headers=bearer(account),
                        params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        replies.append([item["reply"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert replies == [["554 4", "554 3"], ["554 2", "554 1"], ["554 0"]]

    future = http.get("/v1/logs", headers=bearer(account),
                      params={"since": "2999-01-01T00:00:00Z"}).json()
    assert future == {"items": [], "next_cursor": None}
    bad = http.get("/v1/logs", headers=bearer(account), params={"cursor": "eA"})
    assert bad.status_code == 422 and bad.json() == {"error": "invalid cursor"}
