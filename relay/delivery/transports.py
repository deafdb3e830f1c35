"""Where a rendered message goes: the recipient's MX, a smarthost, or a Maildir.

`Transport.deliver(envelope, data) -> Outcome` is the whole seam (httpx's BaseTransport);
`transport_from_uri` picks the implementation from TIDINGS_DELIVERY. Invariant: deliver
never raises, except CancelledError; every failure is an Outcome, translated once in
`outcome.from_exception`, and anything unexpected defers so that nothing is dropped.

Known limit: outbound TLS does not verify certificates, for smarthosts either. For MX
delivery that is the norm (Postfix's "may" level: encryption against passive listening,
since MX names are rarely on their certificates); an operator who needs a verified
smarthost should reach it over a trusted network until verification is configurable.
"""

from __future__ import annotations

import asyncio
import mailbox
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from relay.delivery.mx import DnsTemporaryError, MxCache, make_resolver
from relay.delivery.outcome import Kind, Outcome, from_exception
from relay.delivery.pool import IDLE_TIMEOUT, Connection, Lease, Pool
from relay.delivery.smtp_client import (
    SessionOptions,
    StaleConnection,
    open_session,
    remote_name,
    transact,
)

#: Longest DNS lookup; the attempt's own timeout is often minutes, far too long for DNS.
DNS_TIMEOUT = 20.0
#: Default smarthost ports: submission with STARTTLS, and implicit TLS (RFC 8314).
SMTP_PORT, SMTPS_PORT = 587, 465


@dataclass(frozen=True)
class Envelope:
    #: The VERP return path of this message.
    sender: str
    recipient: str
    message_id: str


class Transport(Protocol):
    async def deliver(self, envelope: Envelope, data: bytes) -> Outcome: ...

    async def close(self) -> None: ...


class UnknownScheme(ValueError):
    def __init__(self, scheme: str):
        super().__init__(f"Unknown delivery URI scheme: {scheme}")
        self.scheme = scheme


def transport_from_uri(uri: str, *, hostname: str, nameservers: list[tuple[str, int]],
                       mx_port: int, connections_per_destination: int,
                       timeout: float) -> Transport:
    """The transport TIDINGS_DELIVERY names: `mx`, `smtp://`, `smtps://` or `maildir://`."""
    scheme = (urlsplit(uri).scheme if "://" in uri else uri).lower()
    if scheme == "maildir":
        return MaildirTransport(_maildir_path(uri))
    session = SessionOptions(helo=hostname, tls_context=outbound_tls_context(),
                             timeout=timeout)
    if scheme == "mx":
        resolver = make_resolver(nameservers, min(timeout, DNS_TIMEOUT))
        return MxTransport(MxCache(resolver), session=session, port=mx_port,
                           connections_per_destination=connections_per_destination)
    if scheme in ("smtp", "smtps"):
        host, port, credentials = _smarthost(uri)
        session = SessionOptions(helo=hostname, tls_context=session.tls_context,
                                 timeout=timeout, implicit_tls=scheme == "smtps",
                                 credentials=credentials)
        return SmarthostTransport(host, port, session=session,
                                  connections_per_destination=connections_per_destination)
    raise UnknownScheme(scheme)


def outbound_tls_context() -> ssl.SSLContext:
    """The one client context of a transport: building one per connection costs ~20 ms CPU."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Opportunistic: see the module docstring.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class MaildirTransport:
    """Each message becomes one file in `path`/new, after Return-Path and Delivered-To."""

    def __init__(self, path: Path):
        self.path = Path(path)

    async def deliver(self, envelope: Envelope, data: bytes) -> Outcome:
        try:
            # fsync can take milliseconds; the event loop has other deliveries to run.
            await asyncio.to_thread(self._write, envelope, data)
        except Exception as error:
            return from_exception(error)
        return Outcome(Kind.DELIVERED, f"250 2.0.0 Delivered to Maildir {self.path}")

    async def close(self) -> None:
        return None

    def _write(self, envelope: Envelope, data: bytes) -> None:
        headers = (f"Return-Path: <{envelope.sender}>\r\n"
                   f"Delivered-To: {envelope.recipient}\r\n").encode()
        # mailbox creates the tree only when the directory itself is missing; an existing
        # empty directory (made by an installer or a script) must work as well.
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        key = mailbox.Maildir(self.path, factory=None, create=True).add(headers + data)
        # mailbox writes and renames but never syncs: "delivered" must survive a crash.
        new = self.path / "new"
        _fsync(new / key, os.O_RDONLY)
        _fsync(new, os.O_RDONLY | os.O_DIRECTORY)


class _PooledSmtp:
    """What MX and smarthost delivery share: pooled sessions, reuse, the attempt timeout."""

    def __init__(self, *, session: SessionOptions, port: int, connections_per_destination: int,
                 idle_timeout: float = IDLE_TIMEOUT):
        self.session = session
        self.port = port
        self.pool = Pool(size=connections_per_destination, idle_timeout=idle_timeout)

    async def deliver(self, envelope: Envelope, data: bytes) -> Outcome:
        try:
            async with asyncio.timeout(self.session.timeout):
                return await self._attempt(envelope, data)
        except Exception as error:
            return from_exception(error)

    async def close(self) -> None:
        await self.pool.close()

    async def _attempt(self, envelope: Envelope, data: bytes) -> Outcome:
        raise NotImplementedError

    async def _send_reused(self, lease: Lease, envelope: Envelope, data: bytes) -> Outcome | None:
        """Send on the lease's idle connection; None if it had died, and the slot is free."""
        try:
            return await self._send(lease, envelope, data)
        except StaleConnection:
            # Not a failure of this message: the server closed the session while idle.
            lease.connection.client.close()
            lease.connection, lease.reused = None, False
            return None

    async def _connect_and_send(self, lease: Lease, host: str, address: str,
                                envelope: Envelope, data: bytes) -> Outcome:
        """Open a session to one address and send on it.

        Without a session (`lease.connection` still None) the Outcome says why, and the
        caller may try another address; with one, the Outcome is final for this attempt.
        """
        remote = remote_name(host, address, self.port)
        try:
            client = await open_session(host, address, self.port, self.session)
        except Exception as error:
            return from_exception(error, remote=remote)
        lease.connection = Connection(client, remote)
        return await self._send(lease, envelope, data)

    async def _send(self, lease: Lease, envelope: Envelope, data: bytes) -> Outcome:
        connection = lease.connection
        try:
            outcome = await transact(connection.client, envelope.sender, envelope.recipient,
                                     data, remote=connection.remote, reused=lease.reused)
        except StaleConnection:
            raise
        except Exception as error:
            # Lost mid-transaction: final for this attempt. Not passed on to the next host,
            # which would deliver a second copy if this server had in fact taken the message.
            return from_exception(error, remote=connection.remote)
        lease.keep = True
        return outcome


