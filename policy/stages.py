"""The three SMTP stages as ordered tuples of named rules: MAIL, RCPT and end of DATA.

Each stage runs its rules in SPEC order and answers with the first verdict that refuses,
or ACCEPT when none does; the order of a tuple is therefore behaviour, and changing it
changes which reply a client sees. Rules after `require_auth` may rely on an account.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from policy.content import attachment_verdict, unsubscribe_verdict
from policy.facts import AccountRules, MailFacts, MessageFacts, RateFacts, SessionFacts
from policy.network import ip_allowed
from policy.rate import rate_exceeded
from policy.recipients import is_valid_address
from policy.senders import is_confirmed
from policy.size import size_exceeded
from policy.verdict import ACCEPT, Rule, Verdict, reject

Facts = TypeVar("Facts")


def run_rules(rules: Sequence[Callable[[Facts], Verdict]], facts: Facts) -> Verdict:
    for rule in rules:
        verdict = rule(facts)
        if not verdict.accepted:
            return verdict
    return ACCEPT


@dataclass(frozen=True)
class _Session:
    session: SessionFacts

    @property
    def account(self) -> AccountRules:
        account = self.session.account
        if account is None:
            # Reaching here means a tuple lost require_auth at its head: fail closed.
            raise RuntimeError("rule needs an authenticated session; require_auth must run first")
        return account


@dataclass(frozen=True)
class MailInput(_Session):
    mail: MailFacts
    rate: RateFacts
    max_size: int


@dataclass(frozen=True)
class RcptInput(_Session):
    address: str
    smtputf8: bool
    accepted_so_far: int


@dataclass(frozen=True)
class DataInput:
    account: AccountRules
    message: MessageFacts
    size: int
    max_size: int


def require_auth(facts: _Session) -> Verdict:
    return reject(Rule.MUST_AUTHENTICATE) if facts.session.account is None else ACCEPT


def client_ip_allowed(facts: MailInput) -> Verdict:
    if ip_allowed(facts.session.client_ip, facts.account.networks):
        return ACCEPT
    return reject(Rule.DISALLOWED_CLIENT, ip=facts.session.client_ip)


def sender_ascii_or_smtputf8(facts: MailInput) -> Verdict:
    """RFC 6531: a non-ASCII address is only legal in a transaction that declared SMTPUTF8."""
    sender = facts.mail.sender
    if sender.isascii() or facts.mail.smtputf8:
        return ACCEPT
    return reject(Rule.NON_ASCII_ADDRESS, address=sender)


def envelope_sender_confirmed(facts: MailInput) -> Verdict:
    sender = facts.mail.sender
    if is_confirmed(sender, facts.account.senders):
        return ACCEPT
    return reject(Rule.DISALLOWED_SOURCE, address=sender)


def declared_size_ok(facts: MailInput) -> Verdict:
    if size_exceeded(facts.mail.declared_size, max_size=facts.max_size):
        return reject(Rule.SIZE_EXCEEDED)
    return ACCEPT


def under_send_rate(facts: MailInput) -> Verdict:
    if rate_exceeded(facts.account.rate, facts.rate):
        return reject(Rule.RATE_EXCEEDED)
    return ACCEPT


def single_recipient(facts: RcptInput) -> Verdict:
    """One recipient per transaction, so every message is rendered and tracked for one person."""
    return reject(Rule.ONE_RECIPIENT) if facts.accepted_so_far >= 1 else ACCEPT


def recipient_valid(facts: RcptInput) -> Verdict:
    if is_valid_address(facts.address, smtputf8=facts.smtputf8):
        return ACCEPT
    return reject(Rule.INVALID_RECIPIENT, address=facts.address)


def message_size_ok(facts: DataInput) -> Verdict:
    if size_exceeded(facts.size, max_size=facts.max_size):
        return reject(Rule.SIZE_EXCEEDED)
    return ACCEPT


def from_header_confirmed(facts: DataInput) -> Verdict:
    """Every From: mailbox must be confirmed; a message without one has no confirmed source."""
    addresses = facts.message.from_addresses or ("",)
    for address in addresses:
        if not is_confirmed(address, facts.account.senders):
            return reject(Rule.DISALLOWED_SOURCE, address=address)
    return ACCEPT


def attachment_ok(facts: DataInput) -> Verdict:
    return attachment_verdict(facts.message)


def unsubscribe_link_present(facts: DataInput) -> Verdict:
    return unsubscribe_verdict(facts.account, facts.message)


MAIL_RULES: tuple[Callable[[MailInput], Verdict], ...] = (
    require_auth,
    client_ip_allowed,
    sender_ascii_or_smtputf8,
    envelope_sender_confirmed,
    declared_size_ok,
    under_send_rate,
)
RCPT_RULES: tuple[Callable[[RcptInput], Verdict], ...] = (
    require_auth,
    single_recipient,
    recipient_valid,
)
DATA_RULES: tuple[Callable[[DataInput], Verdict], ...] = (
    message_size_ok,
    from_header_confirmed,
    attachment_ok,
    unsubscribe_link_present,
)


def check_mail(
    session: SessionFacts, mail: MailFacts, rate: RateFacts, *, max_size: int
) -> Verdict:
    return run_rules(MAIL_RULES, MailInput(session, mail, rate, max_size))


def check_rcpt(
    session: SessionFacts, address: str, *, smtputf8: bool, accepted_so_far: int
) -> Verdict:
    return run_rules(RCPT_RULES, RcptInput(session, address, smtputf8, accepted_so_far))


def check_data(
    account: AccountRules, message: MessageFacts, *, size: int, max_size: int
) -> Verdict:
    return run_rules(DATA_RULES, DataInput(account, message, size, max_size))
