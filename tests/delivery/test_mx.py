"""MX resolution over the wire, against the test DNS server."""

from __future__ import annotations

import socket

import dns.asyncresolver
import pytest

from relay.delivery import mx
from relay.delivery.mx import DnsTemporaryError, MxCache, NoSuchDomain, NullMx


@pytest.fixture
def resolver(dns_server) -> dns.asyncresolver.Resolver:
    return mx.make_resolver([("127.0.0.1", dns_server.port)], timeout=5)


async def test_mx_hosts_come_in_preference_order(dns_server, resolver):
    dns_server.set_mx("example.test", [(30, "mx3.example.test"), (10, "mx1.example.test"),
                                       (20, "MX2.example.test")])
    assert await mx.resolve("example.test", resolver=resolver) == [
        "mx1.example.test", "mx2.example.test", "mx3.example.test"]


async def test_equal_preferences_are_shuffled(dns_server, resolver):
    dns_server.set_mx("example.test", [(10, "a.example.test"), (10, "b.example.test"),
                                       (20, "c.example.test")])
    orders = {tuple(await mx.resolve("example.test", resolver=resolver)) for _ in range(60)}
    # Both orders of the tie show up (a miss has odds of 2**-59); the backup stays last.
    assert orders == {("a.example.test", "b.example.test", "c.example.test"),
                      ("b.example.test", "a.example.test", "c.example.test")}


async def test_a_domain_without_mx_is_its_own_mail_host(dns_server, resolver):
    dns_server.set_a("plain.test", "127.0.0.1")
    assert await mx.resolve("plain.test", resolver=resolver) == ["plain.test"]


async def test_null_mx_takes_no_mail(dns_server, resolver):
    dns_server.set_null_mx("null.test")
    with pytest.raises(NullMx):
        await mx.resolve("null.test", resolver=resolver)


@pytest.mark.parametrize("domain", ["gone.test", "never-configured.test", "bad..name.test"])
async def test_nxdomain_means_no_such_domain(dns_server, resolver, domain):
    dns_server.set_nxdomain("gone.test")
    with pytest.raises(NoSuchDomain):
        await mx.resolve(domain, resolver=resolver)


async def test_servfail_is_temporary(dns_server, resolver):
    dns_server.set_mx("broken.test", [(10, "mx1.broken.test")])
    dns_server.set_servfail("broken.test")
    with pytest.raises(DnsTemporaryError, match="SERVFAIL"):
        await mx.resolve("broken.test", resolver=resolver)


async def test_a_silent_dns_server_is_a_temporary_timeout():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        resolver = mx.make_resolver([("127.0.0.1", silent.getsockname()[1])], timeout=0.3)
        with pytest.raises(DnsTemporaryError, match="timed out"):
            await mx.resolve("example.test", resolver=resolver)


async def test_addresses_ipv4_first_then_ipv6(dns_server, resolver):
    dns_server.set_a("mx1.example.test", "127.0.0.1")
    dns_server.set_aaaa("mx1.example.test", "::1")
    assert await mx.addresses("mx1.example.test", resolver=resolver) == ["127.0.0.1", "::1"]


async def test_an_mx_host_without_addresses_is_temporary(dns_server, resolver):
    with pytest.raises(DnsTemporaryError, match="no address records for lost.example.test"):
        await mx.addresses("lost.example.test", resolver=resolver)


@pytest.mark.parametrize(("literal", "address"), [
    ("[192.0.2.1]", "192.0.2.1"), ("[IPv6:2001:db8::1]", "2001:db8::1"), ("192.0.2.7", "192.0.2.7"),
])
async def test_address_literals_need_no_dns(resolver, literal, address):
    assert await mx.resolve(literal, resolver=resolver) == [address]
    assert await mx.addresses(literal, resolver=resolver) == [address]


async def test_cache_keeps_answers_for_their_ttl(dns_server, resolver):
    now = [1000.0]
    cache = MxCache(resolver, clock=lambda: now[0])
    dns_server.set_mx("example.test", [(10, "mx1.example.test")])
    assert await cache.hosts("example.test") == ["mx1.example.test"]
    dns_server.set_mx("example.test", [(10, "mx2.example.test")])
    now[0] += 59
    assert await cache.hosts("Example.test") == ["mx1.example.test"]
    now[0] += 2  # past the test server's 60 s TTL
    assert await cache.hosts("example.test") == ["mx2.example.test"]


def test_system_resolver_when_no_nameservers_are_given():
    resolver = mx.make_resolver([], timeout=3)
    assert resolver.nameservers
    assert resolver.lifetime == 3
