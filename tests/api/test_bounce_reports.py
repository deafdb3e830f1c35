"""Scenario: reports about delivered mail arrive over SMTP at the bounce listener, are
tied to their messages through the VERP address, and the statistics API counts them."""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path

import pytest

from relay.bounces import verp
from relay.roles import start_bounces
from relay.secret import signing_key
from tests.api.v1 import bearer
from tests.helpers.delivery import event_names, status, submit
from tests.helpers.servers import ServerThread

DSN = """\
From: MAILER-DAEMON@mx.example.test
To: {to}
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

This is the mail system at host mx.example.test. Your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.test

Final-Recipient: rfc822; {rcpt}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {diagnostic}

--B--
"""
ARF = """\
From: fbl@provider.test
To: {to}
Subject: Abuse report
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="A"

--A
Content-Type: text/plain

This is an email abuse report.

--A
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ProviderFBL/1.0
Version: 1
Original-Rcpt-To: {rcpt}

--A
Content-Type: text/rfc822-headers

From: news@shop.example
To: {rcpt}
Subject: Your order

--A--
"""
OUT_OF_OFFICE = """\
From: {rcpt}
To: {to}
Subject: Out of Office: Your order
Auto-Submitted: auto-replied

I am away until Monday.
"""


@pytest.fixture
def listener(make_settings, redis_url):
    server = ServerThread(make_settings(bounce_port=0), redis_url, start=start_bounces).start()
    yield server
    server.stop()


def send(port: int, rcpt: str, text: str) -> tuple[int, str]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo("mx.example.test")
        client.mail("<>")
        code, reply = client.rcpt(rcpt)
        if code != 250:
            return code, reply.decode()
        code, reply = client.data(text.replace("\n", "\r\n").encode())
        return code, reply.decode()


async def delivered_message(server, account, make_worker, tmp_path) -> tuple[str, str]:
    message_id = await asyncio.to_thread(submit, server.smtp_port, account)
    worker = await make_worker(delivery=f"maildir://{tmp_path}/Maildir")
    await worker.drain()
    key = signing_key(server.settings.data_dir, None)
    return message_id, verp.encode(key, verp.VerpKind.BOUNCE, message_id, "tidings.test")


async def test_reports_are_matched_recorded_and_counted(
        server, listener, account, make_worker, serve_app, redis_url, r, tmp_path):
    port = listener.role.ports[0]
    hard_id, hard_verp = await delivered_message(server, account, make_worker, tmp_path)
    soft_id, soft_verp = await delivered_message(server, account, make_worker, tmp_path)
    late_id, late_verp = await delivered_message(server, account, make_worker, tmp_path)
    fbl_id, fbl_verp = await delivered_message(server, account, make_worker, tmp_path)
    ooo_id, ooo_verp = await delivered_message(server, account, make_worker, tmp_path)
    junk_id, junk_verp = await delivered_message(server, account, make_worker, tmp_path)
    rcpt = "alice@example.test"

    def dsn(to, action, code, diagnostic):
        return DSN.format(to=to, rcpt=rcpt, action=action, status=code, diagnostic=diagnostic)

    ok = "2.0.0 Ok"
    assert send(port, hard_verp, dsn(hard_verp, "failed", "5.1.1",
                                     "550 5.1.1 <alice@example.test>: user unknown")) == (250, ok)
    assert send(port, soft_verp, dsn(soft_verp, "failed", "4.2.2",
                                     "452 4.2.2 Mailbox full")) == (250, ok)
    assert send(port, late_verp, dsn(late_verp, "delayed", "4.4.1",
                                     "451 4.4.1 Connection timed out")) == (250, ok)
    assert send(port, fbl_verp, ARF.format(to=fbl_verp, rcpt=rcpt)) == (250, ok)
    assert send(port, ooo_verp, OUT_OF_OFFICE.format(to=ooo_verp, rcpt=rcpt)) == (250, ok)
    assert send(port, junk_verp, "Content-Type: multipart/mixed; boundary=\n\n--\x00") == (
        250, ok)
    forged = hard_verp.replace(hard_verp[2:6], "zzzz")
    assert send(port, forged, "x") == (550, "5.1.1 No such user")
    assert send(port, "postmaster@tidings.test", "x") == (550, "5.1.1 No such user")

    assert (status(r, hard_id), status(r, soft_id)) == ("bounced", "bounced")
    assert status(r, late_id) == status(r, ooo_id) == "delivered"
    assert event_names(r, hard_id)[-1] == "bounced" and event_names(r, fbl_id)[-1] == "complained"
    assert event_names(r, late_id) == event_names(r, ooo_id) == ["accepted", "delivered"]

    http = serve_app(redis_url)
    totals = http.get("/v1/stats", headers=bearer(account)).json()["totals"]
    assert (totals["delivered"], totals["bounced_hard"], totals["bounced_soft"],
            totals["complained"]) == (6, 1, 1, 1)
    assert http.get("/v1/suppressions", headers=bearer(account)).json()["items"] == [rcpt]
    logged = http.get("/v1/logs", headers=bearer(account)).json()["items"]
    reasons = {entry.get("message_id"): entry.get("reason") for entry in logged}
    assert reasons.get(junk_id) == "report_not_used"
    assert hard_id in reasons and soft_id in reasons  # bounces are problems to see


