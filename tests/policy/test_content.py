import pytest

from policy.content import attachment_verdict, unsubscribe_verdict
from policy.facts import AccountRules, MessageFacts, UnsubscribeMode
from policy.verdict import ACCEPT, Rule, reject


@pytest.mark.parametrize(
    ("attachment", "expected"),
    [
        (None, ACCEPT),
        ("pdf", reject(Rule.ATTACHMENT, ext="pdf")),
        ("image/png", reject(Rule.ATTACHMENT, ext="image/png")),
    ],
)
def test_attachment_verdict(attachment, expected):
    message = MessageFacts(from_addresses=("a@example.com",), attachment=attachment)
    assert attachment_verdict(message) == expected


@pytest.mark.parametrize(
    ("mode", "has_tag", "expected"),
    [
        (UnsubscribeMode.REQUIRE, False, reject(Rule.UNSUBSCRIBE_REQUIRED)),
        (UnsubscribeMode.REQUIRE, True, ACCEPT),
        (UnsubscribeMode.INJECT, False, ACCEPT),
        (UnsubscribeMode.INJECT, True, ACCEPT),
        (UnsubscribeMode.OFF, False, ACCEPT),
        (UnsubscribeMode.OFF, True, ACCEPT),
    ],
)
def test_unsubscribe_verdict(mode, has_tag, expected):
    account = AccountRules(name="shop", unsubscribe=mode)
    message = MessageFacts(from_addresses=("a@example.com",), has_unsubscribe_tag=has_tag)
    assert unsubscribe_verdict(account, message) == expected
