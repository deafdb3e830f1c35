"""Scenario: a message goes in over SMTP, out to the recipient's MX (found through DNS),
and the recipient opens it, clicks a link and unsubscribes with one click; the customer
then sees all of it through the statistics API with its key, and nothing more."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import time

from relay import keys
from relay.secret import signing_key
from tests.api.v1 import bearer
from tests.helpers.delivery import HTML, mx_delivery, submit

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5"
PATH = re.compile(r"https://t\.tidings\.test(/t/[ocuw]/[A-Za-z0-9_-]+)")


async def test_sent_delivered_opened_clicked_unsubscribed_and_reported(
        server, account, make_account, dns_server, local_mx, make_worker, serve_app, redis_url,
        r):
    mx = local_mx(tls=True)
    message_id = await asyncio.to_thread(submit, server.smtp_port, account, html=HTML)
    worker = await make_worker(**mx_delivery(dns_server, mx), public_url="https://t.tidings.test")
    await worker.drain()
    (received,) = mx.messages
    assert received.tls
    delivered = email.message_from_bytes(received.data, policy=email.policy.default)
    html = delivered.get_body(("html",)).get_content()
    paths = PATH.findall(html)
    pixel = next(path for path in paths if path.startswith("/t/o/"))
    first_link = next(path for path in paths if path.startswith("/t/c/"))
    one_click = PATH.search(str(delivered["List-Unsubscribe"]))[1]
    # The reader comes back after any security gateway's scan of the new mail.
    r.hset(keys.message(message_id), "delivered_at", repr(time.time() - 600))

    http = serve_app(redis_url, key=signing_key(server.settings.data_dir, None))
    reader = {"User-Agent": BROWSER}
    assert http.get(pixel, headers=reader).status_code == 200
    clicked = http.get(first_link, headers=reader)
    assert clicked.status_code == 302
    assert clicked.headers["location"] == "https://shop.example/orders/1?a=1&b=2"
    # RFC 8058: what a mailbox provider sends for its unsubscribe button.
    assert http.post(one_click, data={"List-Unsubscribe": "One-Click"}).status_code == 200

    stats = http.get("/v1/stats", headers=bearer(account)).json()["totals"]
    assert {name: stats[name] for name in ("accepted", "delivered", "opened", "opened_unique",
                                           "clicked", "clicked_unique", "unsubscribed",
                                           "rejected", "bounced_hard")} == {
        "accepted": 1, "delivered": 1, "opened": 1, "opened_unique": 1, "clicked": 1,
        "clicked_unique": 1, "unsubscribed": 1, "rejected": 0, "bounced_hard": 0}
    message = http.get(f"/v1/messages/{message_id}", headers=bearer(account)).json()
    assert message["status"] == "delivered" and message["to"] == "alice@example.test"
    assert [event["name"] for event in message["events"]] == [
        "accepted", "delivered", "opened", "clicked", "unsubscribed"]
    assert message["events"][1]["detail"]["reply"].startswith("250")
    suppressed = http.get("/v1/suppressions", headers=bearer(account)).json()["items"]
    assert suppressed == ["alice@example.test"]

    # Another customer's key sees none of it.
    other = await asyncio.to_thread(make_account, "other", senders=("@other.example",))
    assert http.get(f"/v1/messages/{message_id}", headers=bearer(other)).status_code == 404
    assert http.get("/v1/suppressions", headers=bearer(other)).json()["items"] == []
    assert http.get("/v1/stats", headers=bearer(other)).json()["totals"]["delivered"] == 0
