"""/storefront/v1: every way in is checked (app proxy signature and freshness, store-signed
tokens), the shopper comes only from what was signed, and CORS and rate limits hold."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask.testing import FlaskClient

from plugin_server import create_app
from plugin_server.bootstrap import Container, bootstrap
from plugin_server.sandbox.server import RunningSandbox, Sandbox
from plugin_server.sandbox.storefront import proxy_signature
from plugin_server.settings import Settings
from plugin_server.simulate import shopify_order, sign_shopify, sign_woocommerce
from tests.conftest import SHOPIFY_SECRET, WOO_SECRET, FakeClock, ShopHandle, make_shop, post
from tests.integration.test_catalog_api import FIVE_OFF, conforms
from tests.integration.test_webhook_intake import woo_order

SHOP = "widget-shop.myshopify.com"
TOKEN = "shpat_widget"
WOO_URL = "https://woo-widget.example.com"


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    state = Sandbox()
    state.shopify_shop(SHOP, access_token=TOKEN)
    with RunningSandbox(state) as running:
        yield running


@pytest.fixture
def shop(container: Container, client: FlaskClient, sandbox: RunningSandbox) -> ShopHandle:
    handle = make_shop(container, "shopify", SHOP, access_token=TOKEN, api_base_url=sandbox.url)
    payload = shopify_order(order_id=1, email="ann@example.com", subtotal=D("600"), customer_id=42)
    post(
        client, sign_shopify(payload, topic="orders/paid", shop_domain=SHOP, secret=SHOPIFY_SECRET)
    )
    client.post("/api/v1/rewards", headers=handle.auth, json=FIVE_OFF)
    return handle


def proxied(path: str, *, customer: str = "42", shop: str = SHOP, **extra: Any) -> str:
    """The URL Shopify's app proxy would forward, signed as Shopify signs it."""
    params: list[tuple[str, str]] = [
        ("shop", shop),
        ("logged_in_customer_id", customer),
        ("path_prefix", "/apps/loyalty"),
        ("timestamp", str(extra.pop("timestamp", int(time.time())))),
        *[(k, str(v)) for k, v in extra.items()],
    ]
    params.append(("signature", proxy_signature(params, SHOPIFY_SECRET)))
    return f"/storefront/v1/{path}?{urlencode(params)}"


# --- app proxy ------------------------------------------------------------------------------


def test_member_summary_through_the_app_proxy(client: FlaskClient, shop: ShopHandle) -> None:
    r = client.get(proxied("summary"))
    assert r.status_code == 200, r.json
    conforms(client, "StorefrontSummary", r.json)
    member = r.json["member"]
    assert member["customer_id"] == "42"
    assert member["balance"] == 600
    assert member["history"][0]["points"] == 600
    [reward] = r.json["program"]["rewards"]
    assert reward["cost"] == 500
    assert reward["can_redeem"] is True
    assert reward["progress"] == 1.0
    assert r.headers["Cache-Control"] == "private, no-store"


def test_a_guest_sees_the_program_only(client: FlaskClient, shop: ShopHandle) -> None:
    r = client.get(proxied("summary", customer=""))
    assert r.status_code == 200
    assert r.json["member"] is None
    assert r.json["program"]["rewards"][0]["name"] == "$5 off"
    assert "can_redeem" not in r.json["program"]["rewards"][0]
    r = client.post(proxied("redemptions", customer=""), json={"reward_id": 1})
    assert r.status_code == 401
    assert r.json["error"]["code"] == "sign_in_required"


def test_a_signed_in_shopper_with_no_points_yet_is_a_member_with_zero(
    client: FlaskClient, shop: ShopHandle
) -> None:
    r = client.get(proxied("summary", customer="777"))
    assert r.json["member"]["balance"] == 0
    assert r.json["program"]["rewards"][0]["can_redeem"] is False


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (
            lambda u: u.replace("logged_in_customer_id=42", "logged_in_customer_id=43"),
            "invalid_signature",
        ),
        (lambda u: u.replace("signature=", "signature=0"), "invalid_signature"),
        (lambda u: u.split("&signature=")[0], "unauthorized"),
        (lambda u: u + "&logged_in_customer_id=43", "invalid_signature"),
    ],
    ids=["customer-changed", "bad-signature", "no-signature", "customer-added"],
)
def test_tampered_app_proxy_requests_are_refused(
    client: FlaskClient, shop: ShopHandle, tamper: Any, code: str
) -> None:
    r = client.get(tamper(proxied("summary")))
    assert r.status_code == 401
    assert r.json["error"]["code"] == code


