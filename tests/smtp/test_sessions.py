"""Session limits and AUTH over real sockets: the per-address cap, the idle timeout,
AUTH failures and their lockout, and the TLS ordering rules of SPEC.md section 2.
"""

from __future__ import annotations

import base64
import logging
import time

import pytest

from relay import keys
from relay.smtp import replies
from tests.helpers.clients import RawSession
from tests.helpers.servers import wait_for

R421_IDLE = "421 4.4.2 Idle timeout, closing connection"
R421_TOO_MANY = "421 4.7.0 Too many connections from 127.0.0.1, try again later"
R421_LOCKED = "421 4.7.0 Too many failed authentications from 127.0.0.1, try again later"
R535 = "535 5.7.8 Authentication credentials invalid"
R538 = "538 5.7.11 Encryption required for requested authentication mechanism"
R554_AUTH = "554 5.7.0 Must authenticate before sending mail"
R235 = "235 2.7.0 Authentication successful"
R503_TLS = "503 5.5.1 TLS already active"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def tls_session(port: int) -> RawSession:
    """A RawSession on the STARTTLS port, encrypted and greeted again: ready for AUTH."""
    raw = RawSession(port)
    assert raw.greeting.startswith("220 ")
    assert raw.command("EHLO client.test").startswith("250-")
    assert raw.starttls().startswith("220 ")
    assert raw.command("EHLO client.test").splitlines()[-1] == "250 AUTH PLAIN LOGIN"
    return raw


def implicit_session(port: int) -> RawSession:
    raw = RawSession(port, implicit_tls=True)
    assert raw.greeting.startswith("220 ")
    assert raw.command("EHLO client.test").splitlines()[-1] == "250 AUTH PLAIN LOGIN"
    return raw


# --- concurrent sessions per address -------------------------------------------------------


def test_sessions_per_address_are_capped(start_server):
    server = start_server(max_sessions_per_ip=2)
    first, second = RawSession(server.smtp_port), RawSession(server.smtp_port)
    try:
        assert first.greeting.startswith("220 tidings.test ")
        assert second.greeting.startswith("220 tidings.test ")

        third = RawSession(server.smtp_port)
        assert third.greeting == R421_TOO_MANY
        assert third.read_reply() == ""  # closed by the server
        third.close()

        # The cap counts both ports together: they are one server for one address.
        over_tls = RawSession(server.smtps_port, implicit_tls=True)
        assert over_tls.greeting == R421_TOO_MANY
        over_tls.close()

        # The sessions that were let in still work.
        assert first.command("NOOP").startswith("250 ")

        second.close()

        def admitted() -> bool:
            raw = RawSession(server.smtp_port)
            try:
                return raw.greeting.startswith("220 tidings.test ")
            finally:
                raw.close()

        wait_for(admitted)
    finally:
        first.close()
        second.close()


def test_no_cap_when_zero(start_server):
    server = start_server(max_sessions_per_ip=0)
    sessions = [RawSession(server.smtp_port) for _ in range(5)]
    try:
        assert all(raw.greeting.startswith("220 ") for raw in sessions)
    finally:
        for raw in sessions:
            raw.close()


# --- idle timeout --------------------------------------------------------------------------


@pytest.mark.parametrize("implicit_tls", [False, True], ids=["starttls-587", "tls-465"])
def test_idle_session_is_told_421_then_closed(start_server, implicit_tls):
    server = start_server(smtp_idle_timeout=1)
    port = server.smtps_port if implicit_tls else server.smtp_port
    raw = RawSession(port, implicit_tls=implicit_tls)
    try:
        assert raw.greeting.startswith("220 ")
        raw.sock.settimeout(15)  # a blocking read, bounded: the server must speak first
        assert raw.read_reply() == R421_IDLE
        assert raw.read_reply() == ""
    finally:
        raw.close()


