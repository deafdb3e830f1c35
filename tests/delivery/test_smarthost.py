"""Scenario: TIDINGS_DELIVERY=smtp://user:pass@host:port hands every message to a smarthost
over STARTTLS with AUTH; smtps:// over implicit TLS."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers.delivery import status, submit


@pytest.mark.parametrize("scheme", ["smtp", "smtps"])
async def test_smarthost_with_auth(scheme, server, account, local_mx, make_worker, r):
    relay = local_mx(tls=scheme == "smtp", implicit_tls=scheme == "smtps",
                     auth={"relay-user": "p@ss:word"})
    message_id = await asyncio.to_thread(submit, server.smtp_port, account, "x@anywhere.test")
    worker = await make_worker(
        delivery=f"{scheme}://relay-user:p%40ss%3Aword@127.0.0.1:{relay.port}")
    await worker.drain()
    assert status(r, message_id) == "delivered"
    (received,) = relay.messages
    assert received.auth_login == "relay-user" and received.tls
    assert received.rcpt_tos == ["x@anywhere.test"]
