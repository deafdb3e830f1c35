"""The retry schedule: when a deferred message is tried next, or that it has expired.

Pure: time comes in as arguments. Delays grow like Postfix's and Haraka's (a minute at
first, hours later) with jitter, so that a destination that was down is not hit by every
deferred message in the same second when it comes back.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Delay after the n-th failed attempt (seconds); the last one repeats.
DELAYS = (60, 300, 900, 1800, 3600, 7200, 14400)
#: Each delay is stretched or shrunk by up to this fraction.
JITTER = 0.2


@dataclass(frozen=True)
class Expired:
    """The message has been deferred for longer than the queue keeps anything."""

    age: float


def next_attempt(attempts: int, first_seen: float, now: float, max_age: float,
                 jitter: float = 0.5) -> float | Expired:
    """Epoch second of the next attempt after `attempts` failed ones.

    `jitter` in [0, 1) picks where in the jitter band the delay lands (the caller draws it
    at random). The last attempt is made at the deadline itself, so a message is tried
    once more before it expires, however the delays fall.
    """
    deadline = first_seen + max_age
    if now >= deadline:
        return Expired(age=now - first_seen)
    base = DELAYS[min(max(attempts, 1), len(DELAYS)) - 1]
    delay = base * (1 - JITTER + 2 * JITTER * jitter)
    return min(now + delay, deadline)
