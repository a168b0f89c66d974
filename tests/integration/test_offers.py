"""Personalised offers: order lines recorded once with the paid order, the ranking on a
small shop worked out by hand, one shop's products never offered in another, and the
storefront and admin endpoints."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from plugin_server.bootstrap import Container
from plugin_server.db.models import CustomerScore, OrderLine, Shop
from plugin_server.domain.orders import Customer, Platform, PrivacyEvent
from plugin_server.platforms.base import PlatformOrder
from plugin_server.services import order_sync, privacy
from plugin_server.simulate import shopify_order, sign_shopify
from tests.conftest import SHOPIFY_SECRET, ShopHandle, make_shop, post
from tests.integration.test_catalog_api import conforms
from tests.integration.test_earning_rules import FIXTURES, customers_create, make_rule
from tests.integration.test_storefront_api import SHOP, proxied

XSS = '<img src=x onerror="window.__pwned=1">'
# Product id -> (title, unit price).
PRODUCTS = {
    101: ("Green tea", "10.00"),
    102: ("Jasmine tea", "12.00"),
    103: ("Teapot", "40.00"),
    104: ("Coffee beans", "15.00"),
    105: (XSS, "11.00"),
}


def iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def order(
    order_id: int, customer_id: int, products: list[int], *, days_ago: float
) -> dict[str, Any]:
    """A paid Shopify order of one unit of each product, placed `days_ago`."""
    subtotal = sum((D(PRODUCTS[p][1]) for p in products), D(0))
    payload = shopify_order(
        order_id=order_id,
        email=f"c{customer_id}@example.com",
        subtotal=subtotal,
        customer_id=customer_id,
    )
    template = payload["line_items"][0]
    payload["line_items"] = [
        {
            **template,
            "id": order_id * 10 + n,
            "title": PRODUCTS[p][0],
            "name": PRODUCTS[p][0],
            "product_id": p,
            "variant_id": p * 100,
            "price": PRODUCTS[p][1],
            "price_set": {
                "shop_money": {"amount": PRODUCTS[p][1], "currency_code": "USD"},
                "presentment_money": {"amount": PRODUCTS[p][1], "currency_code": "USD"},
            },
        }
        for n, p in enumerate(products, start=1)
    ]
    paid = datetime.now(UTC) - timedelta(days=days_ago)
    payload["processed_at"] = payload["created_at"] = iso(paid)
    return payload


def deliver(
    client: FlaskClient, domain: str, payload: dict[str, Any], topic: str = "orders/paid"
) -> None:
    delivery = sign_shopify(payload, topic=topic, shop_domain=domain, secret=SHOPIFY_SECRET)
    assert post(client, delivery).status_code == 200


def reward(client: FlaskClient, shop: ShopHandle, name: str, cost: int) -> int:
    r = client.post(
        "/api/v1/rewards",
        headers=shop.auth,
        json={
            "name": name,
            "kind": "fixed_amount",
            "points_cost": cost,
            "amount": "1.00",
            "currency": "usd",
            "code_valid_days": 30,
        },
    )
    assert r.status_code == 201, r.json
    return int(r.json["id"])


def lines(container: Container, shop_id: int) -> list[tuple[str, str, int, D, str, str | None]]:
    with container.session_factory() as s:
        return [
            tuple(row)  # type: ignore[misc]
            for row in s.execute(
                select(
                    OrderLine.order_ref,
                    OrderLine.product_ref,
                    OrderLine.quantity,
                    OrderLine.amount,
                    OrderLine.currency,
                    OrderLine.variant_ref,
                )
                .where(OrderLine.shop_id == shop_id)
                .order_by(OrderLine.order_ref, OrderLine.line_ref)
            )
        ]


@pytest.fixture
def tea_shop(container: Container, client: FlaskClient) -> ShopHandle:
    """Ann (1) bought green tea 60 days ago; Bob (2) green and jasmine tea; Cat (3) green
    and jasmine tea, then a teapot; Dan (4) coffee 5 days ago; Eve (5) coffee and a teapot;
    Fay (6) the product with a hostile name."""
    shop = make_shop(container, "shopify", SHOP, access_token="shpat_x")
    for payload in (
        order(1, 1, [101], days_ago=60),
        order(2, 2, [101, 102], days_ago=40),
        order(3, 3, [101, 102], days_ago=35),
        order(4, 3, [103], days_ago=20),
        order(5, 4, [104], days_ago=5),
        order(6, 5, [104, 103], days_ago=10),
        order(7, 6, [105], days_ago=50),
    ):
        deliver(client, SHOP, payload)
    return shop


# --- order lines ----------------------------------------------------------------------------


def test_lines_are_written_once_with_the_paid_order(
    container: Container, client: FlaskClient, shopify_shop: ShopHandle
) -> None:
    payload = order(9, 1, [101, 102], days_ago=1)
    deliver(client, shopify_shop.domain, payload, topic="orders/create")
    deliver(client, shopify_shop.domain, payload)
    deliver(client, shopify_shop.domain, payload)  # a redelivery
    deliver(client, shopify_shop.domain, payload, topic="orders/updated")
    assert lines(container, shopify_shop.id) == [
        ("9", "101", 1, D("10.00"), "USD", "10100"),
        ("9", "102", 1, D("12.00"), "USD", "10200"),
    ]
    with container.session_factory() as s:
        row = s.scalars(select(OrderLine).where(OrderLine.shop_id == shopify_shop.id)).first()
        assert row is not None
        assert row.order_id is not None
        assert row.customer_id is not None
        assert row.ordered_at.tzinfo is not None


def test_an_unpaid_order_has_no_lines_yet(
    container: Container, client: FlaskClient, shopify_shop: ShopHandle
) -> None:
    payload = order(9, 1, [101], days_ago=1)
    payload["financial_status"] = "pending"
    deliver(client, shopify_shop.domain, payload, topic="orders/create")
    assert lines(container, shopify_shop.id) == []


def test_history_orders_before_the_install_bring_their_lines(
    container: Container, shopify_shop: ShopHandle
) -> None:
    now = container.clock()
    with container.uow() as uow:
        shop = uow.session.get(Shop, shopify_shop.id)
        assert shop is not None
        placed = now - timedelta(days=400)
        payload = order(77, 3, [103], days_ago=400)
        polled = PlatformOrder("77", "orders/paid", json.dumps(payload).encode(), placed, placed)
        order_sync.store_orders(uow.session, shop, [polled], now=now)
        order_sync.store_orders(uow.session, shop, [polled], now=now)  # a page read twice
        uow.commit()
    assert lines(container, shopify_shop.id) == [("77", "103", 1, D("40.00"), "USD", "10300")]


# --- ranking on a shop worked out by hand --------------------------------------------------------


def test_offers_for_a_member_with_one_order(
    container: Container, client: FlaskClient, tea_shop: ShopHandle
) -> None:
    # Ann has 10 points (one 10.00 order at 1 point per unit): 5 is affordable, 15 and 18
    # come with one more order like it (10 points), 50 does not.
    small = reward(client, tea_shop, "<b>Small</b> treat", 5)
    reward(client, tea_shop, "Big", 50)
    near = reward(client, tea_shop, "Near", 15)
    nearer = reward(client, tea_shop, "Further", 18)
    r = client.get("/api/v1/customers/1/offers", headers=tea_shop.auth)
    assert r.status_code == 200, r.json
    conforms(client, "Offers", r.json)
    assert r.json["balance"] == 10
    assert [(o["reward_id"], o["reason_code"]) for o in r.json["rewards"]] == [
        (small, "afford_now"),
        (near, "next_order"),
        (nearer, "next_order"),
    ]
    assert r.json["rewards"][0]["name"] == "<b>Small</b> treat"
    assert r.json["rewards"][1]["reason"]["en"] == (
        "Reach it with one more order like your usual one"
    )
    # Neighbours (bought green tea): Bob {green, jasmine}, Cat {green, jasmine, teapot}.
    # Jasmine: 2 co-buyers / sqrt(2 buyers) = 1.41; green tea again (60 days ago): 0.6;
    # teapot: 1 / sqrt(2) = 0.71, halved for being 4x Ann's usual price = 0.35.
    assert [(p["product_ref"], p["reason_code"]) for p in r.json["products"]] == [
        ("102", "also_bought"),
        ("101", "buy_again"),
        ("103", "also_bought"),
    ]
    jasmine = r.json["products"][0]
    assert jasmine["title"] == "Jasmine tea"
    assert jasmine["reason"] == {
        "en": "Customers who bought Green tea also bought this",
        "vi": "Khách hàng đã mua Green tea cũng mua sản phẩm này",
        "th": "ลูกค้าที่ซื้อ Green tea ก็ซื้อสินค้านี้ด้วย",
    }
    # The same data, the same answer.
    again = client.get("/api/v1/customers/1/offers", headers=tea_shop.auth)
    assert again.json == r.json


def test_predictions_and_recent_purchases(
    container: Container, client: FlaskClient, tea_shop: ShopHandle
) -> None:
    big = reward(client, tea_shop, "Big", 50)
    # No prediction yet: 50 points are out of Ann's reach.
    assert client.get("/api/v1/customers/1/offers", headers=tea_shop.auth).json["rewards"] == []
    now = container.clock()
    with container.uow() as uow:
        member = uow.session.execute(
            select(func.min(OrderLine.customer_id)).where(
                OrderLine.shop_id == tea_shop.id, OrderLine.order_ref == "1"
            )
        ).scalar_one()
        uow.session.add(
            CustomerScore(
                shop_id=tea_shop.id, customer_id=member, currency="USD", frequency=1,
                monetary_minor=1000, tenure_days=60, activities=0, redemptions=0,
                engagement=0, advocacy=0, expected_purchases_90=D("4.2"),
                prediction_status="ok", computed_at=now,
            )
        )  # fmt: skip
        uow.commit()
    # 4.2 expected orders x 10 points = 42 >= the 40 still missing.
    r = client.get("/api/v1/customers/1/offers", headers=tea_shop.auth)
    assert [(o["reward_id"], o["reason_code"]) for o in r.json["rewards"]] == [
        (big, "expected_orders")
    ]
    # Dan bought coffee 5 days ago: not offered again. Eve bought coffee and a teapot: the
    # teapot; then the most bought products (green tea: 3 buyers; then by id).
    dan = client.get("/api/v1/customers/4/offers", headers=tea_shop.auth).json
    assert [(p["product_ref"], p["reason_code"]) for p in dan["products"]] == [
        ("103", "also_bought"),
        ("101", "popular"),
        ("102", "popular"),
    ]


def test_a_shop_without_orders_and_a_member_without_any(
    container: Container, client: FlaskClient, shopify_shop: ShopHandle
) -> None:
    reward(client, shopify_shop, "Five", 5)
    make_rule(client, shopify_shop, kind="signup", key="welcome", name="Welcome", points=7)
    assert post(client, customers_create(shopify_shop)).status_code == 200
    member = str(json.loads((FIXTURES / "customers_create.json").read_text())["id"])
    r = client.get(f"/api/v1/customers/{member}/offers", headers=shopify_shop.auth)
    assert r.status_code == 200
    assert r.json["products"] == []
    assert [o["reason_code"] for o in r.json["rewards"]] == ["afford_now"]
    missing = client.get("/api/v1/customers/nobody/offers", headers=shopify_shop.auth)
    assert missing.status_code == 404
    assert missing.json["error"]["code"] == "customer_not_found"


def test_another_shops_products_are_never_offered(
    container: Container, client: FlaskClient, tea_shop: ShopHandle
) -> None:
    other = make_shop(container, "shopify", "other.myshopify.com", access_token="shpat_y")
    # The same customer id and products bought together elsewhere.
    deliver(client, other.domain, order(500, 1, [101, 105], days_ago=3))
    deliver(client, other.domain, order(501, 9, [101, 105], days_ago=2))
    mine = client.get("/api/v1/customers/1/offers", headers=tea_shop.auth).json
    assert "105" not in {p["product_ref"] for p in mine["products"]}
    theirs = client.get("/api/v1/customers/1/offers", headers=other.auth).json
    # In the other shop customer 1 bought both products recently: nothing left to offer.
    assert theirs["products"] == []
    assert client.get("/api/v1/customers/2/offers", headers=other.auth).status_code == 404


# --- storefront -----------------------------------------------------------------------------------


def test_storefront_offers_for_the_signed_in_shopper(
    client: FlaskClient, tea_shop: ShopHandle
) -> None:
    reward(client, tea_shop, "Five", 5)
    r = client.get(proxied("offers", customer="1"))
    assert r.status_code == 200, r.json
    conforms(client, "Offers", r.json)
    assert r.headers["Cache-Control"] == "private, no-store"
    assert r.json == client.get("/api/v1/customers/1/offers", headers=tea_shop.auth).json
    # A signed-in shopper the program does not know yet: the shop's popular products.
    new = client.get(proxied("offers", customer="777")).json
    assert new["rewards"] == []
    assert [p["reason_code"] for p in new["products"]] == ["popular"] * 3
    # Guests are asked to sign in; a bad signature is refused.
    guest = client.get(proxied("offers", customer=""))
    assert guest.status_code == 401
    assert guest.json["error"]["code"] == "sign_in_required"
    forged = proxied("offers", customer="1").replace("customer_id=1", "customer_id=2")
    assert client.get(forged).status_code == 401


def test_offers_are_in_the_served_contract(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").json["paths"]
    assert "get" in paths["/storefront/v1/offers"]
    assert "get" in paths["/api/v1/customers/{customer_id}/offers"]


# --- privacy ----------------------------------------------------------------------------------


def test_a_customers_lines_are_exported_and_erased_with_them(
    container: Container, client: FlaskClient, tea_shop: ShopHandle
) -> None:
    now = container.clock()
    with container.uow() as uow:
        shop = uow.session.get(Shop, tea_shop.id)
        assert shop is not None
        ann = PrivacyEvent(
            Platform.SHOPIFY, "data_request", Customer("1", "c1@example.com"), request_ref="r1"
        )
        export_id = privacy.export_customer_data(uow.session, shop, ann, now=now)
        uow.commit()
    export = client.get(f"/api/v1/data-exports/{export_id}", headers=tea_shop.auth).json
    assert [
        (x["order_id"], x["product_id"], x["title"]) for x in export["data"]["order_lines"]
    ] == [("1", "101", "Green tea")]
    with container.uow() as uow:
        shop = uow.session.get(Shop, tea_shop.id)
        assert shop is not None
        gone = PrivacyEvent(Platform.SHOPIFY, "customer_redact", Customer("3", None))
        privacy.redact_customer(uow.session, shop, gone, now=now)
        uow.commit()
    # Cat's lines are gone; the others stay, and her purchases no longer steer Ann's offers.
    assert sorted({ref for ref, *_ in lines(container, tea_shop.id)}) == ["1", "2", "5", "6", "7"]
    ann_now = client.get("/api/v1/customers/1/offers", headers=tea_shop.auth).json
    assert "103" not in {
        p["product_ref"] for p in ann_now["products"] if p["reason_code"] == "also_bought"
    }
