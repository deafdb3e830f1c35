"""GET /t/c/<token>: a 302 to exactly the original link, counted; a gone link is a 404."""

from __future__ import annotations

from relay import keys
from relay.tokens import TokenKind
from tests.api.conftest import LINKS, counters
from tests.helpers.delivery import events

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


def test_a_click_redirects_to_the_original_link_and_counts(http, delivered, r):
    message = delivered()
    response = http.get(message.path(TokenKind.CLICK, 0), headers={"User-Agent": BROWSER})
    assert response.status_code == 302
    assert response.headers["location"] == "https://shop.example/orders/1?a=1&b=2"
    assert response.headers["referrer-policy"] == "no-referrer"
    second = http.get(message.path(TokenKind.CLICK, 1), headers={"User-Agent": BROWSER})
    assert second.headers["location"] == LINKS[1]
    assert counters(r, "shop") == {"clicked": 2, "clicked_unique": 1}
    first, other = events(r, message.id)
    assert first["name"] == "clicked"
    assert first["detail"] == {"client_ip": "127.0.0.1", "user_agent": BROWSER,
                               "prefetch": False, "unique": True, "url": LINKS[0], "index": 0}
    assert other["detail"]["unique"] is False and other["detail"]["index"] == 1


def test_a_scanner_click_still_redirects_but_is_no_unique_click(http, delivered, r):
    message = delivered()
    response = http.get(message.path(TokenKind.CLICK, 0),
                        headers={"User-Agent": "Mimecast URL Protect"})
    assert response.status_code == 302
    http.get(message.path(TokenKind.CLICK, 0), headers={"User-Agent": BROWSER})
    assert counters(r, "shop") == {"clicked": 2, "clicked_unique": 1}
    assert [e["detail"]["prefetch"] for e in events(r, message.id)] == [True, False]


def test_a_link_number_past_the_list_is_404(http, delivered, r):
    message = delivered()
    response = http.get(message.path(TokenKind.CLICK, len(LINKS)))
    assert response.status_code == 404 and "location" not in response.headers
    assert events(r, message.id) == []


def test_expired_links_are_404_and_record_nothing(http, delivered, r):
    message = delivered()
    r.delete(keys.links(message.id))
    response = http.get(message.path(TokenKind.CLICK, 0))
    assert response.status_code == 404 and "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert counters(r, "shop") == {} and events(r, message.id) == []
