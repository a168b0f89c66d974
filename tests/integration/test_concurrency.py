"""Concurrent deliveries: on PostgreSQL these really race; on SQLite the write lock serialises.

Either way the outcome must be one receipt per delivery id and one award per order.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal as D

from flask import Flask
from sqlalchemy import func, select

from plugin_server.bootstrap import Container
from plugin_server.db.models import LedgerEntry, WebhookReceipt
from plugin_server.services import webhook_receipts
from plugin_server.simulate import shopify_order, shopify_refund, sign_shopify
from tests.conftest import SHOPIFY_SECRET, ShopHandle, post

THREADS = 8


def race(n: int, fn):  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(n)

    def run(i: int):  # type: ignore[no-untyped-def]
        barrier.wait(timeout=10)
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def count_where(container: Container, model: type, *where: object) -> int:
    with container.session_factory() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_same_delivery_posted_concurrently_is_stored_and_awarded_once(
    app: Flask, container: Container, shopify_shop: ShopHandle
) -> None:
    payload = shopify_order(order_id=31, email="c@example.com", subtotal=D("31.00"), customer_id=3)
    d = sign_shopify(
        payload,
        topic="orders/paid",
        shop_domain=shopify_shop.domain,
        secret=SHOPIFY_SECRET,
        delivery_id="same-delivery",
    )
    results = race(THREADS, lambda _: post(app.test_client(), d))
    assert all(r.status_code == 200 for r in results)
    assert sorted(r.json["status"] for r in results).count("accepted") == 1
    assert count_where(container, WebhookReceipt) == 1
    assert count_where(container, LedgerEntry) == 1


def test_different_deliveries_of_one_order_applied_concurrently_award_once(
    container: Container, shopify_shop: ShopHandle
) -> None:
    """Many workers applying many deliveries of the same 10 orders at once."""
    receipt_ids = []
    for order_id in range(100, 110):
        payload = shopify_order(
            order_id=order_id, email="w@example.com", subtotal=D("10.00"), customer_id=9
        )
        body = sign_shopify(
            payload, topic="orders/paid", shop_domain=shopify_shop.domain, secret=SHOPIFY_SECRET
        )
        for copy in range(THREADS):
            from webhooks.envelopes import shopify_envelope

            envelope = shopify_envelope(
                {**body.headers, "X-Shopify-Webhook-Id": f"{order_id}-{copy}"}, shopify_shop.domain
            )
            rid = webhook_receipts.record_receipt(
                container.engine,
                shop_id=shopify_shop.id,
                envelope=envelope,
                body=body.body,
                now=container.clock(),
            )
            receipt_ids.append(rid)

    def drain(_: int) -> None:
        # Each thread is a worker claiming batches; claims never overlap.
        while ids := webhook_receipts.claim_receipts(
            container.uow(), now=container.clock(), limit=7
        ):
            for rid in ids:
                webhook_receipts.apply_receipt(container.uow(), rid, now=container.clock())

    race(THREADS, drain)
    assert len(receipt_ids) == 80
    assert count_where(container, WebhookReceipt, WebhookReceipt.status == "processed") == 80
    assert count_where(container, LedgerEntry, LedgerEntry.kind == "earn_order") == 10
    with container.session_factory() as s:
        assert s.scalar(select(func.sum(LedgerEntry.points))) == 100


def test_paid_and_refunds_racing_for_one_order_settle_to_the_model(
    app: Flask, container: Container, shopify_shop: ShopHandle
) -> None:
    order_id = 77
    deliveries = [
        sign_shopify(
            shopify_order(
                order_id=order_id, email="r@example.com", subtotal=D("100.00"), customer_id=5
            ),
            topic="orders/paid",
            shop_domain=shopify_shop.domain,
            secret=SHOPIFY_SECRET,
        )
    ]
    for i in range(THREADS - 1):
        deliveries.append(
            sign_shopify(
                shopify_refund(
                    refund_id=1000 + i, order_id=order_id, line_item_id=771, subtotal=D("10.00")
                ),
                topic="refunds/create",
                shop_domain=shopify_shop.domain,
                secret=SHOPIFY_SECRET,
            )
        )
    results = race(THREADS, lambda i: post(app.test_client(), deliveries[i]))
    assert all(r.status_code == 200 for r in results)
    # 7 refunds of 10.00 on a 100.00 order: 30 points left, whatever the interleaving.
    with container.session_factory() as s:
        assert s.scalar(select(func.sum(LedgerEntry.points))) == 30
