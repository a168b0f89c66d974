"""VIP tiers: qualifying, moving up and down, entry points once, the multiplier of the tier
held when the order was paid, refunds and pending points not counting, and recalculation
after the merchant changes the tiers."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal as D
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from plugin_server import jobs
from plugin_server.bootstrap import Container
from plugin_server.db.models import LoyaltyEvent, TierChange
from plugin_server.simulate import shopify_order, shopify_refund, sign_shopify
from tests.conftest import SHOPIFY_SECRET, FakeClock, ShopHandle, post
from tests.integration.test_storefront_api import proxied


def tier(client: FlaskClient, shop: ShopHandle, name: str, threshold: Any, **extra: Any) -> dict:
    r = client.post(
        "/api/v1/tiers", json={"name": name, "threshold": threshold, **extra}, headers=shop.auth
    )
    assert r.status_code == 201, r.json
    return r.json


def program(client: FlaskClient, shop: ShopHandle, **changes: Any) -> None:
    r = client.patch("/api/v1/program", json=changes, headers=shop.auth)
    assert r.status_code == 200, r.json


def order(
    client: FlaskClient,
    shop: ShopHandle,
    order_id: int,
    amount: str,
    *,
    paid_at: datetime | None = None,
    customer: int = 42,
) -> None:
    payload = shopify_order(
        order_id=order_id, email="ann@example.com", subtotal=D(amount), customer_id=customer
    )
    if paid_at is not None:
        payload["processed_at"] = paid_at.isoformat()
    r = post(
        client,
        sign_shopify(payload, topic="orders/paid", shop_domain=shop.domain, secret=SHOPIFY_SECRET),
    )
    assert r.status_code == 200


def refund(client: FlaskClient, shop: ShopHandle, order_id: int, amount: str) -> None:
    body = shopify_refund(
        refund_id=order_id * 7, order_id=order_id, line_item_id=None, subtotal=D(amount)
    )
    post(
        client,
        sign_shopify(body, topic="refunds/create", shop_domain=shop.domain, secret=SHOPIFY_SECRET),
    )


def member(client: FlaskClient, shop: ShopHandle, customer: int = 42) -> dict[str, Any]:
    return client.get(f"/api/v1/customers/{customer}", headers=shop.auth).json


def tier_name(client: FlaskClient, shop: ShopHandle, customer: int = 42) -> str | None:
    current = member(client, shop, customer)["tier"]["current"]
    return current["name"] if current else None


def changes(container: Container) -> list[str]:
    with container.session_factory() as s:
        return [c.reason for c in s.scalars(select(TierChange).order_by(TierChange.id))]


def test_no_tiers_no_tier_view(client: FlaskClient, shopify_shop: ShopHandle) -> None:
    order(client, shopify_shop, 1, "50.00")
    assert member(client, shopify_shop)["tier"] is None


def test_members_move_up_with_their_orders_and_see_what_is_next(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    tier(client, shopify_shop, "Silver", 100, entry_points=25)
    tier(client, shopify_shop, "Gold", 300, multiplier="1.5")
    jobs.tick(container)  # the shop's first recalculation
    order(client, shopify_shop, 1, "60.00")
    view = member(client, shopify_shop)["tier"]
    assert (view["current"], view["value"], view["next"]["name"]) == (None, "60", "Silver")
    assert view["next"]["remaining"] == "40"
    order(client, shopify_shop, 2, "70.00")
    view = member(client, shopify_shop)
    assert view["tier"]["current"]["name"] == "Silver"
    assert (view["tier"]["next"]["name"], view["tier"]["next"]["remaining"]) == ("Gold", "170")
    assert view["balance"] == 130 + 25  # Silver's entry points, once
    history = client.get("/api/v1/customers/42/transactions", headers=shopify_shop.auth).json
    assert (history["transactions"][0]["kind"], history["transactions"][0]["reason"]) == (
        "tier_bonus",
        "Welcome to Silver",
    )
    with container.session_factory() as s:
        [event] = s.scalars(select(LoyaltyEvent).where(LoyaltyEvent.kind == "tier_changed"))
    assert json.loads(event.payload) == {"from": None, "to": "Silver", "direction": "up"}


def test_an_order_earns_with_the_tier_held_when_it_was_paid(
    client: FlaskClient, container: Container, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    tier(client, shopify_shop, "Gold", 100, multiplier="2")
    paid_before_gold = clock()
    clock.advance(minutes=1)
    order(client, shopify_shop, 1, "100.00", paid_at=clock())  # reaches Gold
    assert tier_name(client, shopify_shop) == "Gold"
    clock.advance(minutes=1)
    order(client, shopify_shop, 2, "10.00", paid_at=clock())
    # Paid before the member reached Gold, delivered late: no multiplier.
    order(client, shopify_shop, 3, "10.00", paid_at=paid_before_gold)
    history = client.get("/api/v1/customers/42/transactions", headers=shopify_shop.auth).json
    by_reason = {t["reason"]: t["points"] for t in history["transactions"]}
    assert by_reason["Points for order #2 (Gold, 2x)"] == 20
    assert by_reason["Points for order #3"] == 10
    # A refund of the multiplied order takes back what it earned, multiplier included.
    refund(client, shopify_shop, 2, "5.00")
    assert member(client, shopify_shop)["balance"] == 100 + 20 - 10 + 10


def test_refunded_orders_stop_counting_and_the_downgrade_policy_decides(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    tier(client, shopify_shop, "Silver", 100, entry_points=10)
    order(client, shopify_shop, 1, "150.00")
    assert tier_name(client, shopify_shop) == "Silver"
    refund(client, shopify_shop, 1, "100.00")  # 50 left: below Silver
    assert member(client, shopify_shop)["tier"]["value"] == "50"
    assert tier_name(client, shopify_shop) == "Silver"  # never: kept
    program(client, shopify_shop, tier_downgrade="period_end")
    jobs.tick(container)  # the policy changed: everyone recalculated
    assert tier_name(client, shopify_shop) is None
    order(client, shopify_shop, 2, "60.00")
    assert tier_name(client, shopify_shop) == "Silver"
    # Back in Silver: its entry points are not paid again.
    assert member(client, shopify_shop)["balance"] == 150 - 100 + 10 + 60
    assert changes(container) == ["qualified", "recalculated", "qualified"]


def test_pending_points_count_once_they_are_available(
    client: FlaskClient, container: Container, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    program(client, shopify_shop, pending_days=14)
    tier(client, shopify_shop, "Silver", 100)
    jobs.tick(container)
    order(client, shopify_shop, 1, "120.00")
    assert tier_name(client, shopify_shop) is None
    clock.advance(days=15)
    jobs.tick(container)  # the hourly pass
    assert tier_name(client, shopify_shop) == "Silver"


def test_changing_thresholds_after_launch_recalculates_everyone(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    silver = tier(client, shopify_shop, "Silver", 100)
    gold = tier(client, shopify_shop, "Gold", 200)
    for customer, amount in ((1, "150.00"), (2, "250.00"), (3, "50.00")):
        order(client, shopify_shop, customer, amount, customer=customer)
    assert [tier_name(client, shopify_shop, c) for c in (1, 2, 3)] == ["Silver", "Gold", None]
    client.patch(f"/api/v1/tiers/{gold['id']}", json={"threshold": 300}, headers=shopify_shop.auth)
    client.patch(f"/api/v1/tiers/{silver['id']}", json={"threshold": 40}, headers=shopify_shop.auth)
    assert jobs.tick(container)["tier_changes"] == 2
    assert [tier_name(client, shopify_shop, c) for c in (1, 2, 3)] == ["Silver", "Silver", "Silver"]
    assert jobs.tick(container)["tier_changes"] == 0  # done once per change


@pytest.mark.parametrize(
    ("measure", "threshold", "orders", "expected"),
    [
        ("orders", 2, ["10.00", "10.00"], "2"),
        ("amount_spent", "99.99", ["60.00", "39.99"], "99.99"),
    ],
)
def test_other_measures(
    client: FlaskClient,
    container: Container,
    shopify_shop: ShopHandle,
    measure: str,
    threshold: Any,
    orders: list[str],
    expected: str,
) -> None:
    program(client, shopify_shop, tier_measure=measure)
    tier(client, shopify_shop, "VIP", threshold)
    for n, amount in enumerate(orders, start=1):
        order(client, shopify_shop, n, amount)
    view = member(client, shopify_shop)["tier"]
    assert (view["measure"], view["value"], view["current"]["name"]) == (measure, expected, "VIP")


def test_a_calendar_year_tier_is_kept_to_the_end_of_that_year(
    client: FlaskClient, container: Container, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    program(client, shopify_shop, tier_period="calendar_year", tier_downgrade="period_end")
    tier(client, shopify_shop, "Silver", 100)
    jobs.tick(container)
    now = clock()
    order(client, shopify_shop, 1, "150.00", paid_at=now)
    assert tier_name(client, shopify_shop) == "Silver"
    new_year = datetime(now.year + 1, 1, 1, tzinfo=now.tzinfo)
    clock.advance(seconds=(new_year - now).total_seconds() - 3600)  # still this year
    jobs.tick(container)
    assert tier_name(client, shopify_shop) == "Silver"
    clock.advance(hours=2)  # a new year: nothing earned in it yet
    jobs.tick(container)
    assert tier_name(client, shopify_shop) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "X", "threshold": "100.5"}, "threshold"),  # points are whole
        ({"name": "X", "threshold": 0}, "threshold"),
        ({"name": "X", "threshold": 100, "multiplier": "0.5"}, "multiplier"),
        ({"name": "X", "threshold": 100, "multiplier": "11"}, "multiplier"),
        ({"name": "", "threshold": 100}, "name"),
        ({"name": "X", "threshold": 100, "entry_points": -1}, "entry_points"),
    ],
)
def test_invalid_tiers_name_the_field(
    client: FlaskClient, shopify_shop: ShopHandle, body: dict, field: str
) -> None:
    r = client.post("/api/v1/tiers", json=body, headers=shopify_shop.auth)
    assert r.status_code == 400, r.json
    assert field in r.json["error"]["fields"]


def test_tier_catalog(client: FlaskClient, shopify_shop: ShopHandle) -> None:
    gold = tier(client, shopify_shop, "Gold", 300)
    tier(client, shopify_shop, "Silver", 100)
    r = client.post(
        "/api/v1/tiers", json={"name": "Also", "threshold": 100}, headers=shopify_shop.auth
    )
    assert list(r.json["error"]["fields"]) == ["threshold"]
    listed = client.get("/api/v1/tiers", headers=shopify_shop.auth).json["tiers"]
    assert [t["name"] for t in listed] == ["Silver", "Gold"]
    archived = client.post(f"/api/v1/tiers/{gold['id']}/archive", headers=shopify_shop.auth).json
    assert archived["status"] == "archived"
    assert client.get("/api/v1/tiers/999", headers=shopify_shop.auth).status_code == 404
    # A measure whose thresholds would not be whole is refused while amounts are used.
    program(client, shopify_shop, tier_measure="amount_spent")
    tier(client, shopify_shop, "Bronze", "49.50")
    r = client.patch("/api/v1/program", json={"tier_measure": "orders"}, headers=shopify_shop.auth)
    assert (r.status_code, list(r.json["error"]["fields"])) == (400, ["threshold"])


def test_shoppers_see_their_tier_and_the_next(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    tier(client, shopify_shop, "Silver", 100, multiplier="1.25")
    tier(client, shopify_shop, "Gold", 300, multiplier="1.5", entry_points=100)
    order(client, shopify_shop, 1, "120.00")
    summary = client.get(proxied("summary", shop=shopify_shop.domain)).json
    mine = summary["member"]["tier"]
    assert (mine["current"]["name"], mine["current"]["multiplier"]) == ("Silver", "1.25")
    assert (mine["next"]["name"], mine["next"]["remaining"], mine["next"]["entry_points"]) == (
        "Gold",
        "180",
        100,
    )
    assert [t["name"] for t in summary["program"]["tiers"]["tiers"]] == ["Silver", "Gold"]


def test_a_tier_only_reward_is_for_that_tier_and_above(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    silver = tier(client, shopify_shop, "Silver", 100)
    gold = tier(client, shopify_shop, "Gold", 300)
    r = client.post(
        "/api/v1/rewards",
        json={
            "name": "Silver lounge",
            "kind": "free_shipping",
            "points_cost": 10,
            "min_tier_id": silver["id"],
        },
        headers=shopify_shop.auth,
    )
    assert (r.status_code, r.json["min_tier_id"]) == (201, silver["id"])
    reward_id = r.json["id"]
    order(client, shopify_shop, 1, "50.00")  # 50 points: no tier yet
    r = client.post(
        "/api/v1/customers/42/redemptions", json={"reward_id": reward_id}, headers=shopify_shop.auth
    )
    assert (r.status_code, r.json["error"]["code"]) == (409, "tier_required")
    order(client, shopify_shop, 2, "60.00")  # Silver
    r = client.post(
        "/api/v1/customers/42/redemptions", json={"reward_id": reward_id}, headers=shopify_shop.auth
    )
    assert r.status_code == 201, r.json
    # A Gold-only reward stays out of reach, and the storefront says so.
    r = client.patch(
        f"/api/v1/rewards/{reward_id}", json={"min_tier_id": gold["id"]}, headers=shopify_shop.auth
    )
    assert r.json["min_tier_id"] == gold["id"]
    [shown] = client.get(proxied("summary", shop=shopify_shop.domain)).json["program"]["rewards"]
    assert (shown["min_tier_id"], shown["can_redeem"]) == (gold["id"], False)
    r = client.patch(
        f"/api/v1/rewards/{reward_id}", json={"min_tier_id": 999}, headers=shopify_shop.auth
    )
    assert list(r.json["error"]["fields"]) == ["min_tier_id"]
