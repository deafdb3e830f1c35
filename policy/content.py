"""Rules on what a message contains: attached files and the unsubscribe link.

Both decide on what the DATA parser already found (`MessageFacts`); neither reads the
message itself, so a parser change can never silently weaken a rule here.
"""

from __future__ import annotations

from policy.facts import AccountRules, MessageFacts, UnsubscribeMode
from policy.verdict import ACCEPT, Rule, Verdict, reject


def attachment_verdict(message: MessageFacts) -> Verdict:
    """Any attached file refuses the message: the relay is for transactional text and HTML."""
    if message.attachment is None:
        return ACCEPT
    return reject(Rule.ATTACHMENT, ext=message.attachment)


def unsubscribe_verdict(account: AccountRules, message: MessageFacts) -> Verdict:
    """In `require` mode the sender must place the link; the other modes never refuse."""
    if account.unsubscribe is UnsubscribeMode.REQUIRE and not message.has_unsubscribe_tag:
        return reject(Rule.UNSUBSCRIBE_REQUIRED)
    return ACCEPT
