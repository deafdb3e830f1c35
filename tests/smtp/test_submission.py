"""The happy path over real sockets: STARTTLS and implicit TLS, AUTH, a durable 250."""

from __future__ import annotations

import re

import pytest

from relay import keys
from tests.helpers.clients import RawSession, message, reply_line, submission

QUEUED = re.compile(r"^250 2\.0\.0 Ok: queued as ([0-9a-z]{26})$")


def queued_id(reply: str) -> str:
    match = QUEUED.match(reply)
    assert match, reply
    return match.group(1)


@pytest.mark.parametrize("implicit_tls", [False, True], ids=["starttls-587", "tls-465"])
def test_accepted_message_is_stored_and_queued(server, account, r, rb, implicit_tls):
    port = server.smtps_port if implicit_tls else server.smtp_port
    data = message("news@shop.example", "alice@example.com")
    with submission(port, account.login, account.password, implicit_tls=implicit_tls) as client:
        client.mail("news@shop.example")
        client.rcpt("alice@example.com")
        code, text = client.data(data)
    message_id = queued_id(reply_line(code, text))

    stored = r.hgetall(keys.message(message_id))
    assert stored["account"] == "shop"
    assert stored["recipient"] == "alice@example.com"
    assert stored["status"] == "queued"
    assert stored["subject"] == "Your order"
    assert [fields["id"] for _, fields in r.xrange(keys.QUEUE)] == [message_id]
    assert rb.hget(keys.message(message_id), "data") == data


def test_ehlo_advertises_auth_only_after_tls(server):
    raw = RawSession(server.smtp_port)
    assert raw.greeting.startswith("220 tidings.test ")
    before = raw.command("EHLO client.test").splitlines()
    assert before == ["250-tidings.test", "250-SIZE 512000", "250-8BITMIME", "250-PIPELINING",
                      "250-ENHANCEDSTATUSCODES", "250-SMTPUTF8", "250 STARTTLS"]
    assert raw.starttls().startswith("220 ")
    after = raw.command("EHLO client.test").splitlines()
    assert after[-1] == "250 AUTH PLAIN LOGIN"
    assert "250-STARTTLS" not in after
    raw.close()


def test_implicit_tls_offers_auth_at_once(server):
    raw = RawSession(server.smtps_port, implicit_tls=True)
    lines = raw.command("EHLO client.test").splitlines()
    assert lines[-1] == "250 AUTH PLAIN LOGIN"
    assert not any("STARTTLS" in line for line in lines)
    raw.close()


def test_acceptance_is_idempotent_per_message_id(redis_url, rb):
    """A client library resending the script after a broken connection must not queue twice."""
    import asyncio
    import time

    from relay import queue
    from relay.redis_client import redis_client
    from relay.store.messages import AcceptedMessage, new_message_id

    message = AcceptedMessage(id=new_message_id(), account="shop", login="shop",
                              sender="news@shop.example", recipient="alice@example.com",
                              client_ip="127.0.0.1", received=time.time(), subject="s",
                              data=b"Subject: s\r\n\r\nbody\r\n")

    async def twice():
        client = redis_client(redis_url, timeout=5)
        for _ in range(2):
            await queue.accept(client, message, detail={}, timezone="UTC", rules_version="")
        await client.aclose()

    asyncio.run(twice())
    assert rb.xlen(keys.QUEUE) == 1
    assert rb.hget(keys.message(message.id), "data") == message.data