def test_a_session_that_keeps_talking_outlives_the_first_deadline(start_server):
    """The idle timer moves with each command: closed only after a silence of its length."""
    server = start_server(smtp_idle_timeout=1)
    raw = RawSession(server.smtp_port)
    try:
        raw.sock.settimeout(15)
        started = time.monotonic()
        while time.monotonic() - started < 2.5:
            assert raw.command("NOOP") == "250 2.0.0 Ok"
            last = time.monotonic()
            time.sleep(0.3)
        assert raw.read_reply() == R421_IDLE
        assert 0.9 < time.monotonic() - last < 3
    finally:
        raw.close()


# --- AUTH ordering and results ---------------------------------------------------------------


def test_auth_before_starttls_needs_encryption(server, account):
    raw = RawSession(server.smtp_port)
    try:
        raw.command("EHLO client.test")
        assert raw.login_plain(account.login, account.password) == R538
        assert raw.command("AUTH LOGIN") == R538
        # Nothing was learnt: MAIL is still refused.
        assert raw.command("MAIL FROM:<news@shop.example>") == R554_AUTH
    finally:
        raw.close()


def test_mail_without_auth_after_tls(server, account):
    raw = tls_session(server.smtp_port)
    try:
        assert raw.command("MAIL FROM:<news@shop.example>") == R554_AUTH
    finally:
        raw.close()


@pytest.mark.parametrize("implicit_tls", [False, True], ids=["starttls-587", "tls-465"])
def test_wrong_password_is_535(server, account, r, implicit_tls):
    raw = implicit_session(server.smtps_port) if implicit_tls else tls_session(server.smtp_port)
    try:
        assert raw.login_plain(account.login, account.password + "x") == R535
        assert raw.login_plain("nobody", account.password) == R535
        # The session stays usable: the right password still works.
        assert raw.login_plain(account.login, account.password) == R235
        assert raw.command("MAIL FROM:<news@shop.example>") == "250 2.1.0 Sender ok"
    finally:
        raw.close()
    assert r.get(keys.auth_failures("127.0.0.1")) == "2"


def test_auth_plain_with_foreign_authzid_is_535(server, account, make_account):
    other = make_account("other", senders=("@other.example",))
    raw = tls_session(server.smtp_port)
    try:
        token = b64(f"{other.login}\0{account.login}\0{account.password}")
        assert raw.command(f"AUTH PLAIN {token}") == R535
        # The same credentials with the login itself as authzid are fine.
        token = b64(f"{account.login}\0{account.login}\0{account.password}")
        assert raw.command(f"AUTH PLAIN {token}") == R235
    finally:
        raw.close()


def test_auth_plain_with_challenge(server, account):
    raw = tls_session(server.smtp_port)
    try:
        assert raw.command("AUTH PLAIN") == "334 "
        assert raw.command(b64(f"\0{account.login}\0{account.password}")) == R235
    finally:
        raw.close()


def test_auth_login_interactive(server, account):
    raw = tls_session(server.smtp_port)
    try:
        assert raw.command("AUTH LOGIN") == "334 " + b64("Username:")
        assert raw.command(b64(account.login)) == "334 " + b64("Password:")
        assert raw.command(b64(account.password)) == R235
        assert raw.command("MAIL FROM:<news@shop.example>") == "250 2.1.0 Sender ok"
    finally:
        raw.close()


def test_auth_login_with_wrong_password_is_535(server, account):
    raw = tls_session(server.smtp_port)
    try:
        assert raw.command(f"AUTH LOGIN {b64(account.login)}") == "334 " + b64("Password:")
        assert raw.command(b64("not-the-password")) == R535
    finally:
        raw.close()


# --- AUTH failures: throttling, lockout, no credentials in logs -----------------------------


