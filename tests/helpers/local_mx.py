"""A real recipient mail server for tests: aiosmtpd on 127.0.0.1, recording what it accepts.

Tests steer it the way real servers misbehave: scripted replies at RCPT, MAIL and end of
DATA, a stall at end of DATA, a connection dropped after the data arrived. STARTTLS,
implicit TLS and AUTH use a generated self-signed certificate, made once per test run.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from relay.tls import ensure_self_signed, server_context

#: Name the server gives in its greeting and EHLO reply.
HOSTNAME = "mx.local.test"

_cert_dir: tempfile.TemporaryDirectory | None = None


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool
    auth_login: str | None
    #: MAIL FROM parameters as sent (upper-cased by aiosmtpd), e.g. ["BODY=8BITMIME"].
    mail_options: list[str] = field(default_factory=list)


class LocalMx:
    """An MX or smarthost on a free port; its knobs may be changed while it runs."""

    def __init__(self, *, tls: bool = False, auth: dict[str, str] | None = None,
                 implicit_tls: bool = False):
        self.tls = tls
        self.implicit_tls = implicit_tls
        self.auth = auth
        self.messages: list[Received] = []
        #: Replies given at end of DATA instead of 250, one per transaction, in order.
        self.script: list[str] = []
        #: Replies given to RCPT instead of 250, one per transaction, in order.
        self.rcpt_script: list[str] = []
        #: Replies given to MAIL instead of 250; a 421 also closes the connection, as a
        #: server does when it timed the idle session out.
        self.mail_script: list[str] = []
        #: While not None and not set, end of DATA waits for it.
        self.stall: threading.Event | None = None
        #: Transactions that have reached end of DATA while `stall` held them (cumulative):
        #: proof that a client is inside a delivery, waiting for the reply.
        self.stalled = 0
        #: The next this many transactions lose their connection instead of a DATA reply.
        self.drop_next_data = 0
        #: Connections accepted since start().
        self.connections = 0
        self._controller: _Controller | None = None

    @property
    def port(self) -> int:
        assert self._controller is not None, "LocalMx not started"
        return self._controller.port

    def start(self) -> LocalMx:
        context = server_context(*_certificate()) if self.tls or self.implicit_tls else None
        kwargs = {}
        if self.auth is not None:
            kwargs["authenticator"] = self._authenticate
            # With implicit TLS aiosmtpd does not know the session is encrypted.
            kwargs["auth_require_tls"] = not self.implicit_tls
        self._controller = _Controller(
            _Recorder(self), hostname="127.0.0.1", port=0, server_hostname=HOSTNAME,
            ssl_context=context if self.implicit_tls else None,
            tls_context=context if self.tls and not self.implicit_tls else None,
            on_connection=self._count, **kwargs)
        self._controller.start()
        # Controller.start() opens one connection of its own to check the server is up.
        self.connections = 0
        return self

    def stop(self) -> None:
        if self._controller is not None:
            # Cancels every session task, a stalled one included.
            self._controller.stop()
            self._controller = None

    def wait_for_messages(self, n: int, timeout: float = 10.0) -> list[Received]:
        """The messages once there are at least `n`; fails the test after `timeout`."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.messages)} of {n} messages within {timeout}s")
            time.sleep(0.01)
        return self.messages

    def _count(self) -> None:
        self.connections += 1

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode()
            if self.auth.get(login) == auth_data.password.decode():
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)


class _Recorder:
    """aiosmtpd handler hooks; they run on the controller's loop thread."""

    def __init__(self, mx: LocalMx):
        self.mx = mx

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.mx.mail_script:
            reply = self.mx.mail_script.pop(0)
            if reply.startswith("421"):
                await server.push(reply)
                server.transport.close()
                await _until_cancelled()
            if not reply.startswith("2"):
                return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.mx.rcpt_script:
            reply = self.mx.rcpt_script.pop(0)
            if not reply.startswith("2"):
                return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        if self.mx.drop_next_data > 0:
            self.mx.drop_next_data -= 1
            server.transport.abort()
            await _until_cancelled()
        if self.mx.stall is not None and not self.mx.stall.is_set():
            self.mx.stalled += 1
            # Polled, not awaited in a thread: a client that hangs up cancels this wait.
            while not self.mx.stall.is_set():
                await asyncio.sleep(0.01)
        reply = self.mx.script.pop(0) if self.mx.script else "250 2.0.0 Ok: queued"
        if reply.startswith("2"):
            tls = server.transport.get_extra_info("sslcontext") is not None
            login = session.auth_data if session.authenticated else None
            self.mx.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                             envelope.original_content, tls, login,
                                             list(envelope.mail_options)))
        return reply


async def _until_cancelled() -> None:
    """After closing a connection: aiosmtpd's connection_lost cancels the session task,
    and until then nothing may be written to the dead connection."""
    await asyncio.Event().wait()


class _Controller(Controller):
    """A Controller that binds a free port and reports each accepted connection."""

    def __init__(self, handler, *, on_connection, **kwargs):
        super().__init__(handler, **kwargs)
        self._on_connection = on_connection

    def factory(self) -> SMTP:
        # One SMTP protocol instance per accepted connection.
        self._on_connection()
        return super().factory()

    def _create_server(self):
        return self._bind_free_port()

    async def _bind_free_port(self):
        server = await self.loop.create_server(self._factory_invoker, host=self.hostname,
                                               port=0, ssl=self.ssl_context)
        self.port = server.sockets[0].getsockname()[1]
        return server


def _certificate() -> tuple[Path, Path]:
    global _cert_dir
    if _cert_dir is None:
        _cert_dir = tempfile.TemporaryDirectory(prefix="local-mx-tls-")
    return ensure_self_signed(Path(_cert_dir.name), HOSTNAME)
