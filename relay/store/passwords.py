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
import string

SCHEME = "hmac-sha256"
#: Letters and digits only: a secret starting with "-" is taken for an option by
#: command-line tools (swaks, curl), and "_" separates the parts of an API key.
ALPHABET = string.ascii_letters + string.digits
#: 32 characters of 62: 190 bits, comfortably above the 128 required.
SECRET_LENGTH = 32


def new_secret() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(SECRET_LENGTH))


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