def test_stale_app_proxy_requests_are_refused(client: FlaskClient, shop: ShopHandle) -> None:
    r = client.get(proxied("summary", timestamp=int(time.time()) - 120))
    assert r.status_code == 401
    assert r.json["error"]["code"] == "stale_request"


def test_a_signature_for_an_unknown_shop_is_refused(client: FlaskClient, shop: ShopHandle) -> None:
    r = client.get(proxied("summary", shop="nobody.myshopify.com"))
    assert r.status_code == 401
    assert r.json["error"]["code"] == "unknown_shop"


def test_redeeming_from_the_widget_uses_the_same_guarantees(
    client: FlaskClient, shop: ShopHandle, sandbox: RunningSandbox
) -> None:
    headers = {"Idempotency-Key": "widget-click-1"}
    first = client.post(proxied("redemptions"), json={"reward_id": 1}, headers=headers)
    again = client.post(proxied("redemptions"), json={"reward_id": 1}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json["status"] == "issued"
    assert again.json["id"] == first.json["id"]
    r = client.post(proxied("redemptions"), json={"reward_id": 1})
    assert r.status_code == 409
    assert r.json["error"]["code"] == "insufficient_points"
    status = client.get(proxied(f"redemptions/{first.json['id']}"))
    assert status.json["code"] == first.json["code"]
    # Another shopper cannot read it.
    other = client.get(proxied(f"redemptions/{first.json['id']}", customer="43"))
    assert other.status_code == 404
    summary = client.get(proxied("summary")).json["member"]
    assert summary["balance"] == 100
    assert summary["codes"][0]["code"] == first.json["code"]


# --- store-signed tokens (WooCommerce, headless) -------------------------------------------


@pytest.fixture
def woo(container: Container, client: FlaskClient) -> tuple[ShopHandle, Ed25519PrivateKey]:
    handle = make_shop(container, "woocommerce", WOO_URL, webhook_secret=WOO_SECRET)
    delivery = sign_woocommerce(
        woo_order(order_id=1, total="50.00", customer_id=25),
        topic="order.created",
        source=WOO_URL,
        secret=WOO_SECRET,
    )
    post(client, delivery)
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    r = client.patch(
        "/api/v1/widget",
        headers=handle.auth,
        json={"token_public_key": base64.urlsafe_b64encode(raw).decode().rstrip("=")},
    )
    assert r.status_code == 200, r.json
    return handle, key


def shopper_token(
    key: Ed25519PrivateKey, *, iss: str = WOO_URL, sub: str | None = "25", **kw: Any
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"iss": iss, "aud": "loyalty-storefront", "iat": now, "exp": now + 300}
    if sub is not None:
        claims["sub"] = sub
    claims.update(kw)
    return jwt.encode(claims, key, algorithm="EdDSA")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_store_signed_token_identifies_the_shopper(
    client: FlaskClient, woo: tuple[ShopHandle, Ed25519PrivateKey]
) -> None:
    _, key = woo
    r = client.get("/storefront/v1/summary", headers=bearer(shopper_token(key)))
    assert r.status_code == 200, r.json
    assert r.json["member"]["customer_id"] == "25"
    assert r.json["member"]["balance"] == 50
    guest = client.get("/storefront/v1/summary", headers=bearer(shopper_token(key, sub=None)))
    assert guest.json["member"] is None


def test_bad_tokens_are_refused(
    container: Container, client: FlaskClient, woo: tuple[ShopHandle, Ed25519PrivateKey]
) -> None:
    _, key = woo
    now = int(time.time())
    other_key = Ed25519PrivateKey.generate()
    good = shopper_token(key)
    header, payload, signature = good.split(".")
    forged_claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged_claims["sub"] = "26"
    forged = ".".join(
        [
            header,
            base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).decode().rstrip("="),
            signature,
        ]
    )
    cases = {
        "expired": (shopper_token(key, iat=now - 600, exp=now - 300), "token_expired"),
        "tampered": (forged, "invalid_token"),
        "wrong-key": (shopper_token(other_key), "invalid_token"),
        "other-audience": (shopper_token(key, aud="something-else"), "invalid_token"),
        "too-long": (shopper_token(key, exp=now + 7200), "invalid_token"),
        "hs256": (
            jwt.encode({"iss": WOO_URL, "sub": "25"}, "x" * 32, algorithm="HS256"),
            "invalid_token",
        ),
        "garbage": ("not.a.token", "invalid_token"),
        "unknown-store": (shopper_token(key, iss="https://elsewhere.example"), "unknown_shop"),
    }
    for name, (token, code) in cases.items():
        r = client.get("/storefront/v1/summary", headers=bearer(token))
        assert r.status_code == 401, name
        assert r.json["error"]["code"] == code, name


