"""Open SMTP connections kept per destination, so message after message reuses one session.

A destination (an MX host set, or the smarthost) never has more than `size` connections
open at once, idle ones included; further deliveries wait their turn in arrival order. A
connection goes back to the pool only when its last transaction ended cleanly, and an idle
one is closed after `idle_timeout` seconds, well before a server's own idle timer (Postfix
waits 300 s) would close it under us.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass, field

import aiosmtplib

#: Seconds an idle connection is kept for the next message to the same destination.
IDLE_TIMEOUT = 30.0
#: Seconds a polite QUIT may take before the socket is simply closed.
QUIT_TIMEOUT = 2.0


@dataclass
class Connection:
    client: aiosmtplib.SMTP
    #: Who is at the other end, as outcomes name it (`mx1.example.com[192.0.2.1]:25`).
    remote: str


@dataclass
class Lease:
    """One slot of a destination, held for one delivery.

    `connection` is an idle connection handed over (`reused`), or None: the holder may open
    one and set it. Setting `keep` says the session is clean and can carry another message.
    """

    connection: Connection | None
    reused: bool
    keep: bool = False


@dataclass
class _Destination:
    open: int = 0
    idle: deque[tuple[Connection, asyncio.TimerHandle]] = field(default_factory=deque)
    waiters: deque[asyncio.Future[Lease]] = field(default_factory=deque)


class Pool:
    def __init__(self, *, size: int, idle_timeout: float = IDLE_TIMEOUT):
        self.size = size
        self.idle_timeout = idle_timeout
        self._destinations: dict[Hashable, _Destination] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False

    @contextlib.asynccontextmanager
    async def lease(self, key: Hashable) -> AsyncIterator[Lease]:
        """A slot of destination `key` for one delivery, returned to the pool on exit."""
        lease = await self._acquire(key)
        try:
            yield lease
        finally:
            self._release(key, lease)

    def open_connections(self, key: Hashable) -> int:
        destination = self._destinations.get(key)
        return 0 if destination is None else destination.open

    async def close(self) -> None:
        """QUIT every idle connection; connections in use are closed when released."""
        self._closed = True
        connections = []
        for destination in self._destinations.values():
            while destination.idle:
                connection, timer = destination.idle.popleft()
                timer.cancel()
                destination.open -= 1
                connections.append(connection)
        await asyncio.gather(*(_quit(c) for c in connections), *self._closing)

    async def _acquire(self, key: Hashable) -> Lease:
        destination = self._destinations.setdefault(key, _Destination())
        if not destination.waiters:
            lease = self._take(destination)
            if lease is not None:
                return lease
        waiter = asyncio.get_running_loop().create_future()
        destination.waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                # Handed a slot just as we were cancelled: pass it on, don't leak it.
                lease = waiter.result()
                lease.keep = True
                self._release(key, lease)
            else:
                destination.waiters.remove(waiter)
            raise

    def _take(self, destination: _Destination) -> Lease | None:
        if destination.idle:
            # Most recently used first, so that a lull lets the others expire.
            connection, timer = destination.idle.pop()
            timer.cancel()
            if connection.client.is_connected:
                return Lease(connection, reused=True)
            # The server hung up while it was idle: its slot becomes ours.
            return Lease(None, reused=False)
        if destination.open < self.size:
            destination.open += 1
            return Lease(None, reused=False)
        return None

    def _release(self, key: Hashable, lease: Lease) -> None:
        destination = self._destinations[key]
        connection = lease.connection
        usable = (lease.keep and not self._closed and connection is not None
                  and connection.client.is_connected)
        if connection is not None and not usable:
            connection.client.close()
            connection = None
        waiter = next((w for w in destination.waiters if not w.done()), None)
        if waiter is not None:
            # Hand the slot straight to the longest waiter, so arrivals cannot overtake it.
            destination.waiters.remove(waiter)
            waiter.set_result(Lease(connection, reused=connection is not None))
        elif connection is not None:
            timer = asyncio.get_running_loop().call_later(
                self.idle_timeout, self._expire, key, connection)
            destination.idle.append((connection, timer))
        else:
            destination.open -= 1
            self._forget_if_unused(key, destination)

    def _expire(self, key: Hashable, connection: Connection) -> None:
        destination = self._destinations[key]
        for entry in destination.idle:
            if entry[0] is connection:
                destination.idle.remove(entry)
                destination.open -= 1
                task = asyncio.get_running_loop().create_task(_quit(connection))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
                self._forget_if_unused(key, destination)
                return

    def _forget_if_unused(self, key: Hashable, destination: _Destination) -> None:
        if destination.open == 0 and not destination.waiters:
            del self._destinations[key]


async def _quit(connection: Connection) -> None:
    """Say goodbye, as a polite client does; a server that does not answer is just dropped."""
    client = connection.client
    try:
        if client.is_connected:
            await client.quit(timeout=QUIT_TIMEOUT)
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        pass
    finally:
        client.close()
