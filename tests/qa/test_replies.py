"""The reply table's naming and code conventions (DESIGN.md principle 4).

A constant named R554_X must send basic code 554, and an enhanced status code (RFC 3463)
must share the basic code's class; 3xx replies carry no enhanced code at all.
"""

from __future__ import annotations

import re

import pytest

from relay.smtp import replies

REPLY_CONSTANTS = sorted(
    (name, value)
    for name, value in vars(replies).items()
    if re.match(r"R\d", name) and isinstance(value, str)
)
ENHANCED = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")


def test_the_table_is_found():
    names = {name for name, _ in REPLY_CONSTANTS}
    assert {"R554_ATTACHMENT", "R451_INTERNAL", "R354_DATA"} <= names


@pytest.mark.parametrize(("name", "value"), REPLY_CONSTANTS, ids=[n for n, _ in REPLY_CONSTANTS])
def test_name_matches_basic_code(name, value):
    basic = value.split(" ", 1)[0]
    assert re.fullmatch(r"[2-5]\d\d", basic)
    assert re.match(r"R(\d+)_", name).group(1) == basic


@pytest.mark.parametrize(("name", "value"), REPLY_CONSTANTS, ids=[n for n, _ in REPLY_CONSTANTS])
def test_enhanced_code_class_matches_basic_code(name, value):
    basic, second, *_ = value.split(" ")
    if basic.startswith("3"):
        assert not re.fullmatch(r"\d\.\d+\.\d+", second)
        return
    assert ENHANCED.fullmatch(second), f"{name} has no enhanced status code"
    assert second[0] == basic[0]


def test_every_rule_has_a_reply_from_the_table():
    table = {value for _, value in REPLY_CONSTANTS}
    assert set(replies.RULE_REPLIES) == set(replies.Rule)
    assert set(replies.RULE_REPLIES.values()) <= table


@pytest.mark.parametrize("line, expected", [
    ("503 Error: need MAIL command", "503 5.5.1 Error: need MAIL command"),
    ("501 Syntax: MAIL FROM: <address>", "501 5.5.4 Syntax: MAIL FROM: <address>"),
    ('500 Error: command "FOO" not recognized', '500 5.5.2 Error: command "FOO" not recognized'),
    ("555 MAIL FROM parameters not recognized or not implemented",
     "555 5.5.4 MAIL FROM parameters not recognized or not implemented"),
    ("502 EXPN not implemented", "502 5.5.1 EXPN not implemented"),
    ("599 Something new", "599 5.0.0 Something new"),
    # Lines that already carry a code are left exactly as they are.
    ("554 5.7.1 Disallowed client address: 192.0.2.1",
     "554 5.7.1 Disallowed client address: 192.0.2.1"),
    ("250 2.0.0 Ok: queued as abc", "250 2.0.0 Ok: queued as abc"),
])
def test_enhanced_code_is_added_where_missing(line, expected):
    from relay.smtp.replies import with_enhanced_code

    assert with_enhanced_code(line) == expected