class SmarthostTransport(_PooledSmtp):
    """Everything to one relay host, logged in when credentials are given."""

    def __init__(self, host: str, port: int, *, session: SessionOptions,
                 connections_per_destination: int, idle_timeout: float = IDLE_TIMEOUT):
        super().__init__(session=session, port=port, idle_timeout=idle_timeout,
                         connections_per_destination=connections_per_destination)
        self.host = host

    async def _attempt(self, envelope: Envelope, data: bytes) -> Outcome:
        async with self.pool.lease(self.host) as lease:
            if lease.connection is not None:
                outcome = await self._send_reused(lease, envelope, data)
                if outcome is not None:
                    return outcome
            # The operator's host name goes to the system resolver (and /etc/hosts).
            return await self._connect_and_send(lease, self.host, self.host, envelope, data)


class MxTransport(_PooledSmtp):
    """Straight to the recipient domain's MX hosts, best preference first."""

    def __init__(self, mx: MxCache, *, session: SessionOptions, port: int,
                 connections_per_destination: int, idle_timeout: float = IDLE_TIMEOUT):
        super().__init__(session=session, port=port, idle_timeout=idle_timeout,
                         connections_per_destination=connections_per_destination)
        self.mx = mx

    async def _attempt(self, envelope: Envelope, data: bytes) -> Outcome:
        hosts = await self.mx.hosts(envelope.recipient.rpartition("@")[2])
        # Domains served by the same MX hosts share their connections.
        async with self.pool.lease(frozenset(hosts)) as lease:
            if lease.connection is not None:
                outcome = await self._send_reused(lease, envelope, data)
                if outcome is not None:
                    return outcome
            return await self._first_host(lease, hosts, envelope, data)

    async def _first_host(self, lease: Lease, hosts: list[str], envelope: Envelope,
                          data: bytes) -> Outcome:
        """Try hosts and their addresses in order until one holds a session.

        RFC 5321 5.1: an unreachable host, or one that fails before the transaction
        begins (4xx greeting, failed TLS), passes the message on to the next; the first
        host that answers the transaction has the final word.
        """
        failure = from_exception(DnsTemporaryError(f"no usable MX host among {hosts}"))
        for host in hosts:
            try:
                addresses = await self.mx.addresses(host)
            except Exception as error:
                failure = from_exception(error)
                continue
            for address in addresses:
                outcome = await self._connect_and_send(lease, host, address, envelope, data)
                if lease.connection is not None:
                    return outcome
                failure = outcome
        return failure


def _smarthost(uri: str) -> tuple[str, int, tuple[str, str] | None]:
    """Host, port and percent-decoded credentials of an smtp:// or smtps:// URI."""
    parts = urlsplit(uri)
    shown = _redacted(uri)
    if not parts.hostname:
        raise ValueError(f"a smarthost URI needs a host, as in {parts.scheme}://user:pass@host:port"
                         f" (got {shown})")
    try:
        port = parts.port
    except ValueError as error:
        raise ValueError(f"bad port in smarthost URI {shown}: {error}") from None
    if port == 0:
        raise ValueError(f"bad port in smarthost URI {shown}: port must be 1-65535")
    default = SMTPS_PORT if parts.scheme.lower() == "smtps" else SMTP_PORT
    credentials = None
    if parts.username is not None:
        credentials = (unquote(parts.username), unquote(parts.password or ""))
    return parts.hostname, port or default, credentials


def _redacted(uri: str) -> str:
    """The URI as an error message may show it: never the password."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    user, _, host = parts.netloc.rpartition("@")
    return parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}").geturl()


def _maildir_path(uri: str) -> Path:
    parts = urlsplit(uri)
    # maildir:///var/mail/x is absolute; maildir://./mail is read as a relative path.
    path = unquote(parts.netloc + parts.path)
    if not path:
        raise ValueError("a Maildir URI needs a path, as in maildir:///var/mail/tidings")
    return Path(path)


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
