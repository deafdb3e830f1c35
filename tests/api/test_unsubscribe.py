"""/t/u/<token>: the GET page changes nothing; a POST (RFC 8058 one-click) suppresses, once."""

from __future__ import annotations

from relay import keys
from relay.tokens import TokenKind
from tests.api.conftest import counters
from tests.helpers.delivery import events

ONE_CLICK = {"Content-Type": "application/x-www-form-urlencoded"}


def test_the_page_only_offers_a_button(http, delivered, r):
    message = delivered()
    response = http.get(message.path(TokenKind.UNSUBSCRIBE))
    assert response.status_code == 200
    assert '<form method="post" action="">' in response.text
    assert 'name="List-Unsubscribe" value="One-Click"' in response.text
    assert "<script" not in response.text and "http" not in response.text.split("<body>")[1]
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert r.smembers(keys.suppressed("shop")) == set()
    assert events(r, message.id) == [] and counters(r, "shop") == {}


def test_one_click_suppresses_the_address_and_records_once(http, delivered, r):
    message = delivered(recipient="Alice@Example.test")
    for _ in range(2):
        response = http.post(message.path(TokenKind.UNSUBSCRIBE),
                             content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
        assert response.status_code == 200
        assert "Unsubscribed" in response.text
    assert r.sismember(keys.suppressed("shop"), "alice@example.test")
    (event,) = events(r, message.id)
    assert event["name"] == "unsubscribed"
    assert event["detail"] == {"client_ip": "127.0.0.1", "recipient": "alice@example.test"}
    assert counters(r, "shop") == {"unsubscribed": 1}


def test_the_pages_own_form_post_unsubscribes(http, delivered, r):
    message = delivered()
    page = http.get(message.path(TokenKind.UNSUBSCRIBE)).text
    assert "List-Unsubscribe" in page
    response = http.post(message.path(TokenKind.UNSUBSCRIBE),
                         data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert r.sismember(keys.suppressed("shop"), "alice@example.test")


def test_another_accounts_list_is_untouched(http, delivered, r):
    ours = delivered(account="shop")
    delivered(account="other")
    http.post(ours.path(TokenKind.UNSUBSCRIBE), content=b"List-Unsubscribe=One-Click",
              headers=ONE_CLICK)
    assert r.smembers(keys.suppressed("other")) == set()


def test_an_expired_message_is_404(http, delivered, r):
    message = delivered()
    r.delete(keys.message(message.id))
    assert http.get(message.path(TokenKind.UNSUBSCRIBE)).status_code == 404
    assert http.post(message.path(TokenKind.UNSUBSCRIBE)).status_code == 404
    assert r.smembers(keys.suppressed("shop")) == set()
