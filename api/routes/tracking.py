"""The links in delivered mail: open pixel, click redirect, unsubscribe and web version.

Invariant: a forged token never redirects. Every handler verifies its token for its own
kind first, and anything `tokens.verify` refuses, or a message or link that is gone, is
a 404 without a Location header. Only a POST unsubscribes: the GET page changes nothing,
because link scanners follow every link in a message and must not unsubscribe anyone.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from api import pages
from api.deps import KeyDep, RedisDep
from api.prefetch import is_prefetch
from relay import tokens
from relay.store import tracking

router = APIRouter(prefix="/t", tags=["tracking"])

_GIF = {"content": {"image/gif": {}}}
_HTML = {"content": {"text/html": {}}}
_GONE = {"description": "Forged, altered or expired token, or a message no longer kept; "
                        "never a redirect", **_HTML}

#: Headers on every tracking response: never cached or indexed, and never sent onwards
#: as a Referer, which would hand the token in the URL to the next site.
PRIVATE = {"Cache-Control": "no-store, private", "Referrer-Policy": "no-referrer",
           "X-Robots-Tag": "noindex, nofollow", "X-Content-Type-Options": "nosniff"}
#: Our own pages: nothing but inline style, and a form that posts back here.
PAGE_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
               "base-uri 'none'; frame-ancestors 'none'")
#: The sender's HTML: images and inline style, never script, forms or frames of it.
WEB_POLICY = ("default-src 'none'; img-src * data:; style-src 'unsafe-inline'; "
              "form-action 'none'; base-uri 'none'; frame-ancestors 'none'")


@router.get("/o/{token}", response_class=Response, summary="Open pixel: records `opened`",
            responses={200: {"description": "A 1x1 transparent GIF", **_GIF},
                       404: {"description": "The same GIF; nothing recorded", **_GIF}})
async def open_pixel(token: str, request: Request, r: RedisDep, key: KeyDep) -> Response:
    found = tokens.verify(key, tokens.TokenKind.OPEN, token)
    message = found and await tracking.message_of(r, found.message_id)
    if not message:
        _count(request, "open", "not_found")
        # Still an image, so a mail client shows nothing broken.
        return Response(pages.PIXEL, status_code=404, media_type="image/gif", headers=PRIVATE)
    now = time.time()
    await tracking.record_open(r, found.message_id, at=now, **_hit(request, message, now))
    _count(request, "open", "recorded")
    return Response(pages.PIXEL, media_type="image/gif", headers=PRIVATE)


@router.get("/c/{token}", response_class=Response, status_code=302,
            summary="Tracked link: records `clicked`, redirects to the original link",
            responses={302: {"description": "To the link the sender wrote"}, 404: _GONE})
async def click(token: str, request: Request, r: RedisDep, key: KeyDep) -> Response:
    found = tokens.verify(key, tokens.TokenKind.CLICK, token)
    message = found and await tracking.message_of(r, found.message_id)
    if not message:
        _count(request, "click", "not_found")
        return _page(pages.NOT_FOUND, 404)
    now = time.time()
    link = await tracking.record_click(r, found.message_id, found.index, at=now,
                                       **_hit(request, message, now))
    if link is None:
        _count(request, "click", "not_found")
        return _page(pages.NOT_FOUND, 404)
    _count(request, "click", "recorded")
    # Passed through as stored: the worker kept only http(s) links of the sender's HTML.
    return RedirectResponse(link, status_code=302, headers=PRIVATE)


@router.get("/u/{token}", response_class=HTMLResponse,
            summary="Unsubscribe page with a button; changes nothing",
            responses={200: {"description": "The page", **_HTML}, 404: _GONE})
async def unsubscribe_page(token: str, r: RedisDep, key: KeyDep) -> Response:
    found = tokens.verify(key, tokens.TokenKind.UNSUBSCRIBE, token)
    if not found or not await tracking.message_of(r, found.message_id):
        return _page(pages.NOT_FOUND, 404)
    return _page(pages.UNSUBSCRIBE_FORM)


@router.post("/u/{token}", response_class=HTMLResponse,
             summary="One-click unsubscribe (RFC 8058): records `unsubscribed`",
             responses={200: {"description": "Confirmation page", **_HTML}, 404: _GONE})
async def unsubscribe(token: str, request: Request, r: RedisDep, key: KeyDep) -> Response:
    """RFC 8058 one-click, and the page's own button; the body is not required.

    Any POST to a valid token unsubscribes: only the recipient has the token, and a
    mailbox provider's one-click POST must never be refused over its form encoding.
    """
    found = tokens.verify(key, tokens.TokenKind.UNSUBSCRIBE, token)
    if not found or not await tracking.message_of(r, found.message_id):
        _count(request, "unsubscribe", "not_found")
        return _page(pages.NOT_FOUND, 404)
    await tracking.unsubscribe(r, found.message_id, at=time.time(),
                               client_ip=_client_ip(request))
    _count(request, "unsubscribe", "recorded")
    return _page(pages.UNSUBSCRIBED)


@router.get("/w/{token}", response_class=HTMLResponse,
            summary="Web version of a message that links to it",
            responses={200: {"description": "The message's HTML", **_HTML}, 404: _GONE})
async def web_version(token: str, r: RedisDep, key: KeyDep) -> Response:
    found = tokens.verify(key, tokens.TokenKind.WEB, token)
    copy = found and await tracking.hosted_copy(r, found.message_id)
    if not copy:
        return _page(pages.NOT_FOUND, 404)
    return HTMLResponse(pages.web_version(copy),
                        headers=PRIVATE | {"Content-Security-Policy": WEB_POLICY})


def _count(request: Request, kind: str, outcome: str) -> None:
    request.app.state.metrics.tracking_hits.labels(kind=kind, outcome=outcome).inc()


def _hit(request: Request, message: tracking.TrackedMessage, now: float) -> dict:
    """Who made a hit, and whether a machine did, as record_open/record_click take it."""
    agent = request.headers.get("user-agent", "")
    since = None if message.delivered_at is None else now - message.delivered_at
    return {"client_ip": _client_ip(request), "user_agent": agent,
            "prefetch": is_prefetch(user_agent=agent, seconds_since_delivery=since)}


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _page(html: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status_code,
                        headers=PRIVATE | {"Content-Security-Policy": PAGE_POLICY})
