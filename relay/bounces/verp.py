"""Signed VERP addresses: the per-message return path, and the mailto: of List-Unsubscribe.

Invariant: an address decodes only if this installation made it (HMAC with the signing
key), so a bounce or unsubscribe mail can never be attributed to a message by guessing
its id. Everything is lower case, because some mail servers fold the local part's case.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
from dataclasses import dataclass

#: Bits of MAC in an address: 40, which guessing at mail speed cannot reach.
_MAC_BYTES = 5
_ADDRESS = re.compile(r"^([bu])-([0-9a-hjkmnp-tv-z]{26})-([a-z2-7]{8})@(.+)$")


class VerpKind(enum.StrEnum):
    BOUNCE = "b"
    UNSUBSCRIBE = "u"


@dataclass(frozen=True)
class VerpAddress:
    kind: VerpKind
    message_id: str


def encode(key: bytes, kind: VerpKind, message_id: str, domain: str) -> str:
    return f"{kind.value}-{message_id}-{_mac(key, kind.value, message_id)}@{domain.lower()}"


def decode(key: bytes, address: str, domain: str) -> VerpAddress | None:
    """The message an address stands for; None for anything not made here for `domain`."""
    match = _ADDRESS.match(address.strip().lower()) if len(address) < 320 else None
    if match is None or match.group(4) != domain.lower():
        return None
    kind, message_id, mac = match.group(1), match.group(2), match.group(3)
    if not hmac.compare_digest(mac, _mac(key, kind, message_id)):
        return None
    return VerpAddress(VerpKind(kind), message_id)


def _mac(key: bytes, kind: str, message_id: str) -> str:
    digest = hmac.new(key, f"verp:{kind}:{message_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:_MAC_BYTES]).decode().lower()
