"""Fixtures for the HTTP service: the real app under uvicorn on a free port, and messages
as the delivery worker leaves them."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from api.app import create_app
from relay import keys, tokens
from relay.redis_client import redis_client
from relay.store.messages import new_message_id
from stats import keys as stats_keys
from tests.helpers.servers import wait_for

KEY = b"test-signing-key-for-tracking-tokens"
PUBLIC_URL = "https://track.example"


class AppServer:
    """The app on its own thread and loop, where its Redis client is made and used.

    redis-py binds a connection to the loop that opened it, so the client is built inside
    the server's coroutine rather than handed over from the test's loop.
    """

    def __init__(self, redis_url: str, key: bytes) -> None:
        self.redis_url = redis_url
        self.key = key
        self.server: uvicorn.Server | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _serve(self) -> None:
        client = redis_client(self.redis_url, timeout=2, binary=True)
        app = create_app(redis=client, key=self.key, public_url=PUBLIC_URL)
        config = uvicorn.Config(app, host="127.0.0.1", port=0, loop="asyncio", lifespan="off",
                                log_level="warning")
        self.server = uvicorn.Server(config)
        try:
            await self.server.serve()
        finally:
            await client.aclose()

    def start(self) -> AppServer:
        self.thread.start()
        wait_for(lambda: self.server is not None and self.server.started)
        return self

    @property
    def url(self) -> str:
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def serve_app():
    """Factory: `serve_app(redis_url, key=KEY)` -> an httpx.Client on a started app."""
    started: list[tuple[AppServer, httpx.Client]] = []

    def serve(redis_url: str, key: bytes = KEY) -> httpx.Client:
        server = AppServer(redis_url, key).start()
        client = httpx.Client(base_url=server.url, follow_redirects=False, timeout=10)
        started.append((server, client))
        return client

    yield serve
    for server, client in started:
        client.close()
        server.stop()


@pytest.fixture
def http(serve_app, redis_url) -> httpx.Client:
    return serve_app(redis_url)


LINKS = ("https://shop.example/orders/1?a=1&b=2", "http://shop.example/help")
COPY = (b"From: news@shop.example\r\nTo: alice@example.test\r\nSubject: Hi\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello <Alice>\r\n"
        b"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<p>Hello <b>Alice</b></p><script>alert(1)</script>\r\n--b--\r\n")


@dataclass(frozen=True)
class Delivered:
    id: str
    account: str
    recipient: str

    def path(self, kind: tokens.TokenKind, index: int = 0) -> str:
        return f"/t/{kind.value}/{tokens.sign(KEY, kind, self.id, index)}"


@pytest.fixture
def delivered(r, make_account) -> Callable[..., Delivered]:
    """Factory: a message as finish.lua leaves it, delivered `ago` seconds before now."""
    made: set[str] = set()

    def make(*, ago: float = 3600.0, recipient: str = "Alice@Example.test",
             links=LINKS, copy: bytes | None = COPY, account: str = "shop") -> Delivered:
        if account not in made:
            make_account(account)
            made.add(account)
        message_id = new_message_id()
        r.hset(keys.message(message_id), mapping={
            "account": account, "recipient": recipient, "sender": "news@shop.example",
            "subject": "Hi", "status": "delivered", "delivered_at": repr(time.time() - ago)})
        if links:
            r.rpush(keys.links(message_id), *links)
        if copy is not None:
            r.set(keys.web_copy(message_id), copy)
        return Delivered(message_id, account, recipient)

    return make


def counters(r, account: str) -> dict[str, int]:
    """The account's day counters summed over all days (a test may straddle midnight)."""
    total: dict[str, int] = {}
    for key in r.scan_iter(stats_keys.day(account, "*")):
        for name, value in r.hgetall(key).items():
            total[name] = total.get(name, 0) + int(value)
    return total
