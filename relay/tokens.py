"""Signed tokens for the tracking links: open pixel, click, unsubscribe and web version.

Invariant: ``verify`` returns data only for a token that ``sign`` made with the same key
for the same kind, message id and link index; anything else (forged, altered, truncated,
made for another kind, malformed, oversized) is None, and it never raises. The input is
checked against the exact token format before any MAC is computed, so junk costs no
hashing.

A token is ``<message id><index><mac>``, all URL-safe: the 26-character message id, the
link index in canonical decimal (``0`` for every kind but CLICK), and 20 characters of
base64url carrying 120 bits of HMAC-SHA256. The id and the MAC have fixed lengths, so
no separator is needed and a token is 47 to 52 characters long. The kind is not written:
it comes from the URL path, and the MAC covers it, so a click token is no open token.
"""

from __future__ import annotations

import base64
import enum
import hmac
from collections.abc import Callable
from dataclasses import dataclass

#: Length of a message id: a ULID in lower-case Crockford base32.
MESSAGE_ID_LENGTH = 26
#: Highest link index a token can carry; six decimal digits at most.
MAX_INDEX = 999_999
#: Bytes of the HMAC kept: 120 bits, well past the 96-bit floor, and exactly 20
#: base64url characters, so no character holds spare bits an attacker could flip.
MAC_BYTES = 15
MAC_CHARS = 20
#: Token length bounds, derived from the parts above.
MIN_LENGTH = MESSAGE_ID_LENGTH + 1 + MAC_CHARS
MAX_LENGTH = MESSAGE_ID_LENGTH + len(str(MAX_INDEX)) + MAC_CHARS

#: Separates tracking MACs from any other use of the same secret (VERP addresses).
_CONTEXT = b"tidings/track/v1"
_CROCKFORD = frozenset("0123456789abcdefghjkmnpqrstvwxyz")
_BASE64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_DIGITS = frozenset("0123456789")


class TokenKind(enum.StrEnum):
    """The four tracking endpoints; the value is the path segment, ``/t/<value>/<token>``."""

    OPEN = "o"
    CLICK = "c"
    UNSUBSCRIBE = "u"
    WEB = "w"


@dataclass(frozen=True)
class TokenData:
    kind: TokenKind
    message_id: str
    #: The link number for CLICK, 0 for the other kinds.
    index: int


def sign(key: bytes, kind: TokenKind, message_id: str, index: int = 0) -> str:
    """The token for one link; ValueError on arguments no token could carry.

    Refusing here, rather than writing something ``verify`` would reject, turns a
    caller's mistake into an error at send time instead of a dead link in the inbox.
    """
    return signer(key, message_id)(kind, index)


def signer(key: bytes, message_id: str) -> Callable[..., str]:
    """``sign`` for the links of one message, whose id is checked once: a message has two
    dozen links, and the checks cost more than the HMAC."""
    if not is_message_id(message_id):
        raise ValueError(f"not a message id: {message_id!r}")

    def sign_one(kind: TokenKind, index: int = 0) -> str:
        kind = kind if isinstance(kind, TokenKind) else TokenKind(kind)
        if index.__class__ is not int or not 0 <= index <= MAX_INDEX:  # bool is refused too
            raise ValueError(f"link index out of range: {index!r}")
        if index and kind is not TokenKind.CLICK:
            raise ValueError(f"only click tokens carry a link index, got {index} for {kind.name}")
        payload = f"{message_id}{index}"
        return payload + base64.urlsafe_b64encode(_mac(key, kind, payload)).decode("ascii")

    return sign_one


def verify(key: bytes, kind: TokenKind, token: str) -> TokenData | None:
    """What a token says, or None unless it is intact and was made for ``kind``."""
    try:
        kind = TokenKind(kind)
    except ValueError:
        return None
    parsed = _parse(token)
    if parsed is None:
        return None
    message_id, index, mac = parsed
    if index and kind is not TokenKind.CLICK:
        return None
    expected = _mac(key, kind, token[:-MAC_CHARS])
    if not hmac.compare_digest(expected, base64.urlsafe_b64decode(mac)):
        return None
    return TokenData(kind=kind, message_id=message_id, index=index)


def is_message_id(value: object) -> bool:
    return (
        isinstance(value, str)
        and len(value) == MESSAGE_ID_LENGTH
        and _CROCKFORD.issuperset(value)
    )


def _parse(token: object) -> tuple[str, int, str] | None:
    """(message id, index, MAC text) of a token in the exact format, else None.

    Only the canonical decimal form of the index is accepted, so each token has one
    spelling and a changed character can never mean the same thing.
    """
    if not isinstance(token, str) or not MIN_LENGTH <= len(token) <= MAX_LENGTH:
        return None
    message_id = token[:MESSAGE_ID_LENGTH]
    digits = token[MESSAGE_ID_LENGTH:-MAC_CHARS]
    mac = token[-MAC_CHARS:]
    if not (is_message_id(message_id) and _DIGITS.issuperset(digits)):
        return None
    if digits.startswith("0") and digits != "0":
        return None
    if not _BASE64URL.issuperset(mac):
        return None
    return message_id, int(digits), mac


def _mac(key: bytes, kind: TokenKind, payload: str) -> bytes:
    message = b"\x00".join((_CONTEXT, kind.value.encode("ascii"), payload.encode("ascii")))
    return hmac.digest(key, message, "sha256")[:MAC_BYTES]
