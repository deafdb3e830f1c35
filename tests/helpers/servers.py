"""Real servers for tests: Tidings roles in a thread with their own event loop.

Running the server loop in its own thread lets tests be plain functions that talk to it
the way users do: smtplib, raw sockets, swaks and curl in subprocesses.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from relay.roles import SmtpRole, start_smtp
from relay.settings import Settings


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The loop production runs on: uvloop where it is installed (relay.roles.run)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class ServerThread:
    """The SMTP role of `settings` on a private loop; `smtp_port`/`smtps_port` are bound ports."""

    def __init__(self, settings: Settings, redis_url: str, start=None):
        self.settings = settings
        self.redis_url = redis_url
        #: The role to run: start_smtp by default, or e.g. start_bounces.
        self.start_role = start or start_smtp
        self.loop = new_event_loop()
        self.role: SmtpRole | None = None
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(
            self.start_role(self.settings, self.redis_url), self.loop)
        self.role = future.result(timeout=30)
        return self

    @property
    def smtp_port(self) -> int:
        return self.role.ports[0]

    @property
    def smtps_port(self) -> int:
        return self.role.ports[1]

    def stop(self) -> None:
        if self.role is not None:
            asyncio.run_coroutine_threadsafe(self.role.stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.02):
    """Poll `predicate` until it returns something truthy; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate}")
        time.sleep(interval)
