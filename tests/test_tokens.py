"""Tracking tokens: they round-trip, and nothing but an intact token for the right kind verifies."""

from __future__ import annotations

import string

import pytest

from relay import tokens
from relay.tokens import TokenData, TokenKind, sign, verify

KEY = b"k" * 32
OTHER_KEY = b"K" * 32
MESSAGE_ID = "01jd8x5k2m3n4p5q6r7s8t9v0w"
URL_SAFE = frozenset(string.ascii_letters + string.digits + "-_")

ROUND_TRIPS = [
    (TokenKind.OPEN, 0),
    (TokenKind.UNSUBSCRIBE, 0),
    (TokenKind.WEB, 0),
    (TokenKind.CLICK, 0),
    (TokenKind.CLICK, 7),
    (TokenKind.CLICK, 499),
    (TokenKind.CLICK, tokens.MAX_INDEX),
]


@pytest.mark.parametrize(("kind", "index"), ROUND_TRIPS)
def test_round_trip(kind, index):
    token = sign(KEY, kind, MESSAGE_ID, index)
    assert verify(KEY, kind, token) == TokenData(kind=kind, message_id=MESSAGE_ID, index=index)
    assert URL_SAFE.issuperset(token)
    assert tokens.MIN_LENGTH <= len(token) <= tokens.MAX_LENGTH <= 52


def test_the_path_segments_are_the_kind_values():
    assert [kind.value for kind in TokenKind] == ["o", "c", "u", "w"]


@pytest.mark.parametrize(("kind", "index"), ROUND_TRIPS)
def test_changing_any_character_fails(kind, index):
    token = sign(KEY, kind, MESSAGE_ID, index)
    for position, original in enumerate(token):
        for replacement in {"0", "1", "a", "z", "A", "-", "_"} - {original}:
            altered = token[:position] + replacement + token[position + 1 :]
            assert verify(KEY, kind, altered) is None, (position, replacement)


@pytest.mark.parametrize(("kind", "index"), ROUND_TRIPS)
def test_dropping_or_adding_a_character_fails(kind, index):
    token = sign(KEY, kind, MESSAGE_ID, index)
    for position in range(len(token)):
        assert verify(KEY, kind, token[:position] + token[position + 1 :]) is None
        assert verify(KEY, kind, token[:position] + "0" + token[position:]) is None
    assert verify(KEY, kind, token + "A") is None


@pytest.mark.parametrize(("kind", "index"), ROUND_TRIPS)
def test_another_key_fails(kind, index):
    assert verify(OTHER_KEY, kind, sign(KEY, kind, MESSAGE_ID, index)) is None


@pytest.mark.parametrize("made_for", list(TokenKind))
@pytest.mark.parametrize("presented_as", list(TokenKind))
def test_a_token_verifies_only_for_its_own_kind(made_for, presented_as):
    token = sign(KEY, made_for, MESSAGE_ID)
    expected = TokenData(made_for, MESSAGE_ID, 0) if made_for is presented_as else None
    assert verify(KEY, presented_as, token) == expected


def test_a_click_token_for_another_link_is_a_different_token():
    first, second = (sign(KEY, TokenKind.CLICK, MESSAGE_ID, i) for i in (1, 2))
    assert first != second
    # Moving the MAC of link 1 onto link 2's payload must not verify.
    assert verify(KEY, TokenKind.CLICK, second[: -tokens.MAC_CHARS] + first[-20:]) is None


def test_the_kind_may_be_given_as_its_path_segment():
    token = sign(KEY, TokenKind.OPEN, MESSAGE_ID)
    assert verify(KEY, "o", token) == TokenData(TokenKind.OPEN, MESSAGE_ID, 0)
    assert verify(KEY, "x", token) is None


GARBAGE = [
    "",
    "0",
    MESSAGE_ID,
    "a" * 47,
    "a" * 10_000_000,
    MESSAGE_ID.upper() + "0" + "A" * 20,
    MESSAGE_ID + "0" + "A" * 19 + "=",
    MESSAGE_ID + "0" + "A" * 19 + "/",
    MESSAGE_ID + "00" + "A" * 20,
    MESSAGE_ID + "-1" + "A" * 20,
    MESSAGE_ID + "1000000" + "A" * 20,
    MESSAGE_ID + "\u0661" + "A" * 20,
    MESSAGE_ID[:-1] + "é" + "0" + "A" * 20,
    MESSAGE_ID[:-1] + "i" + "0" + "A" * 20,
    "../../etc/passwd" + "x" * 40,
    "0" * 26 + "0" + "\x00" * 20,
    None,
    b"bytes-are-not-tokens" * 3,
    12345,
]


@pytest.mark.parametrize("token", GARBAGE, ids=lambda t: repr(t)[:40])
@pytest.mark.parametrize("kind", list(TokenKind))
def test_garbage_is_none(kind, token):
    assert verify(KEY, kind, token) is None


@pytest.mark.parametrize(
    ("kind", "message_id", "index"),
    [
        (TokenKind.OPEN, MESSAGE_ID.upper(), 0),
        (TokenKind.OPEN, MESSAGE_ID[:-1], 0),
        (TokenKind.OPEN, MESSAGE_ID[:-1] + "u", 0),
        (TokenKind.OPEN, MESSAGE_ID, 1),
        (TokenKind.UNSUBSCRIBE, MESSAGE_ID, 3),
        (TokenKind.CLICK, MESSAGE_ID, -1),
        (TokenKind.CLICK, MESSAGE_ID, tokens.MAX_INDEX + 1),
        (TokenKind.CLICK, MESSAGE_ID, True),
        (TokenKind.CLICK, MESSAGE_ID, 1.0),
        ("q", MESSAGE_ID, 0),
    ],
)
def test_sign_refuses_what_no_token_can_carry(kind, message_id, index):
    with pytest.raises(ValueError):
        sign(KEY, kind, message_id, index)


def test_tokens_are_deterministic_and_differ_per_message():
    other = "01jd8x5k2m3n4p5q6r7s8t9v0x"
    assert sign(KEY, TokenKind.OPEN, MESSAGE_ID) == sign(KEY, TokenKind.OPEN, MESSAGE_ID)
    assert sign(KEY, TokenKind.OPEN, MESSAGE_ID) != sign(KEY, TokenKind.OPEN, other)
