"""The shared connection of the per-message commands, against the real embedded Redis."""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

import pytest
import redis
import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from relay.redis_client import REDIS_FAILURES, Script, hot_client
from relay.redis_mux import RedisMux

ECHO = "return ARGV[1]"


@pytest.fixture
async def mux(redis_url):
    """One connection, so that what one command does to it the next one meets."""
    client = RedisMux(redis_url, timeout=2, connections=1)
    yield client
    await client.aclose()


@pytest.mark.parametrize("connections", [1, 8])
async def test_each_of_many_concurrent_callers_gets_its_own_reply(redis_url, r, connections):
    before = len(r.client_list())
    mux = RedisMux(redis_url, timeout=2, connections=connections)
    try:
        replies = await asyncio.gather(*(mux.eval(ECHO, 0, f"caller {i}") for i in range(500)))
        assert replies == [f"caller {i}".encode() for i in range(500)]
        assert len(r.client_list()) == before + connections
    finally:
        await mux.aclose()


async def test_hash_set_and_script_commands(mux, r):
    r.hset("h", mapping={"a": "1", "b": "\u00e9"})
    r.sadd("s", "alice@example.com")
    assert await mux.hgetall("h") == {b"a": b"1", b"b": "\u00e9".encode()}
    assert await mux.hgetall("missing") == {}
    assert await mux.sismember("s", "alice@example.com") is True
    assert await mux.sismember("s", "bob@example.com") is False
    script = Script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert await script(mux, 1, "n", 5) == 5  # NOSCRIPT first, then EVAL loads it
    assert await mux.evalsha(script.sha, 1, "n", 2) == 7


async def test_error_replies_raise_and_the_connection_goes_on(mux, r):
    r.set("text", "x")
    with pytest.raises(NoScriptError):
        await mux.evalsha("0" * 40, 0)
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        await mux.hgetall("text")
    assert await mux.eval(ECHO, 0, "still fine") == b"still fine"


async def test_a_timeout_drops_the_connection_and_its_late_reply(redis_url, r):
    mux = RedisMux(redis_url, timeout=0.2, connections=1)
    try:
        assert await mux.eval(ECHO, 0, "warm") == b"warm"
        before = {client["id"] for client in r.client_list()}
        r.execute_command("CLIENT", "PAUSE", "600", "ALL")
        with pytest.raises(TimeoutError):
            await mux.eval(ECHO, 0, "late")
        await asyncio.sleep(0.6)
        assert await mux.eval(ECHO, 0, "next") == b"next"
        # The reply to "next" came on a new connection: the timed-out one is gone.
        after = {client["id"] for client in r.client_list()}
        assert len(after - before) == 1 and len(before - after) == 1
    finally:
        await mux.aclose()


async def test_each_command_has_its_own_deadline_on_the_shared_timer(redis_url, r):
    """A command answered in time leaves no timer behind that could break the connection,
    and one sent later times out at its own deadline, not at the earlier command's."""
    mux = RedisMux(redis_url, timeout=0.4, connections=1)
    loop = asyncio.get_running_loop()
    try:
        before = {client["id"] for client in r.client_list()}
        assert await mux.eval(ECHO, 0, "quick") == b"quick"
        started = loop.time()
        await asyncio.sleep(0.3)
        r.execute_command("CLIENT", "PAUSE", "1500", "ALL")
        sent = loop.time()
        with pytest.raises(TimeoutError):
            await mux.eval(ECHO, 0, "late")
        # The first command's deadline (started + 0.4) passed while this one waited.
        assert loop.time() - started > 0.4 + 0.2
        assert loop.time() - sent >= 0.4 - 0.05
        # Until the timeout, the first command's connection was the one in use.
        assert len({client["id"] for client in r.client_list()} - before) == 1
    finally:
        await mux.aclose()


async def test_a_cancelled_caller_does_not_hide_a_later_callers_timeout(redis_url, r):
    mux = RedisMux(redis_url, timeout=0.3, connections=1)
    try:
        assert await mux.eval(ECHO, 0, "warm") == b"warm"
        r.execute_command("CLIENT", "PAUSE", "1500", "ALL")
        first = asyncio.create_task(mux.eval(ECHO, 0, "gives up"))
        await asyncio.sleep(0.05)
        second = asyncio.create_task(mux.eval(ECHO, 0, "waits"))
        await asyncio.sleep(0.05)
        first.cancel()
        await asyncio.wait({second}, timeout=1)
        assert second.done() and isinstance(second.exception(), TimeoutError)
        assert first.cancelled()
    finally:
        await mux.aclose()


async def test_a_lost_connection_fails_waiting_callers_then_reconnects(mux, r):
    waiting = asyncio.create_task(mux.execute(b"BLPOP", "never", 5))
    await asyncio.sleep(0.2)
    r.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    with pytest.raises(redis.ConnectionError):
        await waiting
    assert await mux.eval(ECHO, 0, "again") == b"again"


async def test_unreachable_redis_is_a_connection_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once it is closed
    mux = RedisMux(f"redis://127.0.0.1:{port}/0", timeout=1)
    with pytest.raises(redis.ConnectionError) as caught:
        await mux.eval(ECHO, 0, "x")
    assert isinstance(caught.value, REDIS_FAILURES)


async def test_user_password_and_database_from_the_url(redis_url, r):
    r.execute_command("ACL", "SETUSER", "muxer", "on", ">s3cret", "~*", "+@all")
    path = urlsplit(redis_url).path
    try:
        mux = RedisMux(f"unix://muxer:s3cret@{path}?db=3", timeout=2)
        assert await mux.eval("return redis.call('SET', 'k', 'v')", 0) == b"OK"
        await mux.aclose()
        assert redis.Redis.from_url(redis_url, db=3).get("k") == b"v"
        assert r.get("k") is None  # not in database 0
        wrong = RedisMux(f"unix://muxer:wrong@{path}", timeout=2)
        with pytest.raises(redis.AuthenticationError):
            await wrong.eval(ECHO, 0, "x")
    finally:
        r.execute_command("ACL", "DELUSER", "muxer")


async def test_hot_client_is_the_mux_except_over_tls(redis_url):
    client = hot_client(redis_url, timeout=1)
    assert isinstance(client, RedisMux)
    assert isinstance(hot_client("redis://127.0.0.1:6379/0", timeout=1), RedisMux)
    tls = hot_client("rediss://127.0.0.1:6380/0", timeout=1)
    assert not isinstance(tls, RedisMux)
    assert isinstance(tls, aioredis.Redis)
    await tls.aclose()
