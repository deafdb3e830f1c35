"""Fixtures: a real embedded redis-server, Tidings roles on free ports, accounts made by factory."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from relay.redis_embedded import EmbeddedRedis
from relay.settings import Settings, load_settings
from relay.store import accounts, credentials
from tests.helpers.servers import ServerThread

#: The test DNS server and recipient MX fixtures, for delivery and end-to-end tests alike.
pytest_plugins = ["tests.helpers.mail_servers"]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> EmbeddedRedis:
    """The embedded redis-server Tidings starts, on a private data directory."""
    embedded = EmbeddedRedis(tmp_path_factory.mktemp("redis-data"))
    embedded.acquire()
    yield embedded
    embedded.release()


@pytest.fixture
def redis_url(redis_server) -> str:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
def r(redis_url) -> redis.Redis:
    """A plain client for assertions on what Tidings stored."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def rb(redis_url) -> redis.Redis:
    """A binary-safe client, for message bytes."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def make_settings(tmp_path: Path, redis_url: str):
    def build(**overrides) -> Settings:
        values = dict(data_dir=tmp_path / "data", hostname="tidings.test", smtp_port=0,
                      smtps_port=0, bind="127.0.0.1", redis_url=redis_url)
        values.update(overrides)
        return load_settings(**values)

    return build


@pytest.fixture
def start_server(make_settings, redis_url):
    """Start Tidings' SMTP role with settings overrides; stopped after the test."""
    started: list[ServerThread] = []

    def start(**overrides) -> ServerThread:
        server = ServerThread(make_settings(**overrides), redis_url).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(start_server) -> ServerThread:
    return start_server()


@dataclass(frozen=True)
class Account:
    name: str
    login: str
    password: str
    api_key: str


@pytest.fixture
def make_account(redis_url):
    """Create an account with a login, an API key and confirmed senders, as the CLI does."""

    def make(name: str = "shop", *, senders=("@shop.example",), ips=(),
             changes: accounts.RuleChanges | None = None) -> Account:
        async def create() -> Account:
            from relay.redis_client import redis_client

            client = redis_client(redis_url, timeout=5)
            try:
                await accounts.create(client, name)
                login = await credentials.create_login(client, name, name)
                key = await credentials.create_key(client, name)
                for sender in senders:
                    await accounts.add_sender(client, name, sender)
                for ip in ips:
                    await accounts.allow_ip(client, name, ip)
                if changes is not None:
                    await accounts.change(client, name, changes)
            finally:
                await client.aclose()
            return Account(name, login.login, login.password, key.key)

        return asyncio.run(create())

    return make


@pytest.fixture
def account(make_account) -> Account:
    return make_account()


class Clock:
    """Time for the delivery worker that a test can move forward (DESIGN.md principle 7)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def make_worker(make_settings, redis_url, clock):
    """Delivery workers on the test's loop, with the test's clock; `await w.drain()` runs one
    until nothing is due."""
    from relay.redis_client import redis_client
    from relay.roles import build_worker

    made = []

    async def make(**overrides):
        client = redis_client(redis_url, timeout=5, binary=True)
        worker = build_worker(make_settings(**overrides), client, clock=clock)
        made.append(worker)
        return worker

    yield make
    for worker in made:
        await worker.attempt.transport.close()
        await worker.r.aclose()
