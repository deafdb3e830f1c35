"""Reading DATA in large blocks, with strict CRLF framing.

Why not aiosmtpd's loop: it reads one line per await, which caps a 100 KB message at a
few hundred per second. Here the stream is read in blocks and searched once for `<CRLF>.`,
which begins both the terminator `<CRLF>.<CRLF>` and every dot-stuffed line; whatever
follows the terminator is handed back to the stream as the client's next command.

Invariants (RFC 5321 4.1.1.4 and the SMTP smuggling attacks of 2023):
- only `<CRLF>.<CRLF>` ends DATA; `<LF>.<LF>`, `<LF>.<CRLF>`, `<CR>.<CR>` and friends do not,
  so one DATA can never become two messages;
- a bare CR or bare LF anywhere in the data makes the whole message refused (`bare_line_ending`);
- past the size limit the data is read and discarded up to the terminator, so memory stays
  bounded and the reply comes at the end of DATA as SPEC.md says.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

#: The end of DATA: CRLF "." CRLF. The data is searched as if it followed a line end,
#: so a message that is only ".\r\n" is the empty message.
TERMINATOR = b"\r\n.\r\n"
#: How much is read from the stream at once during DATA, and the stream buffer's limit:
#: the command phase keeps aiosmtpd's 1001-byte line limit.
DATA_BUFFER = 1 << 17
#: What begins both the terminator and a dot-stuffed line: one search finds either.
LINE_DOT = b"\r\n."


@dataclass(frozen=True)
class DataResult:
    #: The message, dot-unstuffed, without the terminator; None when it was refused.
    content: bytes | None
    too_big: bool = False
    bare_line_ending: bool = False


async def read_data(reader: asyncio.StreamReader, *, max_size: int,
                    on_progress: Callable[[], None] = lambda: None) -> DataResult:
    """Read one DATA body from `reader`; raises ConnectionResetError if the client leaves."""
    # StreamReader pauses the socket whenever its buffer passes twice the limit: with
    # aiosmtpd's 1001 bytes that means reading in 2 KB sips. Widen it for DATA only.
    saved_limit = reader._limit  # noqa: SLF001 - no public setter exists
    reader._limit = DATA_BUFFER
    framer = DataFramer(max_size)
    try:
        while not framer.done:
            chunk = await reader.read(DATA_BUFFER)
            if not chunk:
                raise ConnectionResetError("client closed the connection during DATA")
            on_progress()
            framer.feed(chunk)
    finally:
        reader._limit = saved_limit
    # Whatever follows the terminator is the client's next command (PIPELINING).
    reader._buffer[:0] = framer.leftover  # noqa: SLF001
    return framer.result()


class DataFramer:
    """DATA fed in chunks as they arrive, up to the terminator: pure, so that the stream
    reader above and the transaction lane of the protocol (which is fed by the transport
    directly) frame a message in exactly the same way.

    Until a stuffed line turns up, the data is searched for `LINE_DOT`, which finds the
    terminator as well: the common message without stuffed lines costs one pass, not two.
    After the first one only the terminator is searched for, so a message of nothing but
    stuffed lines still takes no Python step per line.
    """

    def __init__(self, max_size: int):
        self.max_size = max_size
        # Dot-stuffing can only shrink the data, and by at most one byte a line: a little
        # slack keeps a message that is exactly at the limit from being discarded early.
        self._wire_cap = max_size + max_size // 4 + 1024
        self._wire = bytearray(b"\r\n")
        self._searched = self._discarded = 0
        self._stuffed = False
        self._content: bytes | None = None
        #: True once the terminator has been seen.
        self.done = False
        #: What came after the terminator: the client's next command.
        self.leftover = b""

    def feed(self, chunk: bytes) -> bool:
        """Take the next chunk; True once the terminator has been seen (ignores the rest)."""
        wire = self._wire
        wire += chunk
        searched, stuffed = self._searched, self._stuffed
        while (found := wire.find(TERMINATOR if stuffed else LINE_DOT, searched)) >= 0:
            if len(wire) < found + len(TERMINATOR):
                break  # the rest of this line is still on its way
            if wire.startswith(b"\r\n", found + len(LINE_DOT)):
                self.leftover = bytes(wire[found + len(TERMINATOR):])
                self._content = None if self._discarded else bytes(wire[2:found + 2])
                self._stuffed = stuffed
                self.done = True
                self._wire = bytearray()
                return True
            stuffed = True
            searched = found + len(LINE_DOT)
        # A match may begin in the last bytes and end in the next chunk.
        searched = found if found >= 0 else max(searched, len(wire) - len(TERMINATOR) + 1)
        if self._discarded + len(wire) > self._wire_cap:
            # Too big: keep only the tail a terminator could still begin in.
            tail = len(TERMINATOR) - 1
            self._discarded += len(wire) - tail
            del wire[:-tail]
            searched = 0
        self._searched, self._stuffed = searched, stuffed
        return False

    def result(self) -> DataResult:
        """The message as the rules see it; only once `done`."""
        content = self._content
        if content is None:
            return DataResult(None, too_big=True)
        if has_bare_line_ending(content):
            return DataResult(None, bare_line_ending=True)
        if self._stuffed:
            content = _unstuff(content)
        if len(content) > self.max_size:
            return DataResult(None, too_big=True)
        return DataResult(content)


def _unstuff(data: bytes) -> bytes:
    """Remove the transparency dot of RFC 5321 4.5.2 from every line that starts with one."""
    return (b"\r\n" + data).replace(LINE_DOT, b"\r\n")[2:]


def has_bare_line_ending(data: bytes) -> bool:
    """A CR or LF that is not part of a CRLF pair. Three counts in C beat any Python scan."""
    lf = data.count(b"\n")
    return lf != data.count(b"\r") or lf != data.count(b"\r\n")
