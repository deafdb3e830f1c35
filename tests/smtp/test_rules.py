"""Every rule of SPEC.md section 2 over a real STARTTLS connection, asserting the literal reply."""

from __future__ import annotations

import base64

import pytest

from relay import keys
from relay.cli import main
from relay.store import rates
from relay.store.accounts import RuleChanges
from stats import keys as stats_keys
from stats.events import Event
from tests.helpers.clients import message, reply_line, send_raw, submission


def mail_reply(client, sender: str, options=()) -> str:
    return reply_line(*client.mail(sender, options))


def full_reply(client, sender: str, recipient: str, data: bytes) -> str:
    return send_raw(client, sender, recipient, data)


def logged_rejections(r, account: str | None = "shop") -> list[Event]:
    return [Event.from_json(fields["event"]) for _, fields in
            r.xrange(stats_keys.log(account))]


def test_mail_without_auth(server, account, r):
    with submission(server.smtp_port) as client:
        assert mail_reply(client, "news@shop.example") == \
            "554 5.7.0 Must authenticate before sending mail"
    [event] = logged_rejections(r, None)
    assert event.detail["reason"] == "must_authenticate"
    assert event.detail["client_ip"] == "127.0.0.1"


def test_client_address_not_in_allowlist(server, make_account, r):
    account = make_account(ips=("10.0.0.0/8", "2001:db8::/32"))
    with submission(server.smtp_port, account.login, account.password) as client:
        assert mail_reply(client, "news@shop.example") == \
            "554 5.7.1 Disallowed client address: 127.0.0.1"
    [event] = logged_rejections(r)
    assert event.detail["reply"] == "554 5.7.1 Disallowed client address: 127.0.0.1"


def test_client_address_in_allowlist(server, make_account):
    account = make_account(ips=("127.0.0.1",))
    with submission(server.smtp_port, account.login, account.password) as client:
        assert mail_reply(client, "news@shop.example") == "250 2.1.0 Sender ok"


def test_envelope_sender_not_confirmed(server, account):
    with submission(server.smtp_port, account.login, account.password) as client:
        assert mail_reply(client, "ceo@other.example") == \
            "554 5.7.1 Disallowed source address: ceo@other.example"


def test_from_header_not_confirmed(server, account, r):
    data = message("ceo@other.example", "alice@example.com")
    with submission(server.smtp_port, account.login, account.password) as client:
        assert full_reply(client, "news@shop.example", "alice@example.com", data) == \
            "554 5.7.1 Disallowed source address: ceo@other.example"
    assert r.xlen(keys.QUEUE) == 0


@pytest.mark.parametrize("recipient, shown", [
    ("no-at-sign", "no-at-sign"), ("a@b", "a@b"), ("x@[127.0.0.1]", "x@[127.0.0.1]"),
    # The address is shown as the server understood it: a space makes a quoted local part.
    ("a b@example.com", '"a b"@example.com'),
    # Non-ASCII needs the SMTPUTF8 parameter on MAIL.
    ("jörg@example.com", "jörg@example.com"),
])
def test_invalid_recipient(server, account, recipient, shown):
    with submission(server.smtp_port, account.login, account.password) as client:
        client.mail("news@shop.example")
        client.command_encoding = "utf-8"
        code, text = client.docmd(f"RCPT TO:<{recipient}>")
        assert reply_line(code, text) == f"554 5.1.3 Invalid recipient address: {shown}"


def test_second_recipient(server, account):
    with submission(server.smtp_port, account.login, account.password) as client:
        client.mail("news@shop.example")
        assert reply_line(*client.rcpt("alice@example.com")) == "250 2.1.5 Recipient ok"
        assert reply_line(*client.rcpt("bob@example.com")) == \
            "554 5.5.3 Only one recipient per message is allowed"


def test_declared_size_over_limit(server, account):
    with submission(server.smtp_port, account.login, account.password) as client:
        assert mail_reply(client, "news@shop.example", ["SIZE=512001"]) == \
            "554 5.3.4 Message exceeds fixed size limit"
        assert mail_reply(client, "news@shop.example", ["SIZE=512000"]) == "250 2.1.0 Sender ok"


def test_actual_size_over_limit(start_server, account, r):
    server = start_server(max_message_size=20_000)
    data = message(body="x" * 70 + "\n") + b"y" * 78 * 300 + b"\r\n"
    with submission(server.smtp_port, account.login, account.password) as client:
        assert full_reply(client, "news@shop.example", "alice@example.com", data) == \
            "554 5.3.4 Message exceeds fixed size limit"
        # The session goes on: the next message fits and is accepted.
        assert full_reply(client, "news@shop.example", "alice@example.com",
                          message()).startswith("250 2.0.0 Ok: queued as ")
    assert r.xlen(keys.QUEUE) == 1


PDF = (b"From: news@shop.example\r\nTo: alice@example.com\r\nSubject: invoice\r\n"
       b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
       b"--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
       b"--b1\r\nContent-Type: application/octet-stream\r\n"
       b"Content-Disposition: attachment; filename=\"Invoice.PDF\"\r\n"
       b"Content-Transfer-Encoding: base64\r\n\r\n"
       + base64.b64encode(b"%PDF-1.4") + b"\r\n--b1--\r\n")
