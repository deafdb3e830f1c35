"""Replies and failures as Outcomes: real texts from the big receivers, by table."""

from __future__ import annotations

import ssl

import aiosmtplib
import dns.exception
import pytest

from relay.delivery.mx import DnsTemporaryError, NoSuchDomain, NullMx
from relay.delivery.outcome import Kind, Outcome, from_exception, from_reply, is_hard_bounce

D, F, B = Kind.DELIVERED, Kind.DEFERRED, Kind.BOUNCED

GMAIL_NO_USER = (
    "5.1.1 The email account that you tried to reach does not exist. Please try\n"
    "5.1.1 double-checking the recipient's email address for typos or\n"
    "5.1.1 unnecessary spaces. Learn more at\n"
    "5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si123 - gsmtp"
)

REPLIES = [
    # Successes.
    (250, "2.0.0 OK  1700000000 a1si123 - gsmtp", D, False),
    (250, "OK id=1r2s3t-000abc-DE", D, False),
    (251, "2.1.5 User not local; will forward", D, False),
    # Gmail.
    (550, GMAIL_NO_USER, B, True),
    (550, "5.7.1 [192.0.2.1] Our system has detected that this message is likely unsolicited "
          "mail. To reduce the amount of spam sent to Gmail, this message has been blocked.",
     B, False),
    (550, "5.7.26 This mail has been blocked because the sender is unauthenticated.", B, False),
    (552, "5.2.2 The email account that you tried to reach is over quota.", B, False),
    (552, "5.3.4 Your message exceeded Google's message size limits.", B, False),
    (550, "5.2.1 The email account that you tried to reach is disabled.", B, False),
    (421, "4.7.0 [192.0.2.1] Our system has detected an unusual rate of unsolicited mail "
          "originating from your IP address.", F, False),
    (450, "4.2.1 The user you are trying to contact is receiving mail at a rate that prevents "
          "additional messages from being delivered.", F, False),
    # Outlook.com and Microsoft 365.
    (550, "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
     B, True),
    (550, "5.1.1 RESOLVER.ADR.RecipNotFound; not found", B, True),
    (550, "5.5.0 Requested action not taken: mailbox unavailable (S2017062302). "
          "[AM0PR01MB1234.eurprd01.prod.exchangelabs.com]", B, False),
    (550, "5.4.1 Recipient address rejected: Access denied. AS(201806281)", B, False),
    (550, "5.7.1 Service unavailable, Client host [192.0.2.1] blocked using Spamhaus.", B, False),
    (550, "5.7.520 Access denied, Your organization does not allow external forwarding.",
     B, False),
    (451, "4.7.500 Server busy. Please try again later from [192.0.2.1]. (S77714)", F, False),
    # Yahoo.
    (554, "delivery error: dd This user doesn't have a yahoo.com account (bob@yahoo.com) [0] - "
          "mta1234.mail.ne1.yahoo.com", B, True),
    (552, "1 Requested mail action aborted, mailbox not found", B, True),
    (554, "5.7.9 Message not accepted for policy reasons.  See "
          "https://postmaster.yahooinc.com/error-codes", B, False),
    (421, "4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume "
          "or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
     F, False),
    # Postfix.
    (550, "5.1.1 <bob@example.com>: Recipient address rejected: User unknown in virtual mailbox "
          "table", B, True),
    (550, "5.1.1 <bob@example.com>: Recipient address rejected: User unknown in local recipient "
          "table", B, True),
    (450, "4.1.1 <bob@example.com>: Recipient address rejected: User unknown in local recipient "
          "table", F, False),
    (550, "5.1.2 <bob@nowhere.example>: Recipient address rejected: Domain not found", B, True),
    (554, "5.7.1 <bob@example.com>: Relay access denied", B, False),
    (552, "5.3.4 Message size exceeds fixed limit", B, False),
    (553, "5.1.8 <b+x@tidings.test>: Sender address rejected: Domain not found", B, False),
    (550, "5.1.7 <b+x@tidings.test>: Sender address rejected: bad syntax", B, False),
    (450, "4.7.1 <mail.example>: Helo command rejected: Host not found", F, False),
    (421, "4.4.2 mx.example.com Error: timeout exceeded", F, False),
    (451, "4.3.0 Error: queue file write error", F, False),
    # Exim.
    (550, "Unrouteable address", B, True),
    (550, "No Such User Here", B, True),
    (550, "Verification failed for <b+x@tidings.test>\nUnrouteable address\nSender verify failed",
     B, False),
    (550, "Administrative prohibition", B, False),
    (451, "Temporary local problem - please try later", F, False),
    (451, "4.7.1 Greylisted, please try again later", F, False),
    # sendmail, qmail, iCloud and others.
    (550, "5.1.1 <bob@example.com>... User unknown", B, True),
    (550, "5.2.1 <bob@example.com>... Mailbox disabled for this recipient", B, False),
    (550, "sorry, no mailbox here by that name. (#5.1.1)", B, True),
    (553, "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)", B, False),
    (550, "5.1.1 <bob@icloud.com>: user does not exist", B, True),
    (550, "5.1.6 Recipient addresses moved", B, True),
    (556, "5.1.10 Recipient address has null MX", B, True),
    (550, "5.0.0 <bob@example.com>: User unknown", B, True),
    (550, "5.1.0 Address rejected", B, False),
    (550, "Requested action not taken: mailbox unavailable", B, False),
    (552, "5.2.2 Mailbox full", B, False),
    (452, "4.2.2 Mailbox full", F, False),
    (554, "5.3.4 Message too big for system", B, False),
    # Nonsense from broken servers defers rather than guessing.
    (-1, "Malformed SMTP response line: hello", F, False),
    (354, "Go ahead", F, False),
]


