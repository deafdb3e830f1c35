"""Reading DATA in large blocks, with strict CRLF framing.

Why not aiosmtpd's loop: it reads one line per await, which caps a 100 KB message at a
few hundred per second. Here the stream is read up to each `.<CRLF>` candidate and a
candidate ends the data only when a real CRLF precedes it.

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

TERMINATOR = b".\r\n"
#: Stream buffer during DATA; the command phase keeps aiosmtpd's 1001-byte line limit.
DATA_BUFFER = 1 << 17


@dataclass(frozen=True)
class DataResult:
    #: The message, dot-unstuffed, without the terminator; None when it was discarded.
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
        wire, discarded = await _read_until_terminator(reader, max_size, on_progress)
    finally:
        reader._limit = saved_limit
    if discarded:
        return DataResult(None, too_big=True)
    content = _unstuff(bytes(wire[:-len(TERMINATOR)]))
    if has_bare_line_ending(content):
        return DataResult(None, bare_line_ending=True)
    if len(content) > max_size:
        return DataResult(None, too_big=True)
    return DataResult(content)


async def _read_until_terminator(reader: asyncio.StreamReader, max_size: int,
                                 on_progress: Callable[[], None]) -> tuple[bytearray, bool]:
    # Dot-stuffing can only shrink the data, and by at most one byte a line: a little
    # slack keeps a message that is exactly at the limit from being discarded early.
    wire_cap = max_size + max_size // 4 + 1024
    wire = bytearray()
    tail = b"\r\n"  # the data begins as if after a line end: ".\r\n" first means empty
    total = 0
    discarded = False
    while True:
        chunk = await _next_chunk(reader)
        on_progress()
        total += len(chunk)
        joined = chunk if len(chunk) >= 5 else tail + chunk
        before, tail = joined[-5:-3], joined[-2:]
        if not discarded:
            wire += chunk
            if total > wire_cap:
                discarded = True
                wire = bytearray()
        if chunk.endswith(TERMINATOR) and before == b"\r\n":
            return wire, discarded


async def _next_chunk(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readuntil(TERMINATOR)
    except asyncio.LimitOverrunError as error:
        return await reader.readexactly(error.consumed)
    except asyncio.IncompleteReadError:
        raise ConnectionResetError("client closed the connection during DATA") from None


def _unstuff(data: bytes) -> bytes:
    """Remove the transparency dot of RFC 5321 4.5.2 from every line that starts with one."""
    if b"\r\n." not in data and not data.startswith(b"."):
        return data
    return (b"\r\n" + data).replace(b"\r\n.", b"\r\n")[2:]


def has_bare_line_ending(data: bytes) -> bool:
    crlf = data.count(b"\r\n")
    return data.count(b"\r") != crlf or data.count(b"\n") != crlf
