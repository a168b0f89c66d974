"""Bonus campaigns and products that never earn: the admin API, what orders earn under them,
what refunds and cancellations take back, and what shoppers see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from flask.testing import FlaskClient

from plugin_server.bootstrap import Container
from plugin_server.services import expiry, program
from plugin_server.simulate import shopify_order, sign_shopify, sign_woocommerce
from tests.conftest import SHOPIFY_SECRET, WOO_SECRET, FakeClock, ShopHandle, post
from tests.integration.test_storefront_api import proxied
from tests.integration.test_webhook_intake import woo_order

SUNGLASSES, CASE, GIFT_CARD = 501, 502, 503
CUSTOMER = 42


def iso(t: datetime) -> str:
    return t.isoformat()


def make_rule(client: FlaskClient, shop: ShopHandle, **body: Any) -> dict[str, Any]:
    r = client.post("/api/v1/earning-rules", json=body, headers=shop.auth)
    assert r.status_code == 201, r.json
    return r.json


def campaign(
    client: FlaskClient, shop: ShopHandle, clock: FakeClock, key: str = "double", **body: Any
) -> dict[str, Any]:
    now = clock()
    values = {
        "kind": "bonus",
        "key": key,
        "name": "Double points week",
        "starts_at": iso(now - timedelta(hours=1)),
        "ends_at": iso(now + timedelta(days=7)),
        **body,
    }
    if "points" not in values and "multiplier" not in values:
        values["multiplier"] = "2"
    return make_rule(client, shop, **values)


def order(
    order_id: int,
    lines: list[tuple[int, str]],
    *,
    paid_at: datetime | None = None,
    customer_id: int = CUSTOMER,
    cancelled: bool = False,
) -> dict[str, Any]:
    """A Shopify order of (product id, price) lines; line ids are order_id * 10 + n."""
    subtotal = sum((D(price) for _, price in lines), D(0))
    payload = shopify_order(
        order_id=order_id,
        email="ann@example.com",
        subtotal=subtotal,
        customer_id=customer_id,
        financial_status="voided" if cancelled else "paid",
        cancelled=cancelled,
    )
    template = payload["line_items"][0]
    payload["line_items"] = [
        {
            **template,
            "id": order_id * 10 + n,
            "product_id": product,
            "price": price,
            "price_set": {
                "shop_money": {"amount": price, "currency_code": "USD"},
                "presentment_money": {"amount": price, "currency_code": "USD"},
            },
        }
        for n, (product, price) in enumerate(lines, start=1)
    ]
    if paid_at is not None:
        payload["processed_at"] = payload["created_at"] = iso(paid_at)
    return payload


def refund(order_id: int, refund_id: int, lines: list[tuple[int, str]]) -> dict[str, Any]:
    """A refunds/create body giving back whole lines: (line number, subtotal)."""
    total = sum((D(amount) for _, amount in lines), D(0))
    return {
        "id": refund_id,
        "order_id": order_id,
        "created_at": datetime.now(UTC).isoformat(),
        "refund_line_items": [
            {
                "id": refund_id * 10 + n,
                "line_item_id": order_id * 10 + n,
                "quantity": 1,
                "subtotal": amount,
                "total_tax": "0.00",
            }
            for n, amount in lines
        ],
        "refund_shipping_lines": [],
        "transactions": [
            {"kind": "refund", "status": "success", "amount": str(total), "currency": "USD"}
        ],
    }


def deliver(client: FlaskClient, shop: ShopHandle, topic: str, payload: dict[str, Any]) -> None:
    delivery = sign_shopify(payload, topic=topic, shop_domain=shop.domain, secret=SHOPIFY_SECRET)
    assert post(client, delivery).status_code == 200


def history(client: FlaskClient, shop: ShopHandle, customer: int = CUSTOMER) -> list[dict]:
    r = client.get(f"/api/v1/customers/{customer}/transactions?limit=100", headers=shop.auth)
    return list(reversed(r.json["transactions"]))  # oldest first


def kinds(client: FlaskClient, shop: ShopHandle) -> list[tuple[str, int]]:
    return [(t["kind"], t["points"]) for t in history(client, shop)]


def balance(client: FlaskClient, shop: ShopHandle, customer: int = CUSTOMER) -> int:
    return int(client.get(f"/api/v1/customers/{customer}", headers=shop.auth).json["balance"])


# --- the admin API ------------------------------------------------------------------------


def test_campaign_and_exclusion_lifecycle(
    client: FlaskClient, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    auth = shopify_shop.auth
    rule = campaign(client, shopify_shop, clock, product_ids=[SUNGLASSES, "502"])
    assert rule["kind"] == "bonus"
    assert (rule["multiplier"], rule["points"], rule["product_ids"]) == ("2", None, ["501", "502"])
    assert rule["min_subtotal"] is None
    assert rule["ends_at"].endswith("+00:00")
    r = client.patch(
        f"/api/v1/earning-rules/{rule['id']}",
        json={"multiplier": None, "points": 100, "min_subtotal": "25.5"},
        headers=auth,
    )
    assert r.status_code == 200, r.json
    assert (r.json["multiplier"], r.json["points"], r.json["min_subtotal"]) == (None, 100, "25.5")
    gift = make_rule(
        client, shopify_shop, kind="exclusion", key="gift-cards", name="Gift cards",
        product_ids=[GIFT_CARD],
    )  # fmt: skip
    assert (gift["points"], gift["product_ids"], gift["starts_at"]) == (None, ["503"], None)
    listed = client.get("/api/v1/earning-rules", headers=auth).json["earning_rules"]
    assert [x["kind"] for x in listed] == ["bonus", "exclusion"]
    archived = client.post(f"/api/v1/earning-rules/{rule['id']}/archive", headers=auth)
    assert archived.json["status"] == "archived"


def test_a_campaign_without_a_start_starts_now(
    client: FlaskClient, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    rule = make_rule(
        client, shopify_shop, kind="bonus", key="now", name="Now", points=10,
        ends_at=iso(clock() + timedelta(days=1)),
    )  # fmt: skip
    assert abs(datetime.fromisoformat(rule["starts_at"]) - clock()) < timedelta(minutes=1)


NOW = datetime.now(UTC)
LATER = iso(NOW + timedelta(days=3))
BONUS = {"kind": "bonus", "key": "b", "name": "Bonus", "ends_at": LATER}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BONUS}, "multiplier"),  # neither multiplier nor points
        ({**BONUS, "multiplier": "2", "points": 5}, "multiplier"),  # both
        ({**BONUS, "multiplier": "1"}, "multiplier"),
        ({**BONUS, "multiplier": "10.5"}, "multiplier"),
        ({**BONUS, "multiplier": "1.555"}, "multiplier"),
        ({**BONUS, "multiplier": 2, "ends_at": None}, "ends_at"),
        ({**BONUS, "multiplier": 2, "ends_at": "2026-12-24T00:00:00"}, "ends_at"),  # no zone
        ({**BONUS, "multiplier": 2, "ends_at": iso(NOW - timedelta(days=1))}, "ends_at"),
        ({**BONUS, "multiplier": 2, "starts_at": LATER}, "ends_at"),  # not after the start
        ({**BONUS, "multiplier": 2, "ends_at": iso(NOW + timedelta(days=400))}, "ends_at"),
        ({**BONUS, "multiplier": 2, "min_subtotal": "-1"}, "min_subtotal"),
        ({**BONUS, "multiplier": 2, "limit_count": 1, "limit_period": "day"}, "limit_count"),
        ({**BONUS, "multiplier": 2, "product_ids": ["not an id"]}, "product_ids"),
        ({**BONUS, "multiplier": 2, "collection_ids": ["not an id"]}, "collection_ids"),
        ({**BONUS, "multiplier": 2, "collection_ids": [0]}, "collection_ids"),
        ({**BONUS, "multiplier": 2, "collection_ids": "12"}, "collection_ids"),
        (
            {**BONUS, "multiplier": 2, "collection_ids": [str(n) for n in range(1, 22)]},
            "collection_ids",
        ),
        (
            {"kind": "signup", "key": "x", "name": "X", "points": 5, "collection_ids": [1]},
            "collection_ids",
        ),
        ({"kind": "exclusion", "key": "x", "name": "X"}, "product_ids"),
        ({"kind": "exclusion", "key": "x", "name": "X", "product_ids": [1], "points": 5}, "points"),
        (
            {"kind": "signup", "key": "x", "name": "X", "points": 5, "product_ids": [1]},
            "product_ids",
        ),
        ({"kind": "signup", "key": "x", "name": "X"}, "points"),
    ],
)
def test_invalid_campaigns_name_the_field(
    client: FlaskClient, shopify_shop: ShopHandle, body: dict[str, Any], field: str
) -> None:
    r = client.post("/api/v1/earning-rules", json=body, headers=shopify_shop.auth)
    assert r.status_code == 400, r.json
    assert r.json["error"]["code"] == "validation_failed"
    assert field in r.json["error"]["fields"], r.json


# --- what orders earn ---------------------------------------------------------------------


def test_double_points_on_an_order_paid_in_the_window(
    client: FlaskClient, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    rule = campaign(client, shopify_shop, clock)
    deliver(client, shopify_shop, "orders/paid", order(1, [(SUNGLASSES, "10.50")]))
    # A second delivery of the same payment (another webhook id) pays nothing more.
    deliver(client, shopify_shop, "orders/paid", order(1, [(SUNGLASSES, "10.50")]))
    earn, bonus = history(client, shopify_shop)
    assert (earn["kind"], earn["points"]) == ("earn_order", 10)
    # Double points round once: 2 x 10.50 = 21 in all.
    assert (bonus["kind"], bonus["points"]) == ("campaign_bonus", 11)
    assert bonus["reason"] == "Double points week (2x): bonus on order #1"
    assert bonus["source"] == {"type": "rule", "ref": rule["key"]}


def test_the_paid_time_decides_whenever_the_webhook_arrives(
    client: FlaskClient, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    now = clock()
    campaign(client, shopify_shop, clock, starts_at=iso(now), ends_at=iso(now + timedelta(days=1)))
    deliver(client, shopify_shop, "orders/paid", order(1, [(1, "20.00")], paid_at=now))
    before = now - timedelta(seconds=1)
    deliver(client, shopify_shop, "orders/paid", order(2, [(1, "20.00")], paid_at=before))
    clock.advance(days=2)  # delivered after the campaign ended, paid while it ran
    late = now + timedelta(hours=23)
    deliver(client, shopify_shop, "orders/paid", order(3, [(1, "20.00")], paid_at=late))
    end = now + timedelta(days=1)  # the end is exclusive
    deliver(client, shopify_shop, "orders/paid", order(4, [(1, "20.00")], paid_at=end))
    bonuses = [t["reason"] for t in history(client, shopify_shop) if t["kind"] == "campaign_bonus"]
    assert bonuses == [
        "Double points week (2x): bonus on order #1",
        "Double points week (2x): bonus on order #3",
    ]


def test_a_product_campaign_counts_only_its_lines_and_their_refunds(
    client: FlaskClient, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    campaign(client, shopify_shop, clock, multiplier="3", product_ids=[SUNGLASSES])
    deliver(client, shopify_shop, "orders/paid", order(7, [(SUNGLASSES, "30.00"), (CASE, "20.00")]))
    assert kinds(client, shopify_shop) == [("earn_order", 50), ("campaign_bonus", 60)]
    # Refunding the case takes back its own points and nothing of the bonus.
    deliver(client, shopify_shop, "refunds/create", refund(7, 71, [(2, "20.00")]))
    assert kinds(client, shopify_shop)[2:] == [("reverse_order", -20)]
    # Refunding the sunglasses takes back the rest, the bonus with it.
    deliver(client, shopify_shop, "refunds/create", refund(7, 72, [(1, "30.00")]))
    assert sorted(kinds(client, shopify_shop)[3:]) == [
        ("reverse_campaign_bonus", -60),
        ("reverse_order", -30),
    ]
    assert balance(client, shopify_shop) == 0
    # A cancellation afterwards finds nothing left to take back.
    deliver(
        client, shopify_shop, "orders/cancelled", order(7, [(SUNGLASSES, "30.00")], cancelled=True)
    )
    assert len(history(client, shopify_shop)) == 5


def test_a_fixed_bonus_with_a_minimum_comes_back_in_proportion(
    client: FlaskClient, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    campaign(client, shopify_shop, clock, points=100, min_subtotal="40", product_ids=[SUNGLASSES])
    deliver(client, shopify_shop, "orders/paid", order(1, [(SUNGLASSES, "39.99"), (CASE, "50")]))
    assert [k for k, _ in kinds(client, shopify_shop)] == ["earn_order"]  # under the minimum
    deliver(client, shopify_shop, "orders/paid", order(2, [(SUNGLASSES, "20"), (SUNGLASSES, "20")]))
    assert kinds(client, shopify_shop)[-1] == ("campaign_bonus", 100)
    deliver(client, shopify_shop, "refunds/create", refund(2, 21, [(1, "20")]))
    assert ("reverse_campaign_bonus", -50) in kinds(client, shopify_shop)
    deliver(client, shopify_shop, "refunds/create", refund(2, 21, [(1, "20")]))  # again
    deliver(
        client, shopify_shop, "orders/cancelled", order(2, [(SUNGLASSES, "40")], cancelled=True)
    )
    taken = [p for k, p in kinds(client, shopify_shop) if k == "reverse_campaign_bonus"]
    assert taken == [-50, -50]  # never more than was given, never twice


def test_overlapping_campaigns_do_not_stack_the_best_one_applies(
    client: FlaskClient, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    campaign(client, shopify_shop, clock, key="double", multiplier="2")
    campaign(client, shopify_shop, clock, key="flat", name="Fifty more", points=50)
    deliver(client, shopify_shop, "orders/paid", order(1, [(1, "30.00")]))
    deliver(client, shopify_shop, "orders/paid", order(2, [(1, "80.00")]))
    bonuses = [(t["source"]["ref"], t["points"]) for t in history(client, shopify_shop)
               if t["kind"] == "campaign_bonus"]  # fmt: skip
    assert bonuses == [("flat", 50), ("double", 80)]


def test_an_archived_campaign_stops_paying(
    client: FlaskClient, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    rule = campaign(client, shopify_shop, clock)
    client.post(f"/api/v1/earning-rules/{rule['id']}/archive", headers=shopify_shop.auth)
    deliver(client, shopify_shop, "orders/paid", order(1, [(1, "30.00")]))
    assert kinds(client, shopify_shop) == [("earn_order", 30)]


def test_the_bonus_is_pending_as_long_as_the_order_points(
    client: FlaskClient, container: Container, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    program.update_program(container.uow(), shopify_shop.id, {"pending_days": 14}, now=clock())
    campaign(client, shopify_shop, clock)
    deliver(client, shopify_shop, "orders/paid", order(1, [(1, "30.00")]))
    earn, bonus = history(client, shopify_shop)
    assert bonus["status"] == earn["status"] == "pending"
    assert bonus["available_at"] == earn["available_at"]
    view = client.get(f"/api/v1/customers/{CUSTOMER}", headers=shopify_shop.auth).json
    assert (view["balance"], view["pending"]) == (0, 60)
    # A refund while pending takes from what is pending.
    deliver(client, shopify_shop, "refunds/create", refund(1, 11, [(1, "15.00")]))
    view = client.get(f"/api/v1/customers/{CUSTOMER}", headers=shopify_shop.auth).json
    assert (view["balance"], view["pending"]) == (0, 30)
    clock.advance(days=15)
    assert balance(client, shopify_shop) == 30


def test_a_guest_who_does_not_earn_gets_no_bonus(
    client: FlaskClient, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    campaign(client, shopify_shop, clock, points=50)
    payload = order(1, [(1, "30.00")])
    payload["customer"] = None
    deliver(client, shopify_shop, "orders/paid", payload)
    r = client.get("/api/v1/customers/guest:ann@example.com", headers=shopify_shop.auth)
    assert r.status_code == 404


# --- products that never earn ---------------------------------------------------------------


def test_excluded_products_earn_nothing_and_their_refunds_take_nothing(
    client: FlaskClient, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    make_rule(
        client, shopify_shop, kind="exclusion", key="gift-cards", name="Gift cards",
        product_ids=[GIFT_CARD],
    )  # fmt: skip
    campaign(client, shopify_shop, clock)  # double points, but never on a gift card
    deliver(client, shopify_shop, "orders/paid", order(1, [(GIFT_CARD, "50.00"), (CASE, "30")]))
    assert kinds(client, shopify_shop) == [("earn_order", 30), ("campaign_bonus", 30)]
    deliver(client, shopify_shop, "refunds/create", refund(1, 11, [(1, "50.00")]))
    assert len(history(client, shopify_shop)) == 2  # the gift card earned nothing to give back
    deliver(client, shopify_shop, "refunds/create", refund(1, 12, [(2, "30.00")]))
    assert balance(client, shopify_shop) == 0
    # An order of gift cards only earns nothing, and says why.
    deliver(client, shopify_shop, "orders/paid", order(2, [(GIFT_CARD, "100.00")]))
    assert balance(client, shopify_shop) == 0


def test_woocommerce_refund_lines_name_their_order_line(
    client: FlaskClient, clock: FakeClock, woo_shop: ShopHandle
) -> None:
    make_rule(
        client, woo_shop, kind="exclusion", key="gift-cards", name="Gift cards",
        product_ids=[GIFT_CARD],
    )  # fmt: skip
    payload = woo_order(order_id=800, total="40.00")
    payload["line_items"].append(
        {"id": 316, "name": "Gift card", "product_id": GIFT_CARD, "quantity": 1,
         "subtotal": "25.00", "total": "25.00", "total_tax": "0.00"}
    )  # fmt: skip
    payload["total"] = "76.35"

    def send(body: dict[str, Any]) -> None:
        delivery = sign_woocommerce(
            body, topic="order.updated", source=woo_shop.domain, secret=WOO_SECRET
        )
        assert post(client, delivery).status_code == 200

    send(payload)
    assert balance(client, woo_shop, customer=25) == 40
    # The refunds endpoint's shape: the refunded line is the `_refunded_item_id` meta.
    payload["refunds"] = [
        {
            "id": 900,
            "total": "-25.00",
            "line_items": [
                {"id": 901, "product_id": GIFT_CARD, "quantity": -1, "total": "-25.00",
                 "total_tax": "0.00", "meta_data": [{"key": "_refunded_item_id", "value": "316"}]}
            ],
        }
    ]  # fmt: skip
    send(payload)
    assert balance(client, woo_shop, customer=25) == 40
    payload["refunds"].append({"id": 902, "total": "-20.00", "reason": ""})  # money only
    send(payload)
    # 20 of 76.35 refunded, no lines named: the refunded share of the order's 40 points.
    assert balance(client, woo_shop, customer=25) == 40 - 10


# --- what shoppers see ------------------------------------------------------------------------


def test_running_campaigns_and_exclusions_show_in_the_storefront(
    client: FlaskClient, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    now = clock()
    rule = campaign(client, shopify_shop, clock, product_ids=[SUNGLASSES], min_subtotal="20")
    campaign(
        client, shopify_shop, clock, key="soon", starts_at=iso(now + timedelta(days=1)),
        ends_at=iso(now + timedelta(days=2)),
    )  # fmt: skip
    make_rule(
        client, shopify_shop, kind="exclusion", key="gift-cards", name="Gift cards",
        product_ids=[GIFT_CARD],
    )  # fmt: skip
    r = client.get(proxied("program", shop=shopify_shop.domain))
    assert r.status_code == 200, r.json
    [way] = r.json["program"]["ways_to_earn"]
    assert way == {
        "kind": "bonus",
        "key": "double",
        "name": "Double points week",
        "points": None,
        "limit_count": None,
        "limit_period": None,
        "multiplier": "2",
        "starts_at": rule["starts_at"],
        "ends_at": rule["ends_at"],
        "product_ids": [str(SUNGLASSES)],
        "min_subtotal": "20",
    }
    assert r.json["program"]["never_earn"] == [
        {"key": "gift-cards", "name": "Gift cards", "product_ids": [str(GIFT_CARD)]}
    ]


# --- the demo ------------------------------------------------------------------------------


def test_the_demo_runs_a_campaign_and_excludes_gift_cards(
    client: FlaskClient, container: Container
) -> None:
    from plugin_server import demo

    shop = demo.set_up(container, sandbox_url="http://127.0.0.1:9", showcase=True)
    handle = ShopHandle(shop.shop_id, "shopify", demo.DEMO_DOMAIN, shop.api_key)
    rules = client.get("/api/v1/earning-rules", headers=handle.auth).json["earning_rules"]
    by_key = {r["key"]: r for r in rules}
    assert by_key["sunglasses-week"]["product_ids"] == ["2"]
    assert by_key["gift-cards"]["kind"] == "exclusion"
    customer = int(demo.DEMO_CUSTOMER_ID)
    url = f"/api/v1/customers/{customer}"
    before = client.get(url, headers=handle.auth).json["pending"]
    paid = container.clock() + timedelta(seconds=1)  # payloads carry whole seconds
    sunglasses = order(77001, [(2, "40.00")], customer_id=customer, paid_at=paid)
    gift_card = order(77002, [(3, "25.00")], customer_id=customer, paid_at=paid)
    for payload in (sunglasses, gift_card):
        deliver(client, handle, "orders/paid", payload)
    # Ann is Silver (1.25x): 50 points, and as much again from the campaign (both pending
    # for the demo's 14-day returns window); the gift card earns nothing.
    assert client.get(url, headers=handle.auth).json["pending"] == before + 100


# --- expiry -------------------------------------------------------------------------------


def test_a_campaign_bonus_expires_with_its_order_and_counts_as_activity(
    client: FlaskClient, container: Container, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    r = client.patch(
        "/api/v1/program",
        json={"expiry_policy": "batch", "expiry_months": 12},
        headers=shopify_shop.auth,
    )
    assert r.status_code == 200, r.json
    campaign(client, shopify_shop, clock, multiplier="3", product_ids=[SUNGLASSES])
    deliver(client, shopify_shop, "orders/paid", order(1, [(SUNGLASSES, "30.00"), (CASE, "20")]))
    clock.advance(days=200)
    deliver(client, shopify_shop, "orders/paid", order(2, [(CASE, "40.00")]))
    # A refund of the case months later comes out of the first order's batch, not out of
    # the newest points; the bonus stays in that batch and expires with it.
    deliver(client, shopify_shop, "refunds/create", refund(1, 11, [(2, "20.00")]))
    assert balance(client, shopify_shop) == 30 + 60 + 40
    shown = client.get(f"/api/v1/customers/{CUSTOMER}", headers=shopify_shop.auth).json
    assert (shown["expiring"]["points"], shown["expiring"]["at"][:10]) == (
        90,
        (clock() - timedelta(days=200) + timedelta(days=365)).date().isoformat(),
    )
    clock.advance(days=170)  # the first order is past 12 months, the second is not
    assert expiry.expire_all(container.uow, now=clock()).points_expired == 90
    assert balance(client, shopify_shop) == 40
    clock.advance(days=200)
    assert expiry.expire_all(container.uow, now=clock()).points_expired == 40
    assert balance(client, shopify_shop) == 0
