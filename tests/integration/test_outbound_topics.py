"""Each topic comes from the real flow that writes its event: orders, referrals (rewarded
and held for review) and redemptions queue their deliveries in the same transaction."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from flask import Flask
from flask.testing import FlaskClient
from jsonschema.validators import Draft202012Validator
from sqlalchemy import select

from plugin_server import jobs
from plugin_server.api import contract
from plugin_server.bootstrap import Container
from plugin_server.db.models import WebhookDelivery
from plugin_server.domain import outbound
from tests.conftest import FakeClock, ShopHandle
from tests.integration import test_outbound_webhooks, test_referrals
from tests.integration.test_referrals import ANN, advocate_code, campaign, claim, order

# The referral tests' sandbox store and shop; the webhook tests' container, whose
# dispatcher only counts wake-ups (deliveries are inspected in the outbox here).
sandbox = test_referrals.sandbox
shop = test_referrals.shop
container = test_outbound_webhooks.container


def subscribe_all(client: FlaskClient, shop: ShopHandle) -> None:
    r = client.post(
        "/api/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/hooks", "topics": list(outbound.TOPICS)},
        headers=shop.auth,
    )
    assert r.status_code == 201, r.json


def queued(c: Container) -> list[dict[str, Any]]:
    with c.session_factory() as s:
        return [
            json.loads(d.body)
            for d in s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
        ]


def check_schema(app: Flask, body: dict[str, Any]) -> None:
    doc = contract.document(app)
    name = doc["webhooks"][body["topic"]]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]["$ref"]
    jsonschema.validate(
        body, {"$ref": name, "components": doc["components"]}, cls=Draft202012Validator
    )


def test_orders_referrals_and_redemptions_publish_their_topics(
    app: Flask, container: Container, client: FlaskClient, shop: ShopHandle, clock: FakeClock
) -> None:
    subscribe_all(client, shop)
    campaign(client, shop)
    code = advocate_code(client, shop)  # Ann's first order: 20 points
    friend = claim(client, code, "friend@example.com", device="d-1").json
    order(client, shop, 2, "80.00", customer=77, email="f@example.org", codes=(friend["code"],))
    clock.advance(days=15)
    assert jobs.tick(container)["referrals_rewarded"] == 1
    r = client.post(
        "/api/v1/rewards",
        json={
            "name": "$5 off",
            "kind": "fixed_amount",
            "points_cost": 500,
            "amount": "5.00",
            "currency": "usd",
            "code_valid_days": 30,
        },
        headers=shop.auth,
    )
    reward_id = r.json["id"]
    redeemed = client.post(
        f"/api/v1/customers/{ANN}/redemptions", json={"reward_id": reward_id}, headers=shop.auth
    )
    assert redeemed.status_code == 201, redeemed.json

    bodies = queued(container)
    for body in bodies:
        check_schema(app, body)
    summary = [
        (b["topic"], b["data"]["customer_id"], b["data"].get("points"), b["data"].get("kind"))
        for b in bodies
    ]
    assert summary == [
        ("points.earned", str(ANN), 20, "earn_order"),
        ("points.earned", "77", 80, "earn_order"),
        ("points.earned", str(ANN), 500, "referral_bonus"),
        ("referral.completed", str(ANN), None, None),
        ("points.redeemed", str(ANN), 500, "redeem"),
    ]
    completed = bodies[3]["data"]
    assert completed["referral_id"] > 0
    assert bodies[4]["data"]["source"] == {"type": "redemption", "ref": str(redeemed.json["id"])}
    assert len({b["id"] for b in bodies}) == len(bodies)


def test_a_referral_held_for_review_publishes_referral_flagged(
    app: Flask, container: Container, client: FlaskClient, shop: ShopHandle
) -> None:
    subscribe_all(client, shop)
    campaign(client, shop)
    code = advocate_code(client, shop)
    friend = claim(client, code, "friend@example.com").json
    order(client, shop, 2, "60.00", customer=ANN, email="ann@example.com", codes=(friend["code"],))
    flagged = [b for b in queued(container) if b["topic"] == "referral.flagged"]
    assert len(flagged) == 1
    check_schema(app, flagged[0])
    assert flagged[0]["data"]["customer_id"] == str(ANN)
    assert flagged[0]["data"]["flags"] == ["friend_not_new", "self_referral"]
