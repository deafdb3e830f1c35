"""Edits to one HTML document: tag substitution, click tracking, markup before </body>.

Invariant: the output is the input with a few spans replaced, and every other character
kept. Where things are is decided by the HTML tokenizer of ``html_tokens`` (as a browser
reads the markup), never by searching the text for ``href``, so links in comments,
scripts or attribute values of other tags are not mistaken for links.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from html import escape
from typing import AnyStr

from relay.delivery.html_tokens import END, START, attribute_value, attributes, tokens, unquote

#: Tags whose ``href`` is a followable link.
LINK_TAGS = frozenset({"a", "area"})
#: What the tokenizer must report when there is no tag to replace: links and </body>.
_LINKS_AND_BODY = LINK_TAGS | {"body"}
_BODY = frozenset({"body"})
#: Elements whose text cannot hold a link: a tag there becomes its URL as text.
NO_LINKS = frozenset({"title", "textarea"})
#: URL schemes that are tracked; all others (mailto, tel, data, custom apps) go as written.
TRACKED_SCHEMES = frozenset({"http", "https"})

# Characters a browser strips from the ends of a URL, and those it drops inside one.
_URL_TRIM = "".join(map(chr, range(0x21)))
_URL_DROP = str.maketrans("", "", "\t\n\r")


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
    tags = {marker: tag for marker, tag in tags.items() if marker in html}
    edits: list[tuple[int, int, str]] = []
    body_end: int | None = None
    in_link = False  # links do not nest: a tag inside <a> becomes its URL as text
    # Without tags to replace, only links and </body> matter.
    names = None if tags else _LINKS_AND_BODY if track is not None else _BODY
    for kind, name, start, end in tokens(html, text=bool(tags), names=names):
        if kind is START:
            if name == "a":
                in_link = True
            if (track is not None and name in LINK_TAGS) or (
                tags and html.find("[", start, end) >= 0
            ):
                edits += _attribute_edits(html, name, start, end, tags, track, keep)
        elif kind is END:
            if name == "a":
                in_link = False
            elif name == "body":
                body_end = start
        elif html.find("[", start, end) >= 0:
            edits += _text_edits(html, start, end, tags, in_link or name in NO_LINKS)
    if closing:
        at = len(html) if body_end is None else body_end
        edits.append((at, at, closing))
    return splice(html, edits)


def _attribute_edits(html, tag, start, end, tags, track, keep) -> list[tuple[int, int, str]]:
    """A tag in any attribute value becomes its URL, written into the value as it stands;
    the href of a link tag is tracked unless it is to be kept."""
    edits = []
    for name, raw, value_start, value_end in attributes(html, start, end):
        if not raw:
            continue
        quote = raw[0] if raw[0] in ("'", '"') else '"'
        if tags and any(marker in raw for marker in tags):
            new = unquote(raw)
            for marker, target in tags.items():
                new = new.replace(marker, escape(target.url))
        elif track is not None and name == "href" and tag in LINK_TAGS:
            url = link_target(attribute_value(raw))
            if url is None or url in keep:
                continue
            new = escape(track(url))
        else:
            continue
        edits.append((value_start, value_end, quote + new + quote))
    return edits


def _text_edits(html, start, end, tags, as_text: bool) -> list[tuple[int, int, str]]:
    """Each tag in a run of text becomes a link, or its bare URL where no link can go."""
    edits = []
    for marker, target in tags.items():
        url = escape(target.url)
        new = url if as_text else f'<a href="{url}">{escape(target.label)}</a>'
        found = html.find(marker, start, end)
        while found >= 0:
            edits.append((found, found + len(marker), new))
            found = html.find(marker, found + len(marker), end)
    return edits


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


def link_target(value: str) -> str | None:
    """The http(s) URL a browser would follow for an href value, else None."""
    url = value.strip(_URL_TRIM)
    if "\t" in url or "\n" in url or "\r" in url:
        url = url.translate(_URL_DROP)
    scheme, colon, _ = url[:6].partition(":")
    return url if colon and scheme.lower() in TRACKED_SCHEMES else None
