"""The transaction lane: a logged-in session's MAIL, RCPT and DATA answered as they arrive,
with everything else handed back to aiosmtpd's loop in order (relay/smtp/lane.py)."""

from __future__ import annotations

import json
import time

import pytest

from relay import keys
from relay.smtp.lane import MAX_LINE, mail_options, split_command
from stats import keys as stats_keys
from tests.helpers.clients import RawSession
from tests.helpers.servers import wait_for

HEADERS = b"From: news@shop.example\r\nTo: alice@example.com\r\nSubject: hi\r\n\r\n"
MAIL = b"MAIL FROM:<news@shop.example>\r\n"
RCPT = b"RCPT TO:<alice@example.com>\r\n"
QUEUED = "250 2.0.0 Ok: queued as "


def logged_in(server, account) -> RawSession:
    """A session whose account's rules are in the cache, so the lane may judge MAIL."""
    wait_for(lambda: server.role.handler.rules.live)
    raw = RawSession(server.smtp_port)
    raw.command("EHLO client.test")
    raw.starttls()
    raw.command("EHLO client.test")
    assert raw.login_plain(account.login, account.password).startswith("235 ")
    # The account's first MAIL reads its rules from Redis, through aiosmtpd's path.
    assert raw.command("MAIL FROM:<news@shop.example>") == "250 2.1.0 Sender ok"
    assert raw.command("RSET") == "250 2.0.0 Ok"
    assert server.role.handler.rules.holds(account.name)
    return raw


def replies(raw: RawSession, count: int) -> list[str]:
    return [raw.read_reply() for _ in range(count)]


def stored(rb, reply: str) -> bytes:
    assert reply.startswith(QUEUED), reply
    return rb.hget(keys.message(reply.rsplit(" ", 1)[1]), "data")


def test_a_pipelined_transaction_and_the_next_command_after_its_message(server, account, rb):
    raw = logged_in(server, account)
    raw.send(MAIL + RCPT + b"DATA\r\n")
    assert replies(raw, 3) == ["250 2.1.0 Sender ok", "250 2.1.5 Recipient ok",
                               "354 End data with <CR><LF>.<CR><LF>"]
    # The next transaction rides in the same packet as the end of this message.
    raw.send(HEADERS + b"one\r\n.\r\n" + MAIL + RCPT + b"DATA\r\n")
    first, *rest = replies(raw, 4)
    assert stored(rb, first) == HEADERS + b"one\r\n"
    assert rest == ["250 2.1.0 Sender ok", "250 2.1.5 Recipient ok",
                    "354 End data with <CR><LF>.<CR><LF>"]
    raw.send(HEADERS + b"two\r\n.\r\n")
    assert stored(rb, raw.read_reply()) == HEADERS + b"two\r\n"
    raw.close()


def test_replies_to_pipelined_commands_leave_in_one_tls_record(server, account):
    raw = logged_in(server, account)
    raw.send(MAIL + RCPT + b"DATA\r\n")
    # A TLS socket's recv returns at most one record.
    assert raw.sock.recv(65536) == (b"250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n"
                                    b"354 End data with <CR><LF>.<CR><LF>\r\n")
    raw.close()


def test_commands_the_lane_does_not_take_are_answered_by_aiosmtpd_in_order(server, account,
                                                                          rb):
    raw = logged_in(server, account)
    # MAIL and RCPT in the lane, RSET and NOOP by aiosmtpd, then a MAIL with a parameter
    # only aiosmtpd's parser takes, then plain RCPT and DATA.
    raw.send(MAIL + RCPT + b"RSET\r\nNOOP\r\n"
             b"MAIL FROM:<news@shop.example> SMTPUTF8\r\n" + RCPT + b"DATA\r\n")
    assert replies(raw, 7) == [
        "250 2.1.0 Sender ok", "250 2.1.5 Recipient ok", "250 2.0.0 Ok", "250 2.0.0 Ok",
        "250 2.1.0 Sender ok", "250 2.1.5 Recipient ok", "354 End data with <CR><LF>.<CR><LF>"]
    raw.send(HEADERS + b"after the hand-back\r\n.\r\n")
    assert stored(rb, raw.read_reply()) == HEADERS + b"after the hand-back\r\n"
    assert raw.command("QUIT") == "221 2.0.0 Bye"
    raw.close()


