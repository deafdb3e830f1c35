"""`GET /metrics`: Prometheus exposition of what the HTTP service can see.

Invariant: every figure comes from Redis at scrape time or from this process's own
counters, so any number of `tidings api` processes report the same queue and the same
totals of every role (SMTP, workers, tracking) on every host, and no other role has to be
reachable over HTTP to be watched. The totals are written by the roles' own atomic
scripts (stats/scripts/record_event.lua, relay/delivery/scripts/finish.lua).
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import generate_latest

from api.deps import RedisDep
from relay.store import queue_view, sessions_view

router = APIRouter(tags=["operations"])


class Metrics:
    """One registry per app, so two apps in one process (tests) never share figures."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.tracking_hits = Counter(
            "tidings_tracking_hits", "Hits on tracking links, by kind and outcome",
            ["kind", "outcome"], registry=self.registry)
        self.queued = Gauge("tidings_queue_messages",
                            "Messages in the delivery queue (due or in delivery)",
                            registry=self.registry)
        self.in_delivery = Gauge("tidings_queue_in_delivery",
                                 "Queue entries held by a delivery worker",
                                 registry=self.registry)
        self.deferred = Gauge("tidings_queue_deferred",
                              "Deferred messages waiting for their next attempt",
                              registry=self.registry)
        self.sessions = Gauge("tidings_smtp_sessions",
                              "Open SMTP submission sessions, all processes",
                              registry=self.registry)
        self.oldest = Gauge("tidings_queue_oldest_age_seconds",
                            "Age of the oldest entry in the delivery queue",
                            registry=self.registry)


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}},
                             "description": "Prometheus text format"}})
async def metrics(request: Request, r: RedisDep) -> Response:
    figures: Metrics = request.app.state.metrics
    queue = await queue_view.figures(r, time.time())
    figures.queued.set(queue.queued)
    figures.in_delivery.set(queue.in_delivery)
    figures.deferred.set(queue.deferred)
    figures.oldest.set(queue.oldest_age)
    figures.sessions.set(await sessions_view.open_sessions(r, time.time()))
    events = await queue_view.event_figures(r)
    shared = CollectorRegistry()
    shared.register(_Snapshot(_families(events)))
    body = generate_latest(figures.registry) + generate_latest(shared)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


class _Snapshot:
    """A collector of families read once, for one scrape."""

    def __init__(self, families: list) -> None:
        self.families = families

    def collect(self):
        return iter(self.families)


def _families(events: queue_view.EventFigures) -> list:
    totals = CounterMetricFamily("tidings_events", "Events recorded, all accounts, by name "
                                 "(bounces split into bounced_hard and bounced_soft)",
                                 labels=["name"])
    for name, count in sorted(events.totals.items()):
        totals.add_metric([name], count)
    rejected = CounterMetricFamily("tidings_smtp_rejections", "SMTP rejections by reply code "
                                   "and rule, all accounts", labels=["code", "rule"])
    for (code, rule), count in sorted(events.rejections.items()):
        rejected.add_metric([code, rule], count)
    latency = HistogramMetricFamily(
        "tidings_delivery_latency_seconds", "Time from acceptance to delivery")
    latency.add_metric([], events.latency_buckets, events.latency_sum)
    return [totals, rejected, latency]
