"""POST /webhooks/<platform>: what is accepted, stored once, refused, and how."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from plugin_server import create_app
from plugin_server.bootstrap import Container, bootstrap
from plugin_server.db.models import LedgerEntry, WebhookReceipt
from plugin_server.services import webhook_receipts
from plugin_server.settings import Settings
from plugin_server.simulate import shopify_order, sign_shopify, sign_woocommerce
from tests.conftest import SHOPIFY_SECRET, WOO_SECRET, ShopHandle, make_shop, post


def count(container: Container, model: type) -> int:
    with container.session_factory() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def paid(
    shop: ShopHandle,
    order_id: int = 1001,
    email: str = "ann@example.com",
    total: str = "59.90",
    delivery_id: str | None = None,
    secret: str = SHOPIFY_SECRET,
):
    payload = shopify_order(order_id=order_id, email=email, subtotal=D(total), customer_id=77)
    return sign_shopify(
        payload,
        topic="orders/paid",
        shop_domain=shop.domain,
        secret=secret,
        delivery_id=delivery_id,
    )


def test_signed_order_is_stored_applied_and_visible(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    r = post(client, paid(shopify_shop))
    assert r.status_code == 200
    assert r.json["status"] == "accepted"
    customer = client.get("/api/v1/customers/77", headers=shopify_shop.auth).json
    assert customer["balance"] == 59
    assert customer["pending"] == 0
    assert customer["lifetime_earned"] == 59
    assert customer["email"] == "ann@example.com"


def test_bad_signature_is_refused_and_nothing_is_stored(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    r = post(client, paid(shopify_shop, secret="not-the-app-secret"))
    assert r.status_code == 401
    assert r.json["error"]["code"] == "invalid_signature"
    assert count(container, WebhookReceipt) == 0


def test_missing_signature_is_refused(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    d = paid(shopify_shop)
    headers = {k: v for k, v in d.headers.items() if k != "X-Shopify-Hmac-Sha256"}
    r = client.post(d.path, data=d.body, headers=headers)
    assert r.status_code == 401
    assert count(container, WebhookReceipt) == 0


def test_body_changed_after_signing_is_refused(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    d = paid(shopify_shop)
    r = client.post(d.path, data=d.body.replace(b"59.90", b"99.90"), headers=d.headers)
    assert r.status_code == 401
    assert count(container, WebhookReceipt) == 0


@pytest.mark.parametrize("domain", ["other-shop.myshopify.com", "evil.com", ""])
def test_unknown_shop_is_refused(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, domain: str
) -> None:
    d = paid(shopify_shop)
    r = client.post(d.path, data=d.body, headers={**d.headers, "X-Shopify-Shop-Domain": domain})
    assert r.status_code == 401
    assert r.json["error"]["code"] == "unknown_shop"
    assert count(container, WebhookReceipt) == 0


def test_oversized_body_gets_413(settings: Settings, clock, shopify_shop: ShopHandle) -> None:  # type: ignore[no-untyped-def]
    small = bootstrap(settings.with_overrides(max_webhook_bytes=1024), clock=clock)
    client = create_app(container=small).test_client()
    payload = shopify_order(order_id=1, email="a@example.com", subtotal=D("1"), customer_id=1)
    payload["note"] = "x" * 4096
    r = post(
        client,
        sign_shopify(
            payload, topic="orders/paid", shop_domain=shopify_shop.domain, secret=SHOPIFY_SECRET
        ),
    )
    assert r.status_code == 413
    assert r.json["error"]["code"] == "payload_too_large"
    assert count(small, WebhookReceipt) == 0
    small.close()


def test_signed_malformed_json_is_kept_as_failed_receipt_and_refused(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    d = sign_shopify(
        b'{"id": 1, "oops',
        topic="orders/paid",
        shop_domain=shopify_shop.domain,
        secret=SHOPIFY_SECRET,
    )
    r = post(client, d)
    assert r.status_code == 400
    assert r.json["error"]["code"] == "malformed_payload"
    failed = webhook_receipts.list_receipts(container.uow(), status="failed")
    assert [f["delivery_id"] for f in failed] == [d.headers["X-Shopify-Webhook-Id"]]
    assert count(container, LedgerEntry) == 0


def test_signed_json_that_is_not_an_order_becomes_a_failed_receipt(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    d = sign_shopify(
        {"id": "not-a-number", "line_items": "nope"},
        topic="orders/paid",
        shop_domain=shopify_shop.domain,
        secret=SHOPIFY_SECRET,
    )
    r = post(client, d)
    assert r.status_code == 200  # stored; the job could not understand it
    [failed] = webhook_receipts.list_receipts(container.uow(), status="failed")
    assert failed["last_error"]
    assert count(container, LedgerEntry) == 0


def test_repeated_delivery_is_stored_and_applied_once(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    d = paid(shopify_shop, delivery_id="delivery-1")
    statuses = [post(client, d).json["status"] for _ in range(5)]
    assert statuses == ["accepted"] + ["duplicate"] * 4
    assert count(container, WebhookReceipt) == 1
    assert count(container, LedgerEntry) == 1


def test_same_order_in_two_deliveries_earns_once(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    for delivery in ("a", "b", "c"):
        assert post(client, paid(shopify_shop, delivery_id=delivery)).json["status"] == "accepted"
    assert count(container, WebhookReceipt) == 3
    assert client.get("/api/v1/customers/77", headers=shopify_shop.auth).json["balance"] == 59


def test_missing_topic_or_delivery_id_is_a_clear_400(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    d = paid(shopify_shop)
    headers = {k: v for k, v in d.headers.items() if k != "X-Shopify-Webhook-Id"}
    r = client.post(d.path, data=d.body, headers=headers)
    assert r.status_code == 400
    assert r.json["error"]["code"] == "missing_headers"
    assert "X-Shopify-Webhook-Id" in r.json["error"]["message"]
    assert count(container, WebhookReceipt) == 0


def test_unused_topic_is_acknowledged_and_not_stored(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    payload = shopify_order(order_id=5, email="a@example.com", subtotal=D("5"), customer_id=5)
    r = post(
        client,
        sign_shopify(
            payload, topic="products/update", shop_domain=shopify_shop.domain, secret=SHOPIFY_SECRET
        ),
    )
    assert r.status_code == 200
    assert r.json["status"] == "ignored"
    assert count(container, WebhookReceipt) == 0


def test_unknown_platform_is_404(client: FlaskClient) -> None:
    r = client.post("/webhooks/magento", data=b"{}")
    assert r.status_code == 404
    assert r.json["error"]["code"] == "unknown_platform"


def test_app_uninstalled_deactivates_the_shop_and_later_deliveries_are_ignored(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    r = post(
        client,
        sign_shopify(
            {"id": 548380009, "domain": shopify_shop.domain},
            topic="app/uninstalled",
            shop_domain=shopify_shop.domain,
            secret=SHOPIFY_SECRET,
        ),
    )
    assert r.json["status"] == "accepted"
    r = post(client, paid(shopify_shop))
    assert r.status_code == 200
    assert r.json["status"] == "ignored"
    assert count(container, LedgerEntry) == 0


def test_previous_app_secret_is_accepted_during_rotation(
    settings: Settings,
    clock,
    shopify_shop: ShopHandle,  # type: ignore[no-untyped-def]
) -> None:
    rotated = bootstrap(
        settings.with_overrides(
            shopify_api_secret="brand-new-secret", shopify_old_api_secret=SHOPIFY_SECRET
        ),
        clock=clock,
    )
    client = create_app(container=rotated).test_client()
    assert post(client, paid(shopify_shop)).status_code == 200
    assert post(client, paid(shopify_shop, secret="brand-new-secret")).status_code == 200
    rotated.close()


def test_database_down_answers_503_and_never_2xx(settings: Settings, tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    if settings.is_sqlite:
        url = f"sqlite:///{tmp_path}/missing-dir/nowhere.db"
    else:
        url = "postgresql+psycopg://postgres@127.0.0.1:1/test"  # nothing listens on port 1
    down = bootstrap(settings.with_overrides(database_url=url), clock=clock)
    client = create_app(container=down).test_client()
    payload = shopify_order(order_id=1, email="a@example.com", subtotal=D("1"), customer_id=1)
    r = post(
        client,
        sign_shopify(
            payload,
            topic="orders/paid",
            shop_domain="test-shop.myshopify.com",
            secret=SHOPIFY_SECRET,
        ),
    )
    assert r.status_code == 503
    assert r.json["error"]["code"] == "service_unavailable"
    assert r.headers["Retry-After"]
    assert client.get("/readyz").status_code == 503
    down.close()


# --- WooCommerce ---------------------------------------------------------------------


def woo_order(
    order_id: int = 727, status: str = "processing", total: str = "18.00", customer_id: int = 25
) -> dict:
    return {
        "id": order_id,
        "number": str(order_id),
        "status": status,
        "currency": "USD",
        "date_created_gmt": "2026-11-20T10:00:00",
        "date_paid_gmt": "2026-11-20T10:00:05",
        "date_modified_gmt": "2026-11-20T10:00:05",
        "discount_total": "0.00",
        "shipping_total": "10.00",
        "total_tax": "1.35",
        "total": str(D(total) + D("11.35")),
        "prices_include_tax": False,
        "customer_id": customer_id,
        "billing": {"first_name": "John", "last_name": "Doe", "email": "John.Doe@Example.com"},
        "line_items": [
            {
                "id": 315,
                "name": "Woo Single #1",
                "product_id": 93,
                "quantity": 1,
                "subtotal": total,
                "total": total,
                "total_tax": "1.35",
            }
        ],
        "shipping_lines": [],
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": [],
    }


def test_woocommerce_ping_gets_200_and_nothing_else(
    client: FlaskClient, container: Container, woo_shop: ShopHandle
) -> None:
    r = client.post(
        "/webhooks/woocommerce",
        data=b"webhook_id=42",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-WC-Webhook-Source": "https://woo.example.com/",
        },
    )
    assert r.status_code == 200
    assert r.json == {"status": "ping"}
    assert count(container, WebhookReceipt) == 0


def test_woocommerce_signed_order_awards_points(
    client: FlaskClient, container: Container, woo_shop: ShopHandle
) -> None:
    d = sign_woocommerce(
        woo_order(), topic="order.updated", source=woo_shop.domain, secret=WOO_SECRET
    )
    assert post(client, d).json["status"] == "accepted"
    body = client.get("/api/v1/customers/25", headers=woo_shop.auth).json
    assert body["balance"] == 18
    assert body["email"] == "john.doe@example.com"


def test_woocommerce_created_then_updated_then_completed_earns_once(
    client: FlaskClient, container: Container, woo_shop: ShopHandle
) -> None:
    for topic, status in (
        ("order.created", "processing"),
        ("order.updated", "processing"),
        ("order.updated", "completed"),
    ):
        d = sign_woocommerce(
            woo_order(status=status), topic=topic, source=woo_shop.domain, secret=WOO_SECRET
        )
        assert post(client, d).status_code == 200
    assert client.get("/api/v1/customers/25", headers=woo_shop.auth).json["balance"] == 18
    assert count(container, LedgerEntry) == 1


@pytest.mark.parametrize("tamper", ["secret", "source", "missing"])
def test_woocommerce_rejections(
    client: FlaskClient, container: Container, woo_shop: ShopHandle, tamper: str
) -> None:
    d = sign_woocommerce(
        woo_order(),
        topic="order.updated",
        source=woo_shop.domain,
        secret="wrong" if tamper == "secret" else WOO_SECRET,
    )
    headers = dict(d.headers)
    if tamper == "source":
        headers["X-WC-Webhook-Source"] = "https://other.example.com/"
    if tamper == "missing":
        del headers["X-WC-Webhook-Signature"]
    r = client.post(d.path, data=d.body, headers=headers)
    assert r.status_code == 401
    assert count(container, WebhookReceipt) == 0


def test_woocommerce_ping_lookalike_with_a_signature_is_not_a_ping(
    client: FlaskClient, container: Container, woo_shop: ShopHandle
) -> None:
    r = client.post(
        "/webhooks/woocommerce",
        data=b"webhook_id=42",
        headers={
            "X-WC-Webhook-Signature": "forged",
            "X-WC-Webhook-Source": "https://woo.example.com/",
        },
    )
    assert r.status_code == 401


def test_receipt_body_is_stored_byte_for_byte(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    d = paid(shopify_shop)
    post(client, d)
    with container.session_factory() as s:
        body = s.scalar(select(WebhookReceipt.body))
    assert bytes(body) == d.body
    assert json.loads(body)["id"] == 1001


@pytest.mark.postgres_only
def test_database_restart_mid_traffic_answers_503_then_recovers(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, settings: Settings
) -> None:
    """The shop is cached and a pooled connection is open when the server drops it."""
    from sqlalchemy import text

    assert post(client, paid(shopify_shop, order_id=1)).status_code == 200
    with container.engine.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        conn.commit()
    statuses = [
        post(client, paid(shopify_shop, order_id=2, delivery_id="d2")).status_code for _ in range(2)
    ]
    # Every pooled connection was killed: the first attempt may fail (503, never 2xx without
    # a stored row); the pool then reconnects and the retry is stored.
    assert statuses[-1] == 200
    assert all(s in (200, 503) for s in statuses)
    assert count(container, WebhookReceipt) == 2


@pytest.mark.postgres_only
def test_a_dead_intake_connection_becomes_a_503_error_and_the_next_delivery_reconnects(
    container: Container, shopify_shop: ShopHandle, settings: Settings
) -> None:
    import psycopg
    from sqlalchemy.exc import OperationalError

    from webhooks.envelopes import shopify_envelope

    def record(delivery_id: str) -> int | None:
        d = paid(shopify_shop, delivery_id=delivery_id)
        return webhook_receipts.record_receipt(
            container.engine,
            shop_id=shopify_shop.id,
            envelope=shopify_envelope(d.headers, shopify_shop.domain),
            body=d.body,
            now=container.clock(),
        )

    assert record("before-restart") is not None
    pid = webhook_receipts._intake_connection(container.engine).info.backend_pid
    dsn = settings.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as killer:
        killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(OperationalError):
        record("after-restart")
    assert record("after-restart") is not None  # the dead connection was dropped
    assert webhook_receipts._intake_connection(container.engine).info.backend_pid != pid
    assert count(container, WebhookReceipt) == 2


def test_redis_down_still_stores_and_acknowledges(settings: Settings, clock) -> None:  # type: ignore[no-untyped-def]
    """The receipt in the database is what counts; the scheduler wakes a drain later."""
    import time

    down = bootstrap(settings.with_overrides(redis_url="redis://127.0.0.1:1/0"), clock=clock)
    shop = make_shop(down, "shopify", "redis-down.myshopify.com")
    client = create_app(container=down).test_client()
    started = time.monotonic()
    r = post(client, paid(shop))
    assert (r.status_code, r.json["status"]) == (200, "accepted")
    # Well inside Shopify's 5-second limit even though Redis never answered.
    assert time.monotonic() - started < 3
    assert count(down, WebhookReceipt) == 1
    assert client.get("/readyz").status_code == 503
    down.close()


@pytest.mark.postgres_only
def test_concurrent_deliveries_are_stored_once_each(
    container: Container, shopify_shop: ShopHandle
) -> None:
    """24 deliveries sent twice each by 48 threads at once: every delivery is stored once,
    and exactly one of its two requests gets the id (the other hears 'duplicate')."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from plugin_server.domain.orders import Platform
    from webhooks.base import Envelope

    start = threading.Barrier(48)

    def send(n: int) -> tuple[str, int | None]:
        delivery = f"group-{n % 24}"
        envelope = Envelope(
            platform=Platform.SHOPIFY,
            shop_domain=shopify_shop.domain,
            topic="orders/paid",
            delivery_id=delivery,
        )
        start.wait()
        return delivery, webhook_receipts.record_receipt(
            container.engine,
            shop_id=shopify_shop.id,
            envelope=envelope,
            body=b'{"id": %d}' % (n % 24),
            now=container.clock(),
        )

    with ThreadPoolExecutor(48) as pool:
        results = list(pool.map(send, range(48)))
    ids: dict[str, list[int]] = {}
    for delivery, receipt_id in results:
        ids.setdefault(delivery, []).extend([receipt_id] if receipt_id is not None else [])
    assert sorted(ids) == sorted(f"group-{n}" for n in range(24))
    assert all(len(found) == 1 for found in ids.values())
    assert len({i for found in ids.values() for i in found}) == 24
    assert count(container, WebhookReceipt) == 24
