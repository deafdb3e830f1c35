"""Scenario: a message accepted on the submission port reaches the recipient's MX, found
through the real resolver, rendered, tracked, VERP'd and DKIM-signed, and is recorded."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re

import dkim

from relay import keys, tokens
from relay.bounces import verp
from relay.dkim_keys import generate, txt_value
from relay.redis_client import redis_client
from relay.secret import signing_key
from relay.store import dkim as dkim_store
from stats import keys as stats_keys
from tests.helpers.delivery import HTML, event_names, events, mx_delivery, status, submit


async def test_delivered_rendered_signed_and_recorded(server, account, dns_server, local_mx,
                                                      make_worker, r, redis_url):
    mx = local_mx()
    key = generate("shop.example")
    client = redis_client(redis_url, timeout=5)
    await dkim_store.save(client, key, replace=False)
    await client.aclose()
    message_id = await asyncio.to_thread(submit, server.smtp_port, account, html=HTML)
    worker = await make_worker(**mx_delivery(dns_server, mx),
                               public_url="https://t.tidings.test")
    await worker.drain()

    assert len(mx.messages) == 1
    received = mx.messages[0]
    secret = signing_key(server.settings.data_dir, None)
    assert received.rcpt_tos == ["alice@example.test"]
    assert verp.decode(secret, received.mail_from, "tidings.test") == verp.VerpAddress(
        verp.VerpKind.BOUNCE, message_id)
    # The signature verifies against the very record `tidings dkim generate` prints.
    assert dkim.verify(received.data, dnsfunc=lambda name, timeout=5: txt_value(key).encode())

    parsed = email.message_from_bytes(received.data, policy=email.policy.default)
    unsubscribe = re.search(r"<(https://t\.tidings\.test/t/u/[^>]+)>",
                            parsed["List-Unsubscribe"])[1]
    token = unsubscribe.rpartition("/")[2]
    assert tokens.verify(secret, tokens.TokenKind.UNSUBSCRIBE, token).message_id == message_id
    assert "mailto:u-" + message_id in parsed["List-Unsubscribe"]
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = parsed.get_body(("html",)).get_content()
    assert unsubscribe in html and "[Unsubscribe]" not in html and "[WebVersion]" not in html
    assert "https://shop.example/orders" not in html  # every http(s) link goes via the tracker
    assert html.count("https://t.tidings.test/t/c/") == 2
    assert "https://t.tidings.test/t/o/" in html and "mailto:care@shop.example" in html

    assert status(r, message_id) == "delivered"
    assert event_names(r, message_id) == ["accepted", "delivered"]
    delivered = events(r, message_id)[1]
    assert float(r.hget(keys.message(message_id), "delivered_at")) == delivered["at"]
    assert delivered["detail"]["reply"].startswith("250")
    assert r.lrange(keys.links(message_id), 0, -1) == [
        "https://shop.example/orders/1?a=1&b=2", "http://shop.example/help"]
    assert r.exists(keys.web_copy(message_id))
    assert r.hget(keys.message(message_id), "data") is None  # the bytes left with the message
    assert r.xlen(keys.QUEUE) == 0 and r.xpending(keys.QUEUE, keys.QUEUE_GROUP)["pending"] == 0
    day = r.keys(stats_keys.day("shop", "*"))
    assert r.hget(day[0], "delivered") == "1"


async def test_unsigned_without_a_key_and_untracked_when_switched_off(
        server, make_account, dns_server, local_mx, make_worker, r):
    from relay.store.accounts import RuleChanges

    account = await asyncio.to_thread(
        make_account, "plain", changes=RuleChanges(track_opens="off", track_clicks="off"))
    mx = local_mx()
    await asyncio.to_thread(submit, server.smtp_port, account, html=HTML)
    worker = await make_worker(**mx_delivery(dns_server, mx))
    await worker.drain()

    data = mx.messages[0].data
    assert b"DKIM-Signature" not in data
    html = email.message_from_bytes(data, policy=email.policy.default).get_body(
        ("html",)).get_content()
    assert "https://shop.example/orders/1?a=1&amp;b=2" in html and "/t/c/" not in html
    assert "/t/o/" not in html and "/t/u/" in html
