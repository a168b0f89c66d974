"""Orders to points through the real intake: orderings, refunds, pending, guests, tenants."""

from __future__ import annotations

import itertools
from decimal import Decimal as D

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from plugin_server.bootstrap import Container
from plugin_server.db.models import LedgerEntry, Shop
from plugin_server.simulate import shopify_order, shopify_refund, sign_shopify
from tests.conftest import SHOPIFY_SECRET, ShopHandle, make_shop, post

ORDER = 5001
LINE = ORDER * 10 + 1
CUSTOMER = 88


def deliver(client: FlaskClient, shop: ShopHandle, topic: str, payload: dict) -> None:
    r = post(
        client, sign_shopify(payload, topic=topic, shop_domain=shop.domain, secret=SHOPIFY_SECRET)
    )
    assert r.status_code == 200, r.json


def balance(client: FlaskClient, shop: ShopHandle, customer: int = CUSTOMER) -> dict:
    r = client.get(f"/api/v1/customers/{customer}", headers=shop.auth)
    return r.json if r.status_code == 200 else {"balance": 0, "pending": 0}


EVENTS = {
    "paid": (
        "orders/paid",
        lambda: shopify_order(
            order_id=ORDER, email="b@example.com", subtotal=D("100.00"), customer_id=CUSTOMER
        ),
    ),
    "refund_a": (
        "refunds/create",
        lambda: shopify_refund(refund_id=1, order_id=ORDER, line_item_id=LINE, subtotal=D("30.00")),
    ),
    "refund_b": (
        "refunds/create",
        lambda: shopify_refund(refund_id=2, order_id=ORDER, line_item_id=LINE, subtotal=D("25.00")),
    ),
    "cancel": (
        "orders/cancelled",
        lambda: shopify_order(
            order_id=ORDER,
            email="b@example.com",
            subtotal=D("100.00"),
            customer_id=CUSTOMER,
            financial_status="refunded",
            cancelled=True,
        ),
    ),
}


def expected(events: set[str]) -> int:
    if "paid" not in events or "cancel" in events:
        return 0
    refunded = (
        D(0) + (D(30) if "refund_a" in events else 0) + (D(25) if "refund_b" in events else 0)
    )
    return 100 - int(refunded)


ALL_ORDERINGS = [
    perm
    for size in range(1, 5)
    for subset in itertools.combinations(EVENTS, size)
    for perm in itertools.permutations(subset)
]


@pytest.mark.parametrize("ordering", ALL_ORDERINGS, ids=lambda o: "-".join(o))
def test_final_balance_depends_only_on_which_events_arrived(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, ordering: tuple[str, ...]
) -> None:
    for name in ordering:
        topic, build = EVENTS[name]
        deliver(client, shopify_shop, topic, build())
        deliver(client, shopify_shop, topic, build())  # and every delivery twice
    assert balance(client, shopify_shop)["balance"] == expected(set(ordering))
    with container.session_factory() as s:
        earns = s.scalars(select(LedgerEntry).where(LedgerEntry.kind == "earn_order")).all()
    assert len(earns) == (1 if "paid" in ordering else 0)


def test_refund_history_reads_newest_first_with_reasons(
    client: FlaskClient, shopify_shop: ShopHandle
) -> None:
    for name in ("paid", "refund_a", "cancel"):
        topic, build = EVENTS[name]
        deliver(client, shopify_shop, topic, build())
    page = client.get(f"/api/v1/customers/{CUSTOMER}/transactions", headers=shopify_shop.auth).json
    assert [t["points"] for t in page["transactions"]] == [-70, -30, 100]
    assert [t["kind"] for t in page["transactions"]] == [
        "reverse_order",
        "reverse_order",
        "earn_order",
    ]
    assert "cancelled" in page["transactions"][0]["reason"]
    assert page["next_cursor"] is None


def test_transactions_paginate_with_a_cursor(client: FlaskClient, shopify_shop: ShopHandle) -> None:
    for i in range(5):
        deliver(
            client,
            shopify_shop,
            "orders/paid",
            shopify_order(
                order_id=9000 + i, email="p@example.com", subtotal=D(10 + i), customer_id=CUSTOMER
            ),
        )
    url = f"/api/v1/customers/{CUSTOMER}/transactions"
    first = client.get(url + "?limit=2", headers=shopify_shop.auth).json
    assert [t["points"] for t in first["transactions"]] == [14, 13]
    second = client.get(
        f"{url}?limit=2&cursor={first['next_cursor']}", headers=shopify_shop.auth
    ).json
    assert [t["points"] for t in second["transactions"]] == [12, 11]
    third = client.get(
        f"{url}?limit=2&cursor={second['next_cursor']}", headers=shopify_shop.auth
    ).json
    assert [t["points"] for t in third["transactions"]] == [10]
    assert third["next_cursor"] is None
    assert client.get(url + "?limit=0", headers=shopify_shop.auth).status_code == 400
    assert client.get(url + "?limit=abc", headers=shopify_shop.auth).json["error"]["code"] == (
        "validation_failed"
    )


def set_shop(container: Container, shop: ShopHandle, **values: object) -> None:
    with container.session_factory.begin() as s:
        s.execute(update(Shop).where(Shop.id == shop.id).values(**values))


