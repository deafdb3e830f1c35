"""The small HTML pages of the tracking endpoints, and the web version of a hosted copy.

Invariant: every value put into a page is HTML-escaped, and pages load nothing from
elsewhere (no scripts, fonts, images or style sheets), so they work under
``default-src 'none'`` and tell no third party that someone looked at them.
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from html import escape

#: A transparent 1x1 GIF89a (43 bytes): the smallest image every mail client shows.
PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00"
         b"\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
#: The field RFC 8058 one-click POSTs carry; the page's own form sends the same.
ONE_CLICK = "List-Unsubscribe=One-Click"

_STYLE = ("body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;"
          "padding:0 1rem;color:#222;line-height:1.5}"
          "button{font-size:1rem;padding:.6rem 1.2rem;cursor:pointer}")


def page(title: str, paragraph: str, *, form_button: str | None = None) -> str:
    """A page of one heading, one paragraph and optionally a button POSTing back here."""
    form = ""
    if form_button is not None:
        name, _, value = ONE_CLICK.partition("=")
        # An empty action posts to the page's own URL, token included.
        form = (f'<form method="post" action=""><input type="hidden" name="{name}" '
                f'value="{value}"><button type="submit">{escape(form_button)}</button></form>')
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<meta name="robots" content="noindex"><title>{escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>"
            f"<p>{escape(paragraph)}</p>{form}</body></html>")


NOT_FOUND = page("Link not found",
                 "This link is not valid, or it has expired.")
UNSUBSCRIBE_FORM = page("Unsubscribe",
                        "Press the button to stop receiving these emails at your address.",
                        form_button="Unsubscribe")
UNSUBSCRIBED = page("Unsubscribed",
                    "You will not receive these emails at your address any more.")
NO_BODY = page("Nothing to show", "This message has no text to show.")


def web_version(raw: bytes) -> str:
    """The page for a hosted copy: its HTML part as written, else its text part in <pre>.

    The HTML is the sender's and is served as it is; the caller's Content-Security-Policy
    is what keeps any script in it from running.
    """
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if not isinstance(message, EmailMessage):
        return NO_BODY
    body = message.get_body(preferencelist=("html", "plain"))
    if body is None:
        return NO_BODY
    text = _content(body)
    if body.get_content_subtype() == "html":
        return text
    return (f'<!doctype html><html><head><meta charset="utf-8"></head><body>'
            f'<pre style="white-space:pre-wrap;font-family:inherit">{escape(text)}</pre>'
            f"</body></html>")


def _content(part: EmailMessage) -> str:
    try:
        return part.get_content()
    except (LookupError, ValueError, AssertionError):
        # An unknown charset or a broken transfer encoding: show what can be read.
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", "replace")
