"""Fixtures for delivery: a test DNS server and recipient mail servers, all on free ports.

Registered for every test directory by tests/conftest.py (pytest_plugins)."""

from __future__ import annotations

import pytest

from tests.helpers.dns_server import DnsServer
from tests.helpers.local_mx import LocalMx


@pytest.fixture
def dns_server() -> DnsServer:
    """A started authoritative DNS server; set records with set_mx, set_a, ..."""
    server = DnsServer().start()
    yield server
    server.stop()


@pytest.fixture
def local_mx():
    """Factory: `local_mx(tls=False, auth=None, implicit_tls=False)` -> a started LocalMx."""
    started: list[LocalMx] = []

    def make(tls: bool = False, auth: dict[str, str] | None = None,
             implicit_tls: bool = False) -> LocalMx:
        mx = LocalMx(tls=tls, auth=auth, implicit_tls=implicit_tls).start()
        started.append(mx)
        return mx

    yield make
    for mx in started:
        mx.stop()
