"""SMTP smuggling and framing attacks: one DATA is one message or none, never two."""

from __future__ import annotations

import pytest

from relay import keys
from tests.helpers.clients import RawSession, message

HEADERS = b"From: news@shop.example\r\nTo: alice@example.com\r\nSubject: hi\r\n\r\n"
SMUGGLED = (b"MAIL FROM:<news@shop.example>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\n"
            b"From: news@shop.example\r\nSubject: smuggled\r\n\r\nevil\r\n")
BARE = ("554 5.6.0 Message could not be parsed: "
        "bare CR or LF in message data (lines must end in CRLF)")


def logged_in(server, account) -> RawSession:
    raw = RawSession(server.smtp_port)
    raw.command("EHLO client.test")
    raw.starttls()
    raw.command("EHLO client.test")
    assert raw.login_plain(account.login, account.password).startswith("235 ")
    return raw


def start_data(raw: RawSession) -> None:
    assert raw.command("MAIL FROM:<news@shop.example>").startswith("250 ")
    assert raw.command("RCPT TO:<alice@example.com>").startswith("250 ")
    assert raw.command("DATA").startswith("354 ")


@pytest.mark.parametrize("fake_end", [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r", b"\r\n.\r",
                                      b"\r.\r\n"],
                         ids=["lf.lf", "lf.crlf", "crlf.lf", "cr.cr", "crlf.cr", "cr.crlf"])
def test_fake_end_of_data_never_splits_the_message(server, account, r, fake_end):
    raw = logged_in(server, account)
    start_data(raw)
    raw.send(HEADERS + b"first part" + fake_end + SMUGGLED + b".\r\n")
    assert raw.read_reply() == BARE
    # The smuggled commands were data, not commands: nothing was queued at all.
    assert raw.command("NOOP").startswith("250")
    assert r.xlen(keys.QUEUE) == 0
    raw.close()


def test_bare_lf_line_endings_are_refused(server, account, r):
    raw = logged_in(server, account)
    start_data(raw)
    raw.send(HEADERS.replace(b"\r\n", b"\n") + b"body\r\n.\r\n")
    assert raw.read_reply() == BARE
    assert r.xlen(keys.QUEUE) == 0


def test_dot_stuffing_is_undone_and_a_dot_line_is_kept(server, account, rb):
    raw = logged_in(server, account)
    start_data(raw)
    raw.send(HEADERS + b"..leading dot\r\n..\r\nend\r\n.\r\n")
    reply = raw.read_reply()
    assert reply.startswith("250 2.0.0 Ok: queued as ")
    stored = rb.hget(keys.message(reply.rsplit(" ", 1)[1]), "data")
    assert stored == HEADERS + b".leading dot\r\n.\r\nend\r\n"


def test_terminator_split_across_packets(server, account, rb):
    raw = logged_in(server, account)
    start_data(raw)
    for piece in (HEADERS + b"body\r", b"\n", b".", b"\r", b"\n"):
        raw.send(piece)
    reply = raw.read_reply()
    assert reply.startswith("250 2.0.0 Ok: queued as ")
    assert rb.hget(keys.message(reply.rsplit(" ", 1)[1]), "data") == HEADERS + b"body\r\n"


def test_pipelined_plaintext_after_starttls_is_discarded(server, account, r):
    raw = RawSession(server.smtp_port)
    raw.command("EHLO client.test")
    # An attacker on the wire appends commands to the client's STARTTLS.
    raw.send(b"STARTTLS\r\nMAIL FROM:<news@shop.example>\r\n")
    assert raw.read_reply().startswith("220 ")
    from tests.helpers.clients import insecure_context

    raw.sock = insecure_context().wrap_socket(raw.sock)
    raw.buffer = b""
    # Had the injected MAIL survived, this would be a nested MAIL (503).
    assert raw.command("EHLO client.test").startswith("250-")
    assert raw.login_plain(account.login, account.password).startswith("235 ")
    assert raw.command("MAIL FROM:<news@shop.example>") == "250 2.1.0 Sender ok"


def test_pipelined_transaction_gets_every_reply_in_order(server, account, rb):
    raw = logged_in(server, account)
    raw.send(b"MAIL FROM:<news@shop.example>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n")
    assert raw.read_reply() == "250 2.1.0 Sender ok"
    assert raw.read_reply() == "250 2.1.5 Recipient ok"
    assert raw.read_reply().startswith("354 ")
    raw.send(HEADERS + b"pipelined\r\n.\r\nNOOP\r\n")
    assert raw.read_reply().startswith("250 2.0.0 Ok: queued as ")
    assert raw.read_reply().startswith("250")


def test_nul_in_mail_from_is_refused(server, account):
    raw = logged_in(server, account)
    assert raw.command(b"MAIL FROM:<news\x00@shop.example>").startswith("5")


def test_non_ascii_sender_needs_smtputf8(server, make_account):
    account = make_account(senders=("@bücher.example",))
    raw = logged_in(server, account)
    assert raw.command("MAIL FROM:<jörg@bücher.example>".encode()) == \
        "553 5.6.7 Non-ASCII address requires the SMTPUTF8 parameter: jörg@bücher.example"
    assert raw.command("MAIL FROM:<jörg@bücher.example> SMTPUTF8".encode()) == \
        "250 2.1.0 Sender ok"
    assert raw.command("RCPT TO:<zoë@exämple.com>".encode()) == "250 2.1.5 Recipient ok"


def test_a_message_of_many_lines_arrives_intact(server, account, rb):
    body = b"".join(b"line %d ends with a dot.\r\n" % i for i in range(5000))
    data = message() + body
    raw = logged_in(server, account)
    start_data(raw)
    raw.send(data + b".\r\n")
    reply = raw.read_reply()
    assert reply.startswith("250 2.0.0 Ok: queued as ")
    assert rb.hget(keys.message(reply.rsplit(" ", 1)[1]), "data") == data


def test_garbage_instead_of_a_tls_handshake_closes_only_that_session(server, account):
    raw = RawSession(server.smtp_port)
    raw.command("EHLO client.test")
    assert raw.command("STARTTLS") == "220 2.0.0 Ready to start TLS"
    raw.send(b"MAIL FROM:<news@shop.example>\r\n" * 50)
    assert raw.read_reply() == ""  # the server hung up: no plaintext reply, no crash
    raw.close()
    other = logged_in(server, account)
    assert other.command("NOOP") == "250 2.0.0 Ok"
