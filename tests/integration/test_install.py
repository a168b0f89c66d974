"""Install flows end to end against the sandbox over HTTP: Shopify OAuth with expiring
offline tokens (and their refresh), Shopify token exchange, WooCommerce /wc-auth; every
tampered HMAC, state, shop and nonce rejected; store URLs checked before we call them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.serving import make_server

from plugin_server import create_app, jobs
from plugin_server.bootstrap import Container, bootstrap
from plugin_server.db.models import Shop
from plugin_server.domain.errors import StoreUrlNotAllowed
from plugin_server.platforms.shopify_auth import WEBHOOK_TOPICS, query_hmac_valid
from plugin_server.sandbox.server import RunningSandbox, Sandbox
from plugin_server.sandbox.shopify_oauth import sign_query
from plugin_server.services import install
from plugin_server.settings import Settings
from plugin_server.simulate import shopify_order, sign_shopify
from tests.conftest import FIXTURES, SHOPIFY_SECRET, FakeClock, post
from tests.integration.test_catalog_api import conforms

SHOP = "install-shop.myshopify.com"
API_KEY = "test-api-key"  # the settings fixture's SHOPIFY_API_KEY
WOO_HOST = "woo-install.example.com"


@dataclass
class Live:
    """The app served on a real port (WooCommerce calls it back), with the sandbox."""

    container: Container
    app: Flask
    url: str
    sandbox: RunningSandbox

    @property
    def client(self) -> FlaskClient:
        return self.app.test_client()


@pytest.fixture
def live(settings: Settings, clock: FakeClock) -> Iterator[Live]:
    state = Sandbox()
    state.shopify_apps[API_KEY] = SHOPIFY_SECRET
    with RunningSandbox(state) as sandbox:
        server = make_server("127.0.0.1", 0, Flask("placeholder"), threaded=True)
        url = f"http://127.0.0.1:{server.server_port}"
        container = bootstrap(
            settings.with_overrides(public_url=url, sandbox_url=sandbox.url), clock=clock
        )
        app = create_app(container=container)
        server.app = app  # type: ignore[attr-defined]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield Live(container, app, url, sandbox)
        finally:
            server.shutdown()
            thread.join(timeout=5)
            container.close()


def signed(params: dict[str, str], secret: str = SHOPIFY_SECRET) -> str:
    return urlencode({**params, "hmac": sign_query(params, secret)})


def install_link(shop: str = SHOP, **extra: str) -> str:
    params = {"shop": shop, "timestamp": str(int(time.time())), **extra}
    return f"/auth/shopify?{signed(params)}"


def run_shopify_install(live: Live, client: FlaskClient) -> dict[str, Any]:
    """Install link -> grant screen (the sandbox approves) -> our callback."""
    start = client.get(install_link())
    assert start.status_code == 302
    grant = requests.get(start.headers["Location"], allow_redirects=False, timeout=5)
    assert grant.status_code == 302
    back = urlsplit(grant.headers["Location"])
    assert f"{back.scheme}://{back.netloc}" == live.url
    done = client.get(f"{back.path}?{back.query}")
    assert done.status_code == 200, done.json
    return dict(done.json)


# --- Shopify signed queries ---------------------------------------------------------------


def test_query_hmac_matches_shopifys_published_vectors() -> None:
    vectors = json.loads((FIXTURES / "hmac_test_vectors.json").read_text())
    checked = 0
    for v in vectors["shopify_oauth_query_hmac"]:
        if "message" not in v:
            continue  # array-valued params: not something our install flow receives
        query = f"{v['message']}&hmac={v['expected_hmac']}"
        assert query_hmac_valid(query, (v["secret"],))
        assert not query_hmac_valid(query, ("other",))
        assert not query_hmac_valid(query.replace("timestamp=1", "timestamp=2"), (v["secret"],))
        checked += 1
    assert checked == 3
    assert not query_hmac_valid("shop=a.myshopify.com", ("hush",))  # no hmac at all


# --- Shopify install ---------------------------------------------------------------------------


def test_shopify_install_stores_an_expiring_token_encrypted_and_subscribes_webhooks(
    live: Live,
) -> None:
    client = live.client
    start = client.get(install_link())
    location = urlsplit(start.headers["Location"])
    query = parse_qs(location.query)
    assert location.path == "/admin/oauth/authorize"
    assert query["client_id"] == [API_KEY]
    assert query["redirect_uri"] == [f"{live.url}/auth/shopify/callback"]
    assert "grant_options[]" not in query  # offline token
    assert "loyalty_shopify_state" in start.headers["Set-Cookie"]
    assert "HttpOnly" in start.headers["Set-Cookie"]

    grant = requests.get(start.headers["Location"], allow_redirects=False, timeout=5)
    back = urlsplit(grant.headers["Location"])
    done = client.get(f"{back.path}?{back.query}")
    assert done.status_code == 200
    body = done.json
    conforms(client, "Installed", body)
    assert body["status"] == "installed"
    assert body["shop"] == SHOP
    assert body["api_key"].startswith("lk_")
    assert body["webhooks_subscribed"] == len(WEBHOOK_TOPICS)
    expires = datetime.fromisoformat(body["token_expires_at"])
    assert timedelta(minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=1)

    admin = live.sandbox.sandbox.shopify[SHOP]
    topics = sorted(w["topic"] for w in admin.webhooks.values())
    assert topics == sorted(WEBHOOK_TOPICS)
    assert {w["uri"] for w in admin.webhooks.values()} == {f"{live.url}/webhooks/shopify"}
    with live.container.session_factory() as s:
        shop = s.scalars(select(Shop).where(Shop.domain == SHOP)).one()
        [token] = admin.access_tokens
        assert shop.access_token_enc is not None
        assert token.encode() not in shop.access_token_enc  # encrypted at rest
        assert live.container.cipher.decrypt(shop.access_token_enc) == token
        assert shop.refresh_token_enc is not None
    # The merchant's new key works on the admin API.
    r = client.get("/api/v1/program", headers={"Authorization": f"Bearer {body['api_key']}"})
    assert r.status_code == 200
    # The state was single-use: replaying the callback fails.
    replay = client.get(f"{back.path}?{back.query}")
    assert replay.status_code == 403
    assert replay.json["error"]["code"] == "invalid_state"


def test_a_merchants_browser_lands_on_the_admin_app_after_install(live: Live) -> None:
    client = live.client
    start = client.get(install_link())
    grant = requests.get(start.headers["Location"], allow_redirects=False, timeout=5)
    back = urlsplit(grant.headers["Location"])
    done = client.get(
        f"{back.path}?{back.query}",
        headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
    )
    # Into the Shopify admin, which opens the embedded admin app with a session token.
    assert done.status_code == 303
    assert done.headers["Location"] == f"https://{SHOP}/admin/apps/{API_KEY}"
    with live.container.session_factory() as s:
        assert s.scalars(select(Shop).where(Shop.domain == SHOP)).one().active


def test_a_tampered_install_link_is_refused(live: Live) -> None:
    client = live.client
    link = install_link()
    r = client.get(link.replace("install-shop", "other-shop"))
    assert r.status_code == 401
    assert r.json["error"]["code"] == "invalid_hmac"
    r = client.get(f"/auth/shopify?{signed({'shop': SHOP, 'timestamp': '1'}, 'wrong')}")
    assert r.status_code == 401
    r = client.get(install_link(shop="evil.example.com"))
    assert r.status_code == 400
    assert r.json["error"]["code"] == "invalid_shop"
    stale = str(int(time.time()) - 7200)
    r = client.get(f"/auth/shopify?{signed({'shop': SHOP, 'timestamp': stale})}")
    assert r.status_code == 401
    assert r.json["error"]["code"] == "stale_request"


def _callback_query(live: Live, client: FlaskClient) -> tuple[str, dict[str, str]]:
    start = client.get(install_link())
    grant = requests.get(start.headers["Location"], allow_redirects=False, timeout=5)
    back = urlsplit(grant.headers["Location"])
    return back.path, {k: v[0] for k, v in parse_qs(back.query).items()}


def test_callback_checks_hmac_state_cookie_and_shop(live: Live) -> None:
    client = live.client
    path, params = _callback_query(live, client)

    def callback(p: dict[str, str], c: FlaskClient = client) -> Any:
        return c.get(f"{path}?{urlencode(p)}")

    # Changing any signed value breaks the HMAC.
    r = callback({**params, "code": "0" * 32})
    assert r.status_code == 401
    # Re-signed with our secret (as if it leaked) but a state we never issued.
    unsigned = {k: v for k, v in params.items() if k != "hmac"}
    r = client.get(f"{path}?{signed({**unsigned, 'state': 'forged'})}")
    assert r.status_code == 403
    assert r.json["error"]["code"] == "invalid_state"
    # Another browser (no state cookie) cannot finish this install.
    r = callback(params, live.app.test_client())
    assert r.status_code == 403
    # A state issued for one shop cannot install another.
    other = {**unsigned, "shop": "other-shop.myshopify.com"}
    r = client.get(f"{path}?{signed(other)}")
    assert r.status_code == 403
    # The genuine callback still works afterwards.
    r = callback(params)
    assert r.status_code == 200
    with live.container.session_factory() as s:
        assert s.scalars(select(Shop.domain)).all() == [SHOP]


def test_a_used_authorization_code_is_refused_by_shopify(live: Live) -> None:
    client = live.client
    path, params = _callback_query(live, client)
    admin = live.sandbox.sandbox.shopify[SHOP]
    admin.oauth_codes.clear()  # as if the code had been used already
    r = client.get(f"{path}?{urlencode(params)}")
    assert r.status_code == 502
    assert r.json["error"]["code"] == "platform_rejected"
    with live.container.session_factory() as s:
        assert s.scalars(select(Shop)).all() == []


def test_expiring_tokens_are_refreshed_before_api_calls(live: Live, clock: FakeClock) -> None:
    client = live.client
    installed = run_shopify_install(live, client)
    auth = {"Authorization": f"Bearer {installed['api_key']}"}
    admin = live.sandbox.sandbox.shopify[SHOP]
    [first_token] = admin.access_tokens
    [first_refresh] = admin.refresh_tokens
    payload = shopify_order(order_id=1, email="m@example.com", subtotal=500, customer_id=9)  # type: ignore[arg-type]
    post(
        client, sign_shopify(payload, topic="orders/paid", shop_domain=SHOP, secret=SHOPIFY_SECRET)
    )
    reward = client.post(
        "/api/v1/rewards",
        headers=auth,
        json={"name": "Ship", "kind": "free_shipping", "points_cost": 100},
    ).json
    # 57 minutes on, the token has three minutes left: it is refreshed before the call.
    with live.container.session_factory.begin() as s:
        shop = s.scalars(select(Shop).where(Shop.domain == SHOP)).one()
        shop.access_token_expires_at = clock() + timedelta(minutes=3)
    r = client.post(
        "/api/v1/customers/9/redemptions", headers=auth, json={"reward_id": reward["id"]}
    )
    assert r.json["status"] == "issued"
    assert first_refresh not in admin.refresh_tokens  # rotated: the old one is spent
    with live.container.session_factory() as s:
        shop = s.scalars(select(Shop).where(Shop.domain == SHOP)).one()
        new_token = live.container.cipher.decrypt(shop.access_token_enc)
        assert new_token != first_token
        assert new_token in admin.access_tokens
        assert shop.access_token_expires_at is not None
        # (the library stamps expiry from the real clock, as production does)
        assert shop.access_token_expires_at > datetime.now(UTC) + timedelta(minutes=50)
    # A second call within the hour does not refresh again.
    refreshes = len(admin.refresh_tokens)
    assert jobs.shop_credentials(live.container, shop.id).access_token == new_token
    assert len(admin.refresh_tokens) == refreshes


def test_uninstall_then_reinstall_reactivates_the_same_shop(live: Live) -> None:
    client = live.client
    first = run_shopify_install(live, client)
    post(
        client,
        sign_shopify(
            {"id": 1, "domain": SHOP},
            topic="app/uninstalled",
            shop_domain=SHOP,
            secret=SHOPIFY_SECRET,
        ),
    )
    with live.container.session_factory() as s:
        assert s.scalars(select(Shop.active)).one() is False
    again = run_shopify_install(live, client)
    assert again["shop_id"] == first["shop_id"]
    assert again["api_key"] is None  # the merchant's existing key stays valid
    with live.container.session_factory() as s:
        assert s.scalars(select(Shop.active)).one() is True


def id_token(shop: str = SHOP, secret: str = SHOPIFY_SECRET, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": API_KEY,
        "sub": "42",
        "exp": now + 60,
        "nbf": now - 5,
        "iat": now,
        "jti": "abc",
        "sid": "s1",
        **claims,
    }
    return jwt.encode(body, secret, algorithm="HS256")


def test_token_exchange_for_an_embedded_app(live: Live) -> None:
    client = live.client
    r = client.post(
        "/auth/shopify/token-exchange", headers={"Authorization": f"Bearer {id_token()}"}
    )
    assert r.status_code == 200, r.json
    assert r.json["status"] == "installed"
    assert r.json["shop"] == SHOP
    assert r.json["token_expires_at"] is not None
    assert len(live.sandbox.sandbox.shopify[SHOP].webhooks) == len(WEBHOOK_TOPICS)


def test_the_first_visit_of_the_embedded_admin_app_installs_the_shop(live: Live) -> None:
    """Shopify-managed install: Shopify opens /admin with a session token; the app
    exchanges it for the offline token and shows the admin app."""
    r = live.client.get(f"/admin/?shop={SHOP}&host=YWRtaW4&id_token={id_token()}")
    assert r.status_code == 200
    assert "Points outstanding" in r.get_data(as_text=True)
    with live.container.session_factory() as s:
        shop = s.scalars(select(Shop).where(Shop.domain == SHOP)).one()
        assert shop.access_token_enc is not None
    assert len(live.sandbox.sandbox.shopify[SHOP].webhooks) == len(WEBHOOK_TOPICS)


@pytest.mark.parametrize(
    "token",
    [
        id_token(secret="not-the-app-secret-0123456789abcdef"),
        id_token(exp=int(time.time()) - 120, nbf=int(time.time()) - 300),
        id_token(aud="another-app"),
        "not-a-jwt",
    ],
    ids=["wrong-secret", "expired", "other-app", "garbage"],
)
def test_token_exchange_refuses_bad_session_tokens(live: Live, token: str) -> None:
    r = live.client.post(
        "/auth/shopify/token-exchange", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 401
    with live.container.session_factory() as s:
        assert s.scalars(select(Shop)).all() == []


# --- WooCommerce /wc-auth ---------------------------------------------------------------------


def woo_store_url(live: Live) -> str:
    return f"{live.sandbox.url}/woo/{WOO_HOST}"


def test_woocommerce_connect_end_to_end(live: Live) -> None:
    client = live.client
    start = client.get(f"/auth/woocommerce?{urlencode({'store_url': woo_store_url(live)})}")
    assert start.status_code == 302
    authorize = urlsplit(start.headers["Location"])
    query = parse_qs(authorize.query)
    assert authorize.path == f"/woo/{WOO_HOST}/wc-auth/v1/authorize"
    assert query["scope"] == ["read_write"]
    assert query["callback_url"] == [f"{live.url}/auth/woocommerce/callback"]
    # The merchant approves: the store POSTs the keys to our callback, then redirects back.
    approved = requests.get(start.headers["Location"], allow_redirects=False, timeout=30)
    assert approved.status_code == 302, approved.text
    back = urlsplit(approved.headers["Location"])
    assert parse_qs(back.query)["success"] == ["1"]
    done = client.get(f"{back.path}?{back.query}")
    assert done.json["status"] == "connected"
    conforms(client, "WooReturn", done.json)

    store = live.sandbox.sandbox.woocommerce[WOO_HOST]
    with live.container.session_factory() as s:
        shop = s.scalars(select(Shop).where(Shop.platform == "woocommerce")).one()
        assert shop.domain == woo_store_url(live)
        secret = live.container.cipher.decrypt(shop.webhook_secret_enc)
        key = live.container.cipher.decrypt(shop.consumer_key_enc)
    assert key in store.keys
    hooks = sorted(store.webhooks.values(), key=lambda w: w["topic"])
    assert [w["topic"] for w in hooks] == sorted(
        ["order.created", "order.updated", "order.deleted", "customer.created"]
    )
    assert {w["secret"] for w in hooks} == {secret}
    assert {w["delivery_url"] for w in hooks} == {f"{live.url}/webhooks/woocommerce"}


def _nonce(live: Live) -> str:
    start = live.client.get(f"/auth/woocommerce?{urlencode({'store_url': woo_store_url(live)})}")
    return parse_qs(urlsplit(start.headers["Location"]).query)["user_id"][0]


def test_woocommerce_callback_needs_our_nonce_and_working_keys(live: Live) -> None:
    client = live.client
    store = live.sandbox.sandbox.woo_store(WOO_HOST)
    key, secret = store.add_key()
    good = {
        "key_id": 1,
        "consumer_key": key,
        "consumer_secret": secret,
        "key_permissions": "read_write",
    }

    r = client.post("/auth/woocommerce/callback", json={**good, "user_id": "never-issued"})
    assert r.status_code == 403
    assert r.json["error"]["code"] == "invalid_state"
    r = client.post(
        "/auth/woocommerce/callback",
        json={**good, "user_id": _nonce(live), "consumer_secret": "cs_wrong"},
    )
    assert r.status_code == 400
    assert r.json["error"]["code"] == "keys_rejected"
    r = client.post(
        "/auth/woocommerce/callback",
        json={**good, "user_id": _nonce(live), "key_permissions": "read"},
    )
    assert r.status_code == 400
    r = client.post("/auth/woocommerce/callback", data=b"[1]", content_type="application/json")
    assert r.status_code == 400
    # WooCommerce posts JSON; what it sends is read whatever the Content-Type says.
    for data in (b"\xff{", b'{"user_id": 5}', b"not json"):
        r = client.post("/auth/woocommerce/callback", data=data, content_type="text/plain")
        assert r.status_code == 400, data
        assert r.json["error"]["code"] in ("invalid_json", "validation_failed")
    with live.container.session_factory() as s:
        assert s.scalars(select(Shop)).all() == []

    nonce = _nonce(live)
    assert (
        client.post("/auth/woocommerce/callback", json={**good, "user_id": nonce}).status_code
        == 200
    )
    reused = client.post("/auth/woocommerce/callback", json={**good, "user_id": nonce})
    assert reused.status_code == 403
    # `success=1` typed by hand proves nothing without a used nonce.
    r = client.get("/auth/woocommerce/return?success=1&user_id=made-up")
    assert r.json["status"] == "not_connected"


def test_a_denied_woocommerce_connection_stores_nothing(live: Live) -> None:
    start = live.client.get(f"/auth/woocommerce?{urlencode({'store_url': woo_store_url(live)})}")
    denied = requests.get(start.headers["Location"] + "&deny=1", allow_redirects=False, timeout=5)
    back = urlsplit(denied.headers["Location"])
    assert live.client.get(f"{back.path}?{back.query}").json["status"] == "not_connected"
    with live.container.session_factory() as s:
        assert s.scalars(select(Shop)).all() == []


# --- store URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://shop.example.com",  # not https
        "https://127.0.0.1",
        "https://localhost",
        "https://10.1.2.3",
        "https://192.168.0.10:8443",
        "https://169.254.169.254",  # cloud metadata
        "https://[::1]",
        "https://0.0.0.0",
        "ftp://shop.example.com",
        "https://user:pw@shop.example.com",
        "not a url",
    ],
)
def test_store_urls_we_will_not_call(url: str) -> None:
    with pytest.raises(StoreUrlNotAllowed):
        install.check_store_url(url, allow_private=False)


def test_public_https_store_urls_are_allowed() -> None:
    assert install.check_store_url("https://93.184.216.34/shop/", allow_private=False) == (
        "https://93.184.216.34/shop"
    )


def test_production_refuses_a_private_store_url_before_redirecting(
    settings: Settings, clock: FakeClock
) -> None:
    container = bootstrap(settings.with_overrides(development=False), clock=clock)
    try:
        client = create_app(container=container).test_client()
        r = client.get("/auth/woocommerce?store_url=https://127.0.0.1:8443")
        assert r.status_code == 400
        assert r.json["error"]["code"] == "store_url_not_allowed"
    finally:
        container.close()


# --- shopify.app.toml ----------------------------------------------------------------------------


def test_shopify_app_toml_declares_privacy_topics_proxy_and_callback() -> None:
    import tomllib

    from click.testing import CliRunner

    from plugin_server import cli

    result = CliRunner().invoke(
        cli.main,
        ["shopify-config", "--app-url", "https://loyalty.example.com/", "--client-id", "abc123"],
    )
    assert result.exit_code == 0, result.output
    config = tomllib.loads(result.output)
    assert config["client_id"] == "abc123"
    assert config["auth"]["redirect_urls"] == ["https://loyalty.example.com/auth/shopify/callback"]
    subs = config["webhooks"]["subscriptions"]
    compliance = [s for s in subs if "compliance_topics" in s]
    assert compliance[0]["compliance_topics"] == [
        "customers/data_request",
        "customers/redact",
        "shop/redact",
    ]
    assert {s["uri"] for s in subs} == {"https://loyalty.example.com/webhooks/shopify"}
    topics = next(s["topics"] for s in subs if "topics" in s)
    # Every topic we subscribe through the API at install is declared here too.
    assert sorted(t.upper().replace("/", "_") for t in topics) == sorted(WEBHOOK_TOPICS)
    proxy = config["app_proxy"]
    assert proxy == {
        "url": "https://loyalty.example.com/storefront/v1",
        "prefix": "apps",
        "subpath": "loyalty",
    }
    assert "write_app_proxy" in config["access_scopes"]["scopes"]
    assert config["webhooks"]["api_version"] == "2026-07"
    refused = CliRunner().invoke(
        cli.main, ["shopify-config", "--app-url", "http://x.example", "--client-id", "a"]
    )
    assert refused.exit_code != 0