def test_pending_points_become_spendable_when_their_time_comes(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, clock
) -> None:  # type: ignore[no-untyped-def]
    set_shop(container, shopify_shop, pending_days=14)
    topic, build = EVENTS["paid"]
    deliver(client, shopify_shop, topic, build())
    body = balance(client, shopify_shop)
    assert (body["balance"], body["pending"], body["lifetime_earned"]) == (0, 100, 100)
    assert body["next_pending_available_at"] is not None
    assert body["can_redeem"] is False
    # A refund while the points are pending takes from pending, not from spendable.
    deliver(client, shopify_shop, *(lambda t, b: (t, b()))(*EVENTS["refund_a"]))
    body = balance(client, shopify_shop)
    assert (body["balance"], body["pending"]) == (0, 70)
    clock.advance(days=14, seconds=1)
    body = balance(client, shopify_shop)
    assert (body["balance"], body["pending"]) == (70, 0)
    assert body["next_pending_available_at"] is None


def test_guest_checkout_earns_nothing_by_default(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    deliver(
        client,
        shopify_shop,
        "orders/paid",
        shopify_order(order_id=1, email="guest@example.com", subtotal=D("50"), customer_id=None),
    )
    r = client.get("/api/v1/customers?email=guest@example.com", headers=shopify_shop.auth)
    assert r.json == {"customers": []}


def test_guest_checkout_earns_by_email_when_the_shop_allows_it(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    set_shop(container, shopify_shop, guests_earn=True)
    deliver(
        client,
        shopify_shop,
        "orders/paid",
        shopify_order(order_id=1, email="Guest@Example.com", subtotal=D("50"), customer_id=None),
    )
    [member] = client.get(
        "/api/v1/customers?email=guest@example.com", headers=shopify_shop.auth
    ).json["customers"]
    assert member["customer_id"] == "guest:guest@example.com"
    assert member["balance"] == 50


def test_rule_change_after_earning_does_not_distort_reversal(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    topic, build = EVENTS["paid"]
    deliver(client, shopify_shop, topic, build())
    set_shop(container, shopify_shop, points_per_unit=D("10"))
    deliver(client, shopify_shop, *(lambda t, b: (t, b()))(*EVENTS["refund_a"]))
    assert balance(client, shopify_shop)["balance"] == 70


def test_a_refund_after_points_were_spent_can_leave_a_negative_balance(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    topic, build = EVENTS["paid"]
    deliver(client, shopify_shop, topic, build())
    # Spending arrives with redemptions; here a spend is written as the ledger would.
    with container.session_factory.begin() as s:
        earn = s.scalars(select(LedgerEntry)).one()
        s.add(
            LedgerEntry(
                shop_id=earn.shop_id,
                customer_id=earn.customer_id,
                points=-100,
                kind="redeem",
                reason="test spend",
                source_type="test",
                source_ref="1",
                idempotency_key="test:spend",
                created_at=earn.created_at,
                available_at=earn.created_at,
            )
        )
    deliver(client, shopify_shop, *(lambda t, b: (t, b()))(*EVENTS["cancel"]))
    body = balance(client, shopify_shop)
    assert body["balance"] == -100
    assert body["can_redeem"] is False
    assert body["lifetime_earned"] == 0


def test_ledger_entries_cannot_be_updated_or_deleted(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    topic, build = EVENTS["paid"]
    deliver(client, shopify_shop, topic, build())
    for statement in ("UPDATE ledger_entries SET points = 1000", "DELETE FROM ledger_entries"):
        with pytest.raises(DBAPIError, match="append-only"), container.engine.begin() as conn:
            conn.execute(text(statement))
    assert balance(client, shopify_shop)["balance"] == 100


def test_one_shops_key_never_reads_another_shops_customer(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    other = make_shop(container, "shopify", "other-shop.myshopify.com")
    topic, build = EVENTS["paid"]
    deliver(client, shopify_shop, topic, build())
    assert client.get(f"/api/v1/customers/{CUSTOMER}", headers=shopify_shop.auth).status_code == 200
    r = client.get(f"/api/v1/customers/{CUSTOMER}", headers=other.auth)
    assert r.status_code == 404
    assert r.json["error"]["code"] == "customer_not_found"
    assert (
        client.get(f"/api/v1/customers/{CUSTOMER}/transactions", headers=other.auth).status_code
        == 404
    )
    assert client.get("/api/v1/customers?email=b@example.com", headers=other.auth).json == {
        "customers": []
    }
    # The same platform customer id in the other shop is a different member.
    deliver(
        client,
        other,
        "orders/paid",
        shopify_order(order_id=ORDER, email="b@example.com", subtotal=D("7"), customer_id=CUSTOMER),
    )
    assert balance(client, other)["balance"] == 7
    assert balance(client, shopify_shop)["balance"] == 100


@pytest.mark.parametrize("auth", [None, "Bearer", "Bearer wrong-key", "Basic abc"])
def test_admin_api_needs_a_valid_key(
    client: FlaskClient, shopify_shop: ShopHandle, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth else {}
    r = client.get(f"/api/v1/customers/{CUSTOMER}", headers=headers)
    assert r.status_code == 401
    assert r.json["error"]["code"] == "unauthorized"