def test_one_shops_token_does_not_open_another_shop(
    container: Container, client: FlaskClient, woo: tuple[ShopHandle, Ed25519PrivateKey]
) -> None:
    """Shop B registered its own key; a token signed by shop A's key but naming B fails,
    and A's genuine tokens only ever show A's data."""
    _, key_a = woo
    shop_b = make_shop(
        container, "woocommerce", "https://b-store.example.com", webhook_secret=WOO_SECRET
    )
    key_b = Ed25519PrivateKey.generate()
    raw_b = key_b.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    client.patch(
        "/api/v1/widget",
        headers=shop_b.auth,
        json={"token_public_key": base64.urlsafe_b64encode(raw_b).decode()},
    )
    r = client.get(
        "/storefront/v1/summary",
        headers=bearer(shopper_token(key_a, iss="https://b-store.example.com")),
    )
    assert r.status_code == 401
    assert r.json["error"]["code"] == "invalid_token"
    mine = client.get(
        "/storefront/v1/summary",
        headers=bearer(shopper_token(key_b, iss="https://b-store.example.com")),
    )
    assert mine.status_code == 200
    assert mine.json["member"]["balance"] == 0  # customer 25 belongs to shop A


def test_no_credentials_at_all(client: FlaskClient) -> None:
    r = client.get("/storefront/v1/summary")
    assert r.status_code == 401
    assert r.json["error"]["code"] == "unauthorized"


# --- CORS -----------------------------------------------------------------------------------


def test_cors_answers_only_the_shops_own_origins(
    client: FlaskClient, woo: tuple[ShopHandle, Ed25519PrivateKey]
) -> None:
    handle, key = woo
    pre = client.options(
        f"/storefront/v1/summary?shop={WOO_URL}",
        headers={"Origin": WOO_URL, "Access-Control-Request-Headers": "authorization"},
    )
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == WOO_URL
    assert "Idempotency-Key" in pre.headers["Access-Control-Allow-Headers"]
    evil = client.options(
        f"/storefront/v1/summary?shop={WOO_URL}", headers={"Origin": "https://evil.example"}
    )
    assert "Access-Control-Allow-Origin" not in evil.headers
    r = client.get(
        "/storefront/v1/summary", headers={**bearer(shopper_token(key)), "Origin": WOO_URL}
    )
    assert r.headers["Access-Control-Allow-Origin"] == WOO_URL
    r = client.get(
        "/storefront/v1/summary",
        headers={**bearer(shopper_token(key)), "Origin": "https://evil.example"},
    )
    assert "Access-Control-Allow-Origin" not in r.headers
    # A custom domain the merchant adds is allowed too.
    client.patch(
        "/api/v1/widget", headers=handle.auth, json={"origins": ["https://shop.example.org"]}
    )
    r = client.get(
        "/storefront/v1/summary",
        headers={**bearer(shopper_token(key)), "Origin": "https://shop.example.org"},
    )
    assert r.headers["Access-Control-Allow-Origin"] == "https://shop.example.org"


