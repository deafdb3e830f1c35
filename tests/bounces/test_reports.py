"""Reports arriving by mail, read by `parse_report`: one row per fixture (a real-world shape
with CRLF line endings), then the invariant that no input makes it raise or run long."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from relay.bounces.reports import (
    BounceReport,
    ComplaintReport,
    Ignored,
    Unparseable,
    parse_report,
)

FIXTURES = Path(__file__).parent / "fixtures"


def bounce(recipient: str, status: str, hard: bool, diagnostic_start: str) -> tuple:
    return (BounceReport, {"recipient": recipient, "status": status, "hard": hard,
                           "action": "failed"}, diagnostic_start)


CASES = {
    "dsn_hard_5_1_1.eml": bounce("nobody@example.net", "5.1.1", True,
                                 "550 5.1.1 <nobody@example.net>: Recipient address rejected"),
    "dsn_failed_4_2_2_soft.eml": bounce("full@example.com", "4.2.2", False,
                                        "452 4.2.2 Mailbox full"),
    "dsn_delayed.eml": (Ignored, {"reason": "delayed"}, None),
    "arf_abuse.eml": (ComplaintReport, {"recipient": "annoyed@example.com",
                                        "feedback_type": "abuse",
                                        "user_agent": "SomeGenerator/1.0"}, None),
    "arf_abuse_recipient_from_original.eml": (
        ComplaintReport, {"recipient": "redacted@isp.example", "feedback_type": "abuse",
                          "user_agent": "ISP-FBL/2.3"}, None),
    "auto_submitted_auto_replied.eml": (Ignored, {"reason": "auto-reply"}, None),
    "vacation_out_of_office_subject.eml": (Ignored, {"reason": "auto-reply"}, None),
    "qmail_no_mailbox.eml": bounce("ghost@example.info", "5.1.1", True,
                                   "Sorry, no mailbox here by that name. (#5.1.1)"),
    "qmail_remote_mailbox_full.eml": bounce("busy@example.org", "5.2.2", False,
                                            "552 5.2.2 Mailbox quota exceeded"),
    "postfix_plain_user_unknown.eml": bounce("weg@example.de", "5.1.1", True,
                                             "550 5.1.1 <weg@example.de>: Recipient address"),
    "exchange_ndr_recipient_not_found.eml": bounce(
        "departed@contoso.example", "5.1.10", True,
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found"),
    # Exim marks its bounces Auto-Submitted: auto-replied; they are still bounces.
    "exim_rcpt_rejected.eml": bounce("nosuch@example.co.uk", "5.1.1", True,
                                     "550 5.1.1 <nosuch@example.co.uk>: Recipient address"),
    "gmail_failed_permanently.eml": bounce(
        "typo@example.com", "5.1.1", True,
        "550 5.1.1 The email account that you tried to reach does not exist. Please try "
        "double-checking"),
    "yahoo_mailbox_full.eml": bounce("hoarder@yahoo.example", "5.2.2", False,
                                     "552 5.2.2 <hoarder@yahoo.example>: Mailbox full"),
    "garbage_binary.eml": (Unparseable, {}, None),
    "not_a_report.eml": (Unparseable, {}, None),
}


def test_every_fixture_has_a_row():
    assert sorted(path.name for path in FIXTURES.glob("*.eml")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixture(name):
    raw = (FIXTURES / name).read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    kind, fields, diagnostic_start = CASES[name]

    report = parse_report(raw)

    assert isinstance(report, kind), report
    for field, value in fields.items():
        assert getattr(report, field) == value, (field, report)
    if diagnostic_start is not None:
        assert report.diagnostic.startswith(diagnostic_start), report.diagnostic


def test_first_failed_recipient_is_taken_and_delays_before_it_are_skipped():
    raw = (FIXTURES / "dsn_hard_5_1_1.eml").read_bytes()
    delayed = (b"Final-Recipient: rfc822; later@example.net\r\nAction: delayed\r\n"
               b"Status: 4.4.1\r\n\r\n")
    raw = raw.replace(b"Final-Recipient: rfc822; nobody", delayed + b"Final-Recipient: rfc822; "
                      b"nobody", 1)

    report = parse_report(raw)

    assert isinstance(report, BounceReport) and report.recipient == "nobody@example.net"


def test_delivered_dsn_is_ignored():
    raw = (FIXTURES / "dsn_delayed.eml").read_bytes().replace(b"Action: delayed",
                                                              b"Action: relayed")
    assert parse_report(raw) == Ignored("delivery status relayed")


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"\x00" * 100, b"Subject: x\r\n\r\n"])
def test_empty_and_headerless_inputs_are_unparseable(raw):
    assert isinstance(parse_report(raw), Unparseable)


def test_a_five_megabyte_line_is_read_quickly():
    raw = b"Subject: " + b"A" * 5_000_000 + b"\r\n\r\n" + b"B" * 5_000_000
    started = time.monotonic()

    assert isinstance(parse_report(raw), Unparseable)
    assert time.monotonic() - started < 5


def test_deeply_nested_multiparts_are_refused_quickly():
    depth = 5000
    head = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
                    for i in range(depth))
    tail = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    raw = b"From: a@example.com\r\nMIME-Version: 1.0\r\n" + head + b"text\r\n" + tail
    started = time.monotonic()

    assert isinstance(parse_report(raw), Unparseable)
    assert time.monotonic() - started < 5


def test_never_raises_on_random_bytes():
    rng = random.Random(20240514)
    for _ in range(300):
        raw = rng.randbytes(rng.randrange(0, 2000))
        assert isinstance(parse_report(raw), BounceReport | ComplaintReport | Ignored
                          | Unparseable)


def test_never_raises_on_damaged_fixtures():
    """Flipped and cut bytes of real shapes reach deeper code than random noise does."""
    rng = random.Random(3464)
    fixtures = [path.read_bytes() for path in sorted(FIXTURES.glob("*.eml"))]
    for _ in range(400):
        raw = bytearray(rng.choice(fixtures))
        for _ in range(rng.randrange(1, 20)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        raw = bytes(raw[: rng.randrange(len(raw) + 1)])
        assert isinstance(parse_report(raw), BounceReport | ComplaintReport | Ignored
                          | Unparseable)


@pytest.mark.parametrize("opening", [
    b"Delivery has failed to these recipients or groups:\r\n",
    b"Hi. This is the qmail-send program at x.\r\n<",
    b"This message was created automatically by mail delivery software.\r\n"
    b"The following address(es) failed:\r\n",
    b"Delivery to the following recipient failed permanently:\r\n",
    b"This is the mail system at host x.\r\n",
])
def test_long_tokens_after_a_known_opening_are_read_quickly(opening):
    """The text of a prose notice is matched by regexes; none may backtrack quadratically."""
    body = opening + (b"a" * 70_000 + b" ") * 2 + b"550 " + b"1" * 60_000
    raw = b"From: MAILER-DAEMON@example.com\r\nSubject: failure\r\n\r\n" + body
    started = time.monotonic()

    assert isinstance(parse_report(raw), BounceReport | Unparseable)
    assert time.monotonic() - started < 2
