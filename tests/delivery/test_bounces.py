"""Scenarios: the recipient's server refuses. 5.1.x is a hard bounce that suppresses the
address (the next message to it is `suppressed`); other 5xx are soft and suppress nothing."""

from __future__ import annotations

import asyncio

from relay import keys
from stats import keys as stats_keys
from tests.helpers.delivery import event_names, events, mx_delivery, status, submit


def day_counter(r, name: str) -> str | None:
    day = r.keys(stats_keys.day("shop", "*"))
    return r.hget(day[0], name) if day else None


async def test_no_such_user_is_a_hard_bounce_and_suppresses(server, account, dns_server,
                                                            local_mx, make_worker, r):
    mx = local_mx()
    mx.rcpt_script.append("550 5.1.1 <alice@example.test>: Recipient address rejected: "
                          "User unknown in virtual mailbox table")
    message_id = await asyncio.to_thread(submit, server.smtp_port, account)
    worker = await make_worker(**mx_delivery(dns_server, mx))
    await worker.drain()

    assert status(r, message_id) == "bounced" and mx.messages == []
    bounced = events(r, message_id)[-1]
    assert bounced["detail"]["type"] == "hard"
    assert bounced["detail"]["reply"].startswith("550 5.1.1 <alice@example.test>")
    assert r.sismember(keys.suppressed("shop"), "alice@example.test")
    assert day_counter(r, "bounced_hard") == "1"
    # The bounce also appears in the account's log of problems.
    assert r.xlen(stats_keys.log("shop")) == 1

    again = await asyncio.to_thread(submit, server.smtp_port, account)
    assert status(r, again) == "suppressed"
    assert event_names(r, again) == ["accepted", "suppressed"]
    await worker.drain()
    assert mx.messages == []


async def test_policy_refusal_is_a_soft_bounce(server, account, dns_server, local_mx,
                                               make_worker, r):
    mx = local_mx()
    mx.script.append("550 5.7.1 Message rejected as spam")
    message_id = await asyncio.to_thread(submit, server.smtp_port, account)
    worker = await make_worker(**mx_delivery(dns_server, mx))
    await worker.drain()

    assert status(r, message_id) == "bounced"
    assert events(r, message_id)[-1]["detail"]["type"] == "soft"
    assert not r.sismember(keys.suppressed("shop"), "alice@example.test")
    assert day_counter(r, "bounced_soft") == "1" and day_counter(r, "bounced_hard") is None


async def test_null_mx_is_a_hard_bounce(server, account, dns_server, local_mx, make_worker, r):
    mx = local_mx()
    settings = mx_delivery(dns_server, mx)
    dns_server.set_null_mx("nomail.test")
    message_id = await asyncio.to_thread(submit, server.smtp_port, account, "bob@nomail.test")
    worker = await make_worker(**settings)
    await worker.drain()

    assert status(r, message_id) == "bounced"
    bounced = events(r, message_id)[-1]["detail"]
    assert bounced["type"] == "hard" and bounced["reply"].startswith("556 5.1.10")
    assert r.sismember(keys.suppressed("shop"), "bob@nomail.test")


async def test_suppressed_after_acceptance_is_not_sent(server, account, dns_server, local_mx,
                                                       make_worker, r):
    mx = local_mx()
    message_id = await asyncio.to_thread(submit, server.smtp_port, account)
    r.sadd(keys.suppressed("shop"), "alice@example.test")  # e.g. unsubscribed meanwhile
    worker = await make_worker(**mx_delivery(dns_server, mx))
    await worker.drain()
    assert mx.messages == []
    assert status(r, message_id) == "suppressed"
    assert event_names(r, message_id) == ["accepted", "suppressed"]