# --- rate limits ------------------------------------------------------------------------------


def test_rate_limits_per_shopper(
    settings: Settings, clock: FakeClock, sandbox: RunningSandbox
) -> None:
    container = bootstrap(
        settings.with_overrides(storefront_rate_per_shopper="3/minute"), clock=clock
    )
    try:
        client = create_app(container=container).test_client()
        make_shop(container, "shopify", SHOP, access_token=TOKEN, api_base_url=sandbox.url)
        codes = [client.get(proxied("summary")).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = client.get(proxied("summary"))
        assert limited.json["error"]["code"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) >= 1
        # Another shopper has their own allowance.
        assert client.get(proxied("summary", customer="99")).status_code == 200
    finally:
        container.close()


# --- widget settings and assets -----------------------------------------------------------------


def test_widget_settings_validate_and_reach_the_storefront(
    client: FlaskClient, shop: ShopHandle
) -> None:
    r = client.patch(
        "/api/v1/widget",
        headers=shop.auth,
        json={
            "theme": {"accent": "#aa3300"},
            "texts": {"vi": {"title": "Điểm thưởng"}},
            "position": "left",
        },
    )
    assert r.status_code == 200
    conforms(client, "WidgetSettings", r.json)
    settings = client.get(proxied("summary")).json["settings"]
    assert settings["theme"]["accent"] == "#aa3300"
    assert settings["texts"]["vi"]["title"] == "Điểm thưởng"
    assert settings["position"] == "left"
    for bad in (
        {"theme": {"accent": "red; background:url(x)"}},
        {"theme": {"font": "#000"}},
        {"texts": {"fr": {"title": "x"}}},
        {"texts": {"en": {"title": ""}}},
        {"origins": ["http://insecure.example"]},
        {"token_public_key": "short"},
        {"colour": "red"},
    ):
        r = client.patch("/api/v1/widget", headers=shop.auth, json=bad)
        assert r.status_code == 400, bad


def test_widget_assets_are_served_without_credentials(client: FlaskClient) -> None:
    for name, kind in (
        ("loader.js", "javascript"),
        ("panel.js", "javascript"),
        ("panel.css", "css"),
    ):
        r = client.get(f"/storefront/v1/assets/{name}")
        assert r.status_code == 200
        assert kind in r.headers["Content-Type"]
        expected = (Path(__file__).parents[2] / "storefront_widget" / "static" / name).read_bytes()
        assert r.data == expected
    assert client.get("/storefront/v1/assets/../auth.py").status_code == 404
    assert client.get("/storefront/v1/assets/secret.txt").status_code == 404


# --- malformed redemption requests ----------------------------------------------------


@pytest.mark.parametrize(
    ("data", "ctype", "status", "code", "field"),
    [
        (b'{"reward_id": 1}', "text/plain", 415, "unsupported_media_type", None),
        (b"{", "application/json", 400, "invalid_json", None),
        (b"\xc3\x28", "application/json", 400, "invalid_json", None),
        (b'{"reward_id": "1"}', "application/json", 400, "validation_failed", "reward_id"),
        (b'{"points": 1e400}', "application/json", 400, "validation_failed", "points"),
        (b'{"reward_id": 1, "price": 0}', "application/json", 400, "validation_failed", "price"),
    ],
)
def test_malformed_storefront_redemptions_take_no_points(
    client: FlaskClient,
    shop: ShopHandle,
    data: bytes,
    ctype: str,
    status: int,
    code: str,
    field: str | None,
) -> None:
    before = client.get(proxied("summary")).json["member"]["balance"]
    r = client.post(proxied("redemptions"), data=data, content_type=ctype)
    assert (r.status_code, r.json["error"]["code"]) == (status, code), r.json
    if field is not None:
        assert field in r.json["error"]["fields"]
    assert client.get(proxied("summary")).json["member"]["balance"] == before


def test_a_malformed_body_from_an_unsigned_caller_is_refused_as_unsigned(
    client: FlaskClient, shop: ShopHandle
) -> None:
    r = client.post("/storefront/v1/redemptions", data=b"{", content_type="application/json")
    assert r.status_code == 401
