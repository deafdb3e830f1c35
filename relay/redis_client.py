"""The asyncio Redis client every role uses, tuned for the submission hot path.

Why custom connection classes: redis-py's asyncio `pack_command` re-joins its whole
buffer once per argument, which made the ~30-argument acceptance call cost about 45 us
to serialise; hiredis packs the same command in about 7 us. The protocol bytes are the
same, and without hiredis redis-py's own packer is used unchanged. And with a socket
timeout set, redis-py bounds each send with asyncio.wait_for, a Task per command; here
the same bound comes from an asyncio.timeout block.
"""

from __future__ import annotations

import asyncio
import hashlib

import redis
import redis.asyncio as aioredis
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from relay.redis_mux import RedisMux

try:
    from hiredis import pack_command as _hiredis_pack
except ImportError:  # pragma: no cover - hiredis is a dependency
    _hiredis_pack = None


class _HiredisPacking:
    async def send_packed_command(self, command, check_health: bool = True) -> None:
        """As redis-py's, bounded by asyncio.timeout rather than wait_for, which starts a
        Task for every command sent."""
        timeout = self.socket_timeout
        if not timeout:
            return await super().send_packed_command(command, check_health)
        self.socket_timeout = None  # a connection serves one command at a time
        try:
            async with asyncio.timeout(timeout):
                await super().send_packed_command(command, check_health)
        except TimeoutError:
            await self.disconnect(nowait=True)
            raise redis.TimeoutError("Timeout writing to socket") from None
        finally:
            self.socket_timeout = timeout

    def pack_command(self, *args):
        if _hiredis_pack is None:
            return super().pack_command(*args)
        if isinstance(args[0], str):  # "CONFIG GET" and friends are sent as two words
            args = tuple(args[0].encode().split()) + args[1:]
        try:
            # hiredis encodes str as UTF-8 and numbers as text, as the encoder would.
            return [_hiredis_pack(args)]
        except TypeError:
            return [_hiredis_pack(tuple(map(self.encoder.encode, args)))]


class _TcpConnection(_HiredisPacking, Connection):
    pass


class _TlsConnection(_HiredisPacking, SSLConnection):
    pass


class _UnixConnection(_HiredisPacking, UnixDomainSocketConnection):
    pass


#: What a Redis call can fail with: redis-py's errors (its timeouts included), the socket's,
#: and asyncio's timeout. Every caller that turns a failure into 451 catches exactly these.
REDIS_FAILURES = (redis.RedisError, OSError, TimeoutError)


def text(value: bytes | str | None) -> str | None:
    """A reply value as text whichever client read it (binary-safe or decoding)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class Script:
    """A Lua script run by its SHA1 (EVALSHA); the body is sent only when Redis lacks it.

    Why: EVAL sends the whole body and Redis hashes it again on every call, and ours
    carry the shared event library, several KB, on every acceptance and every delivery.
    """

    def __init__(self, lua: str) -> None:
        self.lua = lua
        self.sha = hashlib.sha1(lua.encode()).hexdigest()

    async def __call__(self, r: aioredis.Redis, numkeys: int, *args):
        try:
            return await r.evalsha(self.sha, numkeys, *args)
        except redis.exceptions.NoScriptError:  # a new or restarted Redis: EVAL caches it
            return await r.eval(self.lua, numkeys, *args)


_FAST = {Connection: _TcpConnection, SSLConnection: _TlsConnection,
         UnixDomainSocketConnection: _UnixConnection}


def hot_client(url: str, *, timeout: float):
    """The client for the commands run once or more per message: a RedisMux for redis://
    and unix:// URLs, redis-py (binary-safe) for the others (rediss://)."""
    try:
        return RedisMux(url, timeout=timeout)
    except ValueError:
        return redis_client(url, timeout=timeout, binary=True)


def redis_client(url: str, *, timeout: float, binary: bool = False) -> aioredis.Redis:
    # One retry, on a fresh connection, only for connection errors: it heals the pool
    # after a Redis restart. Timeouts are not retried, since the write may have landed
    # (and the acceptance script is idempotent for the case where it did).
    retry = Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))
    pool = aioredis.ConnectionPool.from_url(
        url, decode_responses=not binary, socket_timeout=timeout,
        socket_connect_timeout=timeout, retry=retry, max_connections=256)
    pool.connection_class = _FAST.get(pool.connection_class, pool.connection_class)
    return aioredis.Redis.from_pool(pool)
