"""Throttling of failed AUTH attempts per client address.

Guessing passwords must get slower with every failure and stop entirely at the limit,
while a user who mistypes once or twice notices no delay at all. The caller counts
failures in its window and sleeps; this module only decides how long and whether to lock.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Failures answered without delay: typos, not guessing.
FREE_FAILURES = 2
#: Delay after the first failure past the free ones; doubles with each further failure.
FIRST_DELAY = 0.5
#: No failure waits longer than this, so a locked-out client is not held open forever.
MAX_DELAY = 5.0


@dataclass(frozen=True)
class AuthThrottle:
    """How long to wait before answering a failed AUTH, and whether to refuse with a 421."""

    delay: float
    locked: bool


def auth_throttle(failures: int, *, max_failures: int) -> AuthThrottle:
    """`failures` counts the current failure too, so the third failure is the first delayed."""
    return AuthThrottle(delay=_delay(failures), locked=failures >= max_failures)


def _delay(failures: int) -> float:
    doublings = failures - FREE_FAILURES - 1
    if doublings < 0:
        return 0.0
    # Bounded before exponentiation so a huge count cannot overflow a float.
    return min(FIRST_DELAY * 2 ** min(doublings, 16), MAX_DELAY)
