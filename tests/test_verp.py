"""VERP addresses: made here, decoded here; anything else is nobody's."""

from __future__ import annotations

import pytest

from relay.bounces.verp import VerpAddress, VerpKind, decode, encode

KEY = b"k" * 32
ID = "01jd8x5k2m3n4p5q6r7s8t9v0w"


@pytest.mark.parametrize("kind", list(VerpKind))
def test_round_trip(kind):
    address = encode(KEY, kind, ID, "Bounces.Example")
    assert address == address.lower() and len(address.partition("@")[0]) <= 64
    assert decode(KEY, address, "bounces.example") == VerpAddress(kind, ID)
    assert decode(KEY, address.upper(), "BOUNCES.example") == VerpAddress(kind, ID)


def test_every_altered_character_fails():
    address = encode(KEY, VerpKind.BOUNCE, ID, "b.example")
    local = address.partition("@")[0]
    for i, char in enumerate(local):
        other = "3" if char != "3" else "4"
        assert decode(KEY, local[:i] + other + local[i + 1:] + "@b.example", "b.example") is None


@pytest.mark.parametrize("address", [
    "", "postmaster@b.example", f"b-{ID}@b.example", f"x-{ID}-aaaaaaaa@b.example",
    "b-" + "0" * 400 + "@b.example", "b-ü@b.example",
])
def test_garbage_is_nobodys(address):
    assert decode(KEY, address, "b.example") is None


def test_other_key_or_domain_or_kind_fails():
    address = encode(KEY, VerpKind.BOUNCE, ID, "b.example")
    assert decode(b"x" * 32, address, "b.example") is None
    assert decode(KEY, address, "c.example") is None
    assert decode(KEY, "u" + address[1:], "b.example") is None
