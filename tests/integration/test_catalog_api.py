"""Program settings, rewards catalog and manual adjustments over the admin API."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import jsonschema
import pytest
from flask.testing import FlaskClient
from jsonschema.validators import Draft202012Validator

from plugin_server.bootstrap import Container
from plugin_server.simulate import shopify_order, sign_shopify
from tests.conftest import SHOPIFY_SECRET, ShopHandle, make_shop, post


def conforms(client: FlaskClient, schema_name: str, body: Any) -> None:
    doc = client.get("/openapi.json").json
    jsonschema.validate(
        body,
        {"$ref": f"#/components/schemas/{schema_name}", "components": doc["components"]},
        cls=Draft202012Validator,
    )


# --- program -------------------------------------------------------------------------


def test_program_defaults_and_changes(client: FlaskClient, shopify_shop: ShopHandle) -> None:
    r = client.get("/api/v1/program", headers=shopify_shop.auth)
    assert r.json == {
        "platform": "shopify",
        "points_per_unit": "1",
        "include_shipping": False,
        "include_tax": False,
        "pending_days": 0,
        "award_statuses": ["paid"],
        "guests_earn": False,
        "return_points_on_expiry": True,
        "expiry": {"policy": "never", "months": 12, "reminder_days": 14},
        "tiers": {"measure": "points_earned", "period": "lifetime", "downgrade": "never"},
    }
    conforms(client, "Program", r.json)
    r = client.patch(
        "/api/v1/program",
        headers=shopify_shop.auth,
        data=b'{"points_per_unit": 2.5, "pending_days": 14, "guests_earn": true}',
        content_type="application/json",
    )
    assert r.status_code == 200
    assert (r.json["points_per_unit"], r.json["pending_days"], r.json["guests_earn"]) == (
        "2.5",
        14,
        True,
    )


def test_new_rules_apply_to_new_orders(client: FlaskClient, shopify_shop: ShopHandle) -> None:
    client.patch(
        "/api/v1/program",
        headers=shopify_shop.auth,
        json={"points_per_unit": "2.5", "include_shipping": True},
    )
    payload = shopify_order(
        order_id=1, email="r@example.com", subtotal=D("10.00"), shipping=D("4.00"), customer_id=5
    )
    post(
        client,
        sign_shopify(
            payload, topic="orders/paid", shop_domain=shopify_shop.domain, secret=SHOPIFY_SECRET
        ),
    )
    assert client.get("/api/v1/customers/5", headers=shopify_shop.auth).json["balance"] == 35


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"points_per_unit": 0},
        {"points_per_unit": "-1"},
        {"points_per_unit": "abc"},
        {"points_per_unit": "0.00001"},
        {"points_per_unit": True},
        {"pending_days": -1},
        {"pending_days": 400},
        {"pending_days": 1.5},
        {"award_statuses": []},
        {"award_statuses": ["completed"]},
        {"include_tax": "yes"},
        {"colour": "red"},
    ],
)
def test_bad_program_changes_are_refused_and_change_nothing(
    client: FlaskClient, shopify_shop: ShopHandle, body: dict
) -> None:
    r = client.patch("/api/v1/program", headers=shopify_shop.auth, json=body)
    assert r.status_code == 400
    assert r.json["error"]["code"] == "validation_failed"
    assert client.get("/api/v1/program", headers=shopify_shop.auth).json["points_per_unit"] == "1"


def test_program_body_must_be_a_json_object(client: FlaskClient, shopify_shop: ShopHandle) -> None:
    for data in (b"not json", b"[1, 2]", b""):
        r = client.patch(
            "/api/v1/program", headers=shopify_shop.auth, data=data, content_type="application/json"
        )
        assert r.status_code == 400
        assert r.json["error"]["code"] == "invalid_json"


def test_woocommerce_program_statuses(client: FlaskClient, woo_shop: ShopHandle) -> None:
    assert client.get("/api/v1/program", headers=woo_shop.auth).json["award_statuses"] == [
        "completed",
        "processing",
    ]
    r = client.patch(
        "/api/v1/program", headers=woo_shop.auth, json={"award_statuses": ["completed"]}
    )
    assert r.json["award_statuses"] == ["completed"]


# --- rewards -------------------------------------------------------------------------

FIVE_OFF = {
    "name": "$5 off",
    "kind": "fixed_amount",
    "points_cost": 500,
    "amount": "5.00",
    "currency": "usd",
    "min_order_subtotal": "20",
    "code_valid_days": 30,
}


def test_reward_lifecycle(client: FlaskClient, shopify_shop: ShopHandle) -> None:
    auth = shopify_shop.auth
    r = client.post("/api/v1/rewards", headers=auth, json=FIVE_OFF)
    assert r.status_code == 201
    reward = r.json
    conforms(client, "Reward", reward)
    assert (reward["amount"], reward["currency"], reward["min_order_subtotal"]) == (
        "5.00",
        "USD",
        "20.00",
    )
    assert reward["status"] == "active"
    rid = reward["id"]
    r = client.patch(f"/api/v1/rewards/{rid}", headers=auth, json={"points_cost": 450})
    assert r.json["points_cost"] == 450
    assert r.json["amount"] == "5.00"
    assert [x["id"] for x in client.get("/api/v1/rewards", headers=auth).json["rewards"]] == [rid]
    archived = client.post(f"/api/v1/rewards/{rid}/archive", headers=auth).json
    assert archived["status"] == "archived"
    assert client.post(f"/api/v1/rewards/{rid}/archive", headers=auth).status_code == 200
    assert client.get("/api/v1/rewards", headers=auth).json["rewards"] == []
    assert len(client.get("/api/v1/rewards?status=all", headers=auth).json["rewards"]) == 1
    r = client.patch(f"/api/v1/rewards/{rid}", headers=auth, json={"points_cost": 1})
    assert (r.status_code, r.json["error"]["code"]) == (409, "reward_archived")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Ten percent", "kind": "percentage", "points_cost": 1000, "percent": "10"},
        {
            "name": "Free shipping",
            "kind": "free_shipping",
            "points_cost": 800,
            "product_ids": [123, "456"],
        },
        {
            "name": "Points for money",
            "kind": "points_for_money",
            "points_per_step": 100,
            "amount": "1.00",
            "currency": "EUR",
            "min_points": 500,
            "max_points": 5000,
        },
    ],
)
def test_every_kind_of_reward(client: FlaskClient, shopify_shop: ShopHandle, body: dict) -> None:
    r = client.post("/api/v1/rewards", headers=shopify_shop.auth, json=body)
    assert r.status_code == 201, r.json
    conforms(client, "Reward", r.json)
    assert r.json["kind"] == body["kind"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**FIVE_OFF, "amount": "0"}, "amount"),
        ({**FIVE_OFF, "amount": "5.001"}, "amount"),
        ({**FIVE_OFF, "amount": 5.5}, None),  # a JSON number is accepted as exact decimal
        ({**FIVE_OFF, "currency": "dollars"}, "currency"),
        ({**FIVE_OFF, "points_cost": 0}, "points_cost"),
        ({**FIVE_OFF, "points_cost": "500"}, "points_cost"),
        ({**FIVE_OFF, "percent": "10"}, "percent"),
        ({**FIVE_OFF, "kind": "mystery"}, "kind"),
        ({**FIVE_OFF, "name": " "}, "name"),
        ({**FIVE_OFF, "code_valid_days": 0}, "code_valid_days"),
        ({**FIVE_OFF, "surprise": 1}, "surprise"),
        ({"name": "x", "kind": "percentage", "points_cost": 10, "percent": "150"}, "percent"),
        (
            {
                "name": "x",
                "kind": "points_for_money",
                "points_per_step": 100,
                "amount": "1",
                "currency": "USD",
                "min_points": 150,
                "max_points": 500,
            },
            "min_points",
        ),
        ({"name": "x", "kind": "free_shipping"}, "points_cost"),
    ],
)
def test_invalid_rewards_are_refused(
    client: FlaskClient, shopify_shop: ShopHandle, body: dict, field: str | None
) -> None:
    r = client.post("/api/v1/rewards", headers=shopify_shop.auth, json=body)
    if field is None:
        assert r.status_code == 201
        assert r.json["amount"] == "5.50"
        return
    assert r.status_code == 400
    assert r.json["error"]["code"] == "validation_failed"
    assert field in r.json["error"]["message"]


def test_reward_kind_cannot_change(client: FlaskClient, shopify_shop: ShopHandle) -> None:
    rid = client.post("/api/v1/rewards", headers=shopify_shop.auth, json=FIVE_OFF).json["id"]
    r = client.patch(
        f"/api/v1/rewards/{rid}", headers=shopify_shop.auth, json={"kind": "free_shipping"}
    )
    assert r.status_code == 400


def test_rewards_are_scoped_to_their_shop(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle
) -> None:
    rid = client.post("/api/v1/rewards", headers=shopify_shop.auth, json=FIVE_OFF).json["id"]
    other = make_shop(container, "shopify", "other.myshopify.com")
    for method, url in (
        ("get", f"/api/v1/rewards/{rid}"),
        ("patch", f"/api/v1/rewards/{rid}"),
        ("post", f"/api/v1/rewards/{rid}/archive"),
    ):
        r = getattr(client, method)(url, headers=other.auth, json={"points_cost": 1})
        assert (r.status_code, r.json["error"]["code"]) == (404, "reward_not_found")
    assert client.get("/api/v1/rewards", headers=other.auth).json == {"rewards": []}
    assert (
        client.get(f"/api/v1/rewards/{rid}", headers=shopify_shop.auth).json["points_cost"] == 500
    )


# --- adjustments ---------------------------------------------------------------------


@pytest.fixture
def member(client: FlaskClient, shopify_shop: ShopHandle) -> str:
    payload = shopify_order(order_id=1, email="m@example.com", subtotal=D("100"), customer_id=9)
    post(
        client,
        sign_shopify(
            payload, topic="orders/paid", shop_domain=shopify_shop.domain, secret=SHOPIFY_SECRET
        ),
    )
    return "9"


def test_adjustment_is_a_ledger_entry(
    client: FlaskClient, shopify_shop: ShopHandle, member: str
) -> None:
    r = client.post(
        f"/api/v1/customers/{member}/adjustments",
        headers=shopify_shop.auth,
        json={"points": 50, "reason": "Birthday gift"},
    )
    assert r.status_code == 201
    conforms(client, "Adjustment", r.json)
    assert (r.json["points"], r.json["kind"], r.json["balance"]) == (50, "adjustment", 150)
    page = client.get(f"/api/v1/customers/{member}/transactions", headers=shopify_shop.auth).json
    assert page["transactions"][0]["reason"] == "Birthday gift"


def test_adjustment_with_the_same_idempotency_key_applies_once(
    client: FlaskClient, shopify_shop: ShopHandle, member: str
) -> None:
    headers = {**shopify_shop.auth, "Idempotency-Key": "adj-42"}
    url = f"/api/v1/customers/{member}/adjustments"
    first = client.post(url, headers=headers, json={"points": -30, "reason": "Goodwill fix"})
    again = client.post(url, headers=headers, json={"points": -30, "reason": "Goodwill fix"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json["id"] == again.json["id"]
    assert (
        client.get(f"/api/v1/customers/{member}", headers=shopify_shop.auth).json["balance"] == 70
    )
    reused = client.post(url, headers=headers, json={"points": -31, "reason": "Goodwill fix"})
    assert (reused.status_code, reused.json["error"]["code"]) == (409, "idempotency_key_reused")


def test_deductions_are_recorded_in_full(
    client: FlaskClient, shopify_shop: ShopHandle, member: str
) -> None:
    r = client.post(
        f"/api/v1/customers/{member}/adjustments",
        headers=shopify_shop.auth,
        json={"points": -250, "reason": "Fraudulent orders"},
    )
    assert r.json["balance"] == -150


@pytest.mark.parametrize(
    "body",
    [
        {"points": 0, "reason": "x"},
        {"points": 1.5, "reason": "x"},
        {"points": "10", "reason": "x"},
        {"points": 10},
        {"points": 10, "reason": ""},
        {"points": 10, "reason": "x" * 256},
        {"points": 2_000_000, "reason": "x"},
        {"points": 10, "reason": "x", "extra": 1},
    ],
)
def test_bad_adjustments_are_refused(
    client: FlaskClient, shopify_shop: ShopHandle, member: str, body: dict
) -> None:
    r = client.post(f"/api/v1/customers/{member}/adjustments", headers=shopify_shop.auth, json=body)
    assert r.status_code == 400
    assert (
        client.get(f"/api/v1/customers/{member}", headers=shopify_shop.auth).json["balance"] == 100
    )


def test_adjusting_an_unknown_customer_is_404(
    client: FlaskClient, shopify_shop: ShopHandle
) -> None:
    r = client.post(
        "/api/v1/customers/nobody/adjustments",
        headers=shopify_shop.auth,
        json={"points": 5, "reason": "x"},
    )
    assert (r.status_code, r.json["error"]["code"]) == (404, "customer_not_found")
