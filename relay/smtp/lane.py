"""The transaction lane: MAIL, RCPT and DATA of a logged-in session, answered as they arrive.

Why: aiosmtpd reads every command through a stream reader and a task that wakes for it,
then through its command method and an awaited push. At 5 KB that machinery costs more
CPU per message than Tidings' rules, and submission is what limits the messages per
second a machine accepts. So once a session has logged in (which needs TLS), the
protocol reads the transaction's commands from the transport itself and answers them on
the spot, as long as each is in the plain form clients send (MAIL may carry SIZE= and
BODY=). The message is framed by the same `DataFramer` as aiosmtpd's path, and only its
judging and durable write wait on a task. The replies to commands that came together
(PIPELINING) leave together, in one TLS record.

Invariants:
- The lane only takes input while aiosmtpd's session loop waits for a command line with
  nothing buffered, and hands everything it does not take (any other command, any
  parameter but MAIL's SIZE= and BODY=, an odd line, a refusal, which must be recorded
  in Redis) back to that loop unread, in order. So every reply of the lane is one
  aiosmtpd's path would give, and the lane can never see a byte aiosmtpd has already
  read, or the other way round.
- Replies go out in the order of the commands: while a message is being judged and
  stored, what arrives after it waits in the lane's buffer, and the socket stops being
  read once that holds LANE_BUFFER bytes.
- A client that does not read its replies is handed back to aiosmtpd, whose push waits
  for the socket to drain.
"""

from __future__ import annotations

import asyncio

from relay.smtp import replies
from relay.smtp.data_reader import DataFramer, DataResult

#: Input the lane holds while a message is being stored, before it stops reading.
LANE_BUFFER = 64 * 1024
#: Replies the client has not read yet, past which aiosmtpd's path (which waits) takes over.
UNREAD_REPLIES = 64 * 1024
#: aiosmtpd's limit on a command line; anything longer goes to its loop, which refuses it.
MAX_LINE = 512


def split_command(line: bytes) -> tuple[str, str | None] | None:
    """(verb, argument) of a command line without its CRLF, decoded as aiosmtpd decodes it,
    or None when the line is anything but plain: then aiosmtpd's loop reads it."""
    if len(line) > MAX_LINE or b"\r" in line or b"\n" in line or not line.isascii():
        return None
    verb, _, arg = line.partition(b" ")
    arg = arg.strip()
    return verb.upper().decode("ascii"), arg.decode("ascii") if arg else None


def mail_options(params: str) -> list[str] | None:
    """MAIL's parameters as aiosmtpd hands them to the handler, if they are only the ones
    every client sends and aiosmtpd would accept as they are: SIZE=<digits>, BODY=7BIT or
    BODY=8BITMIME, each at most once. None for anything else (aiosmtpd's loop decides)."""
    options = params.upper().split()
    seen = set()
    for option in options:
        name, _, value = option.partition("=")
        if name in seen or not (name == "SIZE" and value.isdigit() or
                                name == "BODY" and value in ("7BIT", "8BITMIME")):
            return None
        seen.add(name)
    return options


