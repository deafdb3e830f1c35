"""Each stage refuses with the first failing rule, in SPEC order, with the SPEC reply."""

from dataclasses import replace
from ipaddress import ip_network

import pytest

from policy.facts import (
    AccountRules,
    MailFacts,
    MessageFacts,
    RateFacts,
    SessionFacts,
    UnsubscribeMode,
)
from policy.stages import check_data, check_mail, check_rcpt
from policy.verdict import ACCEPT, Rule
from relay.smtp.replies import for_verdict

MAX = 512_000
ACCOUNT = AccountRules(
    name="shop",
    senders=frozenset({"news@shop.example", "@example.com"}),
    networks=(ip_network("192.0.2.0/24"), ip_network("2001:db8::/32")),
    rate=60,
    unsubscribe=UnsubscribeMode.REQUIRE,
)
SESSION = SessionFacts(client_ip="192.0.2.10", tls=True, account=ACCOUNT)
MAIL = MailFacts(sender="news@shop.example", declared_size=1000)
RATE = RateFacts(current=3)
MESSAGE = MessageFacts(from_addresses=("news@shop.example",), has_unsubscribe_tag=True)

#: The MAIL rules in SPEC order, each with its reply when it is the only one broken.
MAIL_ORDER = [
    (Rule.MUST_AUTHENTICATE, "554 5.7.0 Must authenticate before sending mail"),
    (Rule.DISALLOWED_CLIENT, "554 5.7.1 Disallowed client address: 198.51.100.7"),
    (
        Rule.NON_ASCII_ADDRESS,
        "553 5.6.7 Non-ASCII address requires the SMTPUTF8 parameter: nëws@example.com",
    ),
    (Rule.DISALLOWED_SOURCE, "554 5.7.1 Disallowed source address: news@other.example"),
    (Rule.SIZE_EXCEEDED, "554 5.3.4 Message exceeds fixed size limit"),
    (Rule.RATE_EXCEEDED, "451 4.7.1 Sending rate exceeded, try again later"),
]


def _mail(broken):
    """Check MAIL with inputs on which exactly the rules in `broken` fail."""
    local = "nëws" if Rule.NON_ASCII_ADDRESS in broken else "news"
    domain = "other.example" if Rule.DISALLOWED_SOURCE in broken else "example.com"
    session = SessionFacts(
        client_ip="198.51.100.7" if Rule.DISALLOWED_CLIENT in broken else "192.0.2.10",
        tls=True,
        account=None if Rule.MUST_AUTHENTICATE in broken else ACCOUNT,
    )
    mail = MailFacts(
        sender=f"{local}@{domain}",
        declared_size=MAX + 1 if Rule.SIZE_EXCEEDED in broken else 1000,
    )
    rate = RateFacts(current=60 if Rule.RATE_EXCEEDED in broken else 59)
    return check_mail(session, mail, rate, max_size=MAX)


def test_mail_accepts_a_compliant_transaction():
    assert _mail(set()) == ACCEPT
    assert check_mail(SESSION, MAIL, RATE, max_size=MAX) == ACCEPT


@pytest.mark.parametrize(("rule", "reply"), MAIL_ORDER)
def test_each_mail_rule_refuses_alone(rule, reply):
    verdict = _mail({rule})
    assert verdict.rule is rule
    assert for_verdict(verdict) == reply


@pytest.mark.parametrize("first", range(len(MAIL_ORDER)))
def test_mail_rules_run_in_spec_order(first):
    """With every rule from `first` on broken, rule `first` is the one that answers."""
    verdict = _mail({rule for rule, _ in MAIL_ORDER[first:]})
    assert verdict.rule is MAIL_ORDER[first][0]


@pytest.mark.parametrize(
    ("session", "mail", "accepted"),
    [
        (replace(SESSION, client_ip="::ffff:192.0.2.10"), MAIL, True),
        (replace(SESSION, client_ip="2001:db8::25"), MAIL, True),
        (replace(SESSION, account=replace(ACCOUNT, networks=())), MAIL, True),
        (SESSION, replace(MAIL, sender="Anyone@EXAMPLE.com"), True),
        (SESSION, replace(MAIL, sender="anyone@mail.example.com"), False),
        (SESSION, replace(MAIL, sender=""), False),
        (SESSION, replace(MAIL, declared_size=None), True),
        (SESSION, replace(MAIL, declared_size=MAX), True),
        (SESSION, replace(MAIL, sender="nëws@example.com", smtputf8=True), True),
    ],
)
def test_mail_edge_cases(session, mail, accepted):
    assert check_mail(session, mail, RATE, max_size=MAX).accepted is accepted


