"""Edits to one HTML document: tag substitution, click tracking, markup before </body>.

Invariant: the output is the input with a few spans replaced, and every other character
kept. Where things are is decided by ``html.parser.HTMLParser`` (the tokenizer a
browser-like reader would use), never by searching the text for ``href``, so links in
comments, scripts or attribute values of other tags are not mistaken for links. An element
whose attributes this module reads differently from the parser is left as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from html import escape, unescape
from html.parser import HTMLParser, tagfind_tolerant
from typing import AnyStr

#: Tags whose ``href`` is a followable link.
LINK_TAGS = frozenset({"a", "area"})
#: Elements whose content the parser hands over as raw text: never markup, never shown.
RAW_TEXT = frozenset({"script", "style"})
#: Elements whose text cannot hold a link: markup there would show as text or nest links.
NO_LINKS = frozenset({"a", "title", "textarea"})
#: URL schemes that are tracked; all others (mailto, tel, data, custom apps) go as written.
TRACKED_SCHEMES = frozenset({"http", "https"})

# The tag name and the attributes of a start tag, as html.parser's tolerant grammar reads
# them (Python 3.11, `tagfind_tolerant` and `attrfind_tolerant`). Used only on the text of
# one start tag the parser has delimited, to learn where each value lies; the result is
# compared with the parser's own attribute list before anything is changed.
_TAG_NAME = re.compile(r"<[a-zA-Z][^\t\n\r\f />\x00]*(?:\s|/(?!>))*")
_ATTRIBUTE = re.compile(
    r"((?<=['\"\s/])[^\s/>][^\s/=>]*)(\s*=+\s*('[^']*'|\"[^\"]*\"|(?!['\"])[^>\s]*))?(?:\s|/(?!>))*"
)
# Characters a browser strips from the ends of a URL, and those it drops inside one.
_URL_TRIM = "".join(map(chr, range(0x21)))
_URL_DROP = str.maketrans("", "", "\t\n\r")
# Marks an attribute value holding a tag, which is replaced in the source text instead.
_TAGGED = "\x00tagged"


@dataclass(frozen=True)
class Tag:
    """A placeholder such as ``[Unsubscribe]``: the URL it stands for and its link text."""

    url: str
    label: str


def rewrite(
    html: str,
    *,
    tags: Mapping[str, Tag],
    track: Callable[[str], str] | None,
    keep: Container[str],
    closing: str,
) -> str:
    """``html`` with tags replaced, links tracked and ``closing`` added before </body>.

    ``track`` maps an original http(s) link to its tracked URL (None: no tracking);
    links in ``keep`` are never tracked. ``closing`` goes before the last </body> the
    parser sees, or at the end when there is none.
    """
    scanner = _Scanner(html, tags, track, keep)
    scanner.feed(html)
    # What feed() left unparsed (an unfinished tag at the end) is parsed again from 0.
    scanner.base = len(html) - len(scanner.rawdata)
    scanner.close()
    edits = scanner.edits
    if closing:
        at = len(html) if scanner.body_end is None else scanner.body_end
        edits.append((at, at, closing))
    return splice(html, edits)


def closing_markup(unsubscribe_url: str | None, pixel_url: str | None) -> str:
    """What goes before </body>: the injected unsubscribe footer, then the open pixel."""
    markup = ""
    if unsubscribe_url is not None:
        markup += f'<p><a href="{escape(unsubscribe_url)}">Unsubscribe</a></p>'
    if pixel_url is not None:
        markup += (
            f'<img src="{escape(pixel_url)}" width="1" height="1" alt=""'
            ' style="display:block;border:0;width:1px;height:1px">'
        )
    return markup


def splice(text: AnyStr, edits: list[tuple[int, int, AnyStr]]) -> AnyStr:
    """``text`` with each (start, end, replacement) applied; an overlapping edit is dropped."""
    edits.sort(key=lambda edit: edit[:2])
    out: list[AnyStr] = []
    pos = 0
    for start, end, new in edits:
        if start < pos:
            continue
        out += (text[pos:start], new)
        pos = end
    out.append(text[pos:])
    return text[:0].join(out)


class LinkIndex:
    """The distinct original links in first-seen order; one URL seen twice has one index."""

    def __init__(self, click_url: Callable[[int], str]) -> None:
        self.click_url = click_url
        self.urls: list[str] = []
        self._index: dict[str, int] = {}

    def track(self, url: str) -> str:
        """The tracked URL for ``url``: ``click_url`` of its index."""
        index = self._index.setdefault(url, len(self.urls))
        if index == len(self.urls):
            self.urls.append(url)
        return self.click_url(index)

    def forget(self, mark: int) -> None:
        """Drop the links found after ``mark``, for a part that goes out as written."""
        for url in self.urls[mark:]:
            del self._index[url]
        del self.urls[mark:]


def link_target(value: str) -> str | None:
    """The http(s) URL a browser would follow for an href value, else None."""
    url = value.strip(_URL_TRIM)
    if "\t" in url or "\n" in url or "\r" in url:
        url = url.translate(_URL_DROP)
    scheme, colon, _ = url[:6].partition(":")
    return url if colon and scheme.lower() in TRACKED_SCHEMES else None


class _Scanner(HTMLParser):
    """Collects the edits, with positions as offsets into the source text."""

    def __init__(self, html: str, tags: Mapping[str, Tag], track, keep) -> None:
        # Entity-decoded text comes in one piece up to the next "<", which makes text
        # spans easy to map back to the source.
        super().__init__(convert_charrefs=True)
        self.html = html
        # Tags absent from the document need no look at any text or attribute.
        self.tags = {marker: tag for marker, tag in tags.items() if marker in html}
        self.track = track
        self.keep = keep
        self.edits: list[tuple[int, int, str]] = []
        self.body_end: int | None = None
        self._open: dict[str, int] = dict.fromkeys(RAW_TEXT | NO_LINKS, 0)
        self._watched = RAW_TEXT | NO_LINKS | (LINK_TAGS if track is not None else frozenset())
        #: Offset of the current token: the whole document is fed at once, so the parser's
        #: index into its buffer is an index into `html` (plus `base` after close()).
        self.base = 0
        self._at = 0

    def updatepos(self, i: int, j: int) -> int:
        # Instead of the stdlib's line and column counting, which costs a scan of every
        # token for newlines: the absolute offset is all _offset needs.
        self._at = self.base + j
        return j

    def parse_starttag(self, i: int) -> int:
        """The stdlib's, but a tag that can need no edit is skipped without reading its
        attributes: most tags of a mail are <p>, <td>, <span>, and reading attributes is
        most of the parser's cost. The tokenizing itself (where the tag ends) is the
        stdlib's, so comments, scripts and odd markup are seen exactly as before."""
        match = tagfind_tolerant.match(self.rawdata, i + 1)
        if match is not None and match.group(1).lower() not in self._watched:
            end = self.check_for_whole_start_tag(i)
            if end < 0 or not self.tags or "[" not in self.rawdata[i:end]:
                if end >= 0:
                    self.lasttag = match.group(1).lower()
                return end
        return super().parse_starttag(i)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._open:
            self._open[tag] += 1
        if (self.track is not None and tag in LINK_TAGS) or (
            self.tags and "[" in (self.get_starttag_text() or "")
        ):
            changes = {}
            for position, (name, value) in enumerate(attrs):
                new = self._new_value(tag, name, value) if value else None
                if new is not None:
                    changes[position] = new
            if changes:
                self._edit_attributes(attrs, changes)

    def handle_endtag(self, tag: str) -> None:
        if self._open.get(tag):
            self._open[tag] -= 1
        elif tag == "body":
            self.body_end = self._offset()

    def handle_data(self, data: str) -> None:
        if not self.tags or "[" not in data or any(self._open[tag] for tag in RAW_TEXT):
            return
        if not any(marker in data for marker in self.tags):
            return
        start = self._offset()
        end = self.html.find("<", start + 1)
        end = len(self.html) if end < 0 else end
        as_text = any(self._open[tag] for tag in NO_LINKS)
        for marker, target in self.tags.items():
            url = escape(target.url)
            new = url if as_text else f'<a href="{url}">{escape(target.label)}</a>'
            found = self.html.find(marker, start, end)
            while found >= 0:
                self.edits.append((found, found + len(marker), new))
                found = self.html.find(marker, found + len(marker), end)

    def _new_value(self, tag: str, name: str, value: str) -> str | None:
        """What one attribute needs, from its parsed value: _TAGGED, a link to track, or None.

        A tag is replaced in the source text rather than in the parsed value, so the rest
        of the value keeps its spelling.
        """
        if self.tags and "[" in value and any(marker in value for marker in self.tags):
            return _TAGGED
        if self.track is None or name != "href" or tag not in LINK_TAGS:
            return None
        url = link_target(value)
        return None if url is None or url in self.keep else url

    def _edit_attributes(self, attrs, changes: dict[int, str]) -> None:
        """Record the changes, if the value spans read here agree with the parser's.

        Links are only tracked once the spans are known good, so every index handed
        out is a link that really is rewritten.
        """
        text = self.get_starttag_text() or ""
        spans = _attribute_spans(text)
        start = self._offset()
        if len(spans) != len(attrs) or not self.html.startswith(text, start):
            return
        for position in changes:
            name, raw, _ = spans[position]
            if raw is None or (name, unescape(_unquote(raw))) != attrs[position]:
                return
        for position, change in changes.items():
            _, raw, (begin, end) = spans[position]
            quote = raw[0] if raw[:1] in ("'", '"') else '"'
            if change is _TAGGED:
                new = _unquote(raw)
                for marker, target in self.tags.items():
                    new = new.replace(marker, escape(target.url))
            else:
                new = escape(self.track(change))
            self.edits.append((start + begin, start + end, quote + new + quote))

    def _offset(self) -> int:
        """Where the token being handled starts in the source."""
        return self._at


def _attribute_spans(text: str) -> list[tuple[str, str | None, tuple[int, int]]]:
    """(lower-case name, raw value or None, value span) for each attribute of a start tag."""
    match = _TAG_NAME.match(text)
    if match is None:
        return []
    spans = []
    pos = match.end()
    while pos < len(text):
        found = _ATTRIBUTE.match(text, pos)
        if found is None:
            break
        value = found.group(3) if found.group(2) else None
        spans.append((found.group(1).lower(), value, found.span(3)))
        pos = found.end()
    return spans


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in ("'", '"'):
        return raw[1:-1]
    return raw


