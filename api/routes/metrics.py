"""`GET /metrics`: Prometheus exposition of what the HTTP service can see.

Invariant: every figure comes from Redis at scrape time or from this process's own
counters, so any number of `tidings api` processes report the same queue, and no role
has to be reachable over HTTP for the queue to be watched. Per-process figures of the
SMTP and worker roles are not here yet (docs/http.md says what is).
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge
from prometheus_client.exposition import generate_latest

from api.deps import RedisDep
from relay.store import queue_view

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
    return Response(generate_latest(figures.registry), media_type=CONTENT_TYPE_LATEST)
