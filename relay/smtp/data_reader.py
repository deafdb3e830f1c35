"""Reading DATA in large blocks, with strict CRLF framing.

Why not aiosmtpd's loop: it reads one line per await, which caps a 100 KB message at a
few hundred per second. Here the stream is read in blocks and searched for `<CRLF>.<CRLF>`
(a five-byte needle, markedly cheaper to find than `.<CRLF>`); whatever follows it is
handed back to the stream as the client's next command.

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
    try:
        content = await _read_until_terminator(reader, max_size, on_progress)
    finally:
        reader._limit = saved_limit
    if content is None:
        return DataResult(None, too_big=True)
    if has_bare_line_ending(content):
        return DataResult(None, bare_line_ending=True)
    content = _unstuff(content)
    if len(content) > max_size:
        return DataResult(None, too_big=True)
    return DataResult(content)


async def _read_until_terminator(reader: asyncio.StreamReader, max_size: int,
                                 on_progress: Callable[[], None]) -> bytes | None:
    """The data up to the terminator, still dot-stuffed; None if it was too big to keep."""
    # Dot-stuffing can only shrink the data, and by at most one byte a line: a little
    # slack keeps a message that is exactly at the limit from being discarded early.
    wire_cap = max_size + max_size // 4 + 1024
    wire = bytearray(b"\r\n")
    searched = discarded = 0
    while True:
        chunk = await reader.read(DATA_BUFFER)
        if not chunk:
            raise ConnectionResetError("client closed the connection during DATA")
        on_progress()
        wire += chunk
        end = wire.find(TERMINATOR, max(searched - len(TERMINATOR) + 1, 0))
        if end >= 0:
            # Whatever follows the terminator is the client's next command (PIPELINING).
            reader._buffer[:0] = wire[end + len(TERMINATOR):]  # noqa: SLF001
            return None if discarded else bytes(wire[2:end + 2])
        searched = len(wire)
        if discarded + len(wire) > wire_cap:
            # Too big: keep only the tail a terminator could still begin in.
            discarded += len(wire) - len(TERMINATOR)
            del wire[:-len(TERMINATOR)]
            searched = len(wire)


def _unstuff(data: bytes) -> bytes:
    """Remove the transparency dot of RFC 5321 4.5.2 from every line that starts with one."""
    if b"\r\n." not in data and not data.startswith(b"."):
        return data
    return (b"\r\n" + data).replace(b"\r\n.", b"\r\n")[2:]


def has_bare_line_ending(data: bytes) -> bool:
    """A CR or LF that is not part of a CRLF pair. Three counts in C beat any Python scan."""
    lf = data.count(b"\n")
    return lf != data.count(b"\r") or lf != data.count(b"\r\n")
