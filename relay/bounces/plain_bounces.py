"""Non-delivery notices written as prose, not RFC 3464: qmail, old Postfix, Exim, Exchange,
Gmail and Yahoo, each recognised by its fixed wording and read with regexes over the text.

Invariant: pure and bounded. Only the text handed in is examined (the caller caps it), every
pattern is anchored on a fixed phrase, and a text that matches no known shape gives None,
never a guess: a failure read from the wrong line would suppress the wrong address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from relay.delivery.outcome import MAX_REPLY, reply_line

#: An address as these notices print it: no spaces, brackets, quotes or separators. The
#: RFC 5321 length limits keep each attempt to match short, whatever the text around it.
_ADDRESS = r"[^\s<>()\[\]@,;:'\"]{1,64}@[^\s<>()\[\]@,;:'\"]{1,255}"
#: The rest of a paragraph: notices end each recipient's explanation with a blank line,
#: and qmail with its "--- Below this line" marker.
_PARAGRAPH = r"(.*?)(?=\n[ \t]*\n|\n--- |\Z)"
_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL

#: A basic SMTP code where a reply starts; "550-" is a continuation line of a long reply.
_BASIC = re.compile(r"(?<![\w.#\[-])([245]\d\d)(?=[ -]|$)", re.MULTILINE)
#: An RFC 3463 code anywhere, including qmail's "(#5.1.1)"; not part of an IP address.
_ENHANCED = re.compile(r"(?<![\w.])([245]\.\d{1,3}\.\d{1,3})(?!\.?\d)")
#: The basic code that repeats at the start of each line of a multi-line reply.
_LINE_CODE = re.compile(r"^\s*[245]\d\d[ -]", re.MULTILINE)

#: qmail, old Postfix and Yahoo: "<address>:" at the start of a line, then why.
_ANGLE_RECIPIENT = re.compile(rf"^<({_ADDRESS})>:", _FLAGS)
_ANGLE_REPLY = re.compile(rf"^<{_ADDRESS}>:[ \t]*\n?{_PARAGRAPH}", _FLAGS)


@dataclass(frozen=True)
class Reply:
    """What a remote server said: its codes if it gave them, and the reply on one line."""

    code: int | None
    status: str | None
    text: str


@dataclass(frozen=True)
class PlainFailure:
    """The first failed recipient of a prose notice and the reply given for it."""

    shape: str
    recipient: str
    reply: Reply


@dataclass(frozen=True)
class _Shape:
    name: str
    marker: re.Pattern[str]
    recipient: re.Pattern[str]
    #: Tried in order; the first is the remote server's own words, later ones the
    #: notice's paraphrase when the failure was local.
    replies: tuple[re.Pattern[str], ...]


def _shape(name: str, marker: str, recipient: str, *replies: str) -> _Shape:
    return _Shape(name, re.compile(marker, _FLAGS), re.compile(recipient, _FLAGS),
                  tuple(re.compile(reply, _FLAGS) for reply in replies))


_SHAPES = (
    _Shape("qmail", re.compile(r"This is the qmail-send program", _FLAGS),
           _ANGLE_RECIPIENT, (_ANGLE_REPLY,)),
    _Shape("postfix", re.compile(r"This is the mail system at host|^[ \t]*The mail system"
                                 r"[ \t]*$", _FLAGS), _ANGLE_RECIPIENT, (_ANGLE_REPLY,)),
    _Shape("yahoo", re.compile(r"unable to deliver your message to the following address",
                               _FLAGS), _ANGLE_RECIPIENT, (_ANGLE_REPLY,)),
    _shape("exim", r"This message was created automatically by mail delivery software",
           rf"following address(?:\(es\))? failed:\s*<?({_ADDRESS})",
           r"SMTP error from remote (?:mail )?server (?:after|for) [^\n]*?:\s+([245]\d\d"
           r"[ -].*?)(?=\n[ \t]*\n|\Z)",
           rf"following address(?:\(es\))? failed:\s*<?{_ADDRESS}>?[ \t]*\n{_PARAGRAPH}"),
    _shape("exchange", r"Delivery has failed to these recipients or groups:",
           rf"recipients or groups:.*?({_ADDRESS})",
           r"Remote Server returned '([^'\n]*)'",
           rf"recipients or groups:\s*[^\n]*\n{_PARAGRAPH}"),
    _shape("gmail", r"Delivery to the following recipients? failed permanently:",
           rf"failed permanently:\s*<?({_ADDRESS})",
           rf"The error that the other server returned was:\s*{_PARAGRAPH}",
           rf"Technical details of permanent failure:\s*{_PARAGRAPH}"),
)


def find_failure(text: str) -> PlainFailure | None:
    """The first failed recipient of a known prose notice, or None if it is not one."""
    text = text.replace("\r\n", "\n")
    for shape in _SHAPES:
        marker = shape.marker.search(text)
        if marker is None:
            continue
        # The recipient and the reason follow the notice's own opening, never precede it:
        # anything earlier is a quoted or forwarded text.
        body = text[marker.start():]
        recipient = shape.recipient.search(body)
        if recipient is None:
            continue
        for pattern in shape.replies:
            reason = pattern.search(body, recipient.start())
            if reason is not None and reason[1].strip():
                return PlainFailure(shape.name, recipient[1].rstrip("."), split_reply(reason[1]))
        return PlainFailure(shape.name, recipient[1].rstrip("."), split_reply(""))
    return None


def split_reply(text: str) -> Reply:
    """The codes of a reply found in prose, and the reply from its code on, on one line."""
    basic = _BASIC.search(text)
    if basic is None:
        status = _ENHANCED.search(text)
        line = " ".join(text.split())[:MAX_REPLY]
        return Reply(None, None if status is None else status[1], line)
    code = int(basic[1])
    # Gmail and others repeat "550-5.1.1" on every line; reply_line folds the repeats.
    rest = _LINE_CODE.sub("", text[basic.end():].lstrip(" -"))
    status = _ENHANCED.search(rest)
    return Reply(code, None if status is None else status[1], reply_line(code, rest))
