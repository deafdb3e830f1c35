"""The MIME parts of a raw message as byte spans, found the way submission finds them.

Invariant: positions index the raw bytes, so a caller can splice edits into the message
and leave every other byte as it was. Parts are split at boundary lines exactly as the
submission walker (relay/smtp/mime_walk.py) splits them, so rendering sees the parts
whose rules were checked; the two stages share no code, only the rules of RFC 2046.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message

#: Bounds already enforced at submission; here they only stop work on odd input.
MAX_PARTS = 500
MAX_DEPTH = 20

BODY_TYPES = frozenset({"text/plain", "text/html"})
_READ_FIELDS = (b"content-type", b"content-disposition", b"content-transfer-encoding")
# What goes wrong reading a part: odd parameters, bad encodings.
_UNREADABLE = (ValueError, LookupError, TypeError, IndexError, AssertionError)


@dataclass(frozen=True, slots=True)
class Part:
    """One MIME entity: its header fields as (lower-case name, start, end) and body span."""

    fields: tuple[tuple[bytes, int, int], ...]
    header_end: int
    body_start: int
    end: int
    #: compat32 holder of Content-Type and Content-Disposition, for the stdlib's param rules.
    mime: Message
    #: Set when a field deciding how the part is read appears twice: nothing is touched.
    ambiguous: bool


def read_part(data: bytes, start: int, end: int, default_type: str) -> Part:
    if data.startswith(b"\r\n", start, end):
        header_end, body_start = start, start + 2
    else:
        split = data.find(b"\r\n\r\n", start, end)
        header_end, body_start = (end, end) if split < 0 else (split + 2, split + 4)
    fields = tuple(header_fields(data, start, header_end))
    mime = Message()
    mime.set_default_type(default_type)
    names = [name for name, _, _ in fields]
    for name, s, e in fields:
        if name in _READ_FIELDS:
            # Not surrogateescape: compat32 would hand such values back as Header objects.
            mime[name.decode()] = field_value(data, s, e).decode("utf-8", "replace")
    ambiguous = any(names.count(name) > 1 for name in _READ_FIELDS)
    return Part(fields, header_end, body_start, max(body_start, end), mime, ambiguous)


def header_fields(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(lower-case name, start, end) per field; a field's end includes its folds and CRLF."""
    name, field_start, pos = b"", start, start
    while pos < end:
        eol = data.find(b"\r\n", pos, end)
        line_end = end if eol < 0 else eol + 2
        if pos > start and data[pos : pos + 1] not in (b" ", b"\t"):
            yield name, field_start, pos
            field_start = pos
        if pos == field_start:
            colon = data.find(b":", pos, line_end)
            name = data[pos:colon].rstrip(b" \t").lower() if colon >= 0 else b""
        pos = line_end
    if pos > start:
        yield name, field_start, pos


def field_value(data: bytes, start: int, end: int) -> bytes:
    colon = data.find(b":", start, end)
    return data[colon + 1 : end].replace(b"\r\n", b"").strip() if colon >= 0 else b""


def body_parts(data: bytes, top: Part) -> Iterator[Part]:
    """The body parts, depth first in document order."""
    pending: list[tuple[Part, int]] = [(top, 0)]
    seen = 0
    while pending and seen < MAX_PARTS:
        part, depth = pending.pop()
        seen += 1
        try:
            if part.ambiguous:
                continue
            ctype = part.mime.get_content_type()
            if ctype.startswith("multipart/") and depth < MAX_DEPTH:
                # RFC 2046 section 5.1.5: the parts of a digest are messages unless declared.
                default = "message/rfc822" if ctype == "multipart/digest" else "text/plain"
                children = [read_part(data, s, e, default) for s, e in _split(data, part)]
                pending.extend((child, depth + 1) for child in reversed(children))
            elif ctype in BODY_TYPES and part.body_start > part.header_end:
                mime = part.mime
                if mime.get_content_disposition() != "attachment" and not mime.get_filename():
                    yield part
        except _UNREADABLE:
            continue


def _split(data: bytes, part: Part) -> list[tuple[int, int]]:
    """Spans of a multipart's children; a missing close delimiter ends the last at the end.

    A delimiter is a line of ``--boundary``, optionally ``--``, then only blanks. The
    search starts at the CRLF that ends the blank line, for a delimiter on the first line.
    """
    boundary = (part.mime.get_boundary() or "").encode("utf-8")
    if not boundary:
        return []
    delimiter = b"\r\n--" + boundary
    stop, pos, child = part.end, part.body_start - 2, -1
    spans: list[tuple[int, int]] = []
    while (found := data.find(delimiter, pos, stop)) >= 0:
        after = found + len(delimiter)
        closing = data.startswith(b"--", after, stop)
        eol = data.find(b"\r\n", after, stop)
        line_end = stop if eol < 0 else eol
        if data[after + 2 if closing else after : line_end].strip(b" \t"):
            pos = after
            continue
        if child >= 0:
            spans.append((child, found))
        if closing:
            return spans
        child, pos = min(line_end + 2, stop), line_end
    return spans + [(child, stop)] if child >= 0 else spans
