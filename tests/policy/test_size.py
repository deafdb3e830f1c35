import pytest

from policy.size import size_exceeded


@pytest.mark.parametrize(
    ("size", "max_size", "exceeded"),
    [
        (None, 512_000, False),
        (0, 512_000, False),
        (511_999, 512_000, False),
        (512_000, 512_000, False),
        (512_001, 512_000, True),
        (10**12, 512_000, True),
        (1, 0, True),
    ],
)
def test_size_exceeded(size, max_size, exceeded):
    assert size_exceeded(size, max_size=max_size) is exceeded
