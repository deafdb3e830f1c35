"""Generated secrets (SMTP passwords, API keys) and their keyed hashes.

Tidings makes every secret itself with at least 128 bits of randomness, so a fast keyed
hash (HMAC-SHA256 with a per-secret salt) is as strong as a slow one against a stolen
database, and keeps AUTH at thousands per second. Only the hash is ever stored;
comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SCHEME = "hmac-sha256"
#: 24 random bytes: 192 bits, comfortably above the 128 required.
SECRET_BYTES = 24


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    return f"{SCHEME}${salt.hex()}${_digest(salt, secret)}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, salt_hex, digest = stored.split("$")
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    if scheme != SCHEME:
        return False
    return hmac.compare_digest(_digest(salt, secret), digest)


def _digest(salt: bytes, secret: str) -> str:
    return hmac.new(salt, secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
