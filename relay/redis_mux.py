"""One Redis connection shared by every task of a process, for the per-message commands.

Why: redis-py runs each command through its connection pool (a lock, a health check,
event dispatch) and a retry wrapper, about 70 us of CPU a command on this hardware,
as much as a fifth of what accepting a 5 KB message costs. Here a command is packed by
hiredis (the parser redis-py itself uses) and written at once; replies come back in the
order the commands were written (Redis answers each connection in order), so each is
handed to the oldest waiting caller: about 23 us. Concurrent sessions' commands also
reach Redis together, and it reads them in one go.

Only the few commands of the hot paths are offered (EVALSHA, EVAL, HGETALL, SISMEMBER);
everything else keeps using redis-py. Failures are those the callers already handle
(`REDIS_FAILURES`): redis.ConnectionError when the connection is lost or cannot be made,
TimeoutError when a reply takes longer than the bound, redis.ResponseError (NoScriptError
for NOSCRIPT) for an error reply. A command that timed out keeps its place in the order,
so a late reply is dropped rather than given to the next caller.
"""

from __future__ import annotations

import asyncio
import collections

import hiredis
import redis
from redis.connection import parse_url
from redis.exceptions import NoScriptError


class RedisMux:
    """Commands of many tasks over one connection to the Redis at ``url`` (redis://, unix://)."""

    def __init__(self, url: str, *, timeout: float) -> None:
        options = parse_url(url)
        if options.get("connection_class") is not None and "path" not in options:
            raise ValueError(f"not a plain redis:// or unix:// URL: {url}")
        self._options = options
        self._timeout = timeout
        self._protocol: _Protocol | None = None
        self._connecting = asyncio.Lock()

    async def execute(self, *args):
        protocol = self._protocol
        if protocol is None or protocol.closed:
            protocol = await self._connect()
        reply = protocol.send(args)
        async with asyncio.timeout(self._timeout):
            result = await reply
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
        if self._protocol is not None:
            self._protocol.close()
            self._protocol = None

    async def _connect(self) -> _Protocol:
        async with self._connecting:
            if self._protocol is not None and not self._protocol.closed:
                return self._protocol
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
            self._protocol = protocol
            return protocol

    async def _hello(self, protocol: _Protocol) -> None:
        """AUTH and SELECT, as the URL asks."""
        password, username = self._options.get("password"), self._options.get("username")
        if password is not None:
            auth = (b"AUTH", username, password) if username else (b"AUTH", password)
            reply = await protocol.send(auth)
            if isinstance(reply, hiredis.ReplyError):
                protocol.close()
                raise redis.AuthenticationError(str(reply))
        if self._options.get("db"):
            reply = await protocol.send((b"SELECT", self._options["db"]))
            if isinstance(reply, hiredis.ReplyError):
                protocol.close()
                raise _error(reply)


def _error(reply: hiredis.ReplyError) -> redis.RedisError:
    text = str(reply)
    return NoScriptError(text) if text.startswith("NOSCRIPT") else redis.ResponseError(text)


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self._reader = hiredis.Reader()
        self._waiting: collections.deque[asyncio.Future] = collections.deque()
        self._transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport) -> None:
        self._transport = transport

    def send(self, args) -> asyncio.Future:
        if self.closed:
            raise redis.ConnectionError("the Redis connection is closed")
        reply = asyncio.get_running_loop().create_future()
        self._transport.write(hiredis.pack_command(args))
        self._waiting.append(reply)
        return reply

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            waiter = self._waiting.popleft()
            if not waiter.done():  # done: its caller gave up waiting (timeout)
                waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        error = redis.ConnectionError(f"lost the Redis connection: {exc or 'closed by Redis'}")
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(error)

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()
