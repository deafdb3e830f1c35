"""A change to an account applies from the next transaction on, through the cache.

MAIL is judged from cached rules while change announcements arrive; the atomic write
checks the rules version, so even a change that was never announced applies before
anything is stored.
"""

from __future__ import annotations

import asyncio

from relay import keys
from relay.redis_client import redis_client
from relay.store import accounts
from tests.helpers.clients import message, send_raw, submission
from tests.helpers.servers import wait_for


def change(redis_url: str, operation, *args) -> None:
    async def run():
        client = redis_client(redis_url, timeout=5)
        try:
            await operation(client, *args)
        finally:
            await client.aclose()

    asyncio.run(run())


def cache_of(server):
    return server.role.handler.rules


def test_announced_change_applies_at_the_next_mail(server, account, redis_url):
    wait_for(lambda: cache_of(server).live)
    with submission(server.smtp_port, account.login, account.password) as client:
        assert client.mail("news@shop.example")[0] == 250
        client.rset()
        assert cache_of(server).holds("shop")
        change(redis_url, accounts.remove_sender, "shop", "@shop.example")
        wait_for(lambda: not cache_of(server).holds("shop"))
        code, text = client.mail("news@shop.example")
        assert f"{code} {text.decode()}" == \
            "554 5.7.1 Disallowed source address: news@shop.example"


def test_unannounced_change_is_caught_by_the_write(server, account, r):
    wait_for(lambda: cache_of(server).live)
    with submission(server.smtp_port, account.login, account.password) as client:
        client.mail("news@shop.example")
        client.rcpt("alice@example.com")
        # As if the announcement were lost: the rules and their version change silently.
        r.srem(keys.senders("shop"), "@shop.example")
        r.incr(keys.version("shop"))
        code, text = client.data(message())
    assert f"{code} {text.decode()}" == "554 5.7.1 Disallowed source address: news@shop.example"
    assert r.xlen(keys.QUEUE) == 0
    assert r.keys(keys.message("*")) == []


def test_change_between_mail_and_data_applies_to_data(server, account, redis_url, r):
    wait_for(lambda: cache_of(server).live)
    with submission(server.smtp_port, account.login, account.password) as client:
        client.mail("news@shop.example")
        client.rcpt("alice@example.com")
        change(redis_url, accounts.change, "shop", accounts.RuleChanges(unsubscribe="require"))
        code, text = client.data(message())
        assert f"{code} {text.decode()}" == "554 5.7.1 Message must contain an unsubscribe link"
        # The next transaction that meets the new rule is accepted.
        reply = send_raw(client, "news@shop.example", "alice@example.com",
                         message(body="[Unsubscribe]\n"))
    assert reply.startswith("250 2.0.0 Ok: queued as ")
    assert r.xlen(keys.QUEUE) == 1


def test_rate_limited_accounts_read_their_counters_at_every_mail(server, make_account,
                                                                  redis_url):
    account = make_account(changes=accounts.RuleChanges(rate=1))
    wait_for(lambda: cache_of(server).live)
    with submission(server.smtp_port, account.login, account.password) as client:
        assert send_raw(client, "news@shop.example", "a@example.com",
                        message()).startswith("250 ")
        code, text = client.mail("news@shop.example")
    assert f"{code} {text.decode()}" == "451 4.7.1 Sending rate exceeded, try again later"