@pytest.mark.parametrize(("code", "text", "kind", "hard"), REPLIES)
def test_reply_classification(code, text, kind, hard):
    outcome = from_reply(code, text, remote="mx.example.com[192.0.2.1]:25")
    assert (outcome.kind, outcome.hard) == (kind, hard)
    assert outcome.reply.startswith(f"{code} ")
    assert "\n" not in outcome.reply
    assert outcome.remote == "mx.example.com[192.0.2.1]:25"
    assert is_hard_bounce(code, text) is hard


@pytest.mark.parametrize(("code", "text", "line"), [
    (250, "OK", "250 OK"),
    (550, GMAIL_NO_USER, "550 5.1.1 The email account that you tried to reach does not exist. "
                         "Please try double-checking the recipient's email address for typos or "
                         "unnecessary spaces. Learn more at "
                         "https://support.google.com/mail/?p=NoSuchUser a1si123 - gsmtp"),
    (550, "Verification failed\nSender verify failed",
     "550 Verification failed Sender verify failed"),
    (451, "", "451"),
    (550, "bad \udcff byte", "550 bad \ufffd byte"),
])
def test_reply_is_one_line(code, text, line):
    assert from_reply(code, text).reply == line


def test_long_replies_are_cut():
    assert len(from_reply(550, "5.7.1 " + "x" * 5000).reply) <= 1004


def _connect_error(cause: OSError) -> aiosmtplib.SMTPConnectError:
    error = aiosmtplib.SMTPConnectError("Error connecting to 192.0.2.1 on port 25")
    error.__cause__ = cause
    return error


REMOTE = "mx.example.com[192.0.2.1]:25"

