import pytest

from policy.facts import RateFacts
from policy.rate import estimate, rate_exceeded


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (RateFacts(), 0.0),
        (RateFacts(current=7), 7.0),
        (RateFacts(previous=60, elapsed=0.0), 60.0),
        (RateFacts(previous=60, elapsed=0.25), 45.0),
        (RateFacts(previous=60, elapsed=0.5), 30.0),
        (RateFacts(previous=60, elapsed=1.0), 0.0),
        (RateFacts(current=10, previous=60, elapsed=0.5), 40.0),
        (RateFacts(current=10, previous=60, elapsed=-0.5), 70.0),
        (RateFacts(current=10, previous=60, elapsed=1.5), 10.0),
    ],
)
def test_estimate_decays_the_previous_window(rate, expected):
    assert estimate(rate) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("limit", "rate", "exceeded"),
    [
        (0, RateFacts(current=10**9), False),
        (-1, RateFacts(current=10**9), False),
        (60, RateFacts(), False),
        (60, RateFacts(current=59), False),
        (60, RateFacts(current=60), True),
        (60, RateFacts(current=61), True),
        (1, RateFacts(current=0), False),
        (1, RateFacts(current=1), True),
        (60, RateFacts(previous=60, elapsed=0.0), True),
        (60, RateFacts(previous=60, elapsed=0.01), False),
        (60, RateFacts(current=30, previous=60, elapsed=0.5), True),
        (60, RateFacts(current=29, previous=60, elapsed=0.5), False),
        (60, RateFacts(current=59, previous=60, elapsed=1.0), False),
    ],
)
def test_rate_exceeded(limit, rate, exceeded):
    assert rate_exceeded(limit, rate) is exceeded


@pytest.mark.parametrize("limit", [1, 2, 60, 1000])
def test_exactly_limit_messages_fit_in_a_minute(limit):
    accepted = 0
    while not rate_exceeded(limit, RateFacts(current=accepted, elapsed=0.5)):
        accepted += 1
        assert accepted <= limit
    assert accepted == limit
