import pytest

from policy.auth import AuthThrottle, auth_throttle


@pytest.mark.parametrize(
    ("failures", "max_failures", "expected"),
    [
        (0, 10, AuthThrottle(delay=0.0, locked=False)),
        (1, 10, AuthThrottle(delay=0.0, locked=False)),
        (2, 10, AuthThrottle(delay=0.0, locked=False)),
        (3, 10, AuthThrottle(delay=0.5, locked=False)),
        (4, 10, AuthThrottle(delay=1.0, locked=False)),
        (5, 10, AuthThrottle(delay=2.0, locked=False)),
        (6, 10, AuthThrottle(delay=4.0, locked=False)),
        (7, 10, AuthThrottle(delay=5.0, locked=False)),
        (9, 10, AuthThrottle(delay=5.0, locked=False)),
        (10, 10, AuthThrottle(delay=5.0, locked=True)),
        (11, 10, AuthThrottle(delay=5.0, locked=True)),
        (10**6, 10, AuthThrottle(delay=5.0, locked=True)),
        (2, 2, AuthThrottle(delay=0.0, locked=True)),
        (3, 3, AuthThrottle(delay=0.5, locked=True)),
    ],
)
def test_auth_throttle(failures, max_failures, expected):
    assert auth_throttle(failures, max_failures=max_failures) == expected


def test_delay_never_shrinks_as_failures_grow():
    delays = [auth_throttle(n, max_failures=100).delay for n in range(100)]
    assert delays == sorted(delays)
    assert max(delays) == 5.0
