"""GET /t/w/<token>: the hosted copy's HTML under a policy that runs no script."""

from __future__ import annotations

from relay import keys
from relay.tokens import TokenKind

TEXT_ONLY = (b"From: news@shop.example\r\nSubject: Hi\r\nContent-Type: text/plain; "
             b"charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
             b"Caf=E9 <script>alert(1)</script> & more\r\n")


def test_the_html_part_is_served_with_a_strict_policy(http, delivered):
    message = delivered()
    response = http.get(message.path(TokenKind.WEB))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<p>Hello <b>Alice</b></p>" in response.text
    policy = response.headers["content-security-policy"]
    assert policy.startswith("default-src 'none'; img-src * data:; style-src 'unsafe-inline'")
    assert "script-src" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_a_text_only_message_is_escaped_in_pre(http, delivered):
    message = delivered(copy=TEXT_ONLY)
    response = http.get(message.path(TokenKind.WEB))
    assert response.status_code == 200
    assert "<pre" in response.text
    assert "Café &lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in response.text
    assert "<script>" not in response.text


def test_an_expired_copy_is_404(http, delivered, r):
    message = delivered()
    r.delete(keys.web_copy(message.id))
    response = http.get(message.path(TokenKind.WEB))
    assert response.status_code == 404
    assert "<script" not in response.text
