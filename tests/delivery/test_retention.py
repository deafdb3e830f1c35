"""TIDINGS_MESSAGE_RETENTION and TIDINGS_STATS_RETENTION: how long a message's record,
events and search entries, and the daily counters, are kept."""

from __future__ import annotations

import asyncio

from relay import keys
from relay.redis_client import redis_client
from stats import keys as stats_keys
from stats import recorder
from tests.helpers.delivery import status, submit


async def test_retention_settings_apply_to_every_key(server, account, make_worker, r,
                                                     redis_url, tmp_path):
    client = redis_client(redis_url, timeout=5)
    await recorder.store_retention(client, message_seconds=2 * 3600, stats_seconds=90 * 86400)
    await client.aclose()
    message_id = await asyncio.to_thread(submit, server.smtp_port, account)
    worker = await make_worker(delivery=f"maildir://{tmp_path}/Maildir",
                               message_retention="2h", stats_retention="90d")
    await worker.drain()
    assert status(r, message_id) == "delivered"

    assert 0 < r.ttl(keys.message(message_id)) <= 2 * 3600
    assert 0 < r.ttl(stats_keys.timeline(message_id)) <= 2 * 3600
    assert 0 < r.ttl(stats_keys.recipient("shop", "alice@example.test")) <= 2 * 3600
    (day,) = r.keys(stats_keys.day("shop", "*"))
    assert 89 * 86400 < r.ttl(day) <= 90 * 86400


async def test_defaults_without_configuration(server, account, make_worker, r, tmp_path):
    message_id = await asyncio.to_thread(submit, server.smtp_port, account)
    worker = await make_worker(delivery=f"maildir://{tmp_path}/Maildir")
    await worker.drain()
    assert 29 * 86400 < r.ttl(stats_keys.timeline(message_id)) <= 30 * 86400
    assert 29 * 86400 < r.ttl(keys.message(message_id)) <= 30 * 86400
    (day,) = r.keys(stats_keys.day("shop", "*"))
    assert 399 * 86400 < r.ttl(day) <= 400 * 86400
