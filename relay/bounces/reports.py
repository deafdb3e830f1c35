"""Reports about sent mail that arrive by mail, read into values: a bounce (RFC 3464 DSN or a
known prose notice), a complaint (RFC 5965 ARF), an auto-reply to ignore, or unreadable.

Invariants:
- `parse_report` never raises: whatever the bytes, the answer is one of the four values,
  and an unexpected failure inside becomes `Unparseable` with why;
- work is bounded: the input, the parts walked and the text examined per part are capped,
  so a 5 MB line or a thousand nested multiparts costs no more than a normal report;
- hard or soft is decided only by `relay.delivery.outcome.is_hard_bounce`, the same rule
  as for replies seen during delivery, so a report never suppresses what a reply would not.
"""

from __future__ import annotations

import contextlib
import email
import email.header
import email.utils
import re
from dataclasses import dataclass
from email.message import Message

from relay.bounces.plain_bounces import Reply, find_failure, split_reply
from relay.delivery.outcome import is_hard_bounce


@dataclass(frozen=True)
class BounceReport:
    """A recipient the message could not be delivered to; `hard` suppresses the address."""

    recipient: str | None
    status: str
    diagnostic: str
    hard: bool
    action: str


@dataclass(frozen=True)
class ComplaintReport:
    """A recipient who reported the message (ARF); a complaint always suppresses."""

    recipient: str | None
    feedback_type: str
    user_agent: str


@dataclass(frozen=True)
class Ignored:
    """Automatic mail that says nothing about deliverability: auto-replies, delays, relays."""

    reason: str


@dataclass(frozen=True)
class Unparseable:
    """Not a report this module can read, and why; the listener logs it for the operator."""

    reason: str


Report = BounceReport | ComplaintReport | Ignored | Unparseable

#: Bytes read: the report parts come before the returned message (RFC 3464 section 2), so
#: the start of a huge report still holds everything used.
MAX_INPUT = 1024 * 1024
#: Text examined per part: notices put the failed recipients in their first lines.
MAX_TEXT = 64 * 1024
#: MIME parts visited: a report has three or four.
MAX_PARTS = 64
#: Nested containers allowed before parsing, since the stdlib parser recurses per level.
MAX_CONTAINERS = 32

_CONTAINER = re.compile(rb"content-type:\s*(?:multipart|message)/", re.IGNORECASE)
_ENHANCED_STATUS = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")
_DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
_FEEDBACK_TYPES = ("message/feedback-report",)
_ORIGINAL_TYPES = ("message/rfc822", "text/rfc822-headers", "message/global",
                   "message/global-headers")
#: Subjects of auto-replies from servers that do not set RFC 3834's Auto-Submitted.
_AUTO_REPLY_SUBJECT = re.compile(
    r"out of (?:the )?office|^\s*(?:auto(?:matic)?[ -]?reply|auto[ -]?response|vacation)\b",
    re.IGNORECASE)


def parse_report(raw: bytes) -> Report:
    """Read one report; any failure inside is an `Unparseable`, never an exception."""
    try:
        return _parse(raw)
    except Exception as error:  # the invariant: callers never see an exception
        return Unparseable(f"{type(error).__name__}: {str(error)[:200]}")


def _parse(raw: bytes) -> Report:
    raw = bytes(raw[:MAX_INPUT])
    if not raw.strip():
        return Unparseable("empty input")
    if len(_CONTAINER.findall(raw)) > MAX_CONTAINERS:
        return Unparseable(f"more than {MAX_CONTAINERS} nested MIME containers")
    message = email.message_from_bytes(raw)
    if not message.keys():
        return Unparseable("no mail header fields")
    parts = _parts(message)
    for part in parts:
        if part.get_content_type() in _DSN_TYPES:
            return _from_dsn(part)
    for part in parts:
        if part.get_content_type() in _FEEDBACK_TYPES:
            return _from_feedback(part, parts)
    for part in parts:
        if part.get_content_type() == "text/plain":
            failure = find_failure(_text(part))
            if failure is not None:
                return _bounce(failure.recipient, failure.reply, None, "failed")
    if _is_auto_reply(message):
        return Ignored("auto-reply")
    return Unparseable("not a delivery report, complaint or auto-reply")


def _parts(message: Message) -> list[Message]:
    """The message's parts, breadth first, not entering attached messages, at most MAX_PARTS.

    An attached original is the mail we sent: its text must never be read as the report.
    """
    found: list[Message] = []
    queue = [message]
    while queue and len(found) < MAX_PARTS:
        part = queue.pop(0)
        found.append(part)
        if part.is_multipart() and part.get_content_maintype() == "multipart":
            queue.extend(item for item in part.get_payload() if isinstance(item, Message))
    return found