def test_a_refusal_in_the_middle_of_a_pipeline_is_recorded(server, account, r):
    raw = logged_in(server, account)
    raw.send(MAIL + RCPT + b"RCPT TO:<bob@example.com>\r\nNOOP\r\n")
    assert replies(raw, 4) == ["250 2.1.0 Sender ok", "250 2.1.5 Recipient ok",
                               "554 5.5.3 Only one recipient per message is allowed",
                               "250 2.0.0 Ok"]
    logged = [json.loads(fields["event"])
              for _, fields in r.xrange(stats_keys.log(account.name))]
    assert [event["detail"]["reply"] for event in logged] == [
        "554 5.5.3 Only one recipient per message is allowed"]
    raw.close()


def test_a_declared_size_over_the_limit_is_refused_as_by_aiosmtpd(start_server, account, r):
    server = start_server(max_message_size=1000)
    raw = logged_in(server, account)
    assert raw.command("MAIL FROM:<news@shop.example> SIZE=1001") == \
        "554 5.3.4 Message exceeds fixed size limit"
    assert raw.command("MAIL FROM:<news@shop.example> SIZE=1000") == "250 2.1.0 Sender ok"
    assert r.xlen(stats_keys.log(account.name)) == 1
    raw.close()


def test_sequence_errors_are_left_to_aiosmtpd(server, account):
    raw = logged_in(server, account)
    assert raw.command("RCPT TO:<alice@example.com>") == "503 5.5.1 Error: need MAIL command"
    assert raw.command("DATA").startswith("503 ")
    assert raw.command("MAIL FROM:<news@shop.example>") == "250 2.1.0 Sender ok"
    assert raw.command("MAIL FROM:<news@shop.example>") == \
        "503 5.5.1 Error: nested MAIL command"
    assert raw.command("DATA") == "503 5.5.1 Error: need RCPT command"
    raw.close()


def test_many_transactions_sent_without_reading_a_reply(server, account, r):
    """More than the lane buffers while a message is being stored: it stops reading the
    socket, then goes on, and every reply still comes in order."""
    count = 400
    body = HEADERS + b"x" * 400 + b"\r\n.\r\n"
    raw = logged_in(server, account)
    raw.send((MAIL + RCPT + b"DATA\r\n" + body) * count)
    got = replies(raw, 4 * count)
    for index in range(count):
        assert got[4 * index:4 * index + 3] == [
            "250 2.1.0 Sender ok", "250 2.1.5 Recipient ok",
            "354 End data with <CR><LF>.<CR><LF>"], index
        assert got[4 * index + 3].startswith(QUEUED), index
    assert r.xlen(keys.QUEUE) == count
    raw.close()


def test_a_message_arriving_a_byte_at_a_time(server, account, rb):
    raw = logged_in(server, account)
    for byte in MAIL + RCPT:
        raw.send(bytes([byte]))
    assert replies(raw, 2) == ["250 2.1.0 Sender ok", "250 2.1.5 Recipient ok"]
    raw.send(b"DATA\r\n")
    assert raw.read_reply().startswith("354 ")
    for byte in HEADERS + b"..dot\r\n.\r\n":
        raw.send(bytes([byte]))
    assert stored(rb, raw.read_reply()) == HEADERS + b".dot\r\n"
    raw.close()


