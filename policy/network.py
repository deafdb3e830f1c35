"""Client addresses against an account's IP allowlist.

An empty allowlist allows every client; a non-empty one allows only addresses inside one
of its networks, and an address that cannot be read is never inside any network.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network


def parse_network(text: str) -> IPv4Network | IPv6Network:
    """Read one allowlist entry as an operator types it: CIDR, or a bare address.

    Host bits are forgiven (10.0.0.5/24 is 10.0.0.0/24) because operators often paste a
    machine's address with its subnet. Netmask notation and zone ids are refused: the
    first is not CIDR, and a zone names an interface of one host, not a network.
    """
    address, slash, prefix = text.partition("/")
    if "%" in address or (slash and not (prefix.isascii() and prefix.isdecimal())):
        raise ValueError(_not_a_network(text))
    try:
        return ip_network(text, strict=False)
    except ValueError:
        raise ValueError(_not_a_network(text)) from None


def ip_allowed(ip: str, networks: Iterable[IPv4Network | IPv6Network]) -> bool:
    networks = tuple(networks)
    if not networks:
        return True
    candidates = _as_seen_by_networks(ip)
    return any(address in network for address in candidates for network in networks)


def _as_seen_by_networks(ip: str) -> tuple[IPv4Address | IPv6Address, ...]:
    """The forms an address may be listed under; empty when it cannot be read.

    A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d, so the embedded IPv4
    address is tried too; the zone id is dropped because allowlists never carry one.
    """
    try:
        address = ip_address(ip)
    except ValueError:
        return ()
    if isinstance(address, IPv4Address):
        return (address,)
    bare = IPv6Address(int(address))
    if bare.ipv4_mapped is not None:
        return (bare, bare.ipv4_mapped)
    return (bare,)


def _not_a_network(text: str) -> str:
    return f"Not an IP network: {text!r} (expected CIDR such as 192.0.2.0/24 or 2001:db8::/32)"
