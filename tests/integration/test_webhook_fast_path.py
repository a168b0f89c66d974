"""The intake's WSGI fast path answers the common deliveries without Flask, exactly as the
Flask view would, and hands everything else to that view with the body intact."""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import pytest
from flask import Flask, request_started
from flask.testing import FlaskClient
from sqlalchemy import func, select

from plugin_server.api.webhooks import WebhookFastPath
from plugin_server.bootstrap import Container
from plugin_server.db.models import WebhookReceipt
from plugin_server.simulate import SignedDelivery, shopify_order, sign_shopify
from tests.conftest import SHOPIFY_SECRET, ShopHandle, post


def paid(shop: ShopHandle, delivery_id: str, order_id: int = 5001) -> SignedDelivery:
    payload = shopify_order(
        order_id=order_id, email="fa@example.com", subtotal=D("20"), customer_id=9
    )
    return sign_shopify(
        payload,
        topic="orders/paid",
        shop_domain=shop.domain,
        secret=SHOPIFY_SECRET,
        delivery_id=delivery_id,
    )


def forged_order(shop: ShopHandle, order_id: int) -> SignedDelivery:
    payload = shopify_order(
        order_id=order_id, email="x@example.com", subtotal=D("5"), customer_id=1
    )
    return sign_shopify(
        payload, topic="orders/paid", shop_domain=shop.domain, secret="not-the-app-secret"
    )


@pytest.fixture
def flask_requests(app: Flask) -> Iterator[list[str]]:
    """Paths of the requests that went through Flask's request handling."""
    seen: list[str] = []

    def record(sender: Flask, **extra: Any) -> None:
        from flask import request

        seen.append(request.path)

    request_started.connect(record, app)
    yield seen
    request_started.disconnect(record, app)


def stored(container: Container) -> int:
    with container.session_factory() as s:
        return s.scalar(select(func.count()).select_from(WebhookReceipt)) or 0


def test_accepted_and_duplicate_answers_match_the_flask_view(
    app: Flask, client: FlaskClient, shopify_shop: ShopHandle, flask_requests: list[str]
) -> None:
    fast = app.wsgi_app
    assert isinstance(fast, WebhookFastPath)
    answers = {}
    for name, wsgi in (("fast", fast), ("flask", fast._next)):
        app.wsgi_app = wsgi  # type: ignore[method-assign]
        delivery = paid(
            shopify_shop, f"fast-path-{name}", order_id=5001 if name == "fast" else 5002
        )
        delivery.headers["X-Request-Id"] = f"req-{name}"
        first, again = post(client, delivery), post(client, delivery)
        answers[name] = [
            (r.status_code, sorted(r.headers.items()), r.get_json()) for r in (first, again)
        ]
    app.wsgi_app = fast  # type: ignore[method-assign]
    # Only the view's two requests went through Flask.
    assert flask_requests == ["/webhooks/shopify", "/webhooks/shopify"]
    fast_answers, flask_answers = answers["fast"], answers["flask"]
    for (fs, fh, fj), (ks, kh, kj) in zip(fast_answers, flask_answers, strict=True):
        assert fs == ks == 200
        assert [(k, v.replace("fast", "flask")) for k, v in fh if k != "Content-Length"] == [
            (k, v) for k, v in kh if k != "Content-Length"
        ]
        assert set(fj) == set(kj)
    assert fast_answers[0][2]["status"] == "accepted"
    assert fast_answers[1][2] == {"status": "duplicate"}


def test_refusals_go_to_the_flask_view_with_the_body(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, flask_requests: list[str]
) -> None:
    forged = forged_order(shopify_shop, 5003)
    r = post(client, forged)
    assert r.status_code == 401
    assert r.json["error"]["code"] == "invalid_signature"
    assert flask_requests == ["/webhooks/shopify"]
    assert stored(container) == 0


def test_a_malformed_body_is_stored_once_and_refused(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, flask_requests: list[str]
) -> None:
    # Verified, then unreadable: the fast path stores it as failed and hands over; the view's
    # second attempt finds it stored, and answers the documented 400.
    delivery = sign_shopify(
        b"{not json",
        topic="orders/paid",
        shop_domain=shopify_shop.domain,
        secret=SHOPIFY_SECRET,
        delivery_id="bad-1",
    )
    r = post(client, delivery)
    assert r.status_code == 400
    assert r.json["error"]["code"] == "malformed_payload"
    assert stored(container) == 1
    assert flask_requests == ["/webhooks/shopify"]


def test_a_body_cut_short_is_not_stored(
    app: Flask, container: Container, shopify_shop: ShopHandle, flask_requests: list[str]
) -> None:
    delivery = paid(shopify_shop, "cut-1")
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/webhooks/shopify",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "CONTENT_LENGTH": str(len(delivery.body)),
        "wsgi.input": io.BytesIO(delivery.body[:-10]),
        "REMOTE_ADDR": "127.0.0.1",
    }
    for key, value in delivery.headers.items():
        environ["HTTP_" + key.upper().replace("-", "_")] = value
    statuses: list[str] = []
    b"".join(app.wsgi_app(environ, lambda status, headers, exc=None: statuses.append(status)))
    assert statuses[0].startswith("40")  # the signature no longer matches what arrived
    assert stored(container) == 0
    assert flask_requests == ["/webhooks/shopify"]


def test_an_address_over_the_refusal_limit_is_answered_by_the_view(
    client: FlaskClient, container: Container, shopify_shop: ShopHandle, flask_requests: list[str]
) -> None:
    forged = forged_order(shopify_shop, 5004)
    limit = int(container.settings.refused_webhook_rate.split("/")[0])
    for _ in range(limit):
        assert post(client, forged).status_code == 401
    flask_requests.clear()
    r = post(client, paid(shopify_shop, "after-limit"))
    assert r.status_code == 429
    assert flask_requests == ["/webhooks/shopify"]
    assert stored(container) == 0
