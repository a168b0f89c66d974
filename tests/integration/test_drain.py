"""Draining the inbox: receipts applied in batches, a bad one only ever fails itself."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from plugin_server import jobs
from plugin_server.bootstrap import Container
from plugin_server.db.models import LedgerEntry, WebhookReceipt
from plugin_server.services import order_points, webhook_receipts
from plugin_server.simulate import shopify_order, sign_shopify
from tests.conftest import SHOPIFY_SECRET, ShopHandle
from webhooks.envelopes import shopify_envelope


def store(container: Container, shop: ShopHandle, order_ids: range) -> None:
    for order_id in order_ids:
        d = sign_shopify(
            shopify_order(
                order_id=order_id,
                email=f"{order_id}@example.com",
                subtotal=D("10"),
                customer_id=order_id,
            ),
            topic="orders/paid",
            shop_domain=shop.domain,
            secret=SHOPIFY_SECRET,
        )
        webhook_receipts.record_receipt(
            container.engine,
            shop_id=shop.id,
            envelope=shopify_envelope(d.headers, shop.domain),
            body=d.body,
            now=container.clock(),
        )


def test_a_poisoned_receipt_fails_alone_and_the_batch_is_applied(
    container: Container, shopify_shop: ShopHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(container, shopify_shop, range(1, 61))
    real = order_points.apply_order_event

    def poisoned(session, shop, event, *, now):  # type: ignore[no-untyped-def]
        if event.order_ref == "42":
            raise RuntimeError("this order breaks something")
        return real(session, shop, event, now=now)

    monkeypatch.setattr(order_points, "apply_order_event", poisoned)
    assert jobs.drain(container) >= 60
    with container.session_factory() as s:
        by_status = dict(
            s.execute(
                select(WebhookReceipt.status, func.count()).group_by(WebhookReceipt.status)
            ).all()
        )
        earns = s.scalar(select(func.count()).select_from(LedgerEntry))
        failed = s.scalars(select(WebhookReceipt).where(WebhookReceipt.status == "failed")).one()
    assert by_status == {"processed": 59, "failed": 1}
    assert earns == 59
    assert "this order breaks something" in (failed.last_error or "")
    assert failed.attempts == len(container.settings.job_retry_intervals) + 1


def test_batches_apply_exactly_once_per_order(
    container: Container, shopify_shop: ShopHandle
) -> None:
    store(container, shopify_shop, range(1, 131))
    store(container, shopify_shop, range(1, 131))  # every order delivered twice
    assert jobs.drain(container) == 260
    with container.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == 130
        assert s.scalar(select(func.sum(LedgerEntry.points))) == 1300


def test_a_drain_that_fails_releases_its_slot_so_the_next_wake_starts_one(
    container: Container, shopify_shop: ShopHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by benchmarks/faults.py: with PostgreSQL down the drain raised while holding
    # its slot flag, and every wake-up was swallowed until the flag expired a minute later.
    store(container, shopify_shop, range(1, 4))
    released: list[int] = []
    monkeypatch.setattr(container.dispatcher, "release_slot", released.append, raising=False)

    def database_down(*args: object, **kwargs: object) -> list[int]:
        raise ConnectionError("the database is down")

    monkeypatch.setattr(webhook_receipts, "claim_receipts", database_down)
    with pytest.raises(ConnectionError):
        jobs.drain(container, slot=2)
    assert released == [2]
    monkeypatch.undo()
    assert jobs.drain(container) == 3  # nothing was claimed by the failed drain


def test_a_drain_goes_on_with_redis_down_instead_of_stranding_its_claimed_batch(
    container: Container, shopify_shop: ShopHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by benchmarks/faults.py: with Redis down, refreshing the slot flag right after
    # a batch was claimed raised, and the batch stayed claimed for STALE_CLAIM (5 minutes).
    import socket

    from redis import Redis

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    redis_down = Redis(port=port, socket_connect_timeout=0.2, socket_timeout=0.2)
    monkeypatch.setattr(container, "dispatcher", jobs.RQDispatcher(redis_down, debounce_s=0.25))
    store(container, shopify_shop, range(1, 4))
    assert jobs.drain(container, slot=0) == 3
    with container.session_factory() as session:
        left = session.scalar(
            select(func.count())
            .select_from(WebhookReceipt)
            .where(WebhookReceipt.status != "processed")
        )
        earns = session.scalar(select(func.count()).select_from(LedgerEntry))
    assert (left, earns) == (0, 3)
