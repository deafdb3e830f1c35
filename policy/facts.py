"""Facts the rules decide on: frozen values gathered by the SMTP front end.

Everything here is plain data with no behaviour beyond cheap derived views, so the
rules stay pure and can be tested from tables.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network


class UnsubscribeMode(enum.StrEnum):
    INJECT = "inject"
    REQUIRE = "require"
    OFF = "off"


@dataclass(frozen=True)
class AccountRules:
    """An account's sending rules as stored; read fresh for every transaction."""

    name: str
    timezone: str = "UTC"
    #: Lower-cased confirmed senders: full addresses and whole domains as "@domain".
    senders: frozenset[str] = frozenset()
    #: The IP allowlist; empty allows every address.
    networks: tuple[IPv4Network | IPv6Network, ...] = ()
    #: Messages per minute; 0 means no limit.
    rate: int = 0
    unsubscribe: UnsubscribeMode = UnsubscribeMode.INJECT
    track_opens: bool = True
    track_clicks: bool = True


@dataclass(frozen=True)
class SessionFacts:
    """One SMTP connection as the rules see it."""

    client_ip: str
    tls: bool
    #: The authenticated account, or None before a successful AUTH.
    account: AccountRules | None = None


@dataclass(frozen=True)
class MailFacts:
    """The MAIL command: envelope sender, declared SIZE and SMTPUTF8 flag."""

    sender: str
    declared_size: int | None = None
    smtputf8: bool = False


@dataclass(frozen=True)
class RateFacts:
    """Accepted-message counts of the current and previous one-minute windows."""

    current: int = 0
    previous: int = 0
    #: How far into the current window we are, 0.0 to 1.0.
    elapsed: float = 0.0


@dataclass(frozen=True)
class MessageFacts:
    """What the DATA parser found in a message; see relay/smtp/message_facts.py."""

    #: addr-specs of every mailbox in the From: header, as written.
    from_addresses: tuple[str, ...]
    #: The first attached file: its extension (lower case, no dot) or MIME type; None if none.
    attachment: str | None = None
    #: True when a text/plain or text/html body part contains the `[Unsubscribe]` tag.
    has_unsubscribe_tag: bool = False
    subject: str = ""
