"""The three transports against real servers: LocalMx found through the test DNS, a Maildir."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from relay.delivery.mx import MxCache, make_resolver
from relay.delivery.outcome import Kind
from relay.delivery.smtp_client import SessionOptions
from relay.delivery.transports import (
    Envelope,
    MaildirTransport,
    MxTransport,
    SmarthostTransport,
    UnknownScheme,
    outbound_tls_context,
    transport_from_uri,
)

SENDER = "b+m1@bounces.tidings.test"
MESSAGE = (b"From: Shop <news@shop.example>\r\nTo: bob@example.test\r\nSubject: Your order\r\n"
           b"Message-ID: <m1@tidings.test>\r\n\r\nThank you for your order.\r\n"
           b".leading dot survives dot-stuffing\r\n")


def envelope(recipient: str = "bob@example.test") -> Envelope:
    return Envelope(sender=SENDER, recipient=recipient, message_id="m1")


async def wait_until(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.01)


@pytest.fixture
async def transports():
    """Factory of transports from URIs (closed at teardown)."""
    made = []

    def make(uri: str, **overrides):
        options = dict(hostname="tidings.test", nameservers=[], mx_port=25,
                       connections_per_destination=2, timeout=10.0)
        options.update(overrides)
        transport = transport_from_uri(uri, **options)
        made.append(transport)
        return transport

    yield make
    for transport in made:
        await transport.close()


@pytest.fixture
def mx_server(dns_server, local_mx):
    """LocalMx as the MX of example.test: MX 10 mx1.example.test -> 127.0.0.1."""
    dns_server.set_mx("example.test", [(10, "mx1.example.test")])
    dns_server.set_a("mx1.example.test", "127.0.0.1")
    return local_mx()


@pytest.fixture
def mx_transport(transports, dns_server):
    def make(server, **overrides):
        return transports("mx", nameservers=[("127.0.0.1", dns_server.port)],
                          mx_port=server.port, **overrides)

    return make


# -- MX delivery ----------------------------------------------------------------------------

async def test_delivered_exactly_as_given(mx_server, mx_transport):
    outcome = await mx_transport(mx_server).deliver(envelope(), MESSAGE)
    assert outcome.kind is Kind.DELIVERED
    assert outcome.reply == "250 2.0.0 Ok: queued"
    assert outcome.remote == f"mx1.example.test[127.0.0.1]:{mx_server.port}"
    [received] = mx_server.messages
    assert (received.mail_from, received.rcpt_tos) == (SENDER, ["bob@example.test"])
    assert received.data == MESSAGE
    assert received.tls is False
    assert f"SIZE={len(MESSAGE)}" in received.mail_options


@pytest.mark.parametrize(
    ("given", "received"),
    [
        (b"Subject: x\r\n\r\n.\r\n..\r\nend", b"Subject: x\r\n\r\n.\r\n..\r\nend\r\n"),
        (b"Subject: x\r\n\r\nbare\nline\r\n.dot\r", b"Subject: x\r\n\r\nbare\r\nline\r\n.dot\r\n"),
    ],
    ids=["dots-and-no-final-line-break", "bare-line-endings"],
)
async def test_data_is_dot_stuffed_and_line_ended(mx_server, mx_transport, given, received):
    outcome = await mx_transport(mx_server).deliver(envelope(), given)
    assert outcome.kind is Kind.DELIVERED
    assert [message.data for message in mx_server.messages] == [received]


async def test_starttls_is_used_when_offered(dns_server, local_mx, mx_transport):
    dns_server.set_mx("example.test", [(10, "mx1.example.test")])
    dns_server.set_a("mx1.example.test", "127.0.0.1")
    server = local_mx(tls=True)
    outcome = await mx_transport(server).deliver(envelope(), MESSAGE)
    assert outcome.kind is Kind.DELIVERED
    assert server.messages[0].tls is True


async def test_4xx_at_data_defers_and_the_session_carries_on(mx_server, mx_transport):
    transport = mx_transport(mx_server)
    mx_server.script.append("451 4.7.1 Try later")
    outcome = await transport.deliver(envelope(), MESSAGE)
    assert (outcome.kind, outcome.reply) == (Kind.DEFERRED, "451 4.7.1 Try later")
    assert mx_server.messages == []
    assert (await transport.deliver(envelope(), MESSAGE)).kind is Kind.DELIVERED
    assert mx_server.connections == 1


async def test_unknown_user_at_rcpt_is_a_hard_bounce(mx_server, mx_transport):
    mx_server.rcpt_script.append("550 5.1.1 No such user")
    outcome = await mx_transport(mx_server).deliver(envelope(), MESSAGE)
    assert (outcome.kind, outcome.hard, outcome.reply) == (
        Kind.BOUNCED, True, "550 5.1.1 No such user")
    assert mx_server.messages == []


async def test_policy_refusal_is_a_soft_bounce(mx_server, mx_transport):
    mx_server.rcpt_script.append("550 5.7.1 Message rejected due to local policy")
    outcome = await mx_transport(mx_server).deliver(envelope(), MESSAGE)
    assert (outcome.kind, outcome.hard) == (Kind.BOUNCED, False)
    assert outcome.reply == "550 5.7.1 Message rejected due to local policy"


async def test_connection_dropped_after_data_defers(mx_server, mx_transport):
    transport = mx_transport(mx_server)
    mx_server.drop_next_data = 1
    outcome = await transport.deliver(envelope(), MESSAGE)
    assert outcome.kind is Kind.DEFERRED
    assert outcome.reply.startswith(
        f"451 4.4.2 Connection lost with mx1.example.test[127.0.0.1]:{mx_server.port}")
    assert (await transport.deliver(envelope(), MESSAGE)).kind is Kind.DELIVERED
    assert mx_server.connections == 2


async def test_next_mx_when_the_first_refuses_connections(dns_server, local_mx, mx_transport):
    # Nothing listens on 127.0.0.2, so the preferred MX refuses the connection.
    dns_server.set_mx("example.test", [(10, "dead.example.test"), (20, "mx1.example.test")])
    dns_server.set_a("dead.example.test", "127.0.0.2")
    dns_server.set_a("mx1.example.test", "127.0.0.1")
    server = local_mx()
    outcome = await mx_transport(server).deliver(envelope(), MESSAGE)
    assert outcome.kind is Kind.DELIVERED
    assert outcome.remote.startswith("mx1.example.test[127.0.0.1]")
    assert len(server.messages) == 1


async def test_every_mx_refusing_defers(dns_server, local_mx, mx_transport):
    dns_server.set_mx("example.test", [(10, "dead.example.test")])
    dns_server.set_a("dead.example.test", "127.0.0.2")
    server = local_mx()
    outcome = await mx_transport(server).deliver(envelope(), MESSAGE)
    remote = f"dead.example.test[127.0.0.2]:{server.port}"
    assert (outcome.kind, outcome.reply) == (Kind.DEFERRED,
                                             f"451 4.4.1 Connection refused by {remote}")


@pytest.mark.parametrize(("setup", "kind", "hard", "reply"), [
    (lambda dns: dns.set_null_mx("example.test"),
     Kind.BOUNCED, True, "556 5.1.10 Recipient domain has a null MX"),
    (lambda dns: dns.set_nxdomain("example.test"),
     Kind.BOUNCED, True, "550 5.1.2 Recipient domain does not exist"),
    (lambda dns: dns.set_servfail("example.test"), Kind.DEFERRED, False, None),
])
async def test_dns_answers_decide_before_any_connection(mx_server, mx_transport, dns_server,
                                                        setup, kind, hard, reply):
    setup(dns_server)
    outcome = await mx_transport(mx_server).deliver(envelope(), MESSAGE)
    assert (outcome.kind, outcome.hard) == (kind, hard)
    assert outcome.reply == reply if reply else outcome.reply.startswith("451 4.4.3 ")
    assert mx_server.connections == 0


async def test_sequential_messages_share_one_connection(mx_server, mx_transport):
    transport = mx_transport(mx_server)
    for _ in range(10):
        assert (await transport.deliver(envelope(), MESSAGE)).kind is Kind.DELIVERED
    assert len(mx_server.messages) == 10
    assert mx_server.connections == 1


async def test_concurrent_messages_stay_within_the_connection_limit(mx_server, mx_transport):
    transport = mx_transport(mx_server, connections_per_destination=3)
    outcomes = await asyncio.gather(*(transport.deliver(envelope(), MESSAGE) for _ in range(50)))
    assert {outcome.kind for outcome in outcomes} == {Kind.DELIVERED}
    assert len(mx_server.messages) == 50
    assert 1 <= mx_server.connections <= 3


async def test_a_session_the_server_timed_out_is_replaced_quietly(mx_server, mx_transport):
    transport = mx_transport(mx_server)
    assert (await transport.deliver(envelope(), MESSAGE)).kind is Kind.DELIVERED
    mx_server.mail_script.append("421 4.4.2 mx.local.test Error: timeout exceeded")
    outcome = await transport.deliver(envelope(), MESSAGE)
    assert outcome.kind is Kind.DELIVERED
    assert (len(mx_server.messages), mx_server.connections) == (2, 2)


async def test_a_stalled_server_defers_at_the_attempt_timeout(mx_server, mx_transport):
    mx_server.stall = threading.Event()
    outcome = await mx_transport(mx_server, timeout=0.5).deliver(envelope(), MESSAGE)
    assert (outcome.kind, outcome.reply) == (Kind.DEFERRED, "451 4.4.7 Delivery attempt timed out")
    mx_server.stall.set()


async def test_utf8_addresses_and_8bit_bodies_ask_for_the_extensions(mx_server, mx_transport):
    data = MESSAGE.replace(b"Thank you", "Merci beaucoup, José".encode())
    outcome = await mx_transport(mx_server).deliver(envelope("josé@example.test"), data)
    assert outcome.kind is Kind.DELIVERED
    [received] = mx_server.messages
    assert received.rcpt_tos == ["josé@example.test"]
    assert received.data == data
    assert {"BODY=8BITMIME", "SMTPUTF8"} <= set(received.mail_options)


async def test_idle_connections_are_closed(mx_server, dns_server):
    resolver = make_resolver([("127.0.0.1", dns_server.port)], timeout=5)
    session = SessionOptions(helo="tidings.test", tls_context=outbound_tls_context(), timeout=5)
    transport = MxTransport(MxCache(resolver), session=session, port=mx_server.port,
                            connections_per_destination=2, idle_timeout=0.2)
    try:
        assert (await transport.deliver(envelope(), MESSAGE)).kind is Kind.DELIVERED
        destination = frozenset(["mx1.example.test"])
        assert transport.pool.open_connections(destination) == 1
        await wait_until(lambda: transport.pool.open_connections(destination) == 0)
    finally:
        await transport.close()


# -- smarthost ------------------------------------------------------------------------------

async def test_smarthost_logs_in_after_starttls(local_mx, transports):
    server = local_mx(tls=True, auth={"relay@shop.example": "s3cret/+:"})
    uri = f"smtp://relay%40shop.example:s3cret%2F%2B%3A@127.0.0.1:{server.port}"
    outcome = await transports(uri).deliver(envelope(), MESSAGE)
    assert outcome.kind is Kind.DELIVERED
    assert outcome.remote == f"127.0.0.1:{server.port}"
    [received] = server.messages
    assert (received.tls, received.auth_login, received.data) == (True, "relay@shop.example",
                                                                  MESSAGE)


async def test_smarthost_refusing_our_password_defers(local_mx, transports):
    server = local_mx(tls=True, auth={"relay": "right"})
    outcome = await transports(f"smtp://relay:wrong@127.0.0.1:{server.port}").deliver(
        envelope(), MESSAGE)
    assert (outcome.kind, outcome.hard) == (Kind.DEFERRED, False)
    assert "refused the relay's credentials (535 5.7.8" in outcome.reply
    assert "TIDINGS_DELIVERY" in outcome.reply
    assert server.messages == []


async def test_smarthost_with_implicit_tls(local_mx, transports):
    server = local_mx(implicit_tls=True, auth={"relay": "pw"})
    outcome = await transports(f"smtps://relay:pw@127.0.0.1:{server.port}").deliver(
        envelope(), MESSAGE)
    assert outcome.kind is Kind.DELIVERED
    assert (server.messages[0].tls, server.messages[0].auth_login) == (True, "relay")


async def test_smarthost_without_credentials_or_tls(local_mx, transports):
    server = local_mx()
    transport = transports(f"smtp://127.0.0.1:{server.port}")
    for _ in range(3):
        assert (await transport.deliver(envelope(), MESSAGE)).kind is Kind.DELIVERED
    assert server.connections == 1


async def test_smarthost_down_defers(transports):
    outcome = await transports("smtp://127.0.0.2:2525").deliver(envelope(), MESSAGE)
    assert (outcome.kind, outcome.reply) == (
        Kind.DEFERRED, "451 4.4.1 Connection refused by 127.0.0.2:2525")


# -- Maildir --------------------------------------------------------------------------------

async def test_maildir_stores_the_exact_bytes_after_its_headers(tmp_path, transports):
    path = tmp_path / "mail"
    outcome = await transports(f"maildir://{path}").deliver(envelope(), MESSAGE)
    assert (outcome.kind, outcome.reply) == (Kind.DELIVERED,
                                             f"250 2.0.0 Delivered to Maildir {path}")
    [stored] = (path / "new").iterdir()
    assert stored.read_bytes() == (f"Return-Path: <{SENDER}>\r\n"
                                   "Delivered-To: bob@example.test\r\n").encode() + MESSAGE
    assert sorted(p.name for p in path.iterdir()) == ["cur", "new", "tmp"]


async def test_maildir_that_cannot_be_written_defers(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    outcome = await MaildirTransport(blocker / "mail").deliver(envelope(), MESSAGE)
    assert outcome.kind is Kind.DEFERRED
    assert outcome.reply.startswith("451 4.3.0 Local error: ")


# -- choosing by URI ------------------------------------------------------------------------

def test_each_scheme_has_its_transport(tmp_path):
    options = dict(hostname="tidings.test", nameservers=[("127.0.0.1", 5353)], mx_port=2525,
                   connections_per_destination=4, timeout=30.0)
    mx = transport_from_uri("mx", **options)
    assert isinstance(mx, MxTransport) and mx.port == 2525
    assert mx.session.helo == "tidings.test"
    smtp = transport_from_uri("smtp://user%40shop.example:p%3Ass@relay.example", **options)
    assert isinstance(smtp, SmarthostTransport)
    assert (smtp.host, smtp.port, smtp.session.implicit_tls) == ("relay.example", 587, False)
    assert smtp.session.credentials == ("user@shop.example", "p:ss")
    smtps = transport_from_uri("smtps://relay.example", **options)
    assert (smtps.port, smtps.session.implicit_tls, smtps.session.credentials) == (465, True, None)
    assert transport_from_uri("smtp://relay.example:2525", **options).port == 2525
    maildir = transport_from_uri(f"maildir://{tmp_path}/box", **options)
    assert isinstance(maildir, MaildirTransport) and maildir.path == tmp_path / "box"


@pytest.mark.parametrize(("uri", "scheme"), [("ftp://example.com/x", "ftp"), ("bogus", "bogus")])
def test_unknown_scheme_is_refused(uri, scheme):
    with pytest.raises(UnknownScheme) as raised:
        transport_from_uri(uri, hostname="tidings.test", nameservers=[], mx_port=25,
                           connections_per_destination=1, timeout=5)
    assert str(raised.value) == f"Unknown delivery URI scheme: {scheme}"


@pytest.mark.parametrize(("uri", "words"), [
    ("smtp://", "needs a host"),
    ("smtp://user:secret@:25", "needs a host"),
    ("smtp://user:secret@relay.example:notaport", "bad port"),
    ("smtps://user:secret@relay.example:99999", "bad port"),
    ("smtp://relay.example:0", "bad port"),
    ("maildir://", "needs a path"),
])
def test_bad_uris_say_what_is_wrong_without_the_password(uri, words):
    with pytest.raises(ValueError, match=words) as raised:
        transport_from_uri(uri, hostname="tidings.test", nameservers=[], mx_port=25,
                           connections_per_destination=1, timeout=5)
    assert not isinstance(raised.value, UnknownScheme)
    assert "secret" not in str(raised.value)
