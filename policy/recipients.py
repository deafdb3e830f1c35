"""Mailbox syntax of RFC 5321 (and RFC 6531 for SMTPUTF8), as Tidings accepts it.

An address is valid only if a receiving MTA could be expected to take it: a dot-atom or
quoted local part and a hostname domain. Address literals, control characters, spaces
and line breaks are never valid, and non-ASCII only when the transaction declared
SMTPUTF8. `senders.py` reuses these checks so both sides agree on what an address is.
"""

from __future__ import annotations

import functools
import string
import unicodedata

#: RFC 5321 section 4.5.3.1: octet limits of the local part, domain and whole path.
MAX_LOCAL_OCTETS = 64
MAX_DOMAIN_OCTETS = 253
MAX_ADDRESS_OCTETS = 254
MAX_LABEL_OCTETS = 63

_ATEXT = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~")
_LDH = frozenset(string.ascii_letters + string.digits + "-")
#: Unicode categories no address may contain: controls, surrogates, separators.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zs", "Zl", "Zp"})


@functools.lru_cache(maxsize=8192)
def is_valid_address(address: str, *, smtputf8: bool) -> bool:
    """Cached: transactional mail repeats its senders, and this runs at MAIL, RCPT and DATA."""
    if not _clean(address) or (not smtputf8 and not address.isascii()):
        return False
    if len(address.encode()) > MAX_ADDRESS_OCTETS:
        return False
    local, domain = split_address(address)
    return is_valid_local_part(local, smtputf8=smtputf8) and is_valid_domain(
        domain, smtputf8=smtputf8
    )


def split_address(address: str) -> tuple[str, str]:
    """Split at the `@` that ends the local part, which a quoted string may itself contain."""
    if address.startswith('"'):
        end = _quoted_end(address)
        if end is not None and address[end + 1 : end + 2] == "@":
            return address[: end + 1], address[end + 2 :]
        return address, ""
    local, _, domain = address.partition("@")
    return local, domain


def is_valid_local_part(local: str, *, smtputf8: bool) -> bool:
    if not local or not _clean(local) or len(local.encode()) > MAX_LOCAL_OCTETS:
        return False
    if not smtputf8 and not local.isascii():
        return False
    if local.startswith('"'):
        return _quoted_end(local) == len(local) - 1 and len(local) > 2
    return all(atom and all(_is_atext(ch) for ch in atom) for atom in local.split("."))


def is_valid_domain(domain: str, *, smtputf8: bool) -> bool:
    """A hostname of at least two LDH labels; IDN only with SMTPUTF8, checked as A-labels."""
    if not domain or not _clean(domain) or domain.startswith("["):
        return False
    if not domain.isascii():
        if not smtputf8:
            return False
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return False
    labels = domain.split(".")
    if len(domain) > MAX_DOMAIN_OCTETS or len(labels) < 2:
        return False
    # An all-numeric last label makes a dotted quad look like a host name.
    return all(_is_ldh_label(label) for label in labels) and not labels[-1].isdigit()


def _is_ldh_label(label: str) -> bool:
    if not 0 < len(label) <= MAX_LABEL_OCTETS or label[0] == "-" or label[-1] == "-":
        return False
    if not all(ch in _LDH for ch in label):
        return False
    if label[:4].lower() == "xn--":
        try:
            label.encode("ascii").decode("idna")
        except UnicodeError:
            return False
    return True


def _is_atext(ch: str) -> bool:
    return ch in _ATEXT or not ch.isascii()


def _quoted_end(text: str) -> int | None:
    """Index of the DQUOTE closing the quoted string at text[0], or None if it is malformed."""
    escaped = False
    for index in range(1, len(text)):
        ch = text[index]
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            return index
    return None


def _clean(text: str) -> bool:
    """No controls, spaces or line breaks, which could split a command or a header."""
    return all(_printable(ch) for ch in text)


def _printable(ch: str) -> bool:
    if ch.isascii():
        return ch.isprintable() and ch != " "
    return unicodedata.category(ch) not in _FORBIDDEN_CATEGORIES
