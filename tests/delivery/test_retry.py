"""The retry schedule as a table: time is an argument, nothing sleeps."""

from __future__ import annotations

import pytest

from relay.delivery.retry import DELAYS, JITTER, Expired, next_attempt

T0 = 1_800_000_000.0
DAY2 = 48 * 3600.0


@pytest.mark.parametrize(("attempts", "now", "expected"), [
    (1, T0, T0 + 60),
    (2, T0 + 60, T0 + 60 + 300),
    (3, T0 + 400, T0 + 400 + 900),
    (7, T0 + 10_000, T0 + 10_000 + 14400),
    (30, T0 + 20_000, T0 + 20_000 + 14400),  # the last delay repeats
])
def test_delays_grow(attempts, now, expected):
    assert next_attempt(attempts, T0, now, DAY2, jitter=0.5) == expected


@pytest.mark.parametrize("jitter", [0.0, 0.25, 0.999])
def test_jitter_stays_in_its_band(jitter):
    when = next_attempt(1, T0, T0, DAY2, jitter=jitter)
    assert DELAYS[0] * (1 - JITTER) <= when - T0 <= DELAYS[0] * (1 + JITTER)


def test_jitter_spreads_attempts():
    assert next_attempt(4, T0, T0, DAY2, jitter=0.0) < next_attempt(4, T0, T0, DAY2, jitter=0.9)


def test_last_attempt_is_at_the_deadline():
    now = T0 + DAY2 - 100
    assert next_attempt(7, T0, now, DAY2) == T0 + DAY2


@pytest.mark.parametrize("now", [T0 + DAY2, T0 + DAY2 + 1, T0 + 10 * DAY2])
def test_expired_at_and_after_the_deadline(now):
    assert next_attempt(3, T0, now, DAY2) == Expired(age=now - T0)
