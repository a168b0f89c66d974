"""What an engineer on call sees: log lines that name their request, shop and job; request
ids handed back; Prometheus metrics that count what happened and show what is waiting;
health and readiness for the worker and the scheduler."""

from __future__ import annotations

import io
import json
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal as D

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from plugin_server import create_app, jobs, metrics
from plugin_server.bootstrap import Container, bootstrap
from plugin_server.observability import configure_logging
from plugin_server.process_server import Heartbeat, serve_in_background
from plugin_server.settings import Settings
from plugin_server.simulate import shopify_order, sign_shopify
from tests.conftest import REDIS_URL, REQUIRE_SERVICES, SHOPIFY_SECRET, ShopHandle, post


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(level=logging.INFO, json_lines=True, stream=stream)
    yield stream
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "loyalty"]:
        root.removeHandler(handler)


def records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def paid(shop: ShopHandle, order_id: int = 1001, secret: str = SHOPIFY_SECRET):  # type: ignore[no-untyped-def]
    payload = shopify_order(
        order_id=order_id, email="ann@example.com", subtotal=D("20.00"), customer_id=77
    )
    return sign_shopify(payload, topic="orders/paid", shop_domain=shop.domain, secret=secret)


def sample(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


# --- logs -------------------------------------------------------------------------------


def test_a_log_line_names_its_request_and_shop(
    app: Flask, client: FlaskClient, shopify_shop: ShopHandle, log_lines: io.StringIO
) -> None:
    @app.after_request
    def say_something(response):  # type: ignore[no-untyped-def]
        logging.getLogger("plugin_server.test").info("answered %s", response.status_code)
        return response

    r = client.get("/api/v1/program", headers={**shopify_shop.auth, "X-Request-Id": "lb-7f3a"})
    assert r.headers["X-Request-Id"] == "lb-7f3a"
    line = next(x for x in records(log_lines) if x["message"] == "answered 200")
    assert line["request_id"] == "lb-7f3a"
    assert line["shop_id"] == shopify_shop.id
    assert line["level"] == "INFO"
    assert line["logger"] == "plugin_server.test"
    # The next request has an id of its own, and no shop until it authenticates.
    client.get("/healthz")
    last = records(log_lines)[-1]
    assert last["request_id"] not in ("lb-7f3a", "")
    assert last["shop_id"] == ""


@pytest.mark.parametrize("given", ["has space", "x" * 65, "tab\there", "<script>", "ünï"])
def test_an_unusable_request_id_is_replaced(client: FlaskClient, given: str) -> None:
    r = client.get("/healthz", headers={"X-Request-Id": given})
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-Id"])


def test_text_logs_carry_the_same_ids() -> None:
    stream = io.StringIO()
    configure_logging(level=logging.INFO, json_lines=False, stream=stream)
    try:
        logging.getLogger("plugin_server.test").warning("plain")
    finally:
        root = logging.getLogger()
        for handler in [h for h in root.handlers if h.get_name() == "loyalty"]:
            root.removeHandler(handler)
    assert "WARNING plugin_server.test [req= shop= job=]: plain" in stream.getvalue()


@pytest.mark.parametrize(
    ("environ", "json_lines"),
    [
        ({}, False),  # the embedded default: SQLite, development
        ({"DATABASE_URL": "postgresql://db/x"}, True),
        ({"DATABASE_URL": "postgresql://db/x", "LOYALTY_LOG_FORMAT": "text"}, False),
        ({"LOYALTY_LOG_FORMAT": "json"}, True),
        ({"DATABASE_URL": "postgresql://db/x", "LOYALTY_DEVELOPMENT": "1"}, False),
    ],
)
def test_json_logs_in_production_text_in_development(
    environ: dict[str, str], json_lines: bool
) -> None:
    assert Settings.log_json_from_env(environ) is json_lines


@pytest.mark.redis
def test_a_job_s_log_lines_carry_its_job_id(
    settings: Settings, clock, log_lines: io.StringIO
) -> None:  # type: ignore[no-untyped-def]
    from redis import Redis
    from rq import Queue, SimpleWorker

    if not REDIS_URL and not REQUIRE_SERVICES:
        pytest.skip("LOYALTY_TEST_REDIS_URL is not set")
    assert REDIS_URL, "LOYALTY_TEST_REDIS_URL must point at a real Redis"
    redis = Redis.from_url(REDIS_URL)
    redis.flushdb()
    c = bootstrap(settings.with_overrides(redis_url=REDIS_URL), redis=redis, clock=clock)
    try:
        queue = Queue(jobs.QUEUE_WEBHOOKS, connection=redis)
        job = queue.enqueue("logging.warning", "hello from a job")
        queue.enqueue("logging.warning", "and another")
        # Scraped with two jobs waiting: the queue depth comes from Redis.
        text = metrics.exposition(c).decode()
        assert sample(text, "loyalty_queue_depth", queue=jobs.QUEUE_WEBHOOKS) == 2
        assert sample(text, "loyalty_queue_failed_jobs", queue=jobs.QUEUE_WEBHOOKS) == 0
        SimpleWorker([queue], connection=redis).work(burst=True)
        line = next(x for x in records(log_lines) if x["message"] == "hello from a job")
        assert line["job_id"] == job.id
        assert (
            sample(metrics.exposition(c).decode(), "loyalty_queue_depth", queue=jobs.QUEUE_WEBHOOKS)
            == 0
        )
    finally:
        redis.flushdb()
        c.close()


# --- metrics ----------------------------------------------------------------------------


def test_metrics_count_webhooks_and_show_the_backlog(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    before = client.get("/metrics").get_data(as_text=True)
    accepted = sample(before, "loyalty_webhooks_received_total", outcome="accepted") or 0.0
    refused = sample(before, "loyalty_webhooks_received_total", outcome="invalid_signature")

    assert post(client, paid(shopify_shop, 1)).status_code == 200
    assert post(client, paid(shopify_shop, 2, secret="wrong")).status_code == 401

    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.mimetype == "text/plain"
    text = r.get_data(as_text=True)
    assert (
        sample(text, "loyalty_webhooks_received_total", platform="shopify", outcome="accepted")
        == accepted + 1
    )
    assert (
        sample(text, "loyalty_webhooks_received_total", outcome="invalid_signature")
        == (refused or 0) + 1
    )
    # Read from the database at the scrape (the exact figures: the next test).
    assert sample(text, "loyalty_webhook_backlog") is not None
    assert sample(text, "loyalty_outbox_pending", outbox="emails") is not None
    assert sample(text, "loyalty_redemptions_waiting") == 0


def test_the_backlog_lag_is_the_oldest_waiting_receipt_s_age(
    container: Container, shopify_shop: ShopHandle, clock
) -> None:  # type: ignore[no-untyped-def]
    from plugin_server.services import webhook_receipts
    from webhooks import envelopes

    delivery = paid(shopify_shop, 5)
    envelope = envelopes.shopify_envelope(delivery.headers, shopify_shop.domain)
    webhook_receipts.record_receipt(
        container.engine,
        shop_id=shopify_shop.id,
        envelope=envelope,
        body=delivery.body,
        now=clock(),
        failed_reason=None,
    )
    clock.advance(seconds=90)
    text = metrics.exposition(container).decode()
    assert sample(text, "loyalty_webhook_backlog") == 1
    assert sample(text, "loyalty_webhook_lag_seconds") == pytest.approx(90, abs=1)


def test_metrics_need_the_token_when_one_is_set(settings: Settings, clock) -> None:  # type: ignore[no-untyped-def]
    c = bootstrap(replace(settings, metrics_token="m-token-123"), clock=clock)
    try:
        client = create_app(container=c).test_client()
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": "Bearer m-token-124"})
        assert wrong.status_code == 401
        assert wrong.json["error"]["code"] == "unauthorized"
        ok = client.get("/metrics", headers={"Authorization": "Bearer m-token-123"})
        assert ok.status_code == 200
        assert "loyalty_webhook_backlog" in ok.get_data(as_text=True)
    finally:
        c.close()


def test_metrics_are_off_in_production_without_a_token(settings: Settings, clock) -> None:  # type: ignore[no-untyped-def]
    c = bootstrap(replace(settings, development=False), clock=clock)
    try:
        r = create_app(container=c).test_client().get("/metrics")
        assert r.status_code == 404
        assert "LOYALTY_METRICS_TOKEN" in r.json["error"]["message"]
    finally:
        c.close()


def test_store_api_calls_are_timed_and_throttling_counted() -> None:
    def count() -> float:
        text = metrics.exposition_counters().decode()
        return sample(text, "loyalty_platform_api_seconds_count", platform="shopify") or 0.0

    before = count()
    with metrics.platform_call("shopify"):
        pass
    with pytest.raises(RuntimeError), metrics.platform_call("shopify"):
        raise RuntimeError("network")
    assert count() == before + 2


def test_the_document_declares_metrics_as_text(client: FlaskClient) -> None:
    operation = client.get("/openapi.json").json["paths"]["/metrics"]["get"]
    assert "text/plain" in operation["responses"]["200"]["content"]
    assert operation["security"] == [{"metricsToken": []}]


# --- the worker's and the scheduler's probes --------------------------------------------


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def get(url: str) -> tuple[int, dict[str, object] | str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            body = r.read().decode()
            status = r.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read().decode(), exc.code
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def test_probes_of_a_process_without_web_pages(container: Container) -> None:
    ticks = Ticks()
    heartbeat = Heartbeat(clock=ticks)
    server = serve_in_background(
        container, heartbeat, port=0, host="127.0.0.1", stale_after_s=180, role="worker"
    )
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        assert get(f"{base}/healthz") == (
            200,
            {"status": "ok", "process": "worker", "seconds_since_heartbeat": 0.0},
        )
        ticks.now += 200  # the loop stopped beating
        status, body = get(f"{base}/healthz")
        assert status == 503
        assert isinstance(body, dict)
        assert body["status"] == "stalled"
        heartbeat.beat()
        assert get(f"{base}/healthz")[0] == 200
        status, body = get(f"{base}/readyz")
        assert status == 200
        assert isinstance(body, dict)
        assert body["checks"]["database"] == "ok"  # type: ignore[index]
        status, text = get(f"{base}/metrics")
        assert status == 200
        assert isinstance(text, str)
        assert "loyalty_webhook_backlog" in text
        assert get(f"{base}/nothing")[0] == 404
    finally:
        server.shutdown()


def test_probes_report_a_database_that_is_down(settings: Settings, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "no-such-dir" / "x.db"
    c = bootstrap(replace(settings, database_url=f"sqlite:///{missing}"), clock=clock)
    server = serve_in_background(
        c, Heartbeat(), port=0, host="127.0.0.1", stale_after_s=60, role="scheduler"
    )
    try:
        status, body = get(f"http://127.0.0.1:{server.server_port}/readyz")
        assert status == 503
        assert isinstance(body, dict)
        assert body["status"] == "unavailable"
        assert str(body["checks"]["database"]).startswith("unavailable")  # type: ignore[index]
    finally:
        server.shutdown()
        c.close()


def test_the_probe_server_asks_for_the_metrics_token_too(settings: Settings, clock) -> None:  # type: ignore[no-untyped-def]
    c = bootstrap(replace(settings, metrics_token="probe-token-1"), clock=clock)
    server = serve_in_background(
        c, Heartbeat(), port=0, host="127.0.0.1", stale_after_s=60, role="worker"
    )
    url = f"http://127.0.0.1:{server.server_port}/metrics"
    try:
        assert get(url)[0] == 401
        with urllib.request.urlopen(
            urllib.request.Request(url, headers={"Authorization": "Bearer probe-token-1"}),
            timeout=5,
        ) as r:
            assert r.status == 200
            assert b"loyalty_webhook_backlog" in r.read()
        assert get(f"http://127.0.0.1:{server.server_port}/healthz")[0] == 200  # probes: open
    finally:
        server.shutdown()
        c.close()
