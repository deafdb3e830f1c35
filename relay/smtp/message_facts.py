"""What the DATA rules need to know about a message, read in one bounded pass.

Invariants:
- ``inspect_message`` raises nothing but ``UnparseableMessage``, whatever the input:
  the stdlib helpers used on header fragments are translated at this one boundary.
- Work is linear in the message size: headers are parsed per part by the bounded
  walker in ``mime_walk``, and only text/plain and text/html body parts are decoded.
- Every value that may reach an SMTP reply (the attachment type) is one printable line.

Measured with timeit (best of 7, Python 3.11.7, shared 2-core machine): a 5.3 KB
text/plain message ~45 µs, a 5.4 KB multipart/alternative with quoted-printable text
and HTML ~95 µs; 82 KB of 1,000 nested multiparts refused in ~2 ms, 400 KB of 50,000
empty parts in ~0.6 ms.
"""

from __future__ import annotations

import binascii
import functools
import itertools
import re
from email.utils import getaddresses

from policy.facts import MessageFacts
from relay.smtp.mime_walk import Part, UnparseableMessage, header_text, param_text, walk

__all__ = ["UnparseableMessage", "inspect_message"]

#: Reason prefix for an exception the parser did not foresee; tests fail on it.
INTERNAL_ERROR = "parser error"
#: RFC 5322 line limit; the subject only feeds logs and statistics.
MAX_SUBJECT = 998
#: Longest attachment type put in a reply; a "type" longer than this is an attack.
MAX_REPORTED = 64

_BODY_TYPES = frozenset({"text/plain", "text/html"})
_UNSUBSCRIBE = b"[unsubscribe]"
#: Brackets looked at one by one before the whole text is lowered and searched instead.
MAX_BRACKETS = 16
_UUENCODE = re.compile(rb"^begin(?:-base64)?[ \t]+[0-7]{3,4}[ \t]+(\S[^\r\n]*)", re.MULTILINE)
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def inspect_message(data: bytes, *, max_depth: int = 20, max_parts: int = 500) -> MessageFacts:
    """Facts for the end-of-DATA rules, or UnparseableMessage when clients could disagree.

    ``max_depth`` bounds nested multipart containers, the top-level one being level 1;
    ``max_parts`` bounds MIME entities, the message itself and containers included.
    """
    try:
        return _inspect(data, max_depth, max_parts)
    except UnparseableMessage:
        raise
    except Exception as exc:
        raise UnparseableMessage(f"{INTERNAL_ERROR}: {type(exc).__name__}") from exc


def _inspect(data: bytes, max_depth: int, max_parts: int) -> MessageFacts:
    parts = walk(data, max_depth=max_depth, max_parts=max_parts)
    top = next(parts)
    from_addresses = _from_addresses(top.headers)
    attachment: str | None = None
    tagged = False
    for part in itertools.chain((top,), parts):
        if part.is_multipart:
            continue
        name = _filename(part)
        if name or not _is_body_text(part):
            found = _reported_type(name, part.content_type)
        else:
            text = decode_body(data[part.body_start : part.body_end], part.encoding)
            tagged = tagged or has_unsubscribe_tag(text)
            found = _uuencoded(text) if attachment is None else None
        attachment = attachment or found
    return MessageFacts(
        from_addresses=from_addresses,
        attachment=attachment,
        has_unsubscribe_tag=tagged,
        subject=_subject(top.headers),
    )


def _from_addresses(headers: dict[bytes, list[bytes]]) -> tuple[str, ...]:
    """Every address a client might show as the sender, so that each can be checked.

    getaddresses errs towards splitting dubious input into more entries, which is the
    safe side: an entry that is not a confirmed sender gets the message refused.
    """
    count = len(headers.get(b"from", ()))
    if count == 0:
        raise UnparseableMessage("missing From header")
    if count > 1:
        raise UnparseableMessage("more than one From header")
    value = header_text(headers, b"from", "From") or ""
    found = _addresses(value)
    if not any("@" in addr for addr in found):
        raise UnparseableMessage("no address in From header")
    return found


@functools.lru_cache(maxsize=4096)
def _addresses(value: str) -> tuple[str, ...]:
    """Cached: an account sends from the same few From headers over and over."""
    return tuple(addr for _, addr in getaddresses([value]) if addr)