def test_auth_failures_lock_the_address_out(start_server, account, r, caplog):
    caplog.set_level(logging.DEBUG)
    server = start_server(auth_max_failures=3)
    wrong = "Wrong-" + account.password
    raw = tls_session(server.smtp_port)
    try:
        assert raw.login_plain(account.login, wrong) == R535
        assert raw.command("AUTH LOGIN") == "334 " + b64("Username:")
        assert raw.command(b64(account.login)) == "334 " + b64("Password:")
        assert raw.command(b64(wrong)) == R535
        assert raw.login_plain(account.login, wrong) == R421_LOCKED
        assert raw.read_reply() == ""  # disconnected
    finally:
        raw.close()

    key = keys.auth_failures("127.0.0.1")
    assert r.get(key) == "3"
    assert 0 < r.ttl(key) <= 900

    # Locked: a new connection is refused even with the right password, and closed.
    raw = tls_session(server.smtp_port)
    try:
        assert raw.login_plain(account.login, account.password) == R421_LOCKED
        assert raw.read_reply() == ""
    finally:
        raw.close()
    # The same from the implicit-TLS port: the count is per address, not per listener.
    raw = implicit_session(server.smtps_port)
    try:
        assert raw.command("AUTH LOGIN") == R421_LOCKED
        assert raw.read_reply() == ""
    finally:
        raw.close()

    # The failures were logged, the credentials never were (neither plain nor base64).
    logged = [record.getMessage() + (record.exc_text or "") for record in caplog.records]
    assert any("127.0.0.1 failed AUTH" in line for line in logged), logged
    secrets = [account.password, wrong, b64(wrong), b64(account.password),
               b64(f"\0{account.login}\0{wrong}"),
               b64(f"\0{account.login}\0{account.password}")]
    for line in logged:
        for secret in secrets:
            assert secret not in line, line


def test_lockout_expires_with_its_window(start_server, account, r):
    server = start_server(auth_max_failures=3)
    key = keys.auth_failures("127.0.0.1")
    r.set(key, 3, ex=900)
    raw = tls_session(server.smtp_port)
    try:
        assert raw.login_plain(account.login, account.password) == R421_LOCKED
    finally:
        raw.close()
    r.delete(key)  # what the expiry does when the window has passed
    raw = tls_session(server.smtp_port)
    try:
        assert raw.login_plain(account.login, account.password) == R235
    finally:
        raw.close()


# --- TLS ordering ---------------------------------------------------------------------------


def test_second_starttls_inside_tls_is_refused(server):
    raw = tls_session(server.smtp_port)
    try:
        assert raw.command("STARTTLS") == R503_TLS
        # Still a working encrypted session.
        assert raw.command("NOOP").startswith("250 ")
    finally:
        raw.close()


def test_starttls_on_implicit_tls_port_is_not_accepted(server):
    raw = implicit_session(server.smtps_port)
    try:
        reply = raw.command("STARTTLS")
        assert not reply.startswith("220"), reply
        assert reply == R503_TLS
        assert raw.command("NOOP").startswith("250 ")
    finally:
        raw.close()


def test_starttls_reply_has_enhanced_code(server):
    raw = RawSession(server.smtp_port)
    try:
        raw.command("EHLO client.test")
        assert raw.starttls() == replies.R220_READY_TLS
    finally:
        raw.close()


def test_quit_reply_has_enhanced_code(server):
    raw = RawSession(server.smtp_port)
    try:
        raw.command("EHLO client.test")
        assert raw.command("QUIT") == replies.R221_BYE
    finally:
        raw.close()


def test_every_reply_after_ehlo_carries_an_enhanced_code(server, account):
    """ENHANCEDSTATUSCODES is advertised, so aiosmtpd's own replies get codes too."""
    import re

    raw = RawSession(server.smtp_port)
    assert raw.command("RCPT TO:<a@example.com>") == "503 5.5.1 Error: send HELO first"
    ehlo = raw.command("EHLO client.test")
    assert ehlo.splitlines()[1] == "250-SIZE 512000"  # keyword lines stay bare
    replies = [raw.command(c) for c in ("RCPT TO:<a@example.com>", "FOO", "EXPN x", "VRFY",
                                        "MAIL FROM:<a@shop.example> X=1", "RSET x", "NOOP")]
    for reply in replies:
        assert re.match(r"^\d{3} [245]\.\d+\.\d+ ", reply), reply
    raw.close()
