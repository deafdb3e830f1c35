"""Rendering of an accepted message for its recipient: tags, unsubscribe headers, tracking.

Invariant: only what rendering has to change changes. Every other byte (the other header
fields with their folding, attachments, parts that cannot be decoded) goes out exactly as
accepted, so DKIM signs what the sender wrote and the output is CRLF-only like the input
(submission refuses a bare CR or LF). ``render`` never raises on a message the submission
walker accepted: a part it cannot read is sent as written.

The tags are ``[Unsubscribe]`` and ``[WebVersion]``, in any letter case (as submission's
`require` check reads them). Parts come from ``mime_parts``; only text/plain and
text/html leaves that are not attachments are body parts. Each is decoded (transfer
encoding, charset), edited as text, and re-encoded the same way, except that a 7bit or
8bit part which would get a line over 998 octets becomes quoted-printable.
"""

from __future__ import annotations

import binascii
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from relay.delivery.html_links import LinkIndex, Tag, closing_markup, rewrite, splice
from relay.delivery.mime_parts import Part, body_parts, field_value, read_part

UNSUBSCRIBE_TAG = "[Unsubscribe]"
WEB_VERSION_TAG = "[WebVersion]"
#: RFC 5322 limit on a line, CRLF excluded.
MAX_LINE = 998
_UNENCODED = frozenset({"", "7bit", "8bit", "binary"})
_REPLACED_FIELDS = frozenset({b"list-unsubscribe", b"list-unsubscribe-post"})
# A charset that writes these as themselves can take the ASCII we add, and keeps the
# CRLFs we rely on; UTF-16, UTF-7 and friends cannot.
_ASCII_PROBE = "".join(map(chr, range(0x20, 0x7F))) + "\r\n\t"
# What goes wrong reading a part: bad base64 (binascii.Error is a ValueError), a codec
# refusing, odd parameters. Once a part is decoded, editing it cannot fail: the HTML
# tokenizer reads any text, and what it adds is ASCII, which every charset allowed here
# encodes.
_UNREADABLE = (ValueError, LookupError, TypeError, IndexError)

Edit = tuple[int, int, bytes]


@dataclass(frozen=True)
class RenderPlan:
    """Everything rendering needs to know about one message's recipient and links."""

    #: Our id, for the Message-ID "<{message_id}@{hostname}>" added when there is none.
    message_id: str
    hostname: str
    unsubscribe_url: str
    web_version_url: str
    #: e.g. "mailto:u-....@bounces.example"
    list_unsubscribe_mailto: str
    #: "inject" adds an unsubscribe footer when no part has the tag; others add nothing.
    unsubscribe_mode: str
    #: None when opens are not tracked.
    open_pixel_url: str | None
    #: Link index -> tracked URL; None when clicks are not tracked.
    click_url: Callable[[int], str] | None

    def __post_init__(self) -> None:
        # These are written into header fields: a line break would forge new fields.
        for name in ("message_id", "hostname", "unsubscribe_url", "list_unsubscribe_mailto"):
            value = getattr(self, name)
            if not value.isascii() or not value.isprintable():
                raise ValueError(f"RenderPlan.{name} must be printable ASCII: {value!r}")


@dataclass(frozen=True)
class Rendered:
    #: The message to send: CRLF line endings, valid MIME.
    data: bytes
    #: The original http(s) links of the HTML parts; index i is click_url(i).
    links: tuple[str, ...]
    #: Whether a body part links to the web version: only then is a hosted copy needed.
    web_version: bool = False


def render(raw: bytes, plan: RenderPlan) -> Rendered:
    """The message for its one recipient; deterministic, so a retry sends the same bytes."""
    top = read_part(raw, 0, len(raw), "text/plain")
    bodies = [body for part in body_parts(raw, top) if (body := _decode(raw, part))]
    inject = plan.unsubscribe_mode == "inject" and not any(
        UNSUBSCRIBE_TAG in body.tags for body in bodies
    )
    links = LinkIndex(plan.click_url) if plan.click_url is not None else None
    edits = _header_edits(raw, top, plan)
    for body in bodies:
        edits += _body_edits(raw, body, _transform(body, plan, inject, links))
    return Rendered(data=splice(raw, edits), links=tuple(links.urls) if links else (),
                    web_version=any(WEB_VERSION_TAG in body.tags for body in bodies))


@dataclass(frozen=True, slots=True)
class _Body:
    part: Part
    is_html: bool
    charset: str
    encoding: str
    text: str
    #: The tags the text holds, as written after _canonical_tags.
    tags: frozenset[str]


def _decode(data: bytes, part: Part) -> _Body | None:
    encoding = (part.mime.get("content-transfer-encoding") or "").strip().lower()
    raw = data[part.body_start : part.end]
    try:
        charset = part.mime.get_content_charset() or "us-ascii"
        if not _ascii_compatible(charset):
            return None
        if encoding == "quoted-printable":
            raw = binascii.a2b_qp(raw)
        elif encoding == "base64":
            raw = binascii.a2b_base64(raw)
        elif encoding not in _UNENCODED:
            return None
        # Bytes the charset does not define come back as surrogates and go out unchanged.
        text = raw.decode(charset, "surrogateescape")
    except _UNREADABLE:
        return None
    is_html = part.mime.get_content_type() == "text/html"
    return _Body(part, is_html, charset, encoding, *_canonical_tags(text))


