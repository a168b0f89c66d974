"""Shopify's mandatory privacy webhooks: export, customer erasure, shop erasure."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from plugin_server import jobs
from plugin_server.bootstrap import Container
from plugin_server.db.models import (
    Customer,
    EarningRule,
    LedgerEntry,
    LoyaltyEvent,
    MemberTier,
    Order,
    OrderLine,
    OrderRefund,
    Shop,
    Tier,
    TierChange,
    WebhookReceipt,
)
from plugin_server.services import expiry
from plugin_server.simulate import shopify_order, shopify_refund, sign_shopify
from tests.conftest import SHOPIFY_SECRET, ShopHandle, make_shop, post
from tests.integration.test_storefront_api import proxied

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify"
CUSTOMER = 191167


def send(client: FlaskClient, shop: ShopHandle, topic: str, payload: dict, **kw: str):  # type: ignore[no-untyped-def]
    return post(
        client,
        sign_shopify(payload, topic=topic, shop_domain=shop.domain, secret=SHOPIFY_SECRET, **kw),
    )


def sample(name: str, shop: ShopHandle) -> dict:
    payload = json.loads((FIXTURES / f"{name}.json").read_text())
    payload["shop_domain"] = shop.domain
    return payload


@pytest.fixture
def history(client: FlaskClient, shopify_shop: ShopHandle) -> ShopHandle:
    """The fixture customer with two orders, a refund, and an unrelated shopper."""
    for order_id, total in ((299938, "80.00"), (280263, "20.00")):
        send(
            client,
            shopify_shop,
            "orders/paid",
            shopify_order(
                order_id=order_id, email="john@example.com", subtotal=D(total), customer_id=CUSTOMER
            ),
        )
    send(
        client,
        shopify_shop,
        "refunds/create",
        shopify_refund(refund_id=5, order_id=299938, line_item_id=1, subtotal=D("10.00")),
    )
    send(
        client,
        shopify_shop,
        "orders/paid",
        shopify_order(order_id=1, email="other@example.com", subtotal=D("7"), customer_id=2),
    )
    return shopify_shop


def shop_rows(container: Container, shop_id: int) -> dict[str, int]:
    with container.session_factory() as s:
        return {
            m.__tablename__: s.scalar(
                select(func.count()).select_from(m).where(m.shop_id == shop_id)
            )
            or 0
            for m in (
                LedgerEntry,
                OrderRefund,
                OrderLine,
                Order,
                Customer,
                WebhookReceipt,
                EarningRule,
                LoyaltyEvent,
                Tier,
                MemberTier,
                TierChange,
            )
        }


def test_data_request_exports_everything_held(client: FlaskClient, history: ShopHandle) -> None:
    r = send(client, history, "customers/data_request", sample("customers_data_request", history))
    assert r.json["status"] == "accepted"
    [summary] = client.get("/api/v1/data-exports", headers=history.auth).json["data_exports"]
    assert (summary["request_id"], summary["customer_id"]) == ("9999", str(CUSTOMER))
    export = client.get(f"/api/v1/data-exports/{summary['id']}", headers=history.auth).json
    data = export["data"]
    assert [c["email"] for c in data["customers"]] == ["john@example.com"]
    assert data["customers"][0]["balance"] == 90
    assert sorted(o["order_id"] for o in data["orders"]) == ["280263", "299938"]
    assert sorted(e["points"] for e in data["ledger"]) == [-10, 20, 80]
    # A repeated delivery of the same request keeps one export.
    send(client, history, "customers/data_request", sample("customers_data_request", history))
    assert len(client.get("/api/v1/data-exports", headers=history.auth).json["data_exports"]) == 1
    other = make_shop_for(client, history)
    assert client.get(f"/api/v1/data-exports/{summary['id']}", headers=other).status_code == 404


def make_shop_for(client: FlaskClient, shop: ShopHandle) -> dict[str, str]:
    container = client.application.extensions["loyalty"]
    return make_shop(container, "shopify", "nosy.myshopify.com").auth


def test_customer_redact_erases_personal_data_and_keeps_totals(
    client: FlaskClient, container: Container, history: ShopHandle
) -> None:
    def total() -> int:
        with container.session_factory() as s:
            return int(s.scalar(select(func.sum(LedgerEntry.points))) or 0)

    before = total()
    r = client.post(
        proxied("birthday", customer=str(CUSTOMER), shop=history.domain),
        json={"month": 7, "day": 14},
    )
    assert r.status_code == 200, r.json
    send(client, history, "customers/data_request", sample("customers_data_request", history))
    [export] = client.get("/api/v1/data-exports", headers=history.auth).json["data_exports"]
    data = client.get(f"/api/v1/data-exports/{export['id']}", headers=history.auth).json["data"]
    assert [c["birthday"] for c in data["customers"]] == ["--07-14"]
    r = send(client, history, "customers/redact", sample("customers_redact", history))
    assert r.json["status"] == "accepted"
    assert total() == before  # the ledger keeps every entry
    assert client.get(f"/api/v1/customers/{CUSTOMER}", headers=history.auth).status_code == 404
    found = client.get("/api/v1/customers?email=john@example.com", headers=history.auth)
    assert found.json == {"customers": []}
    with container.session_factory() as s:
        bodies = b"".join(bytes(b) for b in s.scalars(select(WebhookReceipt.body)))
        member = s.scalars(select(Customer).where(Customer.customer_ref.like("redacted:%"))).one()
    assert b"john@example.com" not in bodies
    assert member.email is None
    assert (member.birth_month, member.birth_day, member.birthday_set_at) == (None, None, None)
    assert client.get("/api/v1/data-exports", headers=history.auth).json == {"data_exports": []}
    # The unrelated shopper is untouched; a repeated erasure is harmless.
    assert client.get("/api/v1/customers/2", headers=history.auth).json["balance"] == 7
    assert (
        send(
            client,
            history,
            "customers/redact",
            sample("customers_redact", history),
            delivery_id="again",
        ).status_code
        == 200
    )
    assert total() == before


def test_shop_redact_erases_the_whole_shop_and_nothing_else(
    client: FlaskClient, container: Container, history: ShopHandle
) -> None:
    other = make_shop(container, "shopify", "neighbour.myshopify.com")
    send(
        client,
        other,
        "orders/paid",
        shopify_order(order_id=5, email="n@example.com", subtotal=D("5"), customer_id=5),
    )
    untouched = shop_rows(container, other.id)
    # An earning rule, a tier with its members and an expiry reminder are the shop's too.
    client.post("/api/v1/tiers", json={"name": "Silver", "threshold": 10}, headers=history.auth)
    jobs.tick(container)
    client.post(
        "/api/v1/earning-rules",
        json={"kind": "activity", "key": "review", "name": "Review", "points": 5},
        headers=history.auth,
    )
    client.patch(
        "/api/v1/program",
        json={"expiry_policy": "batch", "expiry_months": 1, "expiry_reminder_days": 60},
        headers=history.auth,
    )
    assert expiry.expire_all(container.uow, now=container.clock()).reminders > 0
    assert shop_rows(container, history.id)["loyalty_events"] > 0
    assert shop_rows(container, history.id)["tier_changes"] > 0
    # The app was uninstalled first; shop/redact comes 48 hours later.
    send(client, history, "app/uninstalled", {"id": 1, "domain": history.domain})
    r = send(client, history, "shop/redact", sample("shop_redact", history))
    assert r.json["status"] == "accepted"
    assert set(shop_rows(container, history.id).values()) == {0}
    with container.session_factory() as s:
        assert s.get(Shop, history.id) is None
    assert shop_rows(container, other.id) == untouched
    # Signed again by Shopify: nothing held any more, still a 2xx so Shopify stops asking.
    again = send(client, history, "shop/redact", sample("shop_redact", history))
    assert (again.status_code, again.json["status"]) == (200, "ignored")
    forged = post(
        client,
        sign_shopify(
            sample("shop_redact", history),
            topic="shop/redact",
            shop_domain=history.domain,
            secret="forged",
        ),
    )
    assert forged.status_code == 401


def test_ledger_rows_still_cannot_be_deleted_outside_a_shop_purge(
    container: Container, history: ShopHandle
) -> None:
    with pytest.raises(DBAPIError, match="append-only"), container.engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_entries WHERE shop_id = :s"), {"s": history.id})


@pytest.mark.parametrize(
    "payload", [{"shop_id": 1}, {"customer": "john"}, {"customer": {"phone": "1"}}]
)
def test_malformed_privacy_requests_become_failed_receipts(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, payload: dict
) -> None:
    send(client, shopify_shop, "customers/redact", payload)
    with container.session_factory() as s:
        assert s.scalars(select(WebhookReceipt.status)).one() == "failed"
