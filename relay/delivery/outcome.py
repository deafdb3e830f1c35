"""What one delivery attempt came to: delivered, deferred or bounced, with the reply that says why.

Pure: replies and exceptions in, values out. This is the one place where aiosmtplib, socket,
ssl, DNS and timeout exceptions become an `Outcome` (like Postfix's `smtp_trouble.c`); the
transports never classify a failure themselves. Every exception maps to some Outcome, and
anything not recognised defers, so a surprise can delay a message but never drop it.
"""

from __future__ import annotations

import enum
import re
import ssl
from dataclasses import dataclass

import aiosmtplib
import dns.exception

from relay.delivery.mx import DnsTemporaryError, NoSuchDomain, NullMx


class Kind(enum.StrEnum):
    DELIVERED = "delivered"
    DEFERRED = "deferred"
    BOUNCED = "bounced"


@dataclass(frozen=True)
class Outcome:
    """The result of one attempt; `reply` is the remote's reply on one line, or ours."""

    kind: Kind
    reply: str
    #: Bounced only: the mailbox or domain does not exist, so the address is suppressed.
    hard: bool = False
    #: Who answered, as Postfix logs it (`mx1.example.com[192.0.2.1]:25`); "" if nobody did.
    remote: str = ""


#: Longest reply kept: enough for Gmail's four-line explanations, bounded for the event log.
MAX_REPLY = 1000

#: RFC 3463 enhanced status code at the start of a reply line.
_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)")
#: qmail and its descendants put the code at the end instead: "... by that name. (#5.1.1)".
_QMAIL_ENHANCED = re.compile(r"\(#([245])\.(\d{1,3})\.(\d{1,3})\)")

#: Texts that say "this mailbox or domain does not exist" in replies with no specific
#: enhanced code (Exim, Yahoo, qmail, old sendmail, hand-written policy servers).
_NO_SUCH_ADDRESS = re.compile(
    r"user unknown|unknown user|unknown recipient|recipient unknown|unknown mailbox"
    r"|mailbox unknown|no such (user|mailbox|recipient|account|address|domain)"
    r"|recipient ?not ?found|recip ?not ?found|mailbox not found|no mailbox here"
    r"|(mailbox|address|account|user|recipient|domain) (does not|doesn't) exist"
    r"|(does not|doesn't) have an? \S+ account|invalid (recipient|mailbox)"
    r"|not a valid (mailbox|recipient|user)|domain not found|unroute?able address",
    re.IGNORECASE,
)

#: A reply about our return path, not the recipient: "Sender address rejected: Domain not
#: found" must never suppress the recipient.
_ABOUT_SENDER = re.compile(r"sender", re.IGNORECASE)

#: Enhanced codes that are about the sender although their class is "address" (RFC 3463).
_SENDER_DETAILS = {7, 8}


def from_reply(code: int, text: str, *, remote: str = "") -> Outcome:
    """Classify a final SMTP reply: 2xx delivered, 5xx bounced, everything else deferred."""
    reply = reply_line(code, text)
    if 200 <= code <= 299:
        return Outcome(Kind.DELIVERED, reply, remote=remote)
    if 500 <= code <= 599:
        return Outcome(Kind.BOUNCED, reply, hard=is_hard_bounce(code, text), remote=remote)
    # 4xx, and the nonsense codes a broken server can send: retrying is the safe reading.
    return Outcome(Kind.DEFERRED, reply, remote=remote)


def is_hard_bounce(code: int, text: str) -> bool:
    """A permanent failure saying the mailbox or domain does not exist (5.1.x, not sender)."""
    if not 500 <= code <= 599:
        return False
    enhanced = enhanced_code(text)
    # x.0.0 and x.1.0 say nothing specific, so the words decide, as with no code at all.
    if enhanced is not None and enhanced[1:] not in ((0, 0), (1, 0)):
        return enhanced[1] == 1 and enhanced[2] not in _SENDER_DETAILS
    return bool(_NO_SUCH_ADDRESS.search(text)) and not _ABOUT_SENDER.search(text)


def enhanced_code(text: str) -> tuple[int, int, int] | None:
    """The RFC 3463 code of a reply text (without its basic code), if it carries one."""
    match = _ENHANCED.match(text.strip()) or _QMAIL_ENHANCED.search(text)
    return None if match is None else (int(match[1]), int(match[2]), int(match[3]))


def reply_line(code: int, text: str) -> str:
    """`code text` on one line; a multi-line reply's repeated enhanced codes are dropped."""
    # aiosmtplib decodes with surrogateescape; those surrogates cannot be stored as UTF-8.
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return str(code)
    first = _ENHANCED.match(lines[0])
    if first is not None:
        lines[1:] = [line.removeprefix(first[0]).strip() for line in lines[1:]]
    line = " ".join(part for part in lines if part)
    line = "".join(char if char.isprintable() else " " for char in line)
    if len(line) > MAX_REPLY:
        line = line[: MAX_REPLY - 3] + "..."
    return f"{code} {line}"


def from_exception(error: BaseException, *, remote: str = "") -> Outcome:
    """Translate any failure of an attempt into an Outcome; unknown failures defer."""
    for kinds, translate in _TRANSLATIONS:
        if isinstance(error, kinds):
            return translate(error, remote)
    return _deferred(f"451 4.3.0 Unexpected delivery error: {_describe(error)}", remote)