@pytest.mark.parametrize("line, expected", [
    (b"MAIL FROM:<a@b.example>", ("MAIL", "FROM:<a@b.example>")),
    (b"data", ("DATA", None)),
    (b"RCPT TO:<a@b.example>  ", ("RCPT", "TO:<a@b.example>")),
    (b"", ("", None)),
    (b"MAIL FROM:<\xc3\xa9@b.example>", None),
    (b"MAIL FROM:<a@b.example>\r", None),
    (b"NOOP \n", None),
    (b"MAIL FROM:<" + b"a" * MAX_LINE + b"@b.example>", None),
])
def test_split_command_takes_only_plain_lines(line, expected):
    assert split_command(line) == expected


def test_plain_transactions_bypass_aiosmtpd_command_methods(server, account, rb, monkeypatch):
    """The lane is taken: aiosmtpd's MAIL, RCPT and DATA run only for what it hands back."""
    from relay.smtp.protocol import SubmissionProtocol

    called = []
    for verb in ("MAIL", "RCPT", "DATA"):
        method = getattr(SubmissionProtocol, f"smtp_{verb}")

        async def counted(self, arg, _method=method, _verb=verb):
            called.append(_verb)
            await _method(self, arg)

        monkeypatch.setattr(SubmissionProtocol, f"smtp_{verb}", counted)
    raw = logged_in(server, account)
    assert called == ["MAIL"]  # the first MAIL, which read the rules
    called.clear()
    raw.send(MAIL + RCPT + b"DATA\r\n")
    assert replies(raw, 3)[2].startswith("354 ")
    raw.send(HEADERS + b"lane\r\n.\r\n")
    assert stored(rb, raw.read_reply()) == HEADERS + b"lane\r\n"
    assert called == []
    # SIZE= and BODY= are what most clients send: the lane takes them too.
    raw.send(b"MAIL FROM:<news@shop.example> SIZE=300 BODY=8BITMIME\r\n" + RCPT + b"DATA\r\n")
    assert replies(raw, 3)[2].startswith("354 ")
    raw.send(HEADERS + b"sized\r\n.\r\n")
    assert stored(rb, raw.read_reply()) == HEADERS + b"sized\r\n"
    assert called == []
    assert raw.command("MAIL FROM:<news@shop.example> SMTPUTF8") == "250 2.1.0 Sender ok"
    raw.send(RCPT + b"DATA\r\n")
    assert replies(raw, 2)[1].startswith("354 ")
    raw.send(HEADERS + b"both\r\n.\r\n")
    assert stored(rb, raw.read_reply()) == HEADERS + b"both\r\n"
    # The MAIL with SMTPUTF8 is aiosmtpd's; once it has answered, the lane takes the
    # plain RCPT and DATA that follow.
    assert called == ["MAIL"]
    raw.close()


@pytest.mark.parametrize("params, expected", [
    ("", []),
    ("size=1234", ["SIZE=1234"]),
    ("BODY=8bitmime SIZE=5", ["BODY=8BITMIME", "SIZE=5"]),
    ("BODY=7BIT", ["BODY=7BIT"]),
    ("SIZE=", None),
    ("SIZE=-1", None),
    ("SIZE=1 SIZE=2", None),
    ("BODY=BINARYMIME", None),
    ("SMTPUTF8", None),
    ("RET=HDRS", None),
])
def test_mail_options_takes_only_what_aiosmtpd_accepts_as_is(params, expected):
    assert mail_options(params) == expected


def test_the_tail_of_an_overlong_line_is_never_read_as_a_command(server, account):
    """aiosmtpd reads a line past its limit in parts, waiting for the line's end with an
    empty buffer. What then arrives is the rest of that line, not a command of its own."""
    raw = logged_in(server, account)
    raw.send(b"NOOP " + b"A" * 1500)
    time.sleep(0.3)  # aiosmtpd has read the first part and waits for the line's end
    raw.send(MAIL)
    assert raw.read_reply() == "500 5.5.2 Command line too long"
    assert raw.command("NOOP") == "250 2.0.0 Ok"
    assert raw.command("MAIL FROM:<news@shop.example>") == "250 2.1.0 Sender ok"
    raw.close()
