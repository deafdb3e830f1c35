"""Confirmed senders: which envelope senders and From: addresses an account may use.

An entry is a full address or a whole domain written `@domain`. A domain entry covers
every local part at exactly that domain, never its subdomains. An address that is not a
valid mailbox (empty, malformed, with a trailing dot on the domain) is never confirmed,
so no spelling variant of a domain can pass for it.
"""

from __future__ import annotations

import functools

from policy.recipients import is_valid_address, is_valid_domain, split_address


def normalize_sender(text: str) -> str:
    """Validate a confirmed-sender entry and return the form `is_confirmed` compares with."""
    problem = _problem(text)
    if problem:
        raise ValueError(f"Invalid sender {text!r}: {problem}")
    return _lower(text)


@functools.lru_cache(maxsize=8192)
def is_confirmed(address: str, senders: frozenset[str]) -> bool:
    """Cached per (address, senders): the rules cache hands out the same frozenset each time."""
    if not is_valid_address(address, smtputf8=True):
        return False
    address = _lower(address)
    _, domain = split_address(address)
    return address in senders or f"@{domain}" in senders


def _problem(text: str) -> str | None:
    if not text:
        return "it is empty; expected user@domain or @domain"
    if "@" not in text:
        return "no @; expected user@domain or @domain"
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        return "spaces and control characters are not allowed"
    domain = text[1:] if text.startswith("@") else split_address(text)[1]
    if not is_valid_domain(domain, smtputf8=True):
        return f"{domain!r} is not a valid domain name"
    if not text.startswith("@") and not is_valid_address(text, smtputf8=True):
        return "not a valid mailbox; expected user@domain or @domain"
    return None


def _lower(text: str) -> str:
    return "".join(_lower_char(ch) for ch in text)


def _lower_char(ch: str) -> str:
    """Unicode maps a few non-ASCII letters to ASCII ones (KELVIN SIGN to k); folding those
    would let a look-alike domain pass for a confirmed one, so they keep their case."""
    lower = ch.lower()
    if ch.isascii() or not any(c.isascii() for c in lower):
        return lower
    return ch
