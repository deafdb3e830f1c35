"""Real third-party SMTP clients against the submission ports: swaks, curl and aiosmtplib.

Each client speaks its own dialect of STARTTLS, implicit TLS and AUTH; a message counts as
accepted only if the client saw `250 2.0.0 Ok: queued as <id>` and that id is in the queue.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from relay import keys
from tests.helpers.clients import insecure_context, message

CLIENT_TIMEOUT = 60
#: A reply line as swaks prints it: `<~ ` marks a line received over TLS.
SWAKS_QUEUED = re.compile(r"^<~ +250 2\.0\.0 Ok: queued as ([0-9a-z]{26})$", re.MULTILINE)
#: A reply line in curl's -v trace on stderr.
CURL_QUEUED = re.compile(r"^< 250 2\.0\.0 Ok: queued as ([0-9a-z]{26})\r?$", re.MULTILINE)


def require(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (apt-get install {package})")
    return path


def queued_ids(r) -> list[str]:
    return [fields["id"] for _, fields in r.xrange(keys.QUEUE)]


def assert_queued(r, message_id: str) -> None:
    assert queued_ids(r) == [message_id]
    stored = r.hgetall(keys.message(message_id))
    assert stored["account"] == "shop"
    assert stored["sender"] == "news@shop.example"
    assert stored["recipient"] == "alice@example.com"
    assert stored["status"] == "queued"


def run_swaks(port: int, account, *, tls: str, mechanism: str) -> subprocess.CompletedProcess:
    swaks = require("swaks", "swaks")
    return subprocess.run(
        [swaks, "--server", "127.0.0.1", "--port", str(port), tls,
         "--auth", mechanism, "--auth-user", account.login, "--auth-password", account.password,
         "--from", "news@shop.example", "--to", "alice@example.com",
         "--ehlo", "client.test", "--timeout", "30"],
        capture_output=True, text=True, timeout=CLIENT_TIMEOUT, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(
    ("implicit_tls", "mechanism"),
    [(False, "LOGIN"), (True, "LOGIN"), (False, "PLAIN")],
    ids=["starttls-587-login", "tls-465-login", "starttls-587-plain"],
)
def test_swaks_submits(server, account, r, implicit_tls, mechanism):
    port = server.smtps_port if implicit_tls else server.smtp_port
    tls = "--tls-on-connect" if implicit_tls else "--tls"
    result = run_swaks(port, account, tls=tls, mechanism=mechanism)
    transcript = result.stdout + result.stderr
    assert result.returncode == 0, transcript
    assert "<~  235 2.7.0 Authentication successful" in transcript
    matches = SWAKS_QUEUED.findall(transcript)
    assert len(matches) == 1, transcript
    assert_queued(r, matches[0])


def test_swaks_wrong_password_is_refused(server, account, r):
    wrong = type(account)(account.name, account.login, account.password + "x", account.api_key)
    result = run_swaks(server.smtp_port, wrong, tls="--tls", mechanism="LOGIN")
    transcript = result.stdout + result.stderr
    assert result.returncode != 0
    assert "<~* 535 5.7.8 Authentication credentials invalid" in transcript, transcript
    assert queued_ids(r) == []


@pytest.mark.parametrize("implicit_tls", [False, True], ids=["starttls-587", "tls-465"])
def test_curl_submits(server, account, r, tmp_path: Path, implicit_tls):
    curl = require("curl", "curl")
    port = server.smtps_port if implicit_tls else server.smtp_port
    url = f"smtps://127.0.0.1:{port}" if implicit_tls else f"smtp://127.0.0.1:{port}"
    upload = tmp_path / "message.eml"
    upload.write_bytes(message("news@shop.example", "alice@example.com"))
    args = [curl, "-v", "--url", url, "-k", "--mail-from", "news@shop.example",
            "--mail-rcpt", "alice@example.com", "--user", f"{account.login}:{account.password}",
            "--upload-file", str(upload), "--max-time", "30"]
    if not implicit_tls:
        args.insert(4, "--ssl-reqd")
    result = subprocess.run(args, capture_output=True, text=True, timeout=CLIENT_TIMEOUT,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    if not implicit_tls:
        # The STARTTLS reply text itself is checked in test_sessions.py.
        assert "> STARTTLS" in result.stderr
    assert "* SSL connection using TLS" in result.stderr
    assert "< 235 2.7.0 Authentication successful" in result.stderr
    matches = CURL_QUEUED.findall(result.stderr)
    assert len(matches) == 1, result.stderr
    assert_queued(r, matches[0])


def test_aiosmtplib_starttls_login_send_message(server, account, r):
    mail = EmailMessage()
    mail["From"] = "news@shop.example"
    mail["To"] = "alice@example.com"
    mail["Subject"] = "Your order"
    mail.set_content("Thank you for your order.\n")

    async def send() -> tuple[dict, str]:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=server.smtp_port, start_tls=True,
                                 tls_context=insecure_context(), timeout=30)
        async with client:
            assert client.is_connected and client.get_transport_info("sslcontext") is not None
            login = await client.login(account.login, account.password)
            assert (login.code, login.message) == (235, "2.7.0 Authentication successful")
            return await client.send_message(mail)

    errors, response = asyncio.run(send())
    assert errors == {}
    match = re.fullmatch(r"2\.0\.0 Ok: queued as ([0-9a-z]{26})", response)
    assert match, response
    assert_queued(r, match.group(1))
    assert r.hget(keys.message(match.group(1)), "subject") == "Your order"
