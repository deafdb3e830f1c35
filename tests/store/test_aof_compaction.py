"""Compacting the embedded Redis's append-only file when it is cheap: the rule as a
table, then a real redis-server of its own whose file grows and is compacted."""

from __future__ import annotations

import asyncio

import pytest
import redis

from relay.aof_compaction import (
    CHEAP_RATIO,
    REWRITE_FROM,
    cheap_to_compact,
    compact_if_cheap,
    compact_when_cheap,
)
from relay.redis_client import redis_client
from relay.redis_embedded import EmbeddedRedis
from tests.helpers.servers import wait_for

MB = 1 << 20


@pytest.mark.parametrize(("file_size", "live_data", "rewriting", "expected"), [
    (REWRITE_FROM, 0, False, True),
    (REWRITE_FROM - 1, 0, False, False),                    # small file: never
    (REWRITE_FROM, REWRITE_FROM // CHEAP_RATIO, False, True),
    (REWRITE_FROM, REWRITE_FROM // CHEAP_RATIO + 1, False, False),  # a backlog: wait
    (8 * REWRITE_FROM, 500 * MB, False, True),             # a big backlog, a bigger file
    (REWRITE_FROM, 0, True, False),                         # one is running already
])
def test_cheap_means_a_big_file_and_little_live_data(file_size, live_data, rewriting,
                                                       expected):
    assert cheap_to_compact(file_size, live_data, rewriting=rewriting) is expected


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of the test's own, so the file sizes are this test's alone."""
    embedded = EmbeddedRedis(tmp_path / "data")
    url = embedded.acquire()
    yield url
    embedded.release()


def persistence(url: str) -> dict:
    with redis.Redis.from_url(url, socket_timeout=5) as client:
        return client.info("persistence")


async def accept_mail(client, count: int) -> None:
    """`count` message-sized values, as submission writes them."""
    body = b"x" * (100 * 1024)
    for n in range(count):
        await client.set(f"body:{n}", body)


async def deliver_mail(client, count: int) -> None:
    """Their bodies deleted, as delivery does."""
    await client.delete(*(f"body:{n}" for n in range(count)))


async def test_a_file_of_delivered_mail_is_compacted(own_redis):
    client = redis_client(own_redis, timeout=5)
    try:
        await accept_mail(client, 40)
        await deliver_mail(client, 40)
        before = await client.info("persistence")
        assert before["aof_current_size"] >= 40 * 100 * 1024
        assert await compact_if_cheap(client, rewrite_from=MB)
    finally:
        await client.aclose()
    wait_for(lambda: persistence(own_redis)["aof_rewrite_in_progress"] == 0
             and persistence(own_redis)["aof_rewrites"] == 1, timeout=30)
    assert persistence(own_redis)["aof_current_size"] < MB


async def test_a_backlog_waits_for_delivery(own_redis):
    client = redis_client(own_redis, timeout=5)
    try:
        await accept_mail(client, 40)
        assert not await compact_if_cheap(client, rewrite_from=MB)
        assert (await client.info("persistence"))["aof_rewrites"] == 0
        # Delivered: now it is cheap.
        await deliver_mail(client, 40)
        assert await compact_if_cheap(client, rewrite_from=MB)
    finally:
        await client.aclose()


async def test_the_loop_compacts_and_stops(own_redis):
    client = redis_client(own_redis, timeout=5)
    stop = asyncio.Event()
    try:
        await accept_mail(client, 40)
        await deliver_mail(client, 40)
        loop = asyncio.create_task(compact_when_cheap(client, stop, interval=0.05,
                                                      rewrite_from=MB))
        async with asyncio.timeout(30):
            while (await client.info("persistence"))["aof_rewrites"] == 0:
                await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(loop, timeout=5)
    finally:
        await client.aclose()
