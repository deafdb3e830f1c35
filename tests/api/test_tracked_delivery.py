"""Scenario: a message goes through submission and the worker into a Maildir, and its
reader uses the links in it against the real app: open, click, web version, unsubscribe."""

from __future__ import annotations

import asyncio
import mailbox
import re
import time

from relay import keys
from relay.secret import signing_key
from tests.api.conftest import counters
from tests.helpers.delivery import HTML, event_names, submit

LINK = re.compile(r"/t/([ocuw])/([A-Za-z0-9_-]+)")
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def tracking_paths(message: mailbox.MaildirMessage) -> dict[str, list[str]]:
    """Every tracking path in the delivered message's headers and decoded body parts, by kind."""
    text = str(message["List-Unsubscribe"])
    for part in message.walk():
        if part.get_content_maintype() == "text":
            text += part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    found: dict[str, list[str]] = {}
    for kind, token in LINK.findall(text):
        path = f"/t/{kind}/{token}"
        if path not in found.setdefault(kind, []):
            found[kind].append(path)
    return found


async def delivered_with_links(server, account, make_worker, serve_app, redis_url, r,
                               tmp_path):
    """Submit HTML mail, deliver it into a Maildir, and serve the app with Tidings' key:
    (message id, its tracking paths by kind, an HTTP client). The reader is set to come
    back an hour after delivery, well after any gateway's scan."""
    message_id = await asyncio.to_thread(submit, server.smtp_port, account, html=HTML)
    worker = await make_worker(delivery=f"maildir://{tmp_path}/Maildir")
    await worker.drain()
    (stored,) = mailbox.Maildir(tmp_path / "Maildir", create=False)
    r.hset(keys.message(message_id), "delivered_at", repr(time.time() - 3600))
    http = serve_app(redis_url, key=signing_key(tmp_path / "data", None))
    return message_id, tracking_paths(stored), http


async def test_the_links_of_a_delivered_message(server, account, make_worker, serve_app,
                                                redis_url, r, tmp_path):
    message_id, paths, http = await delivered_with_links(
        server, account, make_worker, serve_app, redis_url, r, tmp_path)

    assert http.get(paths["o"][0], headers={"User-Agent": BROWSER}).status_code == 200
    clicks = [http.get(path, headers={"User-Agent": BROWSER}) for path in paths["c"]]
    assert [c.headers["location"] for c in clicks] == [
        "https://shop.example/orders/1?a=1&b=2", "http://shop.example/help"]
    web = http.get(paths["w"][0])
    assert web.status_code == 200 and "your order" in web.text
    assert http.get(paths["u"][0]).status_code == 200
    assert not r.sismember(keys.suppressed(account.name), "alice@example.test")
    assert http.post(paths["u"][0], content=b"List-Unsubscribe=One-Click",
                     headers={"Content-Type": "application/x-www-form-urlencoded"}).is_success

    assert r.sismember(keys.suppressed(account.name), "alice@example.test")
    assert event_names(r, message_id)[-4:] == ["opened", "clicked", "clicked", "unsubscribed"]
    totals = counters(r, account.name)
    assert {name: totals.get(name) for name in (
        "opened", "opened_unique", "clicked", "clicked_unique", "unsubscribed")} == {
        "opened": 1, "opened_unique": 1, "clicked": 2, "clicked_unique": 1, "unsubscribed": 1}
