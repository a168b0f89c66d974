"""Suggestions on both databases: each kind appears on a seeded shop with evidence computed
by hand here, disappears when its condition stops holding, and acting on it changes what
the JSON API shows, once (a second time answers 409); another shop's suggestion is 404."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from plugin_server.bootstrap import Container
from plugin_server.db.models import (
    AnalyticsDay,
    AnalyticsOrderDay,
    AnalyticsState,
    EmailMessage,
    LedgerEntry,
    LoyaltyEvent,
)
from plugin_server.domain.expiry import months_after
from plugin_server.services import expiry, suggestions
from plugin_server.simulate import shopify_order
from tests.conftest import FakeClock, ShopHandle
from tests.integration.test_tiers import order, program, tier


def listed(client: FlaskClient, shop: ShopHandle) -> dict[tuple[str, str], dict[str, Any]]:
    r = client.get("/api/v1/suggestions", headers=shop.auth)
    assert r.status_code == 200, r.json
    return {(s["kind"], s["key"]): s for s in r.json["suggestions"]}


def act(client: FlaskClient, shop: ShopHandle, kind: str, key: str, action: str) -> Any:
    return client.post(f"/api/v1/suggestions/{kind}/{key}/actions/{action}", headers=shop.auth)


def adjust(client: FlaskClient, shop: ShopHandle, points: int, customer: int) -> None:
    r = client.post(
        f"/api/v1/customers/{customer}/adjustments",
        json={"points": points, "reason": "test"},
        headers=shop.auth,
    )
    assert r.status_code == 201, r.json


def test_members_about_to_lose_their_tier_get_a_campaign_once(
    client: FlaskClient, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    shop = shopify_shop
    program(
        client,
        shop,
        tier_measure="amount_spent",
        tier_period="rolling_12_months",
        tier_downgrade="period_end",
    )
    tier(client, shop, "Gold", 100)
    order(client, shop, 1, "150.00", paid_at=clock(), customer=42)
    order(client, shop, 2, "150.00", paid_at=clock(), customer=43)
    assert listed(client, shop).get(("tier_at_risk", "30d")) is None  # a year ahead
    # 11 months and 20 days on: within 30 days both orders leave the rolling window and
    # both members have held Gold for 12 months.
    clock.advance(days=355)
    order(client, shop, 3, "120.00", paid_at=clock(), customer=43)  # 43 requalifies
    found = listed(client, shop)[("tier_at_risk", "30d")]
    figures = found["evidence"]["figures"]
    assert (figures["members_at_risk"], figures["measure"], figures["period"]) == (
        1,
        "amount_spent",
        "rolling_12_months",
    )
    # No scores computed: no member is in a segment, so the campaign is for everyone (2).
    assert (figures["segments"], figures["members_reached"], figures["campaign_audience"]) == (
        "",
        1,
        2,
    )
    [member] = found["evidence"]["members"]
    assert member == {
        "customer_id": "42",
        "tier": "Gold",
        "threshold": "100",
        "value_now": "150",
        "value_at_window_end": "0",
        "short_by": "100",
        "tier_after": None,
        "segment": None,
    }
    [action] = found["actions"]
    assert (action["name"], action["changes"]["multiplier"], action["changes"]["segments"]) == (
        "create_campaign",
        "2",
        [],
    )

    r = act(client, shop, "tier_at_risk", "30d", "create_campaign")
    assert r.status_code == 200, r.json
    rule_id = r.json["result"]["id"]
    rule = client.get(f"/api/v1/earning-rules/{rule_id}", headers=shop.auth).json
    assert (rule["kind"], rule["multiplier"], rule["status"]) == ("bonus", "2", "active")
    ends = datetime.fromisoformat(rule["ends_at"]) - datetime.fromisoformat(rule["starts_at"])
    assert ends == timedelta(days=30)
    assert ("tier_at_risk", "30d") not in listed(client, shop)
    again = act(client, shop, "tier_at_risk", "30d", "create_campaign")
    assert (again.status_code, again.json["error"]["code"]) == (409, "suggestion_not_applicable")
    rules = client.get("/api/v1/earning-rules", headers=shop.auth).json
    assert [r["id"] for r in rules["earning_rules"] if r["kind"] == "bonus"] == [rule_id]


def test_tier_suggestion_disappears_when_the_member_buys_again(
    client: FlaskClient, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    shop = shopify_shop
    program(client, shop, tier_measure="amount_spent", tier_downgrade="period_end")
    program(client, shop, tier_period="rolling_12_months")
    tier(client, shop, "Gold", 100)
    order(client, shop, 1, "150.00", paid_at=clock())
    clock.advance(days=355)
    assert ("tier_at_risk", "30d") in listed(client, shop)
    order(client, shop, 2, "100.00", paid_at=clock())
    assert ("tier_at_risk", "30d") not in listed(client, shop)
    r = act(client, shop, "tier_at_risk", "30d", "create_campaign")
    assert r.status_code == 409
    # Under "never" nobody loses a tier, so nothing is suggested at all.
    program(client, shop, tier_downgrade="never")
    clock.advance(days=200)
    assert ("tier_at_risk", "30d") not in listed(client, shop)


def test_points_expiring_reminders_are_sent_once(
    client: FlaskClient, container: Container, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    shop = shopify_shop
    program(client, shop, expiry_policy="inactivity", expiry_months=12, expiry_reminder_days=7)
    order(client, shop, 1, "80.00", customer=42)
    order(client, shop, 2, "30.00", customer=43)
    clock.advance(days=340)  # 12 months after the orders is within 30 days, not within 7
    adjust(client, shop, 5, customer=43)  # activity: 43's points are safe for a year again
    with container.session_factory() as s:
        earned_at = s.scalar(
            select(func.min(LedgerEntry.created_at)).where(
                LedgerEntry.shop_id == shop.id, LedgerEntry.order_id.is_not(None)
            )
        )
    assert earned_at is not None
    found = listed(client, shop)[("points_expiring", "30d")]
    expires_at = months_after(earned_at.astimezone(UTC), 12)
    assert found["evidence"]["figures"]["members"] == 1
    assert found["evidence"]["figures"]["points"] == 80
    assert found["evidence"]["figures"]["email_enabled"] is True
    assert found["evidence"]["members"] == [
        {"customer_id": "42", "points": 80, "expires_at": expires_at.isoformat()}
    ]
    r = act(client, shop, "points_expiring", "30d", "send_reminders")
    assert r.status_code == 200, r.json
    assert r.json["result"] == {"reminders": 1, "points": 80}
    assert ("points_expiring", "30d") not in listed(client, shop)
    again = act(client, shop, "points_expiring", "30d", "send_reminders")
    assert again.status_code == 409
    # The hourly pass, inside the shop's own 7 days, finds the reminder already written.
    clock.advance(days=20)
    run = expiry.expire_all(container.uow, now=clock(), shop_id=shop.id)
    assert run.reminders == 0
    with container.session_factory() as s:
        events = s.scalars(
            select(LoyaltyEvent).where(
                LoyaltyEvent.shop_id == shop.id, LoyaltyEvent.kind == "points_expiring"
            )
        ).all()
        mails = s.scalars(select(EmailMessage.type).where(EmailMessage.shop_id == shop.id)).all()
    assert len(events) == 1
    assert list(mails).count("points_expiring") == 1


def test_unredeemed_reward_cost_is_lowered_once_and_other_shops_get_404(
    client: FlaskClient,
    clock: FakeClock,
    shopify_shop: ShopHandle,
    woo_shop: ShopHandle,
) -> None:
    shop = shopify_shop
    body = {"kind": "fixed_amount", "amount": "5.00", "currency": "usd", "code_valid_days": 30}
    five = client.post(
        "/api/v1/rewards", json={**body, "name": "$5 off", "points_cost": 500}, headers=shop.auth
    ).json
    huge = client.post(
        "/api/v1/rewards", json={**body, "name": "Dream", "points_cost": 10000}, headers=shop.auth
    ).json
    spare = client.post(
        "/api/v1/rewards", json={**body, "name": "Spare", "points_cost": 200}, headers=shop.auth
    ).json
    order(client, shop, 1, "600.00", customer=42)
    order(client, shop, 2, "100.00", customer=43)
    key = str(five["id"])
    assert ("unredeemed_reward", key) not in listed(client, shop)  # not 90 days old yet
    clock.advance(days=91)
    found = listed(client, shop)
    assert ("unredeemed_reward", str(huge["id"])) not in found  # nobody can afford it
    suggestion = found[("unredeemed_reward", key)]
    assert suggestion["evidence"]["figures"] == {
        "redemptions": 0,
        "points_cost": 500,
        "members_able": 1,  # 42 has 600 points, 43 has 100
        "proposed_cost": 370,  # 500 x 3/4 = 375, down to a multiple of 10
    }
    assert [a["name"] for a in suggestion["actions"]] == ["lower_cost", "archive"]

    assert act(client, woo_shop, "unredeemed_reward", key, "lower_cost").status_code == 404
    assert act(client, shop, "unredeemed_reward", key, "nope").status_code == 404
    assert act(client, shop, "no_such_kind", key, "lower_cost").status_code == 404

    r = act(client, shop, "unredeemed_reward", key, "lower_cost")
    assert r.status_code == 200, r.json
    assert client.get(f"/api/v1/rewards/{key}", headers=shop.auth).json["points_cost"] == 370
    assert ("unredeemed_reward", key) not in listed(client, shop)
    again = act(client, shop, "unredeemed_reward", key, "lower_cost")
    assert (again.status_code, again.json["error"]["code"]) == (409, "suggestion_not_applicable")
    assert client.get(f"/api/v1/rewards/{key}", headers=shop.auth).json["points_cost"] == 370

    other = str(spare["id"])
    r = act(client, shop, "unredeemed_reward", other, "archive")
    assert r.status_code == 200, r.json
    assert client.get(f"/api/v1/rewards/{other}", headers=shop.auth).json["status"] == "archived"
    assert act(client, shop, "unredeemed_reward", other, "archive").status_code == 409


def _seed_aggregates(
    container: Container,
    shop_id: int,
    now: datetime,
    *,
    before: tuple[int, int],
    last: tuple[int, int],
) -> None:
    """(net points, member revenue in whole USD) spread over the 90 days before the last
    90 complete days, and over those last 90 days: one row on one day of each."""
    end = now.date()  # the aggregates say every day before today is complete
    with container.session_factory() as s:
        for day, (points, dollars) in (
            (end - timedelta(days=100), before),
            (end - timedelta(days=10), last),
        ):
            s.add(
                AnalyticsDay(
                    shop_id=shop_id,
                    day=day,
                    new_members=0,
                    points_issued=points,
                    points_reversed=0,
                    points_redeemed=0,
                    points_returned=0,
                    points_expired=0,
                    points_removed=0,
                    points_net=points,
                    tier_ups=0,
                    tier_downs=0,
                )
            )
            s.add(
                AnalyticsOrderDay(
                    shop_id=shop_id,
                    day=day,
                    buyer="m:1",
                    currency="USD",
                    member=True,
                    orders=1,
                    gross_micros=dollars * 1_000_000 + 50 * 1_000_000,
                    refunded_micros=50 * 1_000_000,
                    reward_orders=0,
                    reward_micros=0,
                    referred_orders=0,
                    referred_micros=0,
                )
            )
        state = s.get(AnalyticsState, shop_id)
        if state is None:
            s.add(
                AnalyticsState(
                    shop_id=shop_id, changes_since=now, built_at=now + timedelta(hours=2)
                )
            )
        else:
            state.built_at = now + timedelta(hours=2)
        s.commit()


def test_earn_rate_is_lowered_when_points_outgrow_revenue(
    client: FlaskClient, container: Container, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    shop = shopify_shop
    _seed_aggregates(container, shop.id, clock(), before=(1000, 1000), last=(3000, 1500))
    order(client, shop, 1, "10.00")  # earned at the rate in force: 1 point per unit
    found = listed(client, shop)[("earn_rate", "points_per_unit")]
    figures = found["evidence"]["figures"]
    # Points grew 3000/1000 = 3x, revenue 1500/1000 = 1.5x: 1 x 1.5 / 3 = 0.5.
    assert figures["points_growth"] == "3.0000"
    assert figures["revenue_growth"] == "1.5000"
    assert (figures["revenue_before"], figures["revenue_last"]) == ("1000.00", "1500.00")
    assert figures["proposed_points_per_unit"] == "0.5"
    r = act(client, shop, "earn_rate", "points_per_unit", "lower_earn_rate")
    assert r.status_code == 200, r.json
    assert client.get("/api/v1/program", headers=shop.auth).json["points_per_unit"] == "0.5"
    assert ("earn_rate", "points_per_unit") not in listed(client, shop)
    assert act(client, shop, "earn_rate", "points_per_unit", "lower_earn_rate").status_code == 409
    assert client.get("/api/v1/program", headers=shop.auth).json["points_per_unit"] == "0.5"


def test_earn_rate_is_left_alone_when_revenue_keeps_up(
    client: FlaskClient, container: Container, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    # Points 3x, revenue 2.9x: within the 10 % tolerance.
    _seed_aggregates(container, shopify_shop.id, clock(), before=(1000, 1000), last=(3000, 2900))
    assert ("earn_rate", "points_per_unit") not in listed(client, shopify_shop)
    r = act(client, shopify_shop, "earn_rate", "points_per_unit", "lower_earn_rate")
    assert r.status_code == 409
    assert act(client, shopify_shop, "earn_rate", "other", "lower_earn_rate").status_code == 404


def test_suggestions_are_computable_without_a_server(
    container: Container, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    _seed_aggregates(container, shopify_shop.id, clock(), before=(100, 100), last=(400, 100))
    with container.session_factory() as s:
        from plugin_server.db.models import Shop

        shop = s.get(Shop, shopify_shop.id)
        assert shop is not None
        [found] = suggestions.compute(s, shop, now=clock())
    assert (found.kind, found.figures["proposed_points_per_unit"]) == ("earn_rate", "0.25")


# --- e. products that sell little but loyal members buy -------------------------------------


def test_a_product_loyal_members_buy_but_few_others_gets_a_bonus_campaign_once(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, woo_shop: ShopHandle
) -> None:
    from sqlalchemy import update

    from plugin_server.db.models import Customer, CustomerScore
    from plugin_server.services import scores
    from tests.integration.test_offers import deliver

    def order_of(order_id: int, buyer: int, products: list[int], *, days_ago: int) -> Any:
        payload = shopify_order(
            order_id=order_id, email=f"c{buyer}@example.com", subtotal=D(20), customer_id=buyer
        )
        template = payload["line_items"][0]
        payload["line_items"] = [
            {**template, "id": order_id * 10 + p, "title": f"Product {p}", "product_id": p}
            for p in products
        ]
        placed = datetime.now(UTC) - timedelta(days=days_ago)
        payload["processed_at"] = payload["created_at"] = placed.isoformat(timespec="seconds")
        return payload

    shop = shopify_shop
    # Products 1-5 sell to many shoppers (5+ units each); product 6 sells 3 units, all to
    # members who will be in the loyal segment.
    n = 0
    for product in (1, 2, 3, 4, 5):
        for buyer in range(4 + product):
            n += 1
            deliver(client, shop.domain, order_of(n, 500 + buyer, [product], days_ago=10))
    for buyer in (900, 901, 902):
        n += 1
        deliver(client, shop.domain, order_of(n, buyer, [6], days_ago=5))
    scores.recompute_shop(container.uow, shop.id, now=container.clock())
    with container.session_factory.begin() as s:
        loyal_ids = select(Customer.id).where(
            Customer.shop_id == shop.id, Customer.customer_ref.in_(["900", "901", "902"])
        )
        s.execute(
            update(CustomerScore)
            .where(CustomerScore.shop_id == shop.id, CustomerScore.customer_id.in_(loyal_ids))
            .values(segment="loyal")
        )

    found = listed(client, shop)
    suggestion = found[("product_bonus", "6")]
    assert suggestion["evidence"]["figures"] == {
        "product": "6",
        "product_title": "Product 6",
        "units_sold": 3,
        "rank_from_bottom": 1,
        "products_sold": 6,
        "buyers": 3,
        "loyal_buyers": 3,
    }
    # The best sellers, bought by shoppers in no loyal segment, are not suggested.
    assert [k for k in found if k[0] == "product_bonus"] == [("product_bonus", "6")]

    assert act(client, woo_shop, "product_bonus", "6", "boost_product").status_code == 404
    r = act(client, shop, "product_bonus", "6", "boost_product")
    assert r.status_code == 200, r.json
    campaign = r.json["result"]
    assert campaign["kind"] == "bonus"
    assert campaign["product_ids"] == ["6"]
    assert campaign["multiplier"] == "2"
    rules = client.get("/api/v1/earning-rules", headers=shop.auth).json["earning_rules"]
    assert [x["id"] for x in rules if x["product_ids"] == ["6"]] == [campaign["id"]]
    # Running now: no longer suggested, and acting again is refused.
    assert ("product_bonus", "6") not in listed(client, shop)
    assert act(client, shop, "product_bonus", "6", "boost_product").status_code == 409
