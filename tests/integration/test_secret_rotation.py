"""Rotating the app's Shopify client secret without downtime.

Shopify signs with the new secret soon after the merchant rotates it, but requests signed
with the old one keep arriving for a while (retried webhooks, open admin tabs, cached
proxy links). During the overlap SHOPIFY_API_SECRET is the new secret and
SHOPIFY_OLD_API_SECRET the old; every Shopify-signed input must verify with either: the
webhook HMAC, the install query HMAC, the app proxy signature and the admin session token.
Once the old secret is removed, what it signs is refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal as D
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient

from plugin_server import create_app
from plugin_server.bootstrap import Container, bootstrap
from plugin_server.sandbox.storefront import proxy_signature
from plugin_server.settings import Settings
from plugin_server.simulate import shopify_order, sign_shopify
from tests.conftest import SHOPIFY_SECRET, make_shop
from tests.integration.test_admin_app import session_token
from tests.integration.test_install import signed

OLD = SHOPIFY_SECRET
NEW = "shpss_the-new-secret-0123456789abcdef"
SHOP = "rotating.myshopify.com"


def app_with(settings: Settings, clock, *, current: str, old: str | None) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    c: Container = bootstrap(
        settings.with_overrides(shopify_api_secret=current, shopify_old_api_secret=old),
        clock=clock,
    )
    make_shop(c, "shopify", SHOP, access_token="shpat_r")
    try:
        yield create_app(container=c)
    finally:
        c.close()


@pytest.fixture
def overlapping(settings: Settings, clock) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    yield from app_with(settings, clock, current=NEW, old=OLD)


@pytest.fixture
def rotated(settings: Settings, clock) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    yield from app_with(settings, clock, current=NEW, old=None)


def webhook(client: FlaskClient, secret: str, order_id: int) -> int:
    payload = shopify_order(
        order_id=order_id, email="ann@example.com", subtotal=D("10"), customer_id=42
    )
    delivery = sign_shopify(payload, topic="orders/paid", shop_domain=SHOP, secret=secret)
    return client.post(delivery.path, data=delivery.body, headers=delivery.headers).status_code


def install(client: FlaskClient, secret: str) -> int:
    query = signed({"shop": SHOP, "timestamp": str(int(time.time()))}, secret)
    return client.get(f"/auth/shopify?{query}").status_code


def proxy(client: FlaskClient, secret: str) -> int:
    params = [
        ("shop", SHOP),
        ("logged_in_customer_id", "42"),
        ("path_prefix", "/apps/loyalty"),
        ("timestamp", str(int(time.time()))),
    ]
    params.append(("signature", proxy_signature(params, secret)))
    return client.get(f"/storefront/v1/summary?{urlencode(params)}").status_code


def admin(client: FlaskClient, secret: str) -> int:
    # As App Bridge's fetches send it (a document request with a bad token is sent back
    # through App Bridge for a fresh one instead of being refused outright).
    token = session_token(SHOP, secret=secret)
    return client.get(
        f"/admin/customers?shop={SHOP}", headers={"Authorization": f"Bearer {token}"}
    ).status_code


CHECKS = {"webhook": webhook, "install": install, "app proxy": proxy, "admin": admin}


def call(name: str, client: FlaskClient, secret: str, n: int) -> int:
    check = CHECKS[name]
    return check(client, secret, n) if name == "webhook" else check(client, secret)  # type: ignore[call-arg]


@pytest.mark.parametrize("name", list(CHECKS))
def test_during_the_overlap_both_secrets_verify(overlapping: Flask, name: str) -> None:
    client = overlapping.test_client()
    assert call(name, client, NEW, 1) in (200, 302)
    assert call(name, client, OLD, 2) in (200, 302)
    assert call(name, client, "shpss_someone-else-0123456789abcdefgh", 3) in (400, 401)


@pytest.mark.parametrize("name", list(CHECKS))
def test_after_the_overlap_only_the_new_secret_verifies(rotated: Flask, name: str) -> None:
    client = rotated.test_client()
    assert call(name, client, NEW, 1) in (200, 302)
    assert call(name, client, OLD, 2) in (400, 401)
