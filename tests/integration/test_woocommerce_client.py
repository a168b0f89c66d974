"""The WooCommerce client (through the `woocommerce` package) against the sandbox store over
HTTP, where requests are OAuth 1.0a-signed and checked as WooCommerce checks them; and
WooCommerce redemptions end to end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from woocommerce import API
from woocommerce.oauth import OAuth

from plugin_server import jobs
from plugin_server.bootstrap import Container
from plugin_server.platforms.base import (
    CodeTaken,
    DiscountSpec,
    PlatformRateLimited,
    PlatformRejected,
    PlatformUnavailable,
    ShopCredentials,
)
from plugin_server.platforms.woocommerce import WooCommerceClient
from plugin_server.sandbox.server import RunningSandbox, Sandbox
from plugin_server.sandbox.woocommerce_store import WooStore
from plugin_server.services import adjustments
from plugin_server.simulate import sign_woocommerce
from tests.conftest import WOO_SECRET, ShopHandle, make_shop, post
from tests.integration.test_catalog_api import FIVE_OFF, conforms
from tests.integration.test_webhook_intake import woo_order

HOST = "woo-sandbox.example.com"


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with RunningSandbox(Sandbox()) as running:
        yield running


@pytest.fixture
def store(sandbox: RunningSandbox) -> WooStore:
    return sandbox.sandbox.woo_store(HOST)


@pytest.fixture
def creds(sandbox: RunningSandbox, store: WooStore) -> ShopCredentials:
    key, secret = store.add_key()
    return ShopCredentials(
        domain=f"https://{HOST}",
        consumer_key=key,
        consumer_secret=secret,
        api_base_url=f"{sandbox.url}/woo/{HOST}",
    )


def spec(code: str = "LOYAL-WOO1234567", **kw: Any) -> DiscountSpec:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "code": code,
        "title": "Loyalty reward: $5 off",
        "kind": "fixed_amount",
        "starts_at": now,
        "ends_at": now + timedelta(days=30),
        "amount": D("5.00"),
        "currency": "USD",
        "min_subtotal": D("20.00"),
        "customer_email": "jane@example.com",
    }
    values.update(kw)
    return DiscountSpec(**values)


def no_sleep(_: float) -> None:
    pass


def client(**kw: Any) -> WooCommerceClient:
    return WooCommerceClient(sleep=no_sleep, **kw)


def test_creates_a_single_use_coupon_for_one_email(creds: ShopCredentials, store: WooStore) -> None:
    issued = client().create_discount_code(creds, spec())
    coupon = store.coupons[int(issued.platform_ref)]
    assert coupon["code"] == "loyal-woo1234567"  # WooCommerce lower-cases codes
    assert coupon["discount_type"] == "fixed_cart"
    assert coupon["amount"] == "5.00"
    assert coupon["usage_limit"] == 1
    assert coupon["usage_limit_per_user"] == 1
    assert coupon["email_restrictions"] == ["jane@example.com"]
    assert coupon["minimum_amount"] == "20.00"
    expires = datetime.fromisoformat(coupon["date_expires_gmt"]).replace(tzinfo=UTC)
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    found = client().find_discount_code(creds, "LOYAL-WOO1234567")
    assert found is not None
    assert found.platform_ref == issued.platform_ref
    assert client().find_discount_code(creds, "LOYAL-NOPE") is None


def test_percentage_free_shipping_and_product_limits(
    creds: ShopCredentials, store: WooStore
) -> None:
    pct = client().create_discount_code(creds, spec("P1", kind="percentage", percent=D("10")))
    ship = client().create_discount_code(
        creds, spec("S1", kind="free_shipping", amount=None, product_ids=("93",))
    )
    assert store.coupons[int(pct.platform_ref)]["discount_type"] == "percent"
    assert store.coupons[int(pct.platform_ref)]["amount"] == "10.00"
    shipping = store.coupons[int(ship.platform_ref)]
    assert shipping["free_shipping"] is True
    assert shipping["product_ids"] == [93]


def test_a_duplicate_code_is_code_taken(creds: ShopCredentials) -> None:
    client().create_discount_code(creds, spec())
    with pytest.raises(CodeTaken):
        client().create_discount_code(creds, spec(code="loyal-woo1234567"))


def test_wrong_keys_are_rejected_not_retried(creds: ShopCredentials, store: WooStore) -> None:
    bad = ShopCredentials(
        domain=creds.domain,
        consumer_key=creds.consumer_key,
        consumer_secret="cs_wrong",
        api_base_url=creds.api_base_url,
    )
    woo = client()
    with pytest.raises(PlatformRejected) as caught:
        woo.create_discount_code(bad, spec())
    assert caught.value.code == "unauthorized"
    assert woo.log.attempts == 1
    assert store.coupons == {}


def test_the_sandbox_refuses_replayed_and_stale_signatures(
    creds: ShopCredentials, sandbox: RunningSandbox
) -> None:
    """What the store checks, so a client that signs wrongly cannot pass in tests."""
    assert creds.api_base_url
    assert creds.consumer_key
    assert creds.consumer_secret
    api = API(creds.api_base_url, creds.consumer_key, creds.consumer_secret, version="wc/v3")
    first = api.get("coupons")
    assert first.status_code == 200
    replay = requests.get(first.request.url, timeout=5)  # the same nonce again
    assert replay.status_code == 401
    assert "nonce" in replay.json()["message"]
    stale_url = OAuth(
        url=f"{creds.api_base_url}/wp-json/wc/v3/coupons",
        consumer_key=creds.consumer_key,
        consumer_secret=creds.consumer_secret,
        version="wc/v3",
        method="GET",
        oauth_timestamp=int(time.time()) - 3600,
    ).get_oauth_url()
    stale = requests.get(stale_url, timeout=5)
    assert stale.status_code == 401
    tampered = requests.get(
        first.request.url.replace("oauth_nonce=", "per_page=5&oauth_nonce="), timeout=5
    )
    assert tampered.status_code == 401


def test_invalid_input_is_rejected_with_wooCommerce_code(creds: ShopCredentials) -> None:
    with pytest.raises(PlatformRejected) as caught:
        client().create_discount_code(creds, spec(customer_email="not-an-email"))
    assert caught.value.code == "rest_invalid_param"
    with pytest.raises(PlatformRejected) as no_email:
        client().create_discount_code(creds, spec(customer_email=None))
    assert no_email.value.code == "no_email"


def test_429_honours_retry_after_then_succeeds(creds: ShopCredentials, store: WooStore) -> None:
    store.faults.extend(_faults("http_429", retry_after_s=1.5))
    woo = client()
    woo.create_discount_code(creds, spec())
    assert woo.log.sleeps == [1.5]
    assert len(store.coupons) == 1


def test_persistent_429_is_rate_limited(creds: ShopCredentials, store: WooStore) -> None:
    store.faults.extend(_faults("http_429", "http_429", "http_429", retry_after_s=2))
    with pytest.raises(PlatformRateLimited) as caught:
        client().create_discount_code(creds, spec())
    assert caught.value.retry_after_s == 2


def test_5xx_is_retried_with_backoff_then_unavailable(
    creds: ShopCredentials, store: WooStore
) -> None:
    store.faults.extend(_faults("http_500"))
    woo = client()
    woo.create_discount_code(creds, spec())
    assert woo.log.attempts == 2
    assert woo.log.sleeps == [0.5]
    store.faults.extend(_faults("http_503", "http_503", "http_503"))
    with pytest.raises(PlatformUnavailable):
        client().create_discount_code(creds, spec("OTHER"))


def test_a_slow_store_times_out_as_unavailable(creds: ShopCredentials, store: WooStore) -> None:
    store.faults.extend(_faults("slow", delay_s=1.5))
    with pytest.raises(PlatformUnavailable) as caught:
        client(timeout_s=0.5, max_retries=0).find_discount_code(creds, "X")
    assert caught.value.code == "timeout"


def _faults(*kinds: str, retry_after_s: float = 1, delay_s: float = 0) -> list[Any]:
    from plugin_server.sandbox.shopify_admin import Fault

    return [Fault(kind=k, retry_after_s=retry_after_s, delay_s=delay_s) for k in kinds]


# --- WooCommerce redemptions, end to end ---------------------------------------------------


@pytest.fixture
def woo_shop_on_sandbox(
    container: Container, sandbox: RunningSandbox, creds: ShopCredentials
) -> ShopHandle:
    return make_shop(
        container,
        "woocommerce",
        f"https://{HOST}",
        webhook_secret=WOO_SECRET,
        consumer_key=creds.consumer_key,
        consumer_secret=creds.consumer_secret,
        api_base_url=creds.api_base_url,
    )


def _member(container: Container, client_: FlaskClient, shop: ShopHandle) -> None:
    delivery = sign_woocommerce(
        woo_order(order_id=500, total="10.00", customer_id=25),
        topic="order.created",
        source=f"https://{HOST}",
        secret=WOO_SECRET,
    )
    assert post(client_, delivery).status_code == 200
    adjustments.adjust_points(
        container.uow(),
        shop.id,
        "25",
        points=990,
        reason="gift",
        idempotency_key=None,
        now=container.clock(),
    )


def test_woocommerce_redemption_issues_a_coupon_and_an_order_marks_it_used(
    container: Container,
    client: FlaskClient,  # type: ignore[no-redef]
    woo_shop_on_sandbox: ShopHandle,
    store: WooStore,
) -> None:
    shop = woo_shop_on_sandbox
    _member(container, client, shop)
    rid = client.post("/api/v1/rewards", headers=shop.auth, json=FIVE_OFF).json["id"]
    r = client.post(
        "/api/v1/customers/25/redemptions",
        headers={**shop.auth, "Idempotency-Key": "woo-1"},
        json={"reward_id": rid},
    )
    assert r.status_code == 201, r.json
    conforms(client, "Redemption", r.json)
    assert r.json["status"] == "issued"
    [coupon] = store.coupons.values()
    assert coupon["code"] == r.json["code"].lower()
    assert coupon["email_restrictions"] == ["john.doe@example.com"]
    balance = client.get("/api/v1/customers/25", headers=shop.auth).json["balance"]
    assert balance == 10 + 990 - 500

    used = woo_order(order_id=501, total="30.00", customer_id=25)
    used["coupon_lines"] = [{"id": 1, "code": coupon["code"], "discount": "5.00"}]
    delivery = sign_woocommerce(
        used, topic="order.created", source=f"https://{HOST}", secret=WOO_SECRET
    )
    assert post(client, delivery).status_code == 200
    got = client.get(f"/api/v1/redemptions/{r.json['id']}", headers=shop.auth).json
    assert got["status"] == "used"
    assert got["used_order_id"] == "501"


def test_woocommerce_duplicate_coupon_from_our_own_earlier_attempt_is_adopted(
    container: Container,
    client: FlaskClient,  # type: ignore[no-redef]
    woo_shop_on_sandbox: ShopHandle,
    store: WooStore,
    creds: ShopCredentials,
) -> None:
    """The store created the coupon but the answer was lost (timeout); the retry finds it."""
    from plugin_server.services import redemptions

    shop = woo_shop_on_sandbox
    _member(container, client, shop)
    rid = client.post("/api/v1/rewards", headers=shop.auth, json=FIVE_OFF).json["id"]
    created, _ = redemptions.redeem(
        container.uow(),
        shop.id,
        "25",
        reward_id=rid,
        points=None,
        idempotency_key=None,
        now=container.clock(),
    )
    with container.session_factory() as s:
        from plugin_server.db.models import Redemption

        code = s.get(Redemption, created["id"]).code  # type: ignore[union-attr]
    WooCommerceClient().create_discount_code(
        creds, spec(code, customer_email="john.doe@example.com")
    )
    assert jobs.run_issue(container, created["id"]) == "issued"
    assert len(store.coupons) == 1
