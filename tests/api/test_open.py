"""GET /t/o/<token>: the pixel, opens and unique opens, and prefetches that count no reader."""

from __future__ import annotations

from api.pages import PIXEL
from relay import keys
from relay.tokens import TokenKind
from tests.api.conftest import counters
from tests.helpers.delivery import events

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)"


def test_the_pixel_is_a_transparent_gif_never_cached(http, delivered):
    message = delivered()
    response = http.get(message.path(TokenKind.OPEN), headers={"User-Agent": BROWSER})
    assert response.status_code == 200
    assert response.content == PIXEL and len(PIXEL) == 43 and PIXEL.startswith(b"GIF89a")
    assert response.headers["content-type"] == "image/gif"
    assert response.headers["cache-control"] == "no-store, private"


def test_two_opens_count_twice_and_once_unique(http, delivered, r):
    message = delivered()
    for _ in range(2):
        assert http.get(message.path(TokenKind.OPEN), headers={"User-Agent": BROWSER}).is_success
    assert counters(r, "shop") == {"opened": 2, "opened_unique": 1}
    first, second = events(r, message.id)
    assert first["name"] == second["name"] == "opened"
    assert first["detail"] == {"client_ip": "127.0.0.1", "user_agent": BROWSER,
                               "prefetch": False, "unique": True}
    assert second["detail"]["unique"] is False
    assert first["account"] == "shop" and first["message_id"] == message.id


def test_an_open_right_after_delivery_is_a_prefetch(http, delivered, r):
    message = delivered(ago=0.5)
    http.get(message.path(TokenKind.OPEN), headers={"User-Agent": BROWSER})
    assert counters(r, "shop") == {"opened": 1}
    (event,) = events(r, message.id)
    assert event["detail"]["prefetch"] is True and event["detail"]["unique"] is False
    assert r.hget(keys.message(message.id), "first_open") is None


def test_a_scanner_does_not_take_the_readers_unique_open(http, delivered, r):
    message = delivered()
    http.get(message.path(TokenKind.OPEN), headers={"User-Agent": "Mozilla/5.0"})
    http.get(message.path(TokenKind.OPEN), headers={"User-Agent": BROWSER})
    assert counters(r, "shop") == {"opened": 2, "opened_unique": 1}
    assert [e["detail"]["prefetch"] for e in events(r, message.id)] == [True, False]


def test_a_long_user_agent_is_cut(http, delivered, r):
    message = delivered()
    http.get(message.path(TokenKind.OPEN), headers={"User-Agent": BROWSER + "x" * 500})
    (event,) = events(r, message.id)
    assert event["detail"]["user_agent"] == (BROWSER + "x" * 500)[:200]


def test_an_expired_message_gets_the_pixel_with_404_and_records_nothing(http, delivered, r):
    message = delivered()
    r.delete(keys.message(message.id))
    response = http.get(message.path(TokenKind.OPEN))
    assert response.status_code == 404 and response.content == PIXEL
    assert counters(r, "shop") == {} and events(r, message.id) == []
