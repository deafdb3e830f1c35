"""Redis down or slow: the client gets 451 4.3.0, the server lives on, and nothing is lost.

Invariant under test: never a 250 for a message that is not in the queue stream.
"""

from __future__ import annotations

import os
import re
import signal

import pytest
import redis

from relay import keys
from relay.redis_embedded import EmbeddedRedis, _pid_alive
from tests.helpers.clients import message, send_raw, submission
from tests.helpers.servers import ServerThread, wait_for

INTERNAL = "451 4.3.0 Internal server error"
QUEUED = re.compile(r"^250 2\.0\.0 Ok: queued as (\w+)$")


@pytest.fixture
def own_redis(tmp_path):
    """A private embedded Redis that the test may kill and bring back."""
    embedded = EmbeddedRedis(tmp_path / "own")
    embedded.acquire()
    yield embedded
    embedded.release()


@pytest.fixture
def outage_server(own_redis, make_settings):
    server = ServerThread(make_settings(redis_url=own_redis.url, redis_timeout=1),
                          own_redis.url).start()
    yield server
    server.stop()


def kill(embedded: EmbeddedRedis) -> None:
    pid = embedded.pid()
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not _pid_alive(pid) or _zombie(pid))


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def make_private_account(url: str):
    import asyncio

    from relay.redis_client import redis_client
    from relay.store import accounts, credentials

    async def create():
        client = redis_client(url, timeout=5)
        await accounts.create(client, "shop")
        login = await credentials.create_login(client, "shop", "shop")
        await accounts.add_sender(client, "shop", "@shop.example")
        await client.aclose()
        return login

    return asyncio.run(create())


def queued(url: str) -> list[str]:
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        return [fields["id"] for _, fields in client.xrange(keys.QUEUE)]
    finally:
        client.close()


@pytest.mark.parametrize("when", ["before MAIL", "after RCPT"])
def test_killed_redis_gives_451_and_recovers(own_redis, outage_server, when):
    login = make_private_account(own_redis.url)
    replies = []
    with submission(outage_server.smtp_port, login.login, login.password) as client:
        replies.append(send_raw(client, "news@shop.example", "alice@example.com", message()))
        if when == "before MAIL":
            kill(own_redis)
            replies.append(send_raw(client, "news@shop.example", "alice@example.com", message()))
            assert replies[-1] == INTERNAL
        else:
            client.mail("news@shop.example")
            client.rcpt("alice@example.com")
            kill(own_redis)
            code, text = client.data(message())
            replies.append(f"{code} {text.decode()}")
            assert replies[-1] == INTERNAL
        # The session survives the outage: the server answers, the transaction was reset.
        assert client.noop()[0] == 250
        own_redis.acquire()
        replies.append(send_raw(client, "news@shop.example", "alice@example.com", message()))

    assert QUEUED.match(replies[0]) and QUEUED.match(replies[-1]), replies
    accepted = [QUEUED.match(reply).group(1) for reply in replies if QUEUED.match(reply)]
    # Every 250 is in the stream (the first survived the kill through the AOF), and no other.
    assert queued(own_redis.url) == accepted


def test_slow_redis_gives_451_within_the_bound(own_redis, outage_server):
    login = make_private_account(own_redis.url)
    control = redis.Redis.from_url(own_redis.url)
    with submission(outage_server.smtp_port, login.login, login.password) as client:
        client.mail("news@shop.example")
        client.rcpt("alice@example.com")
        control.execute_command("CLIENT", "PAUSE", "3000", "WRITE")
        code, text = client.data(message())
        assert f"{code} {text.decode()}" == INTERNAL
        control.execute_command("CLIENT", "UNPAUSE")
        reply = send_raw(client, "news@shop.example", "alice@example.com", message())
    assert QUEUED.match(reply)
    assert QUEUED.match(reply).group(1) in queued(own_redis.url)
    control.close()
