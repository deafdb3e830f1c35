"""DKIM key pairs and the DNS TXT record that publishes one: `tidings dkim generate`.

Invariant: a DkimKey is always well-formed (a lower-case DNS name, a valid selector, a PEM
private key and the matching public key), and the record printed for it is exactly what
receivers need to verify its signatures (RFC 6376 section 3.6.1, RFC 8463 for ed25519).
Pure apart from drawing fresh keys.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

#: The signing algorithms offered, named as the k= tag of the DNS record names them.
ALGORITHMS = ("rsa", "ed25519")
#: RFC 8301 requires at least 1024 bits; 2048 is what receivers expect today and still
#: fits a TXT record in two strings.
RSA_BITS = 2048
#: One character-string of a TXT record holds at most 255 octets (RFC 1035 3.3).
TXT_STRING_MAX = 255

SELECTOR = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class DkimKey:
    domain: str
    selector: str
    algorithm: str
    #: PKCS#8 PEM; it never leaves Redis except into a signer.
    private_key: bytes
    #: The p= value: base64 of the DER public key (RSA) or of the raw 32 bytes (ed25519).
    public_key: str


def normalize_domain(domain: str) -> str:
    """The domain as the d= tag and the record name carry it: lower case, A-labels, no
    trailing dot. At least two labels, since no one sends mail from a bare TLD."""
    name = domain.strip().rstrip(".").lower()
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"invalid domain {domain!r}: not a DNS name") from None
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(LABEL.fullmatch(x) for x in labels):
        raise ValueError(f"invalid domain {domain!r}: use a DNS name such as example.com")
    return name


def normalize_selector(selector: str) -> str:
    name = selector.strip().lower()
    if not SELECTOR.fullmatch(name):
        raise ValueError(f"invalid selector {selector!r}: use letters, digits or '-', "
                         "starting with a letter or digit, at most 63 characters")
    return name


def generate(domain: str, selector: str = "tidings", algorithm: str = "rsa") -> DkimKey:
    domain, selector = normalize_domain(domain), normalize_selector(selector)
    if algorithm == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        public = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    elif algorithm == "ed25519":
        private = ed25519.Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    else:
        raise ValueError(f"invalid algorithm {algorithm!r}: use {' or '.join(ALGORITHMS)}")
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return DkimKey(domain=domain, selector=selector, algorithm=algorithm, private_key=pem,
                   public_key=base64.b64encode(public).decode("ascii"))


def record_name(key: DkimKey) -> str:
    return f"{key.selector}._domainkey.{key.domain}"


def txt_value(key: DkimKey) -> str:
    """The record's text as one string, for DNS panels that take name and value apart."""
    return f"v=DKIM1; k={key.algorithm}; p={key.public_key}"


def txt_record(key: DkimKey) -> str:
    """The record in zone-file syntax, ready to paste. An RSA-2048 value is longer than
    one TXT string may be, so it is split into several; resolvers join them again."""
    value = txt_value(key)
    chunks = [value[i:i + TXT_STRING_MAX] for i in range(0, len(value), TXT_STRING_MAX)]
    strings = " ".join(f'"{chunk}"' for chunk in chunks)
    return f"{record_name(key)}. IN TXT ( {strings} )"
