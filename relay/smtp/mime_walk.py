"""A bounded MIME walker: the parts of a message in document order, without parsing bodies.

Invariants:
- Work is linear in the input for a fixed ``max_depth``: each nesting level scans its
  region once, with ``bytes.find`` or, past NEAR_MISSES look-alike lines, a compiled
  pattern, and no level is entered beyond ``max_depth``. There is no recursion, so deep
  input cannot exhaust the Python stack.
- ``walk`` stops with ``UnparseableMessage`` the moment a limit is passed, before the
  parts behind the limit are even located.
- Anything two mail clients could read differently (a second Content-Type, a header line
  that is neither a field nor a fold, a second boundary) is refused, never guessed:
  disagreement between our view and the recipient's is how filters are smuggled past.

Counting, for the limits:
- every MIME entity is one part: the message itself, each multipart container and
  each leaf; a plain one-part message has 1 part;
- the nesting level of a multipart container is 1 plus the number of containers around
  it, so the top-level multipart is level 1 and a message of 20 nested multiparts
  reaches level 20;
- a message/rfc822 part is a leaf: an attached message is itself the attachment, so
  nothing inside it can change what the rules decide.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from email.utils import collapse_rfc2231_value

#: Header fields anyone downstream reads; every other field is checked for syntax only.
WANTED = frozenset(
    {b"from", b"subject", b"content-type", b"content-disposition", b"content-transfer-encoding"}
)
#: Fields that decide how a part is read, so a second copy makes the part ambiguous.
SINGLE = {
    b"content-type": "Content-Type",
    b"content-disposition": "Content-Disposition",
    b"content-transfer-encoding": "Content-Transfer-Encoding",
}

#: Near-miss delimiter lines tolerated before switching to a compiled pattern, which
#: costs ~130 µs to build: too much for every message, far less than thousands of misses.
NEAR_MISSES = 32

# RFC 5322 field name, allowing the obsolete whitespace before the colon.
_FIELD_NAME = re.compile(rb"[!-9;-~]+[ \t]*:")


class UnparseableMessage(Exception):
    """A message we cannot read the way every client would; answered with 554 5.6.0.

    ``reason`` is short, lower case apart from header names, one line, and never
    contains text from the message, so it can be put in an SMTP reply as is.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Part:
    """One MIME entity: its header fields of interest and where its body lies in the data."""

    #: Lower-case field name -> raw unfolded values, only for names in WANTED.
    headers: dict[bytes, list[bytes]]
    #: Lower-case ``type/subtype``, after the RFC 2045 defaults.
    content_type: str
    #: The Content-Type and Content-Disposition values as written, None when absent.
    content_type_value: str | None
    disposition_value: str | None
    #: Lower-case Content-Transfer-Encoding, "" when absent.
    encoding: str
    body_start: int
    body_end: int

    @property
    def is_multipart(self) -> bool:
        return self.content_type.startswith("multipart/")

    @property
    def disposition(self) -> str:
        return (self.disposition_value or "").split(";", 1)[0].strip().lower()

    def params(self, header: str) -> list[tuple[str, str | tuple[str, str, str]]]:
        """Parameters of Content-Type or Content-Disposition, after the value itself.

        Parsed on demand with the stdlib's compat32 helpers, as most parts never need
        them. Its RFC 2231 decoder raises on some malformed continuations (mixed
        numbered and unnumbered segments, indices too long for int), so those are
        translated here.
        """
        value = self.content_type_value if header == "Content-Type" else self.disposition_value
        if value is None:
            return []
        mime = Message()
        mime[header] = value
        try:
            return mime.get_params([], header=header)[1:]
        except (TypeError, ValueError, IndexError) as exc:
            raise UnparseableMessage(f"malformed parameters in {header}") from exc


def param_text(value: str | tuple[str, str, str]) -> str:
    """A parameter as text, RFC 2231 charset applied; an unusable charset means us-ascii.

    collapse_rfc2231_value handles unknown charsets but lets ValueError out for names
    such as "utf-\\x008".
    """
    try:
        return collapse_rfc2231_value(value)
    except ValueError:
        return collapse_rfc2231_value((None, None, value[2])) if isinstance(value, tuple) else value


def parse_headers(block: bytes) -> dict[bytes, list[bytes]]:
    """Unfolded values of the WANTED fields in one header section."""
    if not block:
        return {}
    fields: dict[bytes, list[list[bytes]]] = {}
    current: list[bytes] | None = None
    seen_field = False
    for line in block.split(b"\r\n"):
        if line.startswith((b" ", b"\t")):
            # A blank "fold" is read by some clients as the end of the header section.
            if not seen_field or not line.strip():
                raise UnparseableMessage("malformed header line")
            if current is not None:
                current.append(line)
            continue
        match = _FIELD_NAME.match(line)
        if match is None:
            raise UnparseableMessage("malformed header line")
        seen_field = True
        name = line[: match.end() - 1].rstrip(b" \t").lower()
        if name in WANTED:
            current = [line[match.end() :]]
            fields.setdefault(name, []).append(current)
        else:
            current = None
    return {name: [b"".join(chunks).strip() for chunks in found] for name, found in fields.items()}


