"""Where mail for a domain goes: its MX hosts in order, and each host's addresses.

A domain resolves to a non-empty list of hosts to try, or to one of three exceptions that
`outcome.from_exception` turns into a result: `NullMx` and `NoSuchDomain` (hard bounces, the
domain takes no mail) and `DnsTemporaryError` (deferred, ask again later). Names are always
looked up through the given resolver, never the system's, so a staging or test DNS server
decides everything, including the addresses of the MX hosts.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import time
from collections.abc import Callable

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

#: Longest time an MX answer or an address is reused, whatever its TTL says, so that a
#: domain moving its mail elsewhere is followed within minutes.
MAX_CACHE_SECONDS = 300.0


class NullMx(Exception):
    """RFC 7505: the domain publishes a single MX of "." and accepts no mail at all."""


class NoSuchDomain(Exception):
    """The recipient's domain does not exist (NXDOMAIN), or is not a valid name."""


class DnsTemporaryError(Exception):
    """The lookup failed in a way that may pass: timeout, SERVFAIL, no reachable server."""


def make_resolver(nameservers: list[tuple[str, int]], timeout: float) -> dns.asyncresolver.Resolver:
    """A resolver for `(address, port)` nameservers, or the system's when the list is empty."""
    if nameservers:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(address, port)
                                for address, port in nameservers]
    else:
        try:
            resolver = dns.asyncresolver.Resolver()
        except dns.resolver.NoResolverConfiguration as error:
            raise ValueError("no system DNS resolver is configured (/etc/resolv.conf); "
                             "set TIDINGS_DNS_SERVERS") from error
    resolver.lifetime = timeout
    resolver.timeout = min(resolver.timeout, timeout)
    return resolver


async def resolve(domain: str, *, resolver: dns.asyncresolver.Resolver) -> list[str]:
    """The hosts to try for `domain`, best first: MX by preference (ties shuffled)."""
    hosts, _ttl = await _resolve_with_ttl(domain, resolver)
    return hosts


async def addresses(host: str, *, resolver: dns.asyncresolver.Resolver) -> list[str]:
    """IPv4 then IPv6 addresses of `host`; an address literal is its own answer."""
    found, _ttl = await _addresses_with_ttl(host, resolver)
    return found


class MxCache:
    """`resolve` and `addresses` with answers kept for their TTL, at most MAX_CACHE_SECONDS.

    Only answers are kept; failures are asked again on the next attempt, which comes
    minutes later anyway.
    """

    def __init__(self, resolver: dns.asyncresolver.Resolver, *,
                 clock: Callable[[], float] = time.monotonic):
        self.resolver = resolver
        self._clock = clock
        self._hosts: dict[str, tuple[float, list[str]]] = {}
        self._addresses: dict[str, tuple[float, list[str]]] = {}

    async def hosts(self, domain: str) -> list[str]:
        return await self._cached(self._hosts, domain.lower(), _resolve_with_ttl)

    async def addresses(self, host: str) -> list[str]:
        return await self._cached(self._addresses, host.lower(), _addresses_with_ttl)

    async def _cached(self, table, key, lookup) -> list[str]:
        now = self._clock()
        entry = table.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        found, ttl = await lookup(key, self.resolver)
        table[key] = (now + min(ttl, MAX_CACHE_SECONDS), found)
        return found


async def _resolve_with_ttl(domain: str, resolver) -> tuple[list[str], float]:
    literal = _address_literal(domain)
    if literal is not None:
        # user@[192.0.2.1]: RFC 5321 4.1.3 address literals name the host directly.
        return [literal], MAX_CACHE_SECONDS
    name = _name(domain)
    try:
        answer = await resolver.resolve(name, "MX", search=False)
    except dns.resolver.NoAnswer:
        # RFC 5321 5.1: no MX records, so the domain itself is the one implicit MX.
        return [domain.rstrip(".")], MAX_CACHE_SECONDS
    except dns.resolver.NXDOMAIN as error:
        raise NoSuchDomain(domain) from error
    except dns.exception.DNSException as error:
        raise DnsTemporaryError(_temporary(domain, "MX", error)) from error
    records = sorted(answer, key=lambda record: record.preference)
    if all(record.exchange == dns.name.root for record in records):
        raise NullMx(domain)
    return _ordered(records), answer.rrset.ttl


def _ordered(records) -> list[str]:
    """Exchange names by preference; equal preferences in random order (RFC 5321 5.1)."""
    groups: dict[int, list[str]] = {}
    for record in records:
        if record.exchange != dns.name.root:
            host = record.exchange.to_text(omit_final_dot=True).lower()
            groups.setdefault(record.preference, []).append(host)
    hosts: list[str] = []
    for preference in sorted(groups):
        group = groups[preference]
        random.shuffle(group)
        for host in group:
            if host not in hosts:
                hosts.append(host)
    return hosts


async def _addresses_with_ttl(host: str, resolver) -> tuple[list[str], float]:
    literal = _address_literal(host)
    if literal is not None:
        return [literal], MAX_CACHE_SECONDS
    name = _name(host)
    answers = await asyncio.gather(*(resolver.resolve(name, rdtype, search=False)
                                     for rdtype in ("A", "AAAA")), return_exceptions=True)
    found: list[str] = []
    ttl = MAX_CACHE_SECONDS
    for rdtype, answer in zip(("A", "AAAA"), answers, strict=True):
        if isinstance(answer, dns.resolver.Answer):
            found.extend(record.address for record in answer)
            ttl = min(ttl, answer.rrset.ttl)
        elif isinstance(answer, dns.resolver.NXDOMAIN | dns.resolver.NoAnswer):
            continue
        elif isinstance(answer, dns.exception.DNSException):
            raise DnsTemporaryError(_temporary(host, rdtype, answer)) from answer
        else:
            raise answer
    if not found:
        # Not the recipient's fault: an MX host without an address is a DNS mistake its
        # owner will likely fix, so try again later rather than bounce.
        raise DnsTemporaryError(f"no address records for {host}")
    return found, ttl


def _name(domain: str) -> dns.name.Name:
    try:
        return dns.name.from_text(domain)
    except dns.exception.DNSException as error:
        # Too long, an empty label, bad IDNA: no such name can exist in the DNS.
        raise NoSuchDomain(domain) from error


def _address_literal(text: str) -> str | None:
    """`[192.0.2.1]`, `[IPv6:2001:db8::1]` or a bare address -> the address, else None."""
    candidate = text.strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]
        if candidate[:5].lower() == "ipv6:":
            candidate = candidate[5:]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def _temporary(name: str, rdtype: str, error: dns.exception.DNSException) -> str:
    if isinstance(error, dns.exception.Timeout):
        return f"{rdtype} lookup for {name} timed out"
    if isinstance(error, dns.resolver.NoNameservers):
        return f"no DNS server answered the {rdtype} lookup for {name} (SERVFAIL or refused)"
    return f"{rdtype} lookup for {name} failed: {error}"
