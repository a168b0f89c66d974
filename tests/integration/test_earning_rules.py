"""Earning rules beyond orders: the catalog, activity awards with limits per period, the
sign-up bonus from the store's own webhook, and what shoppers see."""

from __future__ import annotations

import json
import threading
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from plugin_server.bootstrap import Container
from plugin_server.services import earning_rules
from plugin_server.simulate import shopify_order, sign_shopify
from tests.conftest import SHOPIFY_SECRET, FakeClock, ShopHandle, post
from tests.integration.test_storefront_api import proxied

FIXTURES = Path(__file__).parents[1] / "fixtures" / "shopify"
REVIEW = {"kind": "activity", "key": "product_review", "name": "Product review", "points": 20}


def make_rule(client: FlaskClient, shop: ShopHandle, **body: Any) -> dict[str, Any]:
    r = client.post("/api/v1/earning-rules", json=body, headers=shop.auth)
    assert r.status_code == 201, r.json
    return r.json


def member_joins(client: FlaskClient, shop: ShopHandle, customer: int = 42) -> None:
    payload = shopify_order(
        order_id=customer, email="ann@example.com", subtotal=D("1.00"), customer_id=customer
    )
    post(
        client,
        sign_shopify(payload, topic="orders/paid", shop_domain=shop.domain, secret=SHOPIFY_SECRET),
    )


def activity(
    client: FlaskClient, shop: ShopHandle, rule: str, ref: str | None = None, customer: int = 42
) -> Any:
    body = {"rule": rule, **({"reference": ref} if ref else {})}
    return client.post(f"/api/v1/customers/{customer}/activities", json=body, headers=shop.auth)


def test_rule_lifecycle(client: FlaskClient, shopify_shop: ShopHandle) -> None:
    auth = shopify_shop.auth
    rule = make_rule(client, shopify_shop, **REVIEW, limit_count=2, limit_period="day")
    assert (rule["status"], rule["limit_count"], rule["limit_period"]) == ("active", 2, "day")
    r = client.patch(f"/api/v1/earning-rules/{rule['id']}", json={"points": 25}, headers=auth)
    assert (r.json["points"], r.json["key"]) == (25, "product_review")
    listed = client.get("/api/v1/earning-rules", headers=auth).json["earning_rules"]
    assert [x["id"] for x in listed] == [rule["id"]]
    archived = client.post(f"/api/v1/earning-rules/{rule['id']}/archive", headers=auth)
    assert archived.json["status"] == "archived"
    assert client.get("/api/v1/earning-rules", headers=auth).json["earning_rules"] == []
    r = client.patch(f"/api/v1/earning-rules/{rule['id']}", json={"points": 5}, headers=auth)
    assert r.status_code == 400
    assert client.get("/api/v1/earning-rules/999", headers=auth).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**REVIEW, "key": "Product Review"}, "key"),
        ({**REVIEW, "points": 0}, "points"),
        ({**REVIEW, "limit_count": 2}, "limit_count"),
        ({**REVIEW, "limit_period": "year", "limit_count": 1}, "limit_period"),
        ({**REVIEW, "kind": "signup", "limit_count": 1, "limit_period": "day"}, "limit_count"),
        ({**REVIEW, "kind": "anniversary"}, "kind"),
        ({**REVIEW, "surprise": True}, "surprise"),
    ],
)
def test_invalid_rules_name_the_field(
    client: FlaskClient, shopify_shop: ShopHandle, body: dict[str, Any], field: str
) -> None:
    r = client.post("/api/v1/earning-rules", json=body, headers=shopify_shop.auth)
    assert r.status_code == 400, r.json
    assert field in r.json["error"]["fields"]


def test_keys_are_unique_and_one_signup_rule_is_active(
    client: FlaskClient, shopify_shop: ShopHandle
) -> None:
    make_rule(client, shopify_shop, **REVIEW)
    r = client.post("/api/v1/earning-rules", json=REVIEW, headers=shopify_shop.auth)
    assert list(r.json["error"]["fields"]) == ["key"]
    make_rule(client, shopify_shop, kind="signup", key="welcome", name="Welcome", points=50)
    r = client.post(
        "/api/v1/earning-rules",
        json={"kind": "signup", "key": "welcome2", "name": "Welcome", "points": 50},
        headers=shopify_shop.auth,
    )
    assert list(r.json["error"]["fields"]) == ["kind"]
    r = client.patch("/api/v1/earning-rules/1", json={"kind": "signup"}, headers=shopify_shop.auth)
    assert r.status_code == 400  # kind is not a field that changes


