"""A WooCommerce page open longer than its shopper token lives, in real headless Chromium:
the widget asks the store's same-origin refresh route (the WordPress plugin's
/wp-json/loyalty/v1/shopper-token, played here by a small Flask store) for a new token
once, retries, and the panel keeps working; when the store refuses, the shopper is told
to reload and nothing loops."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask, Response, request
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Page
from werkzeug.serving import make_server

from plugin_server import create_app
from plugin_server.bootstrap import Container
from plugin_server.simulate import sign_woocommerce
from tests.browser.test_widget import browser  # noqa: F401  (the shared Chromium)
from tests.conftest import WOO_SECRET, make_shop, post
from tests.integration.test_webhook_intake import woo_order

NONCE = "n0nce-for-25"
CUSTOMER = "25"


@dataclass
class WooStore:
    """A store page carrying the widget, and the plugin's refresh route."""

    url: str
    app_url: str
    key: Ed25519PrivateKey
    accept_nonce: bool = True
    refreshes: list[str] = field(default_factory=list)
    api: tuple[FlaskClient, dict[str, str]] | None = None  # the merchant API, as the shop
    summaries: list[str] = field(default_factory=list)

    def token(self, *, issued_ago: int = 0, lifetime: int = 600) -> str:
        # As Loyalty_Token::sign: EdDSA, iss the store URL, sub the customer.
        now = int(time.time()) - issued_ago
        claims = {
            "iss": self.url,
            "aud": "loyalty-storefront",
            "sub": CUSTOMER,
            "iat": now,
            "exp": now + lifetime,
        }
        return jwt.encode(claims, self.key, algorithm="EdDSA")


def store_app(store: WooStore) -> Flask:
    app = Flask("woo-store")

    @app.get("/")
    def page() -> Response:
        # Drawn two hours ago, as if the shopper left the tab open: the token has expired.
        config = {
            "api": store.app_url + "/storefront/v1",
            "shop": store.url,
            "token": store.token(issued_ago=7200),
            "locale": "en",
            "refresh": store.url + "/wp-json/loyalty/v1/shopper-token",
            "nonce": NONCE,
        }
        html = (
            "<!doctype html><html lang='en'><head><title>Woo store</title></head><body>"
            "<h1>Shop</h1><script>window.LoyaltyConfig = "
            + json.dumps(config)
            + ";</script><script defer src='"
            + store.app_url
            + "/storefront/v1/assets/loader.js'></script></body></html>"
        )
        return Response(html, content_type="text/html; charset=utf-8")

    @app.post("/wp-json/loyalty/v1/shopper-token")
    def shopper_token() -> tuple[dict[str, object], int]:
        given = request.headers.get("X-WP-Nonce", "")
        store.refreshes.append(given)
        if not store.accept_nonce or given != NONCE:
            return {"code": "loyalty_bad_nonce", "data": {"status": 403}}, 403
        return {"token": store.token()}, 200

    return app


@pytest.fixture
def woo(container: Container) -> Iterator[WooStore]:
    loyalty = create_app(container=container)
    app_server = make_server("127.0.0.1", 0, loyalty, threaded=True)
    store_server = make_server("127.0.0.1", 0, Flask("placeholder"), threaded=True)
    store = WooStore(
        f"http://127.0.0.1:{store_server.server_port}",
        f"http://127.0.0.1:{app_server.server_port}",
        Ed25519PrivateKey.generate(),
    )
    store_server.app = store_app(store)  # type: ignore[attr-defined]

    @loyalty.after_request
    def count(response: Response) -> Response:
        if request.path.endswith("/summary") and request.method == "GET":
            store.summaries.append(request.headers.get("Authorization", ""))
        return response

    app_thread = threading.Thread(target=app_server.serve_forever, daemon=True)
    store_thread = threading.Thread(target=store_server.serve_forever, daemon=True)
    app_thread.start()
    store_thread.start()

    shop = make_shop(container, "woocommerce", store.url, webhook_secret=WOO_SECRET)
    client: FlaskClient = loyalty.test_client()
    public = store.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    r = client.patch(
        "/api/v1/widget",
        headers=shop.auth,
        json={"token_public_key": base64.urlsafe_b64encode(public).decode().rstrip("=")},
    )
    assert r.status_code == 200, r.json
    paid = post(
        client,
        sign_woocommerce(
            woo_order(order_id=1, total="40.00", customer_id=int(CUSTOMER)),
            topic="order.created",
            source=store.url,
            secret=WOO_SECRET,
        ),
    )
    assert paid.status_code == 200, paid.json
    store.api = (client, shop.auth)
    try:
        yield store
    finally:
        for server, thread in ((app_server, app_thread), (store_server, store_thread)):
            server.shutdown()
            thread.join(timeout=5)


