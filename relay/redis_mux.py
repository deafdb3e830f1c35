"""A few Redis connections shared by every task of a process, for the per-message commands.

Why: redis-py runs each command through its connection pool (a lock, a health check,
event dispatch) and a retry wrapper, about 70 us of CPU a command on this hardware,
as much as a fifth of what accepting a 5 KB message costs. Here a command is packed by
hiredis (the parser redis-py itself uses) and written at once; replies come back in the
order the commands were written (Redis answers each connection in order), so each is
handed to the oldest waiting caller, and one timer per connection bounds them all: about
9 us. Concurrent sessions' commands also reach Redis together, and it reads them in one go.

There are CONNECTIONS of them, used in turn, not one: Redis reads one large argument (a
100 KB message) per connection per turn of its loop and fsyncs the append-only file
once per turn, so over a single connection every large message paid a whole fsync;
several connections let one fsync cover several messages again.

Only the few commands of the hot paths are offered (EVALSHA, EVAL, HGETALL, SISMEMBER);
everything else keeps using redis-py. Failures are those the callers already handle
(`REDIS_FAILURES`): redis.ConnectionError when the connection is lost or cannot be made,
TimeoutError when a reply takes longer than the bound, redis.ResponseError (NoScriptError
for NOSCRIPT) for an error reply. A timeout closes the connection, as redis-py does: what
was not yet written to Redis is dropped rather than run after the caller was told it
failed, and a late reply can never be handed to the next caller; the next command opens
a new connection.
"""

from __future__ import annotations

import asyncio
import collections

import hiredis
import redis
from redis.connection import parse_url
from redis.exceptions import NoScriptError

#: Connections per process, used in turn.
CONNECTIONS = 8


class RedisMux:
    """Commands of many tasks over a few connections to the Redis at ``url`` (redis://,
    unix://)."""

    def __init__(self, url: str, *, timeout: float, connections: int = CONNECTIONS) -> None:
        options = parse_url(url)
        if options.get("connection_class") is not None and "path" not in options:
            raise ValueError(f"not a plain redis:// or unix:// URL: {url}")
        self._options = options
        self._timeout = timeout
        self._protocols: list[_Protocol | None] = [None] * connections
        self._next = 0
        self._connecting = asyncio.Lock()

    async def execute(self, *args):
        slot = self._next
        self._next = (slot + 1) % len(self._protocols)
        protocol = self._protocols[slot]
        if protocol is None or protocol.closed:
            protocol = await self._connect(slot)
        result = await protocol.send(args, timeout=self._timeout)
        if isinstance(result, hiredis.ReplyError):
            raise _error(result)
        return result

    async def evalsha(self, sha: str, numkeys: int, *args):
        return await self.execute(b"EVALSHA", sha, numkeys, *args)

    async def eval(self, script: str, numkeys: int, *args):
        return await self.execute(b"EVAL", script, numkeys, *args)

    async def hgetall(self, key: str) -> dict[bytes, bytes]:
        flat = await self.execute(b"HGETALL", key)
        return dict(zip(flat[::2], flat[1::2], strict=True))

    async def sismember(self, key: str, member: str) -> bool:
        return bool(await self.execute(b"SISMEMBER", key, member))

    async def aclose(self) -> None:
        for protocol in self._protocols:
            if protocol is not None:
                protocol.close()
        self._protocols = [None] * len(self._protocols)

    async def _connect(self, slot: int) -> _Protocol:
        async with self._connecting:
            protocol = self._protocols[slot]
            if protocol is not None and not protocol.closed:
                return protocol
            loop = asyncio.get_running_loop()
            options = self._options
            try:
                async with asyncio.timeout(self._timeout):
                    if "path" in options:
                        _, protocol = await loop.create_unix_connection(_Protocol, options["path"])
                    else:
                        _, protocol = await loop.create_connection(
                            _Protocol, options.get("host", "localhost"), options.get("port", 6379))
                    await self._hello(protocol)
            except (OSError, TimeoutError) as error:
                raise redis.ConnectionError(f"cannot reach Redis: {error}") from error
            self._protocols[slot] = protocol
            return protocol

    async def _hello(self, protocol: _Protocol) -> None:
        """AUTH and SELECT, as the URL asks."""
        password, username = self._options.get("password"), self._options.get("username")
        if password is not None:
            auth = (b"AUTH", username, password) if username else (b"AUTH", password)
            reply = await protocol.send(auth, timeout=self._timeout)
            if isinstance(reply, hiredis.ReplyError):
                protocol.close()
                raise redis.AuthenticationError(str(reply))
        if self._options.get("db"):
            reply = await protocol.send((b"SELECT", self._options["db"]), timeout=self._timeout)
            if isinstance(reply, hiredis.ReplyError):
                protocol.close()
                raise _error(reply)


def _error(reply: hiredis.ReplyError) -> redis.RedisError:
    text = str(reply)
    return NoScriptError(text) if text.startswith("NOSCRIPT") else redis.ResponseError(text)


class _Protocol(asyncio.Protocol):
    """One connection: replies go to callers in the order they wrote their commands.

    Timeouts: Redis answers in order, so only the oldest waiting command can be the late
    one. One timer per connection, set for the oldest's deadline, replaces a timer for
    every command (asyncio.timeout cost about as much as the rest of a call). When it
    fires and the oldest is past its deadline, that caller gets TimeoutError and the
    connection is closed; otherwise it is set again for whoever is oldest then.
    """

    def __init__(self) -> None:
        self._reader = hiredis.Reader()
        #: (future, deadline on the loop's clock), oldest first.
        self._waiting: collections.deque[tuple[asyncio.Future, float]] = collections.deque()
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.closed = False

    def connection_made(self, transport) -> None:
        self._transport = transport

    def send(self, args, *, timeout: float) -> asyncio.Future:
        if self.closed:
            raise redis.ConnectionError("the Redis connection is closed")
        loop = asyncio.get_running_loop()
        reply = loop.create_future()
        deadline = loop.time() + timeout
        self._transport.write(hiredis.pack_command(args))
        self._waiting.append((reply, deadline))
        if self._timer is None:
            self._timer = loop.call_at(deadline, self._check_deadline)
        return reply

    def _check_deadline(self) -> None:
        self._timer = None
        # Callers that were cancelled stay in line: their replies are still to come.
        oldest = next(((reply, deadline) for reply, deadline in self._waiting
                       if not reply.done()), None)
        if oldest is None:
            return
        reply, deadline = oldest
        loop = reply.get_loop()
        if loop.time() < deadline:
            self._timer = loop.call_at(deadline, self._check_deadline)
            return
        reply.set_exception(TimeoutError())
        # What was not yet written is dropped rather than run after the caller was told
        # it failed, and the late reply can never reach the next caller.
        self.close()

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            waiter, _ = self._waiting.popleft()
            if not waiter.done():  # done: its caller was cancelled
                waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        error = redis.ConnectionError(f"lost the Redis connection: {exc or 'closed by Redis'}")
        while self._waiting:
            waiter, _ = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(error)

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()
