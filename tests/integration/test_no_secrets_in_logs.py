"""No secret or token ever reaches a log line, at any level: every record written while a
shop installs nothing new but does everything else (webhooks signed with its secrets,
codes created at both platforms with their tokens and keys, storefront calls, outbound
webhooks signed with the endpoint's secret) is searched for each secret's text."""

from __future__ import annotations

import logging
from decimal import Decimal as D

import pytest
from flask.testing import FlaskClient

from plugin_server.bootstrap import Container
from plugin_server.sandbox.server import RunningSandbox, Sandbox
from plugin_server.services import adjustments
from plugin_server.simulate import shopify_order, sign_shopify, sign_woocommerce
from tests.conftest import SHOPIFY_SECRET, WOO_SECRET, ShopHandle, make_shop, post
from tests.integration.test_catalog_api import FIVE_OFF
from tests.integration.test_storefront_api import proxied
from tests.integration.test_webhook_intake import woo_order

SHOPIFY_DOMAIN = "secret-shop.myshopify.com"
ACCESS_TOKEN = "shpat_do_not_log_me_0123456789"
WOO_HOST = "secret-woo.example.com"


def _redeem(client: FlaskClient, shop: ShopHandle, customer: str) -> dict:
    reward = client.post("/api/v1/rewards", headers=shop.auth, json=FIVE_OFF).json["id"]
    r = client.post(
        f"/api/v1/customers/{customer}/redemptions",
        headers={**shop.auth, "Idempotency-Key": f"k-{customer}"},
        json={"reward_id": reward},
    )
    assert r.status_code == 201, r.json
    assert r.json["status"] == "issued"
    return r.json


def test_a_busy_day_logs_no_secret(
    client: FlaskClient, container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the most a operator could turn on
    state = Sandbox()
    state.shopify_shop(SHOPIFY_DOMAIN, access_token=ACCESS_TOKEN)
    store = state.woo_store(WOO_HOST)
    consumer_key, consumer_secret = store.add_key()
    with RunningSandbox(state) as sandbox:
        shopify = make_shop(
            container,
            "shopify",
            SHOPIFY_DOMAIN,
            access_token=ACCESS_TOKEN,
            api_base_url=sandbox.url,
        )
        woo = make_shop(
            container,
            "woocommerce",
            f"https://{WOO_HOST}",
            webhook_secret=WOO_SECRET,
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            api_base_url=f"{sandbox.url}/woo/{WOO_HOST}",
        )
        # Orders in, signed with each platform's secret.
        order = shopify_order(order_id=1, email="a@example.com", subtotal=D("10"), customer_id=7)
        delivery = sign_shopify(
            order, topic="orders/paid", shop_domain=SHOPIFY_DOMAIN, secret=SHOPIFY_SECRET
        )
        assert post(client, delivery).status_code == 200
        delivery = sign_woocommerce(
            woo_order(order_id=2, total="10.00", customer_id=8),
            topic="order.created",
            source=f"https://{WOO_HOST}",
            secret=WOO_SECRET,
        )
        assert post(client, delivery).status_code == 200
        for shop, customer in ((shopify, "7"), (woo, "8")):
            adjustments.adjust_points(
                container.uow(),
                shop.id,
                customer,
                points=1000,
                reason="gift",
                idempotency_key=None,
                now=container.clock(),
            )
            _redeem(client, shop, customer)  # a code created with the shop's credentials
        # The merchant's own systems: an endpoint with a secret, and a signed ping.
        endpoint = client.post(
            "/api/v1/webhook-endpoints",
            headers=shopify.auth,
            json={"url": f"{sandbox.url}/nowhere", "topics": ["points.earned"]},
        )
        assert endpoint.status_code == 201, endpoint.json
        endpoint_secret = endpoint.json["secret"]
        ping = client.post(
            f"/api/v1/webhook-endpoints/{endpoint.json['id']}/ping", headers=shopify.auth
        )
        assert ping.status_code in (200, 202), ping.json
        # A shopper in the storefront, and a bad key that is refused.
        assert client.get(proxied("summary", shop=SHOPIFY_DOMAIN, customer="7")).status_code == 200
        bad = client.get("/api/v1/program", headers={"Authorization": "Bearer lk_wrong_key"})
        assert bad.status_code == 401

    secrets = {
        "Shopify app secret": SHOPIFY_SECRET,
        "Shopify access token": ACCESS_TOKEN,
        "WooCommerce consumer secret": consumer_secret,
        "WooCommerce webhook secret": WOO_SECRET,
        "Shopify shop's API key": shopify.api_key,
        "WooCommerce shop's API key": woo.api_key,
        "webhook endpoint secret": endpoint_secret,
        "the app's secret key": container.settings.secret_key,
    }
    assert len(caplog.records) > 10  # the day was logged, at every level
    leaks = []
    for record in caplog.records:
        # The message and every structured field passed with `extra`.
        text = record.getMessage() + " " + " ".join(map(str, vars(record).values()))
        leaks += [
            f"{name} in {record.name}: {text[:200]}" for name, s in secrets.items() if s in text
        ]
    assert not leaks, "\n".join(leaks)
