"""Verdicts: what a rule decides, as a value.

A rule never formats a reply: it names itself (`Rule`) and supplies the values the reply
needs (`args`). `relay/smtp/replies.py` turns that into the exact SMTP line, so the wording
lives in one table.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Rule(enum.StrEnum):
    """Every reason a transaction can be refused; the value is the name logged and counted."""

    MUST_AUTHENTICATE = "must_authenticate"
    DISALLOWED_CLIENT = "disallowed_client"
    DISALLOWED_SOURCE = "disallowed_source"
    NON_ASCII_ADDRESS = "non_ascii_address"
    INVALID_RECIPIENT = "invalid_recipient"
    ONE_RECIPIENT = "one_recipient"
    SIZE_EXCEEDED = "size_exceeded"
    ATTACHMENT = "attachment"
    UNSUBSCRIBE_REQUIRED = "unsubscribe_required"
    UNPARSEABLE = "unparseable"
    BARE_LINE_ENDING = "bare_line_ending"
    RATE_EXCEEDED = "rate_exceeded"


@dataclass(frozen=True)
class Verdict:
    """Accept (`rule is None`) or reject by `rule`, with the values its reply names."""

    rule: Rule | None = None
    args: dict[str, str] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.rule is None


#: The one accepting verdict; rules return it when they have nothing against the input.
ACCEPT = Verdict()


def reject(rule: Rule, **args: str) -> Verdict:
    return Verdict(rule=rule, args=args)