async def test_mail_to_the_unsubscribe_address_unsubscribes(
        server, listener, account, make_worker, r, tmp_path):
    message_id, _ = await delivered_message(server, account, make_worker, tmp_path)
    key = signing_key(server.settings.data_dir, None)
    address = verp.encode(key, verp.VerpKind.UNSUBSCRIBE, message_id, "tidings.test")
    assert send(listener.role.ports[0], address, "Subject: unsubscribe\n\n") == (
        250, "2.0.0 Ok")
    assert r.sismember("tidings:suppressed:shop", "alice@example.test")
    assert event_names(r, message_id)[-1] == "unsubscribed"


FIXTURES = Path(__file__).resolve().parents[1] / "bounces" / "fixtures"


@pytest.mark.parametrize(("fixture", "counter"), [
    ("qmail_no_mailbox.eml", "bounced_hard"),
    ("qmail_remote_mailbox_full.eml", "bounced_soft"),
    ("postfix_plain_user_unknown.eml", "bounced_hard"),
    ("exchange_ndr_recipient_not_found.eml", "bounced_hard"),
    ("exim_rcpt_rejected.eml", "bounced_hard"),
    ("gmail_failed_permanently.eml", "bounced_hard"),
    ("yahoo_mailbox_full.eml", "bounced_soft"),
])
async def test_real_world_shaped_bounces_over_smtp(fixture, counter, server, listener, account,
                                                   make_worker, serve_app, redis_url, r,
                                                   tmp_path):
    message_id, address = await delivered_message(server, account, make_worker, tmp_path)
    raw = (FIXTURES / fixture).read_bytes().decode("utf-8", "replace").replace("\r\n", "\n")
    assert send(listener.role.ports[0], address, raw) == (250, "2.0.0 Ok")
    assert status(r, message_id) == "bounced"
    totals = serve_app(redis_url).get("/v1/stats", headers=bearer(account)).json()["totals"]
    assert totals[counter] == 1
    assert totals["bounced_hard"] + totals["bounced_soft"] == 1


def test_the_listener_refuses_smuggling_and_oversize(listener, make_settings):
    """The submission protocol's protections, on the open port 25."""
    from tests.helpers.clients import send_raw

    key = signing_key(make_settings().data_dir, None)
    address = verp.encode(key, verp.VerpKind.BOUNCE, "0" * 26, "tidings.test")
    with smtplib.SMTP("127.0.0.1", listener.role.ports[0], timeout=30) as client:
        client.ehlo("mx.example.test")
        assert send_raw(client, "<>", address, b"Subject: x\r\n\r\nbare\nLF\r\n") == (
            "554 5.6.0 Message could not be parsed: bare CR or LF")
        client.rset()
        huge = b"Subject: x\r\n\r\n" + b"x" * 1000 + (b"\r\n" + b"y" * 998) * 600 + b"\r\n"
        assert send_raw(client, "<>", address, huge) == "554 5.3.4 Message exceeds fixed size limit"
