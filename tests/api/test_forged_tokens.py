"""Forged and altered tokens: always 404, never a Location header, never an event."""

from __future__ import annotations

import pytest

from relay import tokens
from relay.tokens import MAC_CHARS, MESSAGE_ID_LENGTH, TokenKind
from tests.api.conftest import KEY, counters
from tests.helpers.delivery import events


def _flip(token: str, position: int) -> str:
    """The token with one character changed to another of the same alphabet."""
    pool = "12" if token[position].isdigit() else "ab"
    replacement = pool[0] if token[position] != pool[0] else pool[1]
    return token[:position] + replacement + token[position + 1:]


TAMPERINGS = {
    "id first char": lambda t: _flip(t, 0),
    "id middle char": lambda t: _flip(t, MESSAGE_ID_LENGTH // 2),
    "id last char": lambda t: _flip(t, MESSAGE_ID_LENGTH - 1),
    "index": lambda t: _flip(t, MESSAGE_ID_LENGTH),
    "index grown": lambda t: t[:MESSAGE_ID_LENGTH] + "1" + t[MESSAGE_ID_LENGTH:],
    "index with leading zero": lambda t: t[:MESSAGE_ID_LENGTH] + "0" + t[MESSAGE_ID_LENGTH:],
    "mac first char": lambda t: _flip(t, len(t) - MAC_CHARS),
    "mac last char": lambda t: _flip(t, len(t) - 1),
    "truncated": lambda t: t[:-1],
    "extended": lambda t: t + "A",
    "upper case": lambda t: t.upper(),
    "empty-ish": lambda t: "x",
    "oversized": lambda t: t * 4,
}


@pytest.mark.parametrize("kind", list(TokenKind))
@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_an_altered_token_is_404(http, delivered, r, kind, tamper):
    message = delivered()
    token = tamper(tokens.sign(KEY, kind, message.id, 1 if kind is TokenKind.CLICK else 0))
    for method in ("GET", "POST") if kind is TokenKind.UNSUBSCRIBE else ("GET",):
        response = http.request(method, f"/t/{kind.value}/{token}")
        assert response.status_code == 404, (method, token)
        assert "location" not in response.headers
    assert events(r, message.id) == [] and counters(r, "shop") == {}
    assert r.scard(f"tidings:suppressed:{message.account}") == 0


@pytest.mark.parametrize("kind", list(TokenKind))
def test_a_token_of_another_kind_is_404(http, delivered, r, kind):
    message = delivered()
    for other in TokenKind:
        if other is kind:
            continue
        response = http.get(f"/t/{kind.value}/{tokens.sign(KEY, other, message.id)}")
        assert response.status_code == 404 and "location" not in response.headers
    assert events(r, message.id) == []


def test_a_token_signed_with_another_key_is_404(http, delivered, r):
    message = delivered()
    token = tokens.sign(b"some other key", TokenKind.CLICK, message.id, 0)
    response = http.get(f"/t/c/{token}")
    assert response.status_code == 404 and "location" not in response.headers
    assert events(r, message.id) == []


def test_a_click_token_cannot_be_moved_to_another_link(http, delivered):
    """The MAC covers the index: the id and MAC of link 0 with index 1 is no link at all."""
    message = delivered()
    token = tokens.sign(KEY, TokenKind.CLICK, message.id, 0)
    moved = token[:MESSAGE_ID_LENGTH] + "1" + token[MESSAGE_ID_LENGTH + 1:]
    response = http.get(f"/t/c/{moved}")
    assert response.status_code == 404 and "location" not in response.headers