def header_text(headers: dict[bytes, list[bytes]], name: bytes, label: str) -> str | None:
    """The single value of a field we act on, refused when it is not UTF-8."""
    values = headers.get(name)
    if not values:
        return None
    try:
        return values[0].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnparseableMessage(f"undecodable header: {label}") from exc


def walk(data: bytes, *, max_depth: int, max_parts: int) -> Iterator[Part]:
    """Every part of ``data``, depth first in document order, containers before children."""
    pending: list[tuple[int, int, int, str]] = [(0, len(data), 0, "text/plain")]
    seen = 0
    while pending:
        start, end, level, default_type = pending.pop()
        seen += 1
        part = read_part(data, start, end, default_type)
        yield part
        if part.is_multipart:
            if level + 1 > max_depth:
                raise UnparseableMessage(f"MIME nested deeper than {max_depth} levels")
            room = max_parts - seen - len(pending)
            children = split_multipart(data, part, room)
            if len(children) > room:
                raise UnparseableMessage(f"more than {max_parts} MIME parts")
            # RFC 2046 section 5.1.5: the parts of a digest are messages unless declared.
            default = "message/rfc822" if part.content_type == "multipart/digest" else "text/plain"
            pending.extend((s, e, level + 1, default) for s, e in reversed(children))


def read_part(data: bytes, start: int, end: int, default_type: str = "text/plain") -> Part:
    """Header section and body range of the entity occupying ``data[start:end]``."""
    if data.startswith(b"\r\n", start, end):
        block, body_start = b"", start + 2
    else:
        split = data.find(b"\r\n\r\n", start, end)
        if split < 0:
            block, body_start = data[start:end].removesuffix(b"\r\n"), end
        else:
            block, body_start = data[start:split], split + 4
    headers = parse_headers(block)
    for name, label in SINGLE.items():
        if len(headers.get(name, ())) > 1:
            raise UnparseableMessage(f"more than one {label} header")
    ctype = header_text(headers, b"content-type", "Content-Type")
    encoding = header_text(headers, b"content-transfer-encoding", "Content-Transfer-Encoding")
    return Part(
        headers=headers,
        content_type=_content_type(ctype, default_type),
        content_type_value=ctype,
        disposition_value=header_text(headers, b"content-disposition", "Content-Disposition"),
        encoding=(encoding or "").strip().lower(),
        body_start=body_start,
        body_end=max(body_start, end),
    )


def _content_type(value: str | None, default_type: str) -> str:
    """RFC 2045 section 5.2: a missing or syntactically invalid type is read as text/plain."""
    if value is None:
        return default_type
    ctype = value.split(";", 1)[0].strip().lower()
    return ctype if ctype.count("/") == 1 else "text/plain"


def boundary_of(part: Part) -> bytes:
    """The one boundary of a multipart; two would let clients split the body differently."""
    found = [value for name, value in part.params("Content-Type") if name.lower() == "boundary"]
    if len(found) > 1:
        raise UnparseableMessage("more than one boundary parameter")
    boundary = param_text(found[0]).rstrip() if found else ""
    if not boundary:
        raise UnparseableMessage("multipart without boundary")
    return boundary.encode("utf-8", "replace")


def split_multipart(data: bytes, part: Part, room: int) -> list[tuple[int, int]]:
    """Ranges of the body parts of a multipart, at most ``room + 1`` of them.

    The preamble and epilogue are dropped; a missing close delimiter ends the last part
    at the end of the container, as the stdlib and common clients read it.
    """
    stop = part.body_end
    children: list[tuple[int, int]] = []
    part_start = -1
    # The line ending just before the body belongs to a delimiter on the body's first line.
    for found, line_end, closing in delimiters(
        data, boundary_of(part), max(part.body_start - 2, 0), stop
    ):
        if part_start >= 0:
            children.append((part_start, max(part_start, found)))
            if len(children) > room:
                return children
        if closing:
            return children
        part_start = min(line_end + 2, stop)
    if part_start < 0:
        raise UnparseableMessage("multipart boundary not found")
    children.append((part_start, stop))
    return children


def delimiters(
    data: bytes, boundary: bytes, start: int, stop: int
) -> Iterator[tuple[int, int, bool]]:
    """(CRLF before it, end of line, is closing) for each delimiter line in data[start:stop].

    A delimiter is ``--boundary`` at the start of a line followed only by an optional
    ``--`` and blanks, as RFC 2046 and the stdlib read it. Lines that only start like
    one are cheap to skip in Python while they are few; past NEAR_MISSES the rest of
    the region is searched by a compiled pattern, so crafted near misses cannot turn
    the scan into one Python step per line.
    """
    delimiter = b"\r\n--" + boundary
    pos, misses = start, 0
    while misses <= NEAR_MISSES:
        found = data.find(delimiter, pos, stop)
        if found < 0:
            return
        after = found + len(delimiter)
        closing = data.startswith(b"--", after, stop)
        eol = data.find(b"\r\n", after, stop)
        line_end = stop if eol < 0 else eol
        if data[after + 2 if closing else after : line_end].strip(b" \t"):
            pos, misses = after, misses + 1
            continue
        yield found, line_end, closing
        pos = line_end
    pattern = re.compile(re.escape(delimiter) + rb"(--)?[ \t]*(?=\r\n|\Z)")
    for match in pattern.finditer(data, pos, stop):
        yield match.start(), match.end(), match.group(1) is not None
