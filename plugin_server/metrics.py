"""Prometheus metrics: what the process did (counters and histograms, kept in process) and
how much work is waiting (read from the database and Redis when scraped).

Kept in process, by the code that does the work:
- `loyalty_webhooks_received_total{platform,outcome}`: the intake's answers;
- `loyalty_receipt_failures_total{final}`: webhook receipts whose application raised;
- `loyalty_redemption_outcomes_total{outcome}`: what issuing a redemption's code ended in;
- `loyalty_platform_api_seconds{platform}` and `loyalty_platform_api_throttled_total`:
  every call to a store's API, and the throttled answers among them.

Read when scraped (so every process serves the same numbers, and none can drift):
- `loyalty_webhook_backlog` and `loyalty_webhook_lag_seconds`: receipts not yet applied,
  and the age of the oldest;
- `loyalty_queue_depth{queue}` and `loyalty_queue_failed_jobs{queue}` (RQ, with Redis);
- `loyalty_outbox_pending{outbox}`: outbound webhook deliveries and emails not yet sent;
- `loyalty_redemptions_waiting`: redemptions whose code the store has not confirmed.

A web server with several worker processes (gunicorn) shares its counters through
prometheus_client's multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set
(gunicorn.conf.py sets it); the worker and scheduler serve their own (`process_server`).
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import func, select

CONTENT_TYPE = CONTENT_TYPE_LATEST

WEBHOOKS_RECEIVED = Counter(
    "loyalty_webhooks_received_total",
    "Webhooks answered by the intake, by platform and outcome (accepted, duplicate, "
    "ignored, ping, or the error: invalid_signature, unknown_shop, ...).",
    ["platform", "outcome"],
)
RECEIPT_FAILURES = Counter(
    "loyalty_receipt_failures_total",
    "Attempts to apply a webhook receipt that raised; final=true when it will not be retried.",
    ["final"],
)
REDEMPTION_OUTCOMES = Counter(
    "loyalty_redemption_outcomes_total",
    "Attempts to issue a redemption's discount code at the store, by what they ended in.",
    ["outcome"],
)
SUMMARY_CACHE = Counter(
    "loyalty_storefront_summary_total",
    "Signed-in storefront summaries, by whether this process's cache served them (hit) or "
    "they were built from the database (miss).",
    ["outcome"],
)
PLATFORM_API_SECONDS = Histogram(
    "loyalty_platform_api_seconds",
    "Time of each call to a store's API (Shopify Admin GraphQL, WooCommerce REST).",
    ["platform"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
PLATFORM_API_THROTTLED = Counter(
    "loyalty_platform_api_throttled_total",
    "Store API answers that asked us to slow down (Shopify THROTTLED or 429, WooCommerce 429).",
    ["platform"],
)


@contextmanager
def platform_call(platform: str) -> Iterator[None]:
    """Time one call to a store's API."""
    started = time.perf_counter()
    try:
        yield
    finally:
        PLATFORM_API_SECONDS.labels(platform).observe(time.perf_counter() - started)


class WorkWaiting(Collector):
    """The gauges read from the database and Redis at each scrape."""

    def __init__(self, container: Any) -> None:
        self.container = container

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from plugin_server.db.models import EmailMessage, Redemption, WebhookDelivery
        from plugin_server.db.models import WebhookReceipt as R

        c = self.container
        now: datetime = c.clock()
        with c.session_factory() as s:
            waiting = s.execute(
                select(func.count(), func.min(R.received_at)).where(
                    R.status.in_(("pending", "processing"))
                )
            ).one()
            deliveries = s.scalar(
                select(func.count()).where(WebhookDelivery.status.in_(("pending", "delivering")))
            )
            mails = s.scalar(
                select(func.count()).where(EmailMessage.status.in_(("pending", "sending")))
            )
            redemptions = s.scalar(select(func.count()).where(Redemption.status == "pending"))
        backlog = GaugeMetricFamily(
            "loyalty_webhook_backlog", "Webhook receipts stored but not yet applied."
        )
        backlog.add_metric([], waiting[0] or 0)
        yield backlog
        lag = GaugeMetricFamily(
            "loyalty_webhook_lag_seconds",
            "Age of the oldest webhook receipt not yet applied (0 when none waits).",
        )
        oldest = waiting[1]
        lag.add_metric([], max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)
        yield lag
        outbox = GaugeMetricFamily(
            "loyalty_outbox_pending",
            "Outbound webhooks and emails not yet sent.",
            labels=["outbox"],
        )
        outbox.add_metric(["webhooks"], deliveries or 0)
        outbox.add_metric(["emails"], mails or 0)
        yield outbox
        issuing = GaugeMetricFamily(
            "loyalty_redemptions_waiting",
            "Redemptions whose discount code the store has not confirmed yet.",
        )
        issuing.add_metric([], redemptions or 0)
        yield issuing
        if c.redis is not None:
            yield from self._queues(c.redis)

    @staticmethod
    def _queues(redis: Any) -> Iterator[GaugeMetricFamily]:
        from rq import Queue

        from plugin_server.jobs import QUEUES

        depth = GaugeMetricFamily(
            "loyalty_queue_depth", "Jobs waiting in each RQ queue.", labels=["queue"]
        )
        failed = GaugeMetricFamily(
            "loyalty_queue_failed_jobs",
            "Jobs in each RQ queue's failed registry.",
            labels=["queue"],
        )
        for name in QUEUES:
            queue = Queue(name, connection=redis)
            depth.add_metric([name], queue.count)
            failed.add_metric([name], queue.failed_job_registry.count)
        yield depth
        yield failed


def access(settings: Any, authorization: str) -> str:
    """Whether a scrape may read the metrics: "ok", "off" (no token set outside
    development: the page does not exist) or "unauthorized" (a token is set and the
    `Authorization: Bearer` header does not carry it; compared in constant time)."""
    expected = settings.metrics_token
    if expected is None:
        return "ok" if settings.development else "off"
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), expected.encode()
    ):
        return "ok"
    return "unauthorized"


def exposition_counters() -> bytes:
    """This process's counters (in multiprocess mode, every web worker's, summed)."""
    counters: CollectorRegistry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counters = CollectorRegistry()
        MultiProcessCollector(counters)
    return generate_latest(counters)


def exposition(container: Any) -> bytes:
    """The metrics page: the counters, then the waiting work read now."""
    return exposition_counters() + generate_latest(_waiting_registry(container))


def _waiting_registry(container: Any) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WorkWaiting(container))
    return registry