def test_activities_pay_within_their_limit_per_period(
    client: FlaskClient, clock: FakeClock, shopify_shop: ShopHandle
) -> None:
    member_joins(client, shopify_shop)
    make_rule(client, shopify_shop, **REVIEW, limit_count=2, limit_period="day")
    first = activity(client, shopify_shop, "product_review", "review-1")
    assert first.status_code == 201
    assert (first.json["points"], first.json["remaining"], first.json["balance"]) == (20, 1, 21)
    assert first.json["source"] == {"type": "rule", "ref": "product_review"}
    assert first.json["reason"] == "Points for Product review"
    again = activity(client, shopify_shop, "product_review", "review-1")
    assert (again.status_code, again.json["id"]) == (200, first.json["id"])
    assert activity(client, shopify_shop, "product_review", "review-2").json["remaining"] == 0
    refused = activity(client, shopify_shop, "product_review", "review-3")
    assert (refused.status_code, refused.json["error"]["code"]) == (409, "activity_limit_reached")
    clock.advance(days=1)
    assert activity(client, shopify_shop, "product_review", "review-3").status_code == 201
    history = client.get("/api/v1/customers/42/transactions", headers=shopify_shop.auth).json
    assert [t["kind"] for t in history["transactions"]][:3] == ["rule_bonus"] * 3


def test_a_lifetime_limit_and_unknown_or_archived_rules(
    client: FlaskClient, shopify_shop: ShopHandle
) -> None:
    member_joins(client, shopify_shop)
    rule = make_rule(
        client,
        shopify_shop,
        kind="activity",
        key="instagram_follow",
        name="Follow us",
        points=10,
        limit_count=1,
        limit_period="lifetime",
    )
    assert activity(client, shopify_shop, "instagram_follow").status_code == 201
    assert activity(client, shopify_shop, "instagram_follow").status_code == 409
    r = activity(client, shopify_shop, "nope")
    assert (r.status_code, r.json["error"]["code"]) == (404, "earning_rule_not_found")
    client.post(f"/api/v1/earning-rules/{rule['id']}/archive", headers=shopify_shop.auth)
    assert activity(client, shopify_shop, "instagram_follow").status_code == 404
    r = activity(client, shopify_shop, "instagram_follow", customer=777)
    assert r.json["error"]["code"] == "customer_not_found"


def test_concurrent_posts_never_pay_past_the_limit(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    member_joins(client, shopify_shop)
    make_rule(client, shopify_shop, **REVIEW, limit_count=3, limit_period="week")
    outcomes: list[str] = []

    def post_one(n: int) -> None:
        try:
            earning_rules.record_activity(
                container.uow(),
                shopify_shop.id,
                "42",
                rule_key="product_review",
                reference=f"r{n}",
                now=container.clock(),
            )
            outcomes.append("paid")
        except Exception as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=post_one, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ActivityLimitReached"] * 5 + ["paid"] * 3
    assert client.get("/api/v1/customers/42", headers=shopify_shop.auth).json["balance"] == 61


def customers_create(shop: ShopHandle, topic: str = "customers/create") -> Any:
    body = json.loads((FIXTURES / "customers_create.json").read_text())
    return sign_shopify(body, topic=topic, shop_domain=shop.domain, secret=SHOPIFY_SECRET)


def test_the_signup_bonus_pays_once_per_new_account(
    client: FlaskClient, shopify_shop: ShopHandle
) -> None:
    rule = make_rule(client, shopify_shop, kind="signup", key="welcome", name="Welcome", points=50)
    customer_ref = str(json.loads((FIXTURES / "customers_create.json").read_text())["id"])
    for _ in range(2):  # two deliveries (different webhook ids) of the same creation
        assert post(client, customers_create(shopify_shop)).status_code == 200
    post(client, customers_create(shopify_shop, topic="customers/update"))
    view = client.get(f"/api/v1/customers/{customer_ref}", headers=shopify_shop.auth).json
    assert view["balance"] == 50
    # Archiving the rule and creating another never pays the same member again.
    client.post(f"/api/v1/earning-rules/{rule['id']}/archive", headers=shopify_shop.auth)
    make_rule(client, shopify_shop, kind="signup", key="welcome-2", name="Hello", points=70)
    post(client, customers_create(shopify_shop))
    view = client.get(f"/api/v1/customers/{customer_ref}", headers=shopify_shop.auth).json
    assert view["balance"] == 50


def test_an_update_alone_pays_no_signup_bonus(
    client: FlaskClient, shopify_shop: ShopHandle
) -> None:
    make_rule(client, shopify_shop, kind="signup", key="welcome", name="Welcome", points=50)
    post(client, customers_create(shopify_shop, topic="customers/update"))
    ref = str(json.loads((FIXTURES / "customers_create.json").read_text())["id"])
    assert client.get(f"/api/v1/customers/{ref}", headers=shopify_shop.auth).json["balance"] == 0


def test_shoppers_see_the_ways_to_earn_and_what_is_left(
    client: FlaskClient, shopify_shop: ShopHandle
) -> None:
    member_joins(client, shopify_shop)
    make_rule(client, shopify_shop, **REVIEW, limit_count=2, limit_period="month")
    make_rule(client, shopify_shop, kind="signup", key="welcome", name="Welcome", points=50)
    activity(client, shopify_shop, "product_review", "r1")
    summary = client.get(proxied("summary", shop=shopify_shop.domain)).json
    assert [w["key"] for w in summary["program"]["ways_to_earn"]] == ["product_review", "welcome"]
    [review] = summary["member"]["activities"]
    assert (review["key"], review["points"], review["remaining"]) == ("product_review", 20, 1)