INLINE_IMAGE = (b"From: news@shop.example\r\nTo: alice@example.com\r\nSubject: logo\r\n"
                b"MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=r\r\n\r\n"
                b"--r\r\nContent-Type: text/html\r\n\r\n<img src=\"cid:logo\">\r\n"
                b"--r\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\n"
                b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--r--\r\n")
UUENCODED = (b"From: news@shop.example\r\nTo: alice@example.com\r\nSubject: old\r\n\r\n"
             b"Here it is:\r\n\r\nbegin 644 setup.exe\r\nM35I0\r\n`\r\nend\r\n")


@pytest.mark.parametrize("data, ext", [(PDF, "pdf"), (INLINE_IMAGE, "image/png"),
                                       (UUENCODED, "exe")], ids=["pdf", "inline", "uuencode"])
def test_attachment(server, account, r, data, ext):
    with submission(server.smtp_port, account.login, account.password) as client:
        assert full_reply(client, "news@shop.example", "alice@example.com", data) == \
            f"554 5.7.1 Not allowed attachement type {ext}"
    assert r.xlen(keys.QUEUE) == 0
    [event] = logged_rejections(r)
    assert event.detail["reason"] == "attachment"


def test_sending_rate(server, make_account, r):
    account = make_account(changes=RuleChanges(rate=2))
    with submission(server.smtp_port, account.login, account.password) as client:
        for _ in range(2):
            assert full_reply(client, "news@shop.example", "alice@example.com",
                              message()).startswith("250 2.0.0 Ok: queued as ")
        assert mail_reply(client, "news@shop.example") == \
            "451 4.7.1 Sending rate exceeded, try again later"
    # The window counters (two, if a minute began in between) expire, set once each.
    counters = r.keys(keys.rate("shop", "*"))
    assert sum(int(r.get(key)) for key in counters) == 2
    assert all(0 < r.ttl(key) <= rates.COUNTER_TTL for key in counters)


def test_unsubscribe_required(server, make_account, r):
    account = make_account(changes=RuleChanges(unsubscribe="require"))
    with submission(server.smtp_port, account.login, account.password) as client:
        assert full_reply(client, "news@shop.example", "alice@example.com", message()) == \
            "554 5.7.1 Message must contain an unsubscribe link"
        with_link = message(body="Bye: [Unsubscribe]\n")
        assert full_reply(client, "news@shop.example", "alice@example.com",
                          with_link).startswith("250 2.0.0 Ok: queued as ")


def test_unparseable_message(server, account):
    nested = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
                      for i in range(40))
    data = b"From: news@shop.example\r\nTo: alice@example.com\r\nMIME-Version: 1.0\r\n" + nested
    with submission(server.smtp_port, account.login, account.password) as client:
        reply = full_reply(client, "news@shop.example", "alice@example.com", data)
    assert reply.startswith("554 5.6.0 Message could not be parsed: MIME nested deeper than 20")


def test_suppressed_recipient_is_accepted_and_not_queued(server, account, r):
    r.sadd(keys.suppressed("shop"), "gone@example.com")
    with submission(server.smtp_port, account.login, account.password) as client:
        reply = full_reply(client, "news@shop.example", "Gone@Example.com", message())
    assert reply.startswith("250 2.0.0 Ok: queued as ")
    message_id = reply.rsplit(" ", 1)[1]
    assert r.hget(keys.message(message_id), "status") == "suppressed"
    assert r.xlen(keys.QUEUE) == 0
    timeline = [Event.from_json(e).name for e in r.lrange(stats_keys.timeline(message_id), 0, -1)]
    assert timeline == ["accepted", "suppressed"]


def test_rule_changes_apply_to_the_next_transaction(server, account, redis_url, monkeypatch):
    monkeypatch.setenv("TIDINGS_REDIS_URL", redis_url)
    with submission(server.smtp_port, account.login, account.password) as client:
        assert mail_reply(client, "ceo@new.example").startswith("554 5.7.1")
        assert main(["account", "sender", "add", "shop", "@new.example"]) == 0
        client.rset()
        assert mail_reply(client, "ceo@new.example") == "250 2.1.0 Sender ok"
        client.rset()
        assert main(["account", "ip", "allow", "shop", "192.0.2.0/24"]) == 0
        assert mail_reply(client, "ceo@new.example") == \
            "554 5.7.1 Disallowed client address: 127.0.0.1"
        client.rset()
        assert main(["account", "set", "shop", "--rate", "1"]) == 0
        assert main(["account", "ip", "deny", "shop", "192.0.2.0/24"]) == 0
        assert send_raw(client, "ceo@new.example", "a@example.com", message()).startswith("250 ")
        assert mail_reply(client, "ceo@new.example") == \
            "451 4.7.1 Sending rate exceeded, try again later"


def test_accepted_message_is_counted_for_the_local_day(server, account, r):
    with submission(server.smtp_port, account.login, account.password) as client:
        reply = full_reply(client, "news@shop.example", "alice@example.com", message())
        client.mail("ceo@other.example")
    assert reply.startswith("250 ")
    [day_key] = r.keys(stats_keys.day("shop", "*"))
    assert r.hgetall(day_key) == {"accepted": "1", "rejected": "1"}