def has_unsubscribe_tag(text: bytes) -> bool:
    """`[Unsubscribe]` in any case. Most bodies have few brackets, and finding each is a
    memchr, so this skips lowering and searching the whole body (two slow passes)."""
    position = text.find(b"[")
    for _ in range(MAX_BRACKETS):
        if position < 0:
            return False
        if text[position : position + len(_UNSUBSCRIBE)].lower() == _UNSUBSCRIBE:
            return True
        position = text.find(b"[", position + 1)
    return _UNSUBSCRIBE in text.lower()


def _subject(headers: dict[bytes, list[bytes]]) -> str:
    values = headers.get(b"subject")
    if not values:
        return ""
    text = decode_words(values[0].decode("utf-8", "replace"))
    return _CONTROL.sub(" ", text)[:MAX_SUBJECT]


def _is_body_text(part: Part) -> bool:
    return part.content_type in _BODY_TYPES and part.disposition != "attachment"


def _filename(part: Part) -> str:
    """The file name clients would show; RFC 2231 forms win over plain ones, as in RFC 6266.

    The stdlib's decode_params lists RFC 2231 parameters after plain ones, so the last
    match is the extended one whenever both are present.
    """
    for header, param in (("Content-Disposition", "filename"), ("Content-Type", "name")):
        value = part.disposition_value if param == "filename" else part.content_type_value
        if value is None or param not in value.lower():
            continue
        values = [found for key, found in part.params(header) if key.lower() == param]
        if values:
            name = param_text(values[-1]).strip()
            name = decode_words(name).strip() if "=?" in name else name
            if name:
                return name
    return ""


def _reported_type(name: str, content_type: str) -> str:
    """The extension after the last dot of the base name, else the MIME type."""
    base = re.split(r"[/\\]", name)[-1]
    extension = _printable(base.rpartition(".")[2].strip().lower()) if "." in base else ""
    return extension or _printable(content_type)


def _printable(text: str) -> str:
    return "".join(char for char in text if char.isprintable()).strip()[:MAX_REPORTED]


def _uuencoded(text: bytes) -> str | None:
    if b"begin" not in text:
        return None
    match = _UUENCODE.search(text)
    if match is None:
        return None
    name = match.group(1).decode("utf-8", "replace").strip()
    return _reported_type(name, "application/octet-stream")


def decode_body(body: bytes, encoding: str) -> bytes:
    """The body as a client would display it; undecodable base64 is decoded best effort."""
    if encoding == "quoted-printable":
        return binascii.a2b_qp(body)
    if encoding != "base64":
        return body
    try:
        return binascii.a2b_base64(body)
    except binascii.Error:
        return _lenient_base64(body)


def _lenient_base64(text: bytes) -> bytes:
    cleaned = _NOT_BASE64.sub(b"", text)
    if len(cleaned) % 4 == 1:
        cleaned = cleaned[:-1]
    return binascii.a2b_base64(cleaned + b"=" * (-len(cleaned) % 4))


def decode_words(text: str) -> str:
    """RFC 2047 encoded words decoded best effort; a broken word is kept as written."""
    if "=?" not in text:
        return text
    out: list[str] = []
    last = 0
    for match in _ENCODED_WORD.finditer(text):
        gap = text[last : match.start()]
        # RFC 2047 section 6.2: blanks between two encoded words are not part of the text.
        if not (out and not gap.strip()):
            out.append(gap)
        out.append(_decode_word(match))
        last = match.end()
    out.append(text[last:])
    return "".join(out)


def _decode_word(match: re.Match[str]) -> str:
    charset, kind, payload = match.groups()
    raw = payload.encode("ascii", "ignore")
    try:
        if kind in "bB":
            raw = binascii.a2b_base64(raw + b"=" * (-len(raw) % 4))
        else:
            raw = binascii.a2b_qp(raw, header=True)
    except binascii.Error:
        return match.group(0)
    try:
        return raw.decode(charset.split("*", 1)[0], "replace")
    except (LookupError, ValueError, TypeError):
        return raw.decode("utf-8", "replace")