def _text(part: Message) -> str:
    """A text part decoded from its transfer encoding and charset, at most MAX_TEXT long."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    payload = payload[: MAX_TEXT * 4]
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, "replace")
    except LookupError:
        text = payload.decode("utf-8", "replace")
    return text[:MAX_TEXT]


def _field(block: Message, name: str) -> str:
    value = block.get(name)
    return "" if value is None else " ".join(str(value).split())


def _blocks(part: Message) -> list[Message]:
    """The field groups of a delivery-status or feedback-report part.

    The stdlib parses message/delivery-status into groups, and other message/* types into
    one message whose body may hold more groups; an encoded part arrives as plain text.
    """
    payload = part.get_payload()
    if not isinstance(payload, list):
        return _split_blocks(_text(part))
    blocks: list[Message] = []
    for item in payload[:MAX_PARTS]:
        if isinstance(item, Message):
            blocks.append(item)
            body = item.get_payload()
            if isinstance(body, str) and body.strip():
                blocks.extend(_split_blocks(body[:MAX_TEXT]))
    return blocks


def _split_blocks(text: str) -> list[Message]:
    groups = re.split(r"\r?\n[ \t]*\r?\n", text.strip())[:MAX_PARTS]
    return [email.message_from_string(group) for group in groups if group.strip()]


def _from_dsn(part: Message) -> Report:
    """The first failed recipient of a DSN; delays and successes are not bounces."""
    recipients = [block for block in _blocks(part) if _field(block, "Action")]
    if not recipients:
        return Unparseable("delivery-status without per-recipient fields")
    actions = [_field(block, "Action").lower().split()[0] for block in recipients]
    for block, action in zip(recipients, actions, strict=True):
        if action == "failed":
            return _dsn_bounce(block)
    if "delayed" in actions:
        return Ignored("delayed")
    return Ignored(f"delivery status {actions[0]}")


def _dsn_bounce(block: Message) -> BounceReport:
    recipient = _address_field(block, "Original-Recipient") or _address_field(
        block, "Final-Recipient")
    diagnostic = _field(block, "Diagnostic-Code")
    kind, separator, text = diagnostic.partition(";")
    # "smtp; 550 ..." names the reply's type; anything else is the reply itself.
    if separator and " " not in kind.strip():
        diagnostic = text.strip()
    status = _ENHANCED_STATUS.search(_field(block, "Status"))
    return _bounce(recipient, split_reply(diagnostic), status and status[0], "failed")


def _address_field(block: Message, name: str) -> str | None:
    """The address of an "rfc822; someone@example.com" field, if it holds one."""
    value = _field(block, name)
    address = value.partition(";")[2] if ";" in value else value
    address = address.strip().strip("<>").strip()
    return address if "@" in address else None


def _bounce(recipient: str | None, reply: Reply, status: str | None,
            action: str) -> BounceReport:
    """Classify one failure with the delivery rule; the DSN's own Status outranks the reply."""
    status = status or reply.status
    if status is None:
        status = f"{reply.code // 100}.0.0" if reply.code else "5.0.0"
    klass = int(status[0])
    code = reply.code if reply.code and reply.code // 100 == klass else klass * 100 + 50
    hard = is_hard_bounce(code, f"{status} {reply.text}")
    return BounceReport(recipient, status, reply.text, hard, action)


def _from_feedback(part: Message, parts: list[Message]) -> Report:
    fields = next((block for block in _blocks(part) if _field(block, "Feedback-Type")), None)
    if fields is None:
        return Unparseable("feedback-report without Feedback-Type")
    recipient = (_first_address(_field(fields, "Original-Rcpt-To"))
                 or _first_address(_field(fields, "Removal-Recipient"))
                 or _original_to(parts))
    return ComplaintReport(recipient, _field(fields, "Feedback-Type").lower(),
                           _field(fields, "User-Agent"))


def _original_to(parts: list[Message]) -> str | None:
    """The To of the reported message, attached whole or as its header fields."""
    for part in parts:
        if part.get_content_type() not in _ORIGINAL_TYPES:
            continue
        blocks = _blocks(part)
        if blocks:
            return _first_address(_field(blocks[0], "To"))
    return None


def _first_address(value: str) -> str | None:
    addresses = [address for _, address in email.utils.getaddresses([value]) if "@" in address]
    return addresses[0] if addresses else None


def _is_auto_reply(message: Message) -> bool:
    """RFC 3834's Auto-Submitted, the older X-Autoreply family, or a vacation subject."""
    if _field(message, "Auto-Submitted").lower().startswith("auto-replied"):
        return True
    if any(_field(message, name) for name in ("X-Autoreply", "X-Autorespond")):
        return True
    subject = _field(message, "Subject")
    # A malformed encoded word leaves the subject as it came.
    with contextlib.suppress(Exception):
        subject = str(email.header.make_header(email.header.decode_header(subject)))
    return bool(_AUTO_REPLY_SUBJECT.search(subject))