EXCEPTIONS = [
    (aiosmtplib.SMTPRecipientRefused(550, "5.1.1 No such user", "bob@example.com"),
     B, True, "550 5.1.1 No such user"),
    (aiosmtplib.SMTPRecipientRefused(550, "5.7.1 Rejected by policy", "bob@example.com"),
     B, False, "550 5.7.1 Rejected by policy"),
    (aiosmtplib.SMTPRecipientRefused(450, "4.2.0 Greylisted", "bob@example.com"),
     F, False, "450 4.2.0 Greylisted"),
    (aiosmtplib.SMTPDataError(451, "4.7.1 Try later"), F, False, "451 4.7.1 Try later"),
    (aiosmtplib.SMTPDataError(554, "5.7.1 Spam"), B, False, "554 5.7.1 Spam"),
    # About our return path, not the recipient: never a hard bounce.
    (aiosmtplib.SMTPSenderRefused(550, "5.1.1 Sender unknown", "b@t.test"),
     B, False, "550 5.1.1 Sender unknown"),
    (aiosmtplib.SMTPSenderRefused(553, "5.1.8 Sender address rejected: Domain not found",
                                  "b@t.test"),
     B, False, "553 5.1.8 Sender address rejected: Domain not found"),
    # About our configuration or the server's state: deferred.
    (aiosmtplib.SMTPAuthenticationError(535, "5.7.8 Authentication credentials invalid"),
     F, False, "451 4.7.8 Smarthost mx.example.com[192.0.2.1]:25 refused the relay's "
               "credentials (535 5.7.8 Authentication credentials invalid); check "
               "TIDINGS_DELIVERY"),
    (aiosmtplib.SMTPConnectResponseError(554, "5.7.1 No SMTP service here"),
     F, False, "554 5.7.1 No SMTP service here"),
    (aiosmtplib.SMTPConnectResponseError(421, "4.3.2 Too busy"), F, False, "421 4.3.2 Too busy"),
    (aiosmtplib.SMTPHeloError(550, "5.7.1 Helo command rejected"),
     F, False, "550 5.7.1 Helo command rejected"),
    # The network.
    (_connect_error(ConnectionRefusedError(111, "Connection refused")),
     F, False, f"451 4.4.1 Connection refused by {REMOTE}"),
    (_connect_error(OSError(101, "Network is unreachable")),
     F, False, f"451 4.4.1 Cannot connect to {REMOTE}: Network is unreachable"),
    (aiosmtplib.SMTPConnectTimeoutError("Timed out connecting"),
     F, False, f"451 4.4.1 Connection timed out to {REMOTE}"),
    (aiosmtplib.SMTPServerDisconnected("Connection lost"),
     F, False, f"451 4.4.2 Connection lost with {REMOTE}"),
    (aiosmtplib.SMTPServerDisconnected("Unexpected EOF received"),
     F, False, f"451 4.4.2 Connection lost with {REMOTE} (Unexpected EOF received)"),
    (aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response"),
     F, False, f"451 4.4.2 Timed out waiting for {REMOTE}"),
    (ConnectionResetError(104, "Connection reset by peer"),
     F, False, f"451 4.4.2 Connection lost with {REMOTE} (Connection reset by peer)"),
    (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"),
     F, False, None),
    (aiosmtplib.SMTPException("The SMTP AUTH extension is not supported by this server."),
     F, False, f"451 4.3.0 SMTP error with {REMOTE}: The SMTP AUTH extension is not "
               "supported by this server."),
    # The DNS.
    (NullMx("example.com"), B, True, "556 5.1.10 Recipient domain has a null MX"),
    (NoSuchDomain("example.com"), B, True, "550 5.1.2 Recipient domain does not exist"),
    (DnsTemporaryError("MX lookup for example.com timed out"),
     F, False, "451 4.4.3 DNS lookup failed: MX lookup for example.com timed out"),
    (dns.exception.Timeout(), F, False, None),
    # Anything else defers: surprises delay mail, never drop it.
    (PermissionError(13, "Permission denied", "/var/mail/new"),
     F, False, "451 4.3.0 Local error: Permission denied: /var/mail/new"),
    (ValueError("Address 'a b' contains characters not permitted"), F, False,
     "451 4.3.0 Unexpected delivery error: ValueError: Address 'a b' contains characters "
     "not permitted"),
]


@pytest.mark.parametrize(("error", "kind", "hard", "reply"), EXCEPTIONS)
def test_exception_translation(error, kind, hard, reply):
    outcome = from_exception(error, remote=REMOTE)
    assert (outcome.kind, outcome.hard) == (kind, hard)
    if reply is not None:
        assert outcome.reply == reply
    assert outcome.reply[:1] in "45" and "\n" not in outcome.reply


def test_whole_attempt_timeout_names_no_remote():
    assert from_exception(TimeoutError()) == Outcome(F, "451 4.4.7 Delivery attempt timed out")


def test_tls_failure_names_the_reason():
    error = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    error.reason = "WRONG_VERSION_NUMBER"
    outcome = from_exception(error, remote=REMOTE)
    assert outcome.reply == f"451 4.7.5 TLS handshake failed with {REMOTE}: WRONG_VERSION_NUMBER"
