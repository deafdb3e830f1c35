"""The submission protocol: aiosmtpd's SMTP with the parts Tidings must do differently.

- DATA is read in large blocks with strict CRLF framing (`data_reader`), then handed to
  the handler's `handle_message`; the transaction always ends, whatever happened.
- Once the session has logged in, the plain forms of MAIL, RCPT and DATA bypass
  aiosmtpd's stream reader and command methods (`lane`): same replies, less CPU.
- STARTTLS inside TLS is refused (aiosmtpd would nest a second TLS layer), and STARTTLS
  itself goes through loop.start_tls, native code under uvloop.
- Behind a PROXY-speaking balancer the 465 listener is plain TCP and TLS starts after the
  header (`begin_implicit_tls`), since the header arrives before any handshake.
- Every reply carries an enhanced status code, aiosmtpd's own included (RFC 2034).
- Concurrent sessions per client address are capped: the surplus gets 421 at connect.
- An idle session is told 421 before it is closed, as RFC 5321 4.5.3.2 asks.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
import ssl
from asyncio import sslproto

from aiosmtpd.smtp import SMTP, TLSSetupException, syntax

from relay.smtp import replies
from relay.smtp.data_reader import DataResult, read_data
from relay.smtp.lane import TransactionLane
from relay.smtp.session import SubmissionSession

log = logging.getLogger(__name__)

IDENT = "ESMTP Tidings"
#: `<local@domain>` made only of characters that need no quoting: the form real clients
#: send. Anything else goes through aiosmtpd's full RFC 5321 parser.
SIMPLE_PATH = re.compile(r"<([A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9.-]{1,253})>(.*)",
                         re.S)


class SessionCounter:
    """Open sessions per client address in this process."""

    def __init__(self, cap: int):
        self.cap = cap
        self.open: collections.Counter[str] = collections.Counter()

    def enter(self, ip: str) -> bool:
        self.open[ip] += 1
        return not self.cap or self.open[ip] <= self.cap

    @property
    def total(self) -> int:
        return sum(self.open.values())

    def leave(self, ip: str) -> None:
        self.open[ip] -= 1
        if self.open[ip] <= 0:
            del self.open[ip]


class SubmissionProtocol(TransactionLane, SMTP):
    def __init__(self, handler, *, tls_context: ssl.SSLContext, implicit_tls: bool,
                 hostname: str, max_size: int, idle_timeout: float, sessions: SessionCounter,
                 proxy_protocol: bool):
        super().__init__(
            handler,
            data_size_limit=None,  # SIZE and its 554 are ours; aiosmtpd's texts differ
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=hostname,
            ident=IDENT,
            tls_context=None if implicit_tls else tls_context,
            timeout=idle_timeout,
            auth_required=False,  # ours: 554 5.7.0 at MAIL, not aiosmtpd's 530
            # On 465 the whole session is TLS; aiosmtpd only knows about STARTTLS.
            auth_require_tls=not implicit_tls,
            proxy_protocol_timeout=10.0 if proxy_protocol else None,
        )
        self.implicit_tls = implicit_tls
        self.server_tls_context = tls_context
        self.max_size = max_size
        self.sessions = sessions
        self._counted_ip: str | None = None
        self._in_ehlo = False
        #: When the session counts as idle, moved on by every command and block of DATA.
        self._idle_deadline = 0.0

    async def push(self, status: str | bytes) -> None:
        if isinstance(status, str):
            status = self._coded(status)
        self._line_start = True  # a reply ends whatever aiosmtpd was reading
        await super().push(status)

    def reply_line(self, status: str) -> bytes:
        """A reply as `push` sends it, for the lane to write."""
        return self._coded(status).encode() + b"\r\n"

    def _coded(self, status: str) -> str:
        # aiosmtpd's own syntax and sequence replies lack enhanced codes; ours have them.
        # The greeting (220) and the EHLO keyword lines take none (RFC 2034 3).
        if status[:1] in "245" and not self._in_ehlo and not status.startswith("220"):
            return replies.with_enhanced_code(status)
        return status

    async def smtp_EHLO(self, hostname: str) -> None:
        self._in_ehlo = True  # EHLO lines are keywords, not replies (RFC 2034 3)
        try:
            await super().smtp_EHLO(hostname)
        finally:
            self._in_ehlo = False

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        # aiosmtpd's parser costs more than the rest of MAIL and RCPT together.
        match = SIMPLE_PATH.fullmatch(arg.strip())
        if match and ".." not in match.group(1) and not match.group(1).startswith("."):
            return match.group(1), match.group(2).strip()
        return super()._getaddr(arg)

    def _create_session(self) -> SubmissionSession:
        return SubmissionSession(self.loop, tls=self.implicit_tls or self._tls_protocol is not None)

    async def _handle_client(self) -> None:
        # Behind a PROXY-speaking balancer the peer is the balancer: it does the capping.
        ip = self.session.client_ip
        if self._proxy_timeout is None and not self._enter(ip):
            log.warning("%s refused: more than %d sessions", ip, self.sessions.cap)
            await self.push(replies.render(replies.R421_TOO_MANY_SESSIONS, ip=ip))
            self.transport.close()
            return
        await super()._handle_client()

    def _enter(self, ip: str) -> bool:
        self._counted_ip = ip
        return self.sessions.enter(ip)

    def connection_lost(self, error: Exception | None) -> None:
        if self._counted_ip is not None:
            self.sessions.leave(self._counted_ip)
            self._counted_ip = None
        super().connection_lost(error)

    def _reset_timeout(self, duration: float | None = None) -> None:
        """As aiosmtpd's, without a new timer for every command and every block of DATA
        (several a message): the one timer moves only when the deadline comes earlier,
        and when it fires before the deadline, which has moved on since, it is set again."""
        deadline = self.loop.time() + (duration or self._timeout_duration)
        self._idle_deadline = deadline
        handle = self._timeout_handle
        if handle is None or deadline < handle.when():
            if handle is not None:
                handle.cancel()
            self._timeout_handle = self.loop.call_at(deadline, self._idle_timer)

    def _idle_timer(self) -> None:
        if self.loop.time() < self._idle_deadline:
            self._timeout_handle = self.loop.call_at(self._idle_deadline, self._idle_timer)
        else:
            self._timeout_cb()

    def _timeout_cb(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(replies.R421_IDLE.encode() + b"\r\n")
        super()._timeout_cb()

    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg: str) -> None:
        """As aiosmtpd's, with the enhanced code ENHANCEDSTATUSCODES promises, and no nesting."""
        if self._tls_protocol is not None or self.implicit_tls:
            await self.push(replies.R503_NO_TLS_AGAIN)
            return
        if arg:
            await self.push(replies.R501_STARTTLS_SYNTAX)
            return
        await self.push(replies.R220_READY_TLS)
        await self._start_tls_native(self.tls_context)

    async def _start_tls_native(self, context: ssl.SSLContext) -> None:
        """loop.start_tls: under uvloop the TLS layer is native code, not asyncio's sslproto."""
        raw = self.transport
        # Plaintext pipelined behind STARTTLS is dropped (RFC 3207 4.2) before TLS starts:
        # afterwards the buffer may already hold the client's first encrypted command.
        self._reader._buffer.clear()
        try:
            tls = await self.loop.start_tls(raw, self, context, server_side=True)
        except (OSError, ssl.SSLError, ConnectionError) as error:
            raise TLSSetupException() from error
        # ...and the session is forgotten, AUTH included.
        self._reader._transport = tls
        self._writer._transport = tls
        self.transport = tls
        self._original_transport = raw
        self._tls_protocol = tls  # aiosmtpd only tests it for "TLS is on"
        proxy = getattr(self.session, "proxy_data", None)
        self._set_rset_state()
        self.session = self._create_session()
        self.session.peer = tls.get_extra_info("peername")
        self.session.ssl = tls.get_extra_info("ssl_object")
        if proxy is not None:
            self.session.proxy_data = proxy

    async def begin_implicit_tls(self) -> None:
        """Behind a PROXY-speaking balancer the 465 listener is plain: TLS starts after the
        header, and whatever the client sent after it (its ClientHello) goes to TLS."""
        leftover = bytes(self._reader._buffer)
        self._reader._buffer.clear()
        await self._begin_tls(self.server_tls_context, leftover)

    async def _begin_tls(self, context: ssl.SSLContext, leftover: bytes = b"") -> None:
        waiter = self.loop.create_future()
        self._tls_protocol = sslproto.SSLProtocol(self.loop, self, context, waiter,
                                                  server_side=True)
        self._original_transport = self.transport
        self._original_transport.set_protocol(self._tls_protocol)
        self.transport = self._tls_protocol._app_transport
        self._tls_protocol.connection_made(self._original_transport)
        _feed(self._tls_protocol, leftover)
        try:
            await waiter
        except asyncio.CancelledError:
            raise
        except Exception as error:
            raise TLSSetupException() from error

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The PROXY header describes the connection, not the SMTP session: keep it
        # across the fresh session that TLS starts.
        proxy = getattr(self.session, "proxy_data", None) if self.session else None
        super().connection_made(transport)
        if proxy is not None:
            self.session.proxy_data = proxy

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed():
            return
        if not self.envelope.rcpt_tos:
            await self.push(replies.R503_NEED_RCPT)
            return
        if arg:
            await self.push(replies.R501_DATA_SYNTAX)
            return
        await self.push(replies.R354_DATA)
        self._line_start = False  # what comes now is the message
        try:
            result = await read_data(self._reader, max_size=self.max_size,
                                     on_progress=self._reset_timeout)
        except BaseException:
            self._end_transaction()
            raise
        await self.push(await self._end_of_data(result))

    async def _end_of_data(self, result: DataResult) -> str:
        """The reply to a message: judged and stored by the handler. The transaction ends
        here, whatever happened."""
        try:
            return await self.event_handler.handle_message(self, self.session, self.envelope,
                                                           result)
        finally:
            self._end_transaction()

    def _end_transaction(self) -> None:
        self._set_post_data_state()
        self.session.reset_transaction()


def _feed(protocol: asyncio.BufferedProtocol, data: bytes) -> None:
    while data:
        buffer = protocol.get_buffer(len(data))
        size = min(len(buffer), len(data))
        buffer[:size] = data[:size]
        protocol.buffer_updated(size)
        data = data[size:]


def protocol_factory(handler, **options) -> callable:
    return lambda: SubmissionProtocol(handler, **options)


async def start_listener(factory, *, host: str, port: int, ssl_context: ssl.SSLContext | None,
                         reuse_port: bool) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(factory, host=host or None, port=port, ssl=ssl_context,
                                    reuse_port=reuse_port, backlog=512)
