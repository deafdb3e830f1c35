"""The account's sending rate as a sliding one-minute window over two fixed-window counts.

The caller reads the counters (the I/O); this module only decides. With a limit of N,
exactly N messages fit in any minute: the (N+1)th is refused until the window slides.
"""

from __future__ import annotations

from policy.facts import RateFacts


def estimate(rate: RateFacts) -> float:
    """Messages sent in the last minute, assuming the previous window's were spread evenly.

    This is the usual sliding-window approximation: it needs two counters instead of one
    timestamp per message and errs by at most the unevenness of the previous minute.
    """
    elapsed = min(max(rate.elapsed, 0.0), 1.0)
    return rate.previous * (1.0 - elapsed) + rate.current


def rate_exceeded(limit_per_minute: int, rate: RateFacts) -> bool:
    """`rate` counts messages already accepted, so the one asking now is refused at `limit`."""
    if limit_per_minute <= 0:
        return False
    return estimate(rate) >= limit_per_minute
