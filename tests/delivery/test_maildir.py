"""Scenario: TIDINGS_DELIVERY=maildir:///path writes each rendered message into a Maildir."""

from __future__ import annotations

import asyncio
import mailbox

from tests.helpers.delivery import HTML, status, submit


async def test_maildir_delivery(server, account, make_worker, r, tmp_path):
    message_id = await asyncio.to_thread(submit, server.smtp_port, account, html=HTML)
    worker = await make_worker(delivery=f"maildir://{tmp_path}/Maildir")
    await worker.drain()
    assert status(r, message_id) == "delivered"
    (stored,) = mailbox.Maildir(tmp_path / "Maildir", create=False)
    assert stored["Delivered-To"] == "alice@example.test"
    assert stored["Return-Path"].startswith(f"<b-{message_id}-")
    assert stored["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_an_existing_empty_directory_becomes_the_maildir(server, account, make_worker, r,
                                                             tmp_path):
    (tmp_path / "Maildir").mkdir()
    message_id = await asyncio.to_thread(submit, server.smtp_port, account)
    worker = await make_worker(delivery=f"maildir://{tmp_path}/Maildir")
    await worker.drain()
    assert status(r, message_id) == "delivered"
    assert len(list((tmp_path / "Maildir" / "new").iterdir())) == 1


async def test_a_hosted_copy_is_kept_only_behind_a_web_version_link(server, account,
                                                                    make_worker, r, tmp_path):
    from relay import keys

    plain = await asyncio.to_thread(submit, server.smtp_port, account)
    linked = await asyncio.to_thread(submit, server.smtp_port, account, html=HTML)
    worker = await make_worker(delivery=f"maildir://{tmp_path}/Maildir")
    await worker.drain()
    assert status(r, plain) == status(r, linked) == "delivered"
    assert not r.exists(keys.web_copy(plain))
    assert r.exists(keys.web_copy(linked))


async def test_links_are_kept_for_click_tracking_without_a_web_version_link(
        server, account, make_worker, r, tmp_path):
    from relay import keys

    html = '<p><a href="https://shop.example/a">a</a> <a href="[Unsubscribe]">u</a></p>'
    message_id = await asyncio.to_thread(submit, server.smtp_port, account, html=html)
    worker = await make_worker(delivery=f"maildir://{tmp_path}/Maildir")
    await worker.drain()
    assert not r.exists(keys.web_copy(message_id))
    assert r.lrange(keys.links(message_id), 0, -1) == ["https://shop.example/a"]
