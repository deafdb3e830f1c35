"""Helpers for delivery scenarios: submit through the real SMTP role, read what was recorded."""

from __future__ import annotations

import json
import re

import redis

from relay import keys
from stats import keys as stats_keys
from tests.helpers.clients import message, submission

QUEUED = re.compile(r"Ok: queued as ([0-9a-z]{26})")
HTML = ('<html><body><p>Hello Alice,</p><p><a href="https://shop.example/orders/1?a=1&amp;b=2">'
        'your order</a> and <a href="http://shop.example/help">help</a>, '
        '<a href="mailto:care@shop.example">write to us</a>.</p>'
        '<p><a href="[Unsubscribe]">unsubscribe</a> | [WebVersion]</p></body></html>')


def submit(port: int, account, recipient: str = "alice@example.test", **parts) -> str:
    """Send one message through submission; the id from `250 2.0.0 Ok: queued as <id>`."""
    with submission(port, account.login, account.password) as client:
        data = message("news@shop.example", recipient, **parts)
        client.mail("news@shop.example")
        client.rcpt(recipient)
        code, reply = client.data(data)
    assert code == 250, reply
    return QUEUED.search(reply.decode())[1]


def mx_delivery(dns_server, mx) -> dict:
    """Settings that deliver through the real resolver to the test MX for *.example.test."""
    dns_server.set_mx("example.test", [(10, "mx1.example.test")])
    dns_server.set_a("mx1.example.test", "127.0.0.1")
    return dict(delivery="mx", dns_servers=f"127.0.0.1:{dns_server.port}", mx_port=mx.port)


def status(r: redis.Redis, message_id: str) -> str | None:
    return r.hget(keys.message(message_id), "status")


def events(r: redis.Redis, message_id: str) -> list[dict]:
    return [json.loads(item) for item in r.lrange(stats_keys.timeline(message_id), 0, -1)]


def event_names(r: redis.Redis, message_id: str) -> list[str]:
    return [event["name"] for event in events(r, message_id)]