@pytest.fixture
def page(browser: Browser, woo: WooStore) -> Iterator[Page]:  # noqa: F811
    # Takes `woo` so that the tab closes before the servers stop: a request still in
    # flight (the panel's offers) would otherwise end in a connection reset.
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    yield tab
    context.close()
    # The browser itself reports the refused answers (401, 403); nothing else may appear.
    assert [e for e in errors if "status of 40" not in e] == []


def test_an_expired_token_is_renewed_once_and_the_panel_keeps_working(
    page: Page, woo: WooStore
) -> None:
    page.goto(woo.url)
    page.click("#loyalty-launcher")
    page.wait_for_selector(".loyalty-balance")
    assert page.locator(".loyalty-balance").inner_text() == "40 points"
    assert woo.refreshes == [NONCE]  # asked once, with the page's nonce
    first, retried = woo.summaries
    assert first != retried  # the retry carried the new token
    # Closed and opened again: the new token is used as is, no new refresh.
    page.click(".loyalty-close")
    with page.expect_response(lambda r: r.url.split("?")[0].endswith("/summary")) as answer:
        page.click("#loyalty-launcher")
    assert answer.value.status == 200
    assert woo.summaries[-1] == retried
    assert page.locator(".loyalty-balance").inner_text() == "40 points"
    assert woo.refreshes == [NONCE]


def test_a_refused_refresh_is_told_once_and_never_loops(page: Page, woo: WooStore) -> None:
    woo.accept_nonce = False
    page.goto(woo.url)
    page.click("#loyalty-launcher")
    page.wait_for_function("document.querySelector('.loyalty-status').textContent.length > 0")
    assert (
        page.locator(".loyalty-status").inner_text()
        == "Your session has ended. Reload the page to see your rewards."
    )
    assert woo.refreshes == [NONCE]
    assert len(woo.summaries) == 1
    assert page.locator(".loyalty-balance").count() == 0


EVIL = '<script>alert(1)</script>"><img src=x onerror=alert(1)>{{7*7}}'


def test_hostile_merchant_and_shopper_text_renders_as_text(page: Page, woo: WooStore) -> None:
    """The browser check of tests/integration/test_xss_everywhere.py: a reward, the widget's
    texts and the shopper's own name, all hostile, appear as the characters they are."""
    assert woo.api is not None
    client, auth = woo.api
    r = client.post(
        "/api/v1/rewards",
        headers=auth,
        json={"name": EVIL, "kind": "free_shipping", "points_cost": 10},
    )
    assert r.status_code == 201, r.json
    r = client.patch("/api/v1/widget", headers=auth, json={"texts": {"en": {"title": EVIL}}})
    assert r.status_code == 200, r.json
    named = woo_order(order_id=2, total="1.00", customer_id=int(CUSTOMER))
    named["billing"]["first_name"] = EVIL
    paid = post(
        client,
        sign_woocommerce(named, topic="order.created", source=woo.url, secret=WOO_SECRET),
    )
    assert paid.status_code == 200, paid.json
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(woo.url)
    page.click("#loyalty-launcher")
    page.wait_for_selector(".loyalty-reward")
    panel = page.locator("#loyalty-panel")
    assert EVIL in panel.inner_text()
    assert page.locator("#loyalty-panel img, #loyalty-panel script").count() == 0
    assert dialogs == []
