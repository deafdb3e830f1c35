"""The relay as an SMTP client: open a session (TLS, AUTH) and run one transaction on it.

A transaction ends in an Outcome built from the server's final reply; a refused step is
followed by RSET so the session stays usable for the next message. Network failures are
raised for the transport to translate, because only the transport knows whether the
connection was fresh or reused (a reused one that was already dead is `StaleConnection`).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import aiosmtplib

from relay.delivery.outcome import Outcome, from_exception, from_reply
from relay.smtp.data_reader import has_bare_line_ending

#: Longest wait for the TCP connection and the greeting (Postfix's smtp_connect_timeout is
#: 30 s): a blackholed address, often an IPv6 route that goes nowhere, must leave time to
#: try the next address within the attempt.
CONNECT_TIMEOUT = 30.0


class StaleConnection(Exception):
    """A pooled connection was found closed at MAIL FROM: no transaction was started on it."""


@dataclass(frozen=True)
class SessionOptions:
    """How the relay opens a session, the same for every connection of one transport."""

    helo: str
    tls_context: ssl.SSLContext
    #: Seconds any one command may take; the whole attempt is bounded by the transport.
    timeout: float
    implicit_tls: bool = False
    credentials: tuple[str, str] | None = None


def remote_name(host: str, address: str, port: int) -> str:
    """`mx1.example.com[192.0.2.1]:25`, as Postfix logs a relay; `host:port` without an address."""
    if address == host:
        return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    return f"{host}[{address}]:{port}"


async def open_session(host: str, address: str, port: int,
                       options: SessionOptions) -> aiosmtplib.SMTP:
    """A connected client past EHLO, STARTTLS (when offered) and AUTH (when configured)."""
    client = aiosmtplib.SMTP(hostname=address, port=port, local_hostname=options.helo,
                             timeout=options.timeout, use_tls=options.implicit_tls,
                             start_tls=False, tls_context=options.tls_context)
    try:
        await client.connect(timeout=min(options.timeout, CONNECT_TIMEOUT))
        await _hello(client)
        if not options.implicit_tls and client.supports_extension("starttls"):
            await _starttls(client, host)
        if options.credentials is not None:
            await client.login(*options.credentials)
    except BaseException:
        client.close()
        raise
    return client


async def _hello(client: aiosmtplib.SMTP) -> None:
    try:
        await client.ehlo()
    except aiosmtplib.SMTPHeloError:
        # A server from before ESMTP: HELO, and no extensions.
        if not client.is_connected:
            raise
        await client.helo()


async def _starttls(client: aiosmtplib.SMTP, host: str) -> None:
    try:
        # The MX name, not its address, goes in SNI: that is what the server's certificate names.
        await client.starttls(server_hostname=host)
    except aiosmtplib.SMTPResponseException:
        # Offered but refused (454 TLS not available): opportunistic TLS goes on in
        # plaintext, as Postfix's "may" level does. A failed handshake raises instead.
        return
    # RFC 3207 4.2: everything learned before TLS is forgotten, so ask again.
    await client.ehlo()


async def transact(client: aiosmtplib.SMTP, sender: str, recipient: str, data: bytes, *,
                   remote: str, reused: bool) -> Outcome:
    """MAIL, RCPT, DATA for one recipient; the Outcome of the first refusal or of DATA."""
    options = _mail_options(client, sender, recipient, data)
    if options is None:
        return from_reply(553, f"5.6.7 Non-ASCII address needs SMTPUTF8, which {remote} "
                               "does not offer", remote=remote)
    encoding = "utf-8" if "SMTPUTF8" in options else "ascii"
    try:
        reply = await client.execute_command(b"MAIL", _path(b"FROM:", sender, encoding),
                                             *(option.encode("ascii") for option in options))
        if reply.code != 250:
            raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, sender)
    except aiosmtplib.SMTPSenderRefused as error:
        # A 421 here on a reused session is a server that timed it out while it sat idle.
        if reused and error.code == 421:
            raise StaleConnection(remote) from error
        return await _reset(client, from_exception(error, remote=remote))
    except (aiosmtplib.SMTPServerDisconnected, ConnectionError) as error:
        if reused:
            raise StaleConnection(remote) from error
        raise
    try:
        reply = await client.execute_command(b"RCPT", _path(b"TO:", recipient, encoding))
        if reply.code not in (250, 251):
            raise aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, recipient)
        response = await _data(client, data)
    except aiosmtplib.SMTPResponseException as error:
        return await _reset(client, from_exception(error, remote=remote))
    return from_reply(response.code, response.message, remote=remote)


async def _data(client: aiosmtplib.SMTP, data: bytes) -> aiosmtplib.SMTPResponse:
    """DATA, with the message dot-stuffed by one bytes.replace.

    Why not client.data(): it first rewrites every line ending with a regular expression,
    2 ms of CPU for a 100 KB message, to turn bare CR and LF into CRLF. Ours have none
    (submission refuses them, rendering and signing keep CRLF), and a message that had
    some would still go through client.data().
    """
    if has_bare_line_ending(data):
        return await client.data(data)
    start = await client.execute_command(b"DATA")
    if start.code != 354:
        raise aiosmtplib.SMTPDataError(start.code, start.message)
    stuffed = (b"." if data.startswith(b".") else b"") + data.replace(b"\r\n.", b"\r\n..")
    ending = b".\r\n" if stuffed.endswith(b"\r\n") or not stuffed else b"\r\n.\r\n"
    try:
        client.protocol.write(stuffed + ending)
        response = await client.protocol.read_response(timeout=client.timeout)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        client.close()  # as client.data() does: the session cannot be trusted any more
        raise
    if response.code != 250:
        raise aiosmtplib.SMTPDataError(response.code, response.message)
    return response


def _path(prefix: bytes, address: str, encoding: str) -> bytes:
    """``FROM:<address>``. Our addresses were checked at submission, so they are written
    as they are: aiosmtplib's mail() and rcpt() would parse each with email.utils first,
    a pure-Python parser that cost more than the rest of the transaction's client side."""
    return prefix + b"<" + address.encode(encoding) + b">"


def _mail_options(client: aiosmtplib.SMTP, sender: str, recipient: str,
                  data: bytes) -> list[str] | None:
    """MAIL FROM parameters the message needs and the server offers; None if it cannot go."""
    options = []
    if client.supports_extension("size"):
        # RFC 1870: lets the server refuse an oversized message before it is sent.
        options.append(f"SIZE={len(data)}")
    if not data.isascii() and client.supports_extension("8bitmime"):
        options.append("BODY=8BITMIME")
    if not (sender.isascii() and recipient.isascii()):
        # RFC 6531 3.2: a non-ASCII address cannot be downgraded, only refused.
        if not client.supports_extension("smtputf8"):
            return None
        options.append("SMTPUTF8")
    return options


async def _reset(client: aiosmtplib.SMTP, outcome: Outcome) -> Outcome:
    """RSET after a refusal so the session can carry the next message; close it if that fails."""
    if client.is_connected:
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError):
            client.close()
    return outcome