def test_mail_rate_zero_means_no_limit():
    session = replace(SESSION, account=replace(ACCOUNT, rate=0))
    assert check_mail(session, MAIL, RateFacts(current=10**6), max_size=MAX) == ACCEPT


@pytest.mark.parametrize(
    ("session", "address", "smtputf8", "so_far", "rule", "reply"),
    [
        (
            replace(SESSION, account=None),
            "bad address",
            False,
            1,
            Rule.MUST_AUTHENTICATE,
            "554 5.7.0 Must authenticate before sending mail",
        ),
        (
            SESSION,
            "bad address",
            False,
            1,
            Rule.ONE_RECIPIENT,
            "554 5.5.3 Only one recipient per message is allowed",
        ),
        (
            SESSION,
            "bad address",
            False,
            0,
            Rule.INVALID_RECIPIENT,
            "554 5.1.3 Invalid recipient address: bad address",
        ),
        (
            SESSION,
            "ünï@example.org",
            False,
            0,
            Rule.INVALID_RECIPIENT,
            "554 5.1.3 Invalid recipient address: ünï@example.org",
        ),
        (
            SESSION,
            "user@example.org\r\nDATA",
            False,
            0,
            Rule.INVALID_RECIPIENT,
            "554 5.1.3 Invalid recipient address: user@example.org??DATA",
        ),
    ],
)
def test_rcpt_rules_in_spec_order(session, address, smtputf8, so_far, rule, reply):
    verdict = check_rcpt(session, address, smtputf8=smtputf8, accepted_so_far=so_far)
    assert verdict.rule is rule
    assert for_verdict(verdict) == reply


@pytest.mark.parametrize(
    ("address", "smtputf8"),
    [("someone@example.org", False), ("ünï@exämple.org", True)],
)
def test_rcpt_accepts_the_first_valid_recipient(address, smtputf8):
    verdict = check_rcpt(SESSION, address, smtputf8=smtputf8, accepted_so_far=0)
    assert verdict == ACCEPT


#: DATA inputs that each break one rule, in the order the rules must run.
DATA_BREAKS = [
    ({"size": MAX + 1}, Rule.SIZE_EXCEEDED, "554 5.3.4 Message exceeds fixed size limit"),
    (
        {"from_addresses": ("news@shop.example", "ceo@other.example", "x@evil.example")},
        Rule.DISALLOWED_SOURCE,
        "554 5.7.1 Disallowed source address: ceo@other.example",
    ),
    ({"attachment": "pdf"}, Rule.ATTACHMENT, "554 5.7.1 Not allowed attachement type pdf"),
    (
        {"has_unsubscribe_tag": False},
        Rule.UNSUBSCRIBE_REQUIRED,
        "554 5.7.1 Message must contain an unsubscribe link",
    ),
]


def _data_with(changes):
    size = changes.pop("size", 1000)
    return check_data(ACCOUNT, replace(MESSAGE, **changes), size=size, max_size=MAX)


def test_data_accepts_a_compliant_message():
    assert _data_with({}) == ACCEPT


@pytest.mark.parametrize(("changes", "rule", "reply"), DATA_BREAKS)
def test_each_data_rule_refuses_alone(changes, rule, reply):
    verdict = _data_with(dict(changes))
    assert verdict.rule is rule
    assert for_verdict(verdict) == reply


@pytest.mark.parametrize("first", range(len(DATA_BREAKS)))
def test_data_rules_run_in_spec_order(first):
    changes = {}
    for later, _, _ in DATA_BREAKS[first:]:
        changes.update(later)
    verdict = _data_with(changes)
    assert verdict.rule is DATA_BREAKS[first][1]
    assert for_verdict(verdict) == DATA_BREAKS[first][2]


@pytest.mark.parametrize(
    ("from_addresses", "reply"),
    [
        (("News@Shop.Example",), None),
        (("a@example.com", "b@example.com"), None),
        (("a@sub.example.com",), "554 5.7.1 Disallowed source address: a@sub.example.com"),
        (("news@shop.example.",), "554 5.7.1 Disallowed source address: news@shop.example."),
        ((), "554 5.7.1 Disallowed source address: "),
    ],
)
def test_data_from_header(from_addresses, reply):
    verdict = _data_with({"from_addresses": from_addresses})
    assert (None if verdict.accepted else for_verdict(verdict)) == reply


@pytest.mark.parametrize("mode", [UnsubscribeMode.INJECT, UnsubscribeMode.OFF])
def test_data_without_tag_passes_unless_required(mode):
    account = replace(ACCOUNT, unsubscribe=mode)
    message = replace(MESSAGE, has_unsubscribe_tag=False)
    assert check_data(account, message, size=MAX, max_size=MAX) == ACCEPT
