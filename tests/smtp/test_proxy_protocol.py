"""Behind a load balancer speaking the PROXY protocol, the client address comes from the header."""

from __future__ import annotations

import socket

import pytest

from tests.helpers.clients import RawSession, insecure_context

HEADER = b"PROXY TCP4 203.0.113.9 127.0.0.1 40000 587\r\n"


class ProxiedSession(RawSession):
    """A RawSession that sends a PROXY v1 header first, then speaks SMTP (or TLS first)."""

    def __init__(self, port: int, *, implicit_tls: bool = False):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(HEADER)
        if implicit_tls:
            sock = insecure_context().wrap_socket(sock)
        self.sock = sock
        self.buffer = b""
        self.greeting = self.read_reply()


@pytest.mark.parametrize("implicit_tls", [False, True], ids=["starttls-587", "tls-465"])
def test_client_address_is_taken_from_the_proxy_header(start_server, make_account, implicit_tls):
    server = start_server(proxy_protocol=True)
    account = make_account(ips=("203.0.113.0/24",))
    raw = ProxiedSession(server.smtps_port if implicit_tls else server.smtp_port,
                         implicit_tls=implicit_tls)
    assert raw.greeting.startswith("220 tidings.test ")
    raw.command("EHLO client.test")
    if not implicit_tls:
        assert raw.starttls().startswith("220 ")
        raw.command("EHLO client.test")
    assert raw.login_plain(account.login, account.password).startswith("235 ")
    # 127.0.0.1 is not in the allowlist: only the proxied address makes this pass.
    assert raw.command("MAIL FROM:<news@shop.example>") == "250 2.1.0 Sender ok"
    raw.close()


def test_proxied_address_outside_the_allowlist_is_named(start_server, make_account):
    server = start_server(proxy_protocol=True)
    account = make_account(ips=("10.0.0.0/8",))
    raw = ProxiedSession(server.smtps_port, implicit_tls=True)
    raw.command("EHLO client.test")
    raw.login_plain(account.login, account.password)
    assert raw.command("MAIL FROM:<news@shop.example>") == \
        "554 5.7.1 Disallowed client address: 203.0.113.9"
    raw.close()


def test_connection_without_a_header_is_dropped(start_server):
    server = start_server(proxy_protocol=True)
    sock = socket.create_connection(("127.0.0.1", server.smtp_port), timeout=30)
    sock.sendall(b"EHLO client.test\r\n")
    assert sock.recv(1024) == b""
    sock.close()
