"""Every route anyone can reach without a key has a limit per client address: installs,
sign-in links, the API document, readiness, and webhooks that keep failing verification.
Behind trusted proxies the client's address comes from X-Forwarded-For."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal as D

import pytest
from flask.testing import FlaskClient

from plugin_server import create_app
from plugin_server.bootstrap import Container, bootstrap
from plugin_server.settings import Settings, SettingsError
from plugin_server.simulate import shopify_order, sign_shopify
from tests.conftest import ShopHandle, make_shop
from tests.contract import ContractClient


@pytest.fixture
def tight(settings: Settings, clock) -> Iterator[Container]:  # type: ignore[no-untyped-def]
    c = bootstrap(
        replace(settings, public_rate="3/minute", refused_webhook_rate="2/minute"), clock=clock
    )
    yield c
    c.close()


@pytest.fixture
def tight_client(tight: Container) -> FlaskClient:
    app = create_app(container=tight)
    app.test_client_class = ContractClient  # the 429s are declared in the document
    return app.test_client()


def from_address(address: str) -> dict[str, str]:
    return {"REMOTE_ADDR": address}


@pytest.mark.parametrize(
    "path",
    [
        "/auth/shopify?shop=x.myshopify.com",
        "/auth/woocommerce",
        "/openapi.json",
    ],
)
def test_public_routes_answer_429_past_the_limit(tight_client: FlaskClient, path: str) -> None:
    answers = [
        tight_client.get(path, environ_base=from_address("203.0.113.9")).status_code
        for _ in range(4)
    ]
    assert 429 not in answers[:3]
    assert answers[3] == 429
    r = tight_client.get(path, environ_base=from_address("203.0.113.9"))
    assert r.json["error"]["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) >= 1
    # Another address has its own window.
    assert tight_client.get(path, environ_base=from_address("198.51.100.7")).status_code != 429


def test_the_admin_sign_in_link_is_limited(tight_client: FlaskClient) -> None:
    statuses = [
        tight_client.get(
            "/admin/auth/woocommerce?token=forged", environ_base=from_address("203.0.113.9")
        ).status_code
        for _ in range(4)
    ]
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3] == 429
    page = tight_client.get(
        "/admin/auth/woocommerce?token=forged", environ_base=from_address("203.0.113.9")
    )
    assert page.mimetype == "text/html"
    assert "Retry-After" in page.headers


def test_webhooks_that_keep_failing_verification_are_slowed(
    tight: Container, tight_client: FlaskClient
) -> None:
    shop: ShopHandle = make_shop(tight, "shopify", "rl-shop.myshopify.com", access_token="t")
    payload = shopify_order(order_id=1, email="a@example.com", subtotal=D("10.00"), customer_id=5)
    forged = sign_shopify(payload, topic="orders/paid", shop_domain=shop.domain, secret="nope")
    genuine = sign_shopify(
        payload,
        topic="orders/paid",
        shop_domain=shop.domain,
        secret=tight.settings.shopify_api_secret,
    )

    def send(delivery, address: str) -> int:  # type: ignore[no-untyped-def]
        return tight_client.post(
            delivery.path,
            data=delivery.body,
            headers=delivery.headers,
            environ_base=from_address(address),
        ).status_code

    attacker, platform = "203.0.113.66", "198.51.100.20"
    assert [send(forged, attacker) for _ in range(3)] == [401, 401, 429]
    # Even a correctly signed delivery from that address waits out the window...
    assert send(genuine, attacker) == 429
    # ...while the platform's own deliveries from elsewhere are never slowed by it,
    # however many it sends.
    assert [send(genuine, platform) for _ in range(5)] == [200] * 5


def test_behind_a_trusted_proxy_the_forwarded_address_counts(tight: Container) -> None:
    proxied = bootstrap(replace(tight.settings, trusted_proxies=1), clock=tight.clock)
    try:
        client = create_app(container=proxied).test_client()

        def get(forwarded_for: str) -> int:
            return client.get(
                "/openapi.json",
                headers={"X-Forwarded-For": forwarded_for},
                environ_base=from_address("10.0.0.2"),  # the load balancer
            ).status_code

        assert [get("203.0.113.1") for _ in range(4)] == [200, 200, 200, 429]
        assert get("203.0.113.2") == 200  # another client behind the same balancer
    finally:
        proxied.close()


def test_without_trusted_proxies_x_forwarded_for_is_ignored(tight_client: FlaskClient) -> None:
    """Or anyone could pick a fresh address per request."""
    statuses = [
        tight_client.get(
            "/openapi.json",
            headers={"X-Forwarded-For": f"203.0.113.{i}"},
            environ_base=from_address("192.0.2.1"),
        ).status_code
        for i in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


def test_trusted_proxies_must_be_a_whole_number() -> None:
    with pytest.raises(SettingsError, match="LOYALTY_TRUSTED_PROXIES"):
        Settings.from_env({"LOYALTY_TRUSTED_PROXIES": "two"})
    with pytest.raises(SettingsError, match="LOYALTY_TRUSTED_PROXIES"):
        Settings.from_env({"LOYALTY_TRUSTED_PROXIES": "-1"})
