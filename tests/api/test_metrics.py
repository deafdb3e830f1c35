"""`GET /metrics`: the queue as Prometheus sees it, read from Redis at scrape time."""

from __future__ import annotations

import asyncio
import smtplib
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from relay import keys, tokens


def samples(text: str) -> dict[str, float]:
    def name(sample) -> str:
        labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
        return sample.name + (f"{{{labels}}}" if labels else "")

    return {name(sample): sample.value for family in text_string_to_metric_families(text)
            for sample in family.samples}


def test_queue_figures(http, r):
    empty = samples(http.get("/metrics").text)
    assert empty["tidings_queue_messages"] == 0 and empty["tidings_queue_oldest_age_seconds"] == 0
    old = int((time.time() - 90) * 1000)
    r.xadd(keys.QUEUE, {"id": "a"}, id=f"{old}-0")
    r.xadd(keys.QUEUE, {"id": "b"})
    r.xgroup_create(keys.QUEUE, keys.QUEUE_GROUP, id="0")
    r.xreadgroup(keys.QUEUE_GROUP, "w1", {keys.QUEUE: ">"}, count=1)
    r.zadd(keys.RETRY, {"c": time.time() + 60, "d": time.time() + 120, "e": time.time()})
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    assert got["tidings_queue_messages"] == 2
    assert got["tidings_queue_in_delivery"] == 1
    assert got["tidings_queue_deferred"] == 3
    assert 89 <= got["tidings_queue_oldest_age_seconds"] <= 120


def test_tracking_hits_are_counted(http, delivered):
    message = delivered()
    assert http.get(message.path(tokens.TokenKind.OPEN)).status_code == 200
    assert http.get("/t/o/" + "x" * 50).status_code == 404
    got = samples(http.get("/metrics").text)
    assert got["tidings_tracking_hits_total{kind=open,outcome=recorded}"] == 1
    assert got["tidings_tracking_hits_total{kind=open,outcome=not_found}"] == 1


async def test_totals_of_every_role_across_accounts(server, account, make_worker, http,
                                                    tmp_path):
    """SMTP acceptances and rejections and worker deliveries, as any api process sees them."""
    from email.message import EmailMessage

    from tests.helpers.clients import submission
    from tests.helpers.delivery import submit

    await asyncio.to_thread(submit, server.smtp_port, account)
    invoice = EmailMessage()
    invoice["From"], invoice["To"], invoice["Subject"] = "news@shop.example", "a@b.test", "Hi"
    invoice.set_content("Attached.")
    invoice.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="x.pdf")

    def send_invoice():
        with submission(server.smtp_port, account.login, account.password) as client:
            client.send_message(invoice)

    with pytest.raises(smtplib.SMTPDataError):
        await asyncio.to_thread(send_invoice)
    worker = await make_worker(delivery=f"maildir://{tmp_path}/Maildir")
    await worker.drain()

    got = samples(http.get("/metrics").text)
    assert got["tidings_events_total{name=accepted}"] == 1
    assert got["tidings_events_total{name=delivered}"] == 1
    assert got["tidings_events_total{name=rejected}"] == 1
    assert got["tidings_smtp_rejections_total{code=554,rule=attachment}"] == 1
    assert got["tidings_delivery_latency_seconds_count"] == 1
    assert got["tidings_delivery_latency_seconds_bucket{le=1}"] == 1
    assert got["tidings_delivery_latency_seconds_bucket{le=+Inf}"] == 1
    assert 0 <= got["tidings_delivery_latency_seconds_sum"] < 1


def test_open_smtp_sessions_of_every_process(server, http, r):
    from stats import keys as stats_keys
    from tests.helpers.clients import submission
    from tests.helpers.servers import wait_for

    first, second = submission(server.smtp_port), submission(server.smtp_port)
    try:
        # Each submission process reports its own count every few seconds.
        wait_for(lambda: any(value.startswith("2 ")
                             for value in r.hgetall(stats_keys.SESSIONS).values()), timeout=15)
        assert samples(http.get("/metrics").text)["tidings_smtp_sessions"] == 2
    finally:
        first.close()
        second.close()
    # A process that stopped reporting long ago no longer counts.
    r.hset(stats_keys.SESSIONS, "gone-host-1", f"7 {time.time() - 3600:.0f}")
    got = samples(http.get("/metrics").text)["tidings_smtp_sessions"]
    assert got <= 2 and not r.hexists(stats_keys.SESSIONS, "gone-host-1")
