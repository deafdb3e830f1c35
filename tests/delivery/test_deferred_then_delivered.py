"""Scenario: the MX says "try later", then accepts: one deferral, then exactly one copy."""

from __future__ import annotations

import asyncio

from relay import keys
from tests.helpers.delivery import event_names, events, mx_delivery, status, submit


async def test_4xx_then_2xx(server, account, dns_server, local_mx, make_worker, r, clock):
    mx = local_mx()
    mx.script.append("451 4.7.1 Greylisted, try again later")
    message_id = await asyncio.to_thread(submit, server.smtp_port, account)
    worker = await make_worker(**mx_delivery(dns_server, mx))
    await worker.drain()

    assert status(r, message_id) == "deferred" and mx.messages == []
    deferred = events(r, message_id)[-1]
    assert deferred["name"] == "deferred"
    assert deferred["detail"]["reply"] == "451 4.7.1 Greylisted, try again later"
    due = r.zscore(keys.RETRY, message_id)
    assert deferred["detail"]["next_attempt"] == due
    assert 60 * 0.8 <= due - clock() <= 60 * 1.2

    await worker.drain()  # not due yet: nothing happens
    assert mx.messages == [] and status(r, message_id) == "deferred"
    clock.advance(75)
    await worker.drain()
    assert len(mx.messages) == 1
    assert status(r, message_id) == "delivered"
    assert event_names(r, message_id) == ["accepted", "deferred", "delivered"]
    assert r.hget(keys.message(message_id), "attempts") == "2"
    assert r.zcard(keys.RETRY) == 0 and r.xlen(keys.QUEUE) == 0


async def test_connection_reset_mid_data_is_retried(server, account, dns_server, local_mx,
                                                    make_worker, r, clock):
    mx = local_mx()
    mx.drop_next_data = 1
    message_id = await asyncio.to_thread(submit, server.smtp_port, account)
    worker = await make_worker(**mx_delivery(dns_server, mx))
    await worker.drain()
    assert status(r, message_id) == "deferred" and mx.messages == []
    assert events(r, message_id)[-1]["detail"]["reply"].startswith("4")

    clock.advance(75)
    await worker.drain()
    assert status(r, message_id) == "delivered" and len(mx.messages) == 1


async def test_deferred_past_the_queue_age_bounces_as_expired(server, account, dns_server,
                                                              local_mx, make_worker, r, clock):
    mx = local_mx()
    mx.script.extend(["421 4.3.2 System not accepting network messages"] * 10)
    message_id = await asyncio.to_thread(submit, server.smtp_port, account)
    worker = await make_worker(**mx_delivery(dns_server, mx), max_queue_age="10m")
    for _ in range(10):
        await worker.drain()
        if status(r, message_id) != "deferred":
            break
        clock.advance(20 * 60)
    assert status(r, message_id) == "bounced"
    bounced = events(r, message_id)[-1]
    assert bounced["name"] == "bounced"
    assert bounced["detail"]["type"] == "soft" and bounced["detail"]["reason"] == "expired"
    assert "TIDINGS_MAX_QUEUE_AGE" in bounced["detail"]["reply"]
    assert not r.sismember(keys.suppressed("shop"), "alice@example.test")
    assert mx.messages == []