class TransactionLane:
    """Mixed into SubmissionProtocol, before aiosmtpd's SMTP."""

    _lane: bytearray | None = None
    #: Replies not written yet: the lane writes them once it has answered all it can.
    _lane_out: list[bytes]
    _lane_framer: DataFramer | None = None
    _lane_task: asyncio.Task | None = None
    _lane_paused = False
    #: True from aiosmtpd's last reply until the reader is fed again: its loop then waits
    #: at the start of a command line, not in the middle of one it reads in parts (a line
    #: past its limit) nor in a message (its own DATA clears this after the 354).
    _line_start = True

    def data_received(self, data: bytes) -> None:
        if self._lane is None:
            if not self._lane_may_start():
                self._line_start = False
                super().data_received(data)
                return
            self._lane = bytearray()
            self._lane_out = []
        if self._lane_framer is not None and self._lane_task is None:
            self._feed_message(data)
        else:
            self._lane += data
        if self._lane_task is None:
            self._run_lane()
        elif len(self._lane) > LANE_BUFFER and not self._lane_paused:
            self._lane_paused = True
            self.transport.pause_reading()

    def _lane_may_start(self) -> bool:
        """True when aiosmtpd's loop is waiting for a command of a logged-in session."""
        reader = self._reader
        return (self._line_start and self.session is not None and self.session.authenticated
                and self.transport is not None
                and reader._waiter is not None and not reader._buffer  # noqa: SLF001
                and not reader.at_eof())

    def _run_lane(self) -> None:
        """Answer the commands in the lane's buffer, until one needs aiosmtpd or a wait."""
        try:
            self._answer_buffered()
        finally:
            self._flush_replies()

    def _answer_buffered(self) -> None:
        while self._lane is not None and self._lane_task is None:
            buffer = self._lane
            if self._lane_framer is not None:
                if not buffer:
                    return
                data = bytes(buffer)
                buffer.clear()
                self._feed_message(data)
                continue
            end = buffer.find(b"\r\n")
            if end < 0:
                if len(buffer) > MAX_LINE:
                    self._leave_lane()
                return
            command = split_command(bytes(buffer[:end]))
            if command is None or not self._lane_command(*command):
                self._leave_lane()
                return
            del buffer[:end + 2]
            if self.transport is None or \
                    self.transport.get_write_buffer_size() > UNREAD_REPLIES:
                self._leave_lane()
                return

    def _lane_command(self, verb: str, arg: str | None) -> bool:
        """Answer one command if the lane can; False leaves it, unanswered, to aiosmtpd."""
        envelope, session = self.envelope, self.session
        handler = self.event_handler
        if verb == "MAIL" and arg is not None and not envelope.mail_from:
            address, params = self._lane_path("FROM:", arg)
            options = mail_options(params) if session.extended_smtp else None
            if address is None or options is None:
                return False
            envelope.smtp_utf8 = False  # what aiosmtpd sets when SMTPUTF8 is absent
            reply = self._answer(handler.mail_now, session, envelope, address, options)
        elif verb == "RCPT" and arg is not None and envelope.mail_from:
            address, params = self._lane_path("TO:", arg)
            if address is None or params:
                return False
            reply = self._answer(handler.rcpt_now, session, envelope, address, [])
        elif verb == "DATA" and arg is None and envelope.rcpt_tos:
            reply = replies.R354_DATA
            self._lane_framer = DataFramer(self.max_size)
        else:
            return False
        if reply is None:
            return False
        self._reset_timeout()
        self._lane_reply(reply)
        return True

    def _lane_path(self, keyword: str, arg: str) -> tuple[str | None, str]:
        """The address of `FROM:<a@b>` or `TO:<a@b>` (None if not plain), and what follows."""
        rest = self._strip_command_keyword(keyword, arg)
        if not rest:
            return None, ""
        address, params = self._getaddr(rest)
        return address or None, params or ""

    def _answer(self, judge, *args) -> str | None:
        try:
            return judge(*args)
        except Exception as error:  # a bug must cost a 451, not the session
            return self.event_handler.exception_reply(error)

    def _feed_message(self, data: bytes) -> None:
        self._reset_timeout()
        framer = self._lane_framer
        if not framer.feed(data):
            return
        self._lane_framer = None
        self._lane[:0] = framer.leftover
        self._lane_task = self.loop.create_task(self._store_message(framer.result()))

    async def _store_message(self, result: DataResult) -> None:
        try:
            reply = await self._end_of_data(result)
        except Exception as error:
            reply = self.event_handler.exception_reply(error)
        self._lane_task = None
        if self.transport is None or self.transport.is_closing():
            return
        self._lane_reply(reply)
        if self._lane_paused:
            self._lane_paused = False
            self.transport.resume_reading()
        self._run_lane()

    def _lane_reply(self, reply: str) -> None:
        self._lane_out.append(self.reply_line(reply))

    def _flush_replies(self) -> None:
        out = self._lane_out
        if out:
            if self.transport is not None:
                self.transport.write(b"".join(out))
            out.clear()

    def _leave_lane(self) -> None:
        """Hand what the lane has not answered to aiosmtpd's loop, which is waiting for it."""
        self._flush_replies()
        pending = bytes(self._lane)
        self._lane = None
        if self._lane_paused:
            self._lane_paused = False
            self.transport.resume_reading()
        if pending:
            self._line_start = False
            super().data_received(pending)

    def connection_lost(self, error: Exception | None) -> None:
        self._lane = None
        self._lane_framer = None
        super().connection_lost(error)
