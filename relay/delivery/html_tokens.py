"""Where the tags of an HTML document lie, read as a browser reads them (WHATWG HTML 13.2.5).

Why not ``html.parser``: it costs about a millisecond per 5 KB mail, most of a delivery's
CPU, and it reads some markup differently from browsers (``&copy=`` inside an attribute
value becomes ``©=``; ``<![if mso]>`` raises). This module follows the standard's
tokenizer wherever it decides where a tag, a comment or raw text starts and ends: tag and
attribute states (quoted values may hold ``>``), comments (``<!-->``, ``--!>``), bogus
comments and doctypes, the RAWTEXT, RCDATA and script data of the elements whose content
is not markup (script data with its escaped states), PLAINTEXT, and CDATA sections inside
SVG and MathML. Each state's scan is one compiled pattern, so a mail of a few hundred tags
is read in about a tenth of a millisecond.

Tokens are tuples ``(kind, name, start, end)`` with offsets into the source; ``kind`` is
START, END or TEXT. A tag cut off by the end of the document is no tag, as in a browser,
and ends the tokens.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Container, Iterator
from html import unescape
from html.entities import html5 as _ENTITIES

START, END, TEXT = "start", "end", "text"

#: Elements whose content is text up to their own end tag (RAWTEXT, script data) and
#: never shown as text where it could hold a link; RCDATA is text with references.
RAW_TEXT = frozenset({"script", "style", "xmp", "iframe", "noembed", "noframes"})
RCDATA = frozenset({"title", "textarea"})
#: Elements inside which ``<![CDATA[`` starts a CDATA section rather than a bogus comment.
FOREIGN = frozenset({"svg", "math"})
_TEXT_CONTENT = RAW_TEXT | RCDATA | {"plaintext"}

_WS = r"\t\n\f\r "
# The attributes of a tag up to its ">": separators (a "/" not before ">" is one), names
# (a first "=" or quote is part of the name), and values quoted or not. Possessive, so a
# tag cut off by the end of the document fails in one pass instead of backtracking.
# A value opened by a quote runs to that quote, or to the end of the document (where the
# tag is then cut off); one without quotes never starts with one and may be empty.
_VALUE = rf"(?:\"[^\"]*+(?:\"|\Z)|'[^']*+(?:'|\Z)|[^{_WS}>\"'][^{_WS}>]*+|)"
_ATTRIBUTES = rf"(?:[{_WS}/]++|[^{_WS}/>][^{_WS}/=>]*+(?:[{_WS}]*+=[{_WS}]*+{_VALUE})?+)*+"
_TOKEN = re.compile(
    rf"""<(?:
        (/?)([A-Za-z][^{_WS}/>]*+){_ATTRIBUTES}(>?)   # start or end tag; no ">": cut off
      | !--(?:-?>|.*?(?:--!?>|\Z))                   # comment
      | (!\[CDATA\[)
      | (?:[!?]|/[^>])[^>]*+>?                       # bogus comment, doctype
      | />                                           # nothing
    )""",
    re.VERBOSE | re.DOTALL,
)
_ATTRIBUTE = re.compile(rf"[{_WS}/]*+([^{_WS}/>][^{_WS}/=>]*+)(?:[{_WS}]*+=[{_WS}]*+({_VALUE}))?+")
_CDATA_END = re.compile(r"\]\]>")
_GT = re.compile(">")
# Script data: "<!--" enters the escaped state unless it closes at once ("<!-->",
# "<!--->"); inside it "<script" enters the double-escaped state, where "</script" only
# leaves it; "-->" returns to plain script data.
_SCRIPT_MARKS = re.compile(rf"<!--(?!-*>)|-->|<(/?)script(?=[{_WS}/>])", re.IGNORECASE | re.ASCII)
_REFERENCE = re.compile(r"&(?:#[xX][0-9a-fA-F]+;?|#[0-9]+;?|([A-Za-z0-9]+;?))")


def tokens(html: str, *, text: bool = False, names: Container[str] | None = None,
           ) -> Iterator[tuple[str, str, int, int]]:
    """START and END tags with their lower-case names (only those in ``names``, if given);
    with ``text``, also TEXT runs (named "" for data, or "title"/"textarea" for RCDATA)
    outside tags, comments and raw text. Offsets are [start, end) in ``html``."""
    names = _EVERY if names is None else frozenset(names)
    search = _TOKEN.search if text or names is _EVERY else _skipping_search(names)
    pos = 0
    size = len(html)
    foreign = 0  # open <svg> and <math>
    while (match := search(html, pos)) is not None:
        start, pos = match.span()
        if text and start > match.pos:
            yield TEXT, "", match.pos, start
        slash, name, close, cdata = match.groups()
        if name is None:
            if cdata:
                pos = _cdata_end(html, pos, foreign)
            continue
        if not close:
            return
        name = name.lower()
        if slash:
            foreign -= name in FOREIGN and foreign > 0
            if name in names:
                yield END, name, start, pos
            continue
        if name in names:
            yield START, name, start, pos
        foreign += name in FOREIGN
        if name in _TEXT_CONTENT:
            content, pos = pos, _content_end(html, name, pos)
            if text and name in RCDATA and pos > content:
                yield TEXT, name, content, pos
    if text and pos < size:
        yield TEXT, "", pos, size


def _cdata_end(html: str, start: int, foreign: int) -> int:
    """A CDATA section in SVG or MathML ends at "]]>"; elsewhere it is a bogus comment."""
    found = (_CDATA_END if foreign else _GT).search(html, start)
    return len(html) if found is None else found.end()


@functools.cache
def _skipping_search(names: frozenset[str]):
    """A search for the next token that matters when only ``names`` are wanted: text,
    comments and every other tag are passed over in one pattern, without a step of
    Python per tag. Tags that change how what follows is read are never passed over."""
    starts = _alternatives(names | _TEXT_CONTENT | FOREIGN)
    ends = _alternatives(names | FOREIGN)
    # Most frequent first: text, then tags; the rest is rare in mail.
    skip = re.compile(
        rf"""(?:
            [^<]++
          | <(?=[A-Za-z])(?!(?ai:{starts})[{_WS}/>])[^{_WS}/>]++{_ATTRIBUTES}>
          | </(?=[A-Za-z])(?!(?ai:{ends})[{_WS}/>])[^{_WS}/>]++{_ATTRIBUTES}>
          | <!--(?:-?>|.*?(?:--!?>|\Z))
          | <(?!!\[CDATA\[)[!?][^>]*+>?
          | </(?:[^A-Za-z>][^>]*+>?|>|\Z)
          | <(?![A-Za-z!?/])
        )*+""",
        re.VERBOSE | re.DOTALL,
    ).match
    token = _TOKEN.match

    def search(html: str, pos: int) -> re.Match[str] | None:
        # skip stops only at the end or at what _TOKEN reads as a token.
        return token(html, skip(html, pos).end())

    return search


def _alternatives(names: frozenset[str]) -> str:
    """A pattern for any of ``names``, grouped by first letter (``a(?:rea|)|body``): the
    regex engine then tries one branch per letter instead of one per name."""
    by_first: dict[str, list[str]] = {}
    for name in sorted(names):
        by_first.setdefault(name[0], []).append(re.escape(name[1:]))
    return "|".join(f"{re.escape(first)}(?:{'|'.join(rests)})" for first, rests in by_first.items())


class _Every:
    def __contains__(self, name: object) -> bool:
        return True


_EVERY = _Every()


def _content_end(html: str, name: str, start: int) -> int:
    """Where the text content of a RAWTEXT, RCDATA, script or PLAINTEXT element ends."""
    if name == "plaintext":
        return len(html)
    if name != "script":
        found = _end_tag(name).search(html, start)
        return len(html) if found is None else found.start()
    escaped = double = False
    for mark in _SCRIPT_MARKS.finditer(html, start):
        text = mark.group()
        if text.startswith("<!"):
            escaped = escaped or not double
        elif text == "-->":
            escaped = double = False
        elif mark.group(1):  # </script
            if not double:
                return mark.start()
            double = False
        elif escaped:  # <script inside an escaped section
            double = True
    return len(html)


@functools.cache
def _end_tag(name: str) -> re.Pattern[str]:
    return re.compile(rf"</{name}(?=[{_WS}/>])", re.IGNORECASE | re.ASCII)


def attributes(html: str, start: int, end: int) -> list[tuple[str, str | None, int, int]]:
    """The attributes of the start tag at [start, end): (lower-case name, raw value with
    its quotes or None, value start, value end). A repeated name is dropped, as browsers
    drop it."""
    pos = start + 1
    while pos < end and html[pos] not in "\t\n\f\r />":
        pos += 1
    found: list[tuple[str, str | None, int, int]] = []
    seen: set[str] = set()
    match_at = _ATTRIBUTE.match
    last = end - 1  # the ">"
    while pos < last:
        match = match_at(html, pos, last)
        if match is None or match.end() == pos:
            break
        name = match.group(1).lower()
        if name not in seen:
            seen.add(name)
            value_start, value_end = match.span(2)
            found.append((name, match.group(2), value_start, value_end))
        pos = match.end()
    return found


def unquote(raw: str) -> str:
    """A raw attribute value without its quotes."""
    if raw[:1] in ("'", '"'):
        return raw[1:-1]
    return raw


def attribute_value(raw: str) -> str:
    """The value a browser gives an attribute written ``raw`` (quotes included): character
    references decoded, except a named one without ";" before "=" or a letter or digit,
    which attributes keep as written (so ``?a=1&copy=2`` stays a query string)."""
    value = unquote(raw)
    if "&" not in value:
        return value
    plain = value.replace("&amp;", "&")
    if plain.count("&") == value.count("&amp;"):  # only &amp;, as in most query strings
        return plain
    return _REFERENCE.sub(functools.partial(_reference, value), value)


def _reference(value: str, match: re.Match[str]) -> str:
    name = match.group(1)
    if name is None:  # numeric: html.unescape follows the standard for these
        return unescape(match.group())
    if name.endswith(";") and name in _ENTITIES:
        return _ENTITIES[name]
    # Without ";": the longest legacy name that prefixes it, if the character after that
    # prefix is neither "=" nor alphanumeric.
    for length in range(len(name.rstrip(";")), 1, -1):
        if name[:length] in _ENTITIES:
            after = name[length:length + 1] or value[match.end():match.end() + 1]
            if after == "=" or after.isascii() and after.isalnum():
                return match.group()
            return _ENTITIES[name[:length]] + name[length:]
    return match.group()