@functools.lru_cache(maxsize=64)
def _ascii_compatible(charset: str) -> bool:
    try:
        return _ASCII_PROBE.encode(charset) == _ASCII_PROBE.encode("ascii")
    except _UNREADABLE:
        return False


def _canonical_tags(text: str) -> tuple[str, frozenset[str]]:
    """Tags in any ASCII letter case, as submission recognises them (`require` mode),
    written the one way the rest of rendering looks for; and which tags there are. One
    pass of a pattern that skips to each "[", so a part without tags costs little."""
    found = {match.group() for match in _ANY_CASE_TAG.finditer(text)}
    if not found:
        return text, frozenset()
    if not found <= _WRITTEN:
        text = _ANY_CASE_TAG.sub(lambda m: _CANONICAL[m.group().lower()], text)
    return text, frozenset(_CANONICAL[tag.lower()] for tag in found)


_CANONICAL = {UNSUBSCRIBE_TAG.lower(): UNSUBSCRIBE_TAG, WEB_VERSION_TAG.lower(): WEB_VERSION_TAG}
_WRITTEN = frozenset(_CANONICAL.values())
_ANY_CASE_TAG = re.compile(r"\[(?:unsubscribe|webversion)\]", re.IGNORECASE | re.ASCII)


def _transform(body: _Body, plan: RenderPlan, inject: bool, links: LinkIndex | None) -> str:
    """The new text of one body part."""
    unsubscribe = plan.unsubscribe_url
    targets = {
        UNSUBSCRIBE_TAG: Tag(unsubscribe, "Unsubscribe"),
        WEB_VERSION_TAG: Tag(plan.web_version_url, "Web version"),
    }
    tags = {tag: targets[tag] for tag in body.tags}
    if body.is_html:
        closing = closing_markup(unsubscribe if inject else None, plan.open_pixel_url)
        return rewrite(
            body.text,
            tags=tags,
            track=links.track if links else None,
            keep={unsubscribe, plan.web_version_url},
            closing=closing,
        )
    text = body.text
    for tag, target in tags.items():
        text = text.replace(tag, target.url)
    if inject:
        # Base64 text may use LF alone; a footer should follow the part's own convention.
        newline = "\n" if "\n" in text and "\r\n" not in text else "\r\n"
        ending = "" if not text or text.endswith(newline) else newline
        text += f"{ending}{newline}Unsubscribe: {unsubscribe}{newline}"
    return text


def _body_edits(data: bytes, body: _Body, text: str) -> list[Edit]:
    """Edits that put ``text`` in place of the part's body, in its own encoding."""
    if text == body.text:
        return []
    part = body.part
    content = text.encode(body.charset, "surrogateescape")
    lines = content.split(b"\r\n")
    encoding = body.encoding
    if encoding == "base64":
        encoded = binascii.b2a_base64(content, newline=False)
        new = b"\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
        if data.endswith(b"\r\n", part.body_start, part.end):
            new += b"\r\n"
    elif encoding == "quoted-printable" or max(map(len, lines)) > MAX_LINE:
        # Line by line in binary mode: CRLF stays the only line break, and a lone CR or
        # LF inside a line becomes =0D or =0A instead of a bare line ending.
        new = b"\r\n".join(
            binascii.b2a_qp(line, istext=False).replace(b"=\n", b"=\r\n") for line in lines
        )
        encoding = "quoted-printable"
    else:
        new = content
    edits = [(part.body_start, part.end, new)]
    if encoding != body.encoding:
        cte = b"Content-Transfer-Encoding: quoted-printable\r\n"
        field = [(s, e) for name, s, e in part.fields if name == b"content-transfer-encoding"]
        start, end = field[0] if field else (part.header_end, part.header_end)
        edits.append((start, end, cte))
    return edits


def _header_edits(data: bytes, top: Part, plan: RenderPlan) -> list[Edit]:
    """RFC 8058 fields in place of the client's, and a Message-ID when there is none."""
    edits: list[Edit] = []
    has_id = False
    for name, start, end in top.fields:
        blank_id = name == b"message-id" and not field_value(data, start, end)
        if name in _REPLACED_FIELDS or blank_id:
            edits.append((start, end, b""))
        has_id = has_id or (name == b"message-id" and not blank_id)
    added = (
        f"List-Unsubscribe: <{plan.unsubscribe_url}>,\r\n <{plan.list_unsubscribe_mailto}>\r\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    )
    if not has_id:
        added += f"Message-ID: <{plan.message_id}@{plan.hostname}>\r\n"
    at = top.header_end
    # A header section cut off without its CRLF (no body at all) gets one first.
    if at and not data.endswith(b"\r\n", 0, at):
        added = "\r\n" + added
    edits.append((at, at, added.encode("ascii")))
    return edits