def _deferred(reply: str, remote: str) -> Outcome:
    return Outcome(Kind.DEFERRED, reply, remote=remote)


def _describe(error: BaseException) -> str:
    detail = str(error).strip()
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


def _at(remote: str) -> str:
    return f" {remote}" if remote else " the remote server"


def _null_mx(error: NullMx, remote: str) -> Outcome:
    return Outcome(Kind.BOUNCED, "556 5.1.10 Recipient domain has a null MX", hard=True)


def _no_such_domain(error: NoSuchDomain, remote: str) -> Outcome:
    return Outcome(Kind.BOUNCED, "550 5.1.2 Recipient domain does not exist", hard=True)


def _dns_temporary(error: BaseException, remote: str) -> Outcome:
    detail = str(error) if isinstance(error, DnsTemporaryError) else _describe(error)
    return _deferred(f"451 4.4.3 DNS lookup failed: {detail}", remote)


def _credentials(error: aiosmtplib.SMTPAuthenticationError, remote: str) -> Outcome:
    # A refused login is our configuration, not the recipient's address: bouncing would
    # blame (and possibly suppress) every recipient while the operator fixes a password.
    said = reply_line(error.code, error.message)
    return _deferred(f"451 4.7.8 Smarthost{_at(remote)} refused the relay's credentials "
                     f"({said}); check TIDINGS_DELIVERY", remote)


def _session_setup(error: aiosmtplib.SMTPResponseException, remote: str) -> Outcome:
    # A 5xx greeting or EHLO rejection is about this server or our name, not the
    # recipient; like Postfix's smtp_skip_5xx_greeting it is worth another try later.
    return _deferred(reply_line(error.code, error.message), remote)


def _sender_refused(error: aiosmtplib.SMTPSenderRefused, remote: str) -> Outcome:
    # A 5.1.x at MAIL FROM is about our return path; it must never suppress the recipient.
    outcome = from_reply(error.code, error.message, remote=remote)
    return Outcome(outcome.kind, outcome.reply, hard=False, remote=remote)


def _reply(error: aiosmtplib.SMTPResponseException, remote: str) -> Outcome:
    return from_reply(error.code, error.message, remote=remote)


def _connect(error: aiosmtplib.SMTPConnectError, remote: str) -> Outcome:
    if isinstance(error.__cause__, ConnectionRefusedError):
        return _deferred(f"451 4.4.1 Connection refused by{_at(remote)}", remote)
    cause = error.__cause__ if isinstance(error.__cause__, OSError) else error
    return _deferred(f"451 4.4.1 Cannot connect to{_at(remote)}: {_os_detail(cause)}", remote)


def _connect_timeout(error: BaseException, remote: str) -> Outcome:
    return _deferred(f"451 4.4.1 Connection timed out to{_at(remote)}", remote)


def _disconnected(error: BaseException, remote: str) -> Outcome:
    if isinstance(error, aiosmtplib.SMTPException):
        detail = error.message
    else:
        detail = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    said = f" ({detail})" if detail and detail.lower() != "connection lost" else ""
    return _deferred(f"451 4.4.2 Connection lost with{_at(remote)}{said}", remote)


def _timeout(error: BaseException, remote: str) -> Outcome:
    if remote:
        return _deferred(f"451 4.4.2 Timed out waiting for {remote}", remote)
    return _deferred("451 4.4.7 Delivery attempt timed out", remote)


def _tls(error: ssl.SSLError, remote: str) -> Outcome:
    # Only errors raised by OpenSSL itself carry a reason.
    reason = getattr(error, "reason", None) or _describe(error)
    return _deferred(f"451 4.7.5 TLS handshake failed with{_at(remote)}: {reason}", remote)


def _smtp_other(error: aiosmtplib.SMTPException, remote: str) -> Outcome:
    return _deferred(f"451 4.3.0 SMTP error with{_at(remote)}: {error.message}", remote)


def _local(error: OSError, remote: str) -> Outcome:
    return _deferred(f"451 4.3.0 Local error: {_os_detail(error)}", remote)


def _os_detail(error: OSError) -> str:
    if error.strerror:
        name = f": {error.filename}" if error.filename else ""
        return f"{error.strerror}{name}"
    return _describe(error)


#: Ordered: the first matching type wins, so subclasses come before their bases (aiosmtplib's
#: connect timeout is both a timeout and a connect error; its disconnect is a ConnectionError).
_TRANSLATIONS = (
    (NullMx, _null_mx),
    (NoSuchDomain, _no_such_domain),
    ((DnsTemporaryError, dns.exception.Timeout, dns.exception.DNSException), _dns_temporary),
    (aiosmtplib.SMTPAuthenticationError, _credentials),
    ((aiosmtplib.SMTPConnectResponseError, aiosmtplib.SMTPHeloError), _session_setup),
    (aiosmtplib.SMTPSenderRefused, _sender_refused),
    (aiosmtplib.SMTPResponseException, _reply),
    (aiosmtplib.SMTPConnectTimeoutError, _connect_timeout),
    (aiosmtplib.SMTPConnectError, _connect),
    (aiosmtplib.SMTPServerDisconnected, _disconnected),
    (TimeoutError, _timeout),
    (ssl.SSLError, _tls),
    (aiosmtplib.SMTPException, _smtp_other),
    (ConnectionError, _disconnected),
    (OSError, _local),
)
