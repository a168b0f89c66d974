"""The served OpenAPI document covers every JSON route (the admin app's HTML pages
are not JSON routes), and real responses match it."""

from __future__ import annotations

import re
from decimal import Decimal as D
from typing import Any

import jsonschema
import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema.validators import Draft202012Validator

from plugin_server.simulate import shopify_order, sign_shopify
from tests.conftest import SHOPIFY_SECRET, ShopHandle, post


def flask_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def test_every_route_is_documented_with_its_methods(app: Flask, client: FlaskClient) -> None:
    doc = client.get("/openapi.json").json
    Draft202012Validator.check_schema(doc["components"]["schemas"]["Customer"])
    documented = {(path, m.upper()) for path, ops in doc["paths"].items() for m in ops}
    served = {
        (flask_path(rule.rule), method)
        for rule in app.url_map.iter_rules()
        # The admin app's HTML pages are not part of the JSON API.
        if rule.endpoint != "static" and not rule.endpoint.startswith("adminapp.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert served == documented


def validate(doc: dict[str, Any], path: str, method: str, status: int, body: Any) -> None:
    response = doc["paths"][path][method]["responses"][str(status)]
    schema = response["content"]["application/json"]["schema"]
    resolver_doc = {**schema, "components": doc["components"]}
    jsonschema.validate(body, resolver_doc, cls=Draft202012Validator)


def test_responses_match_the_document(client: FlaskClient, shopify_shop: ShopHandle) -> None:
    doc = client.get("/openapi.json").json
    payload = shopify_order(
        order_id=1, email="ann@example.com", subtotal=D("12.50"), customer_id=42
    )
    d = sign_shopify(
        payload, topic="orders/paid", shop_domain=shopify_shop.domain, secret=SHOPIFY_SECRET
    )
    r = post(client, d)
    validate(doc, "/webhooks/{platform}", "post", 200, r.json)
    r = post(client, d)
    validate(doc, "/webhooks/{platform}", "post", 200, r.json)
    r = client.post(d.path, data=d.body, headers={**d.headers, "X-Shopify-Hmac-Sha256": "x"})
    validate(doc, "/webhooks/{platform}", "post", 401, r.json)

    auth = shopify_shop.auth
    cases = [
        ("/api/v1/customers/42", "/api/v1/customers/{customer_id}", 200, auth),
        ("/api/v1/customers/404", "/api/v1/customers/{customer_id}", 404, auth),
        ("/api/v1/customers/42", "/api/v1/customers/{customer_id}", 401, {}),
        ("/api/v1/customers?email=ann@example.com", "/api/v1/customers", 200, auth),
        ("/api/v1/customers", "/api/v1/customers", 400, auth),
        (
            "/api/v1/customers/42/transactions?limit=1",
            "/api/v1/customers/{customer_id}/transactions",
            200,
            auth,
        ),
        (
            "/api/v1/customers/42/transactions?limit=500",
            "/api/v1/customers/{customer_id}/transactions",
            400,
            auth,
        ),
        ("/healthz", "/healthz", 200, {}),
        ("/readyz", "/readyz", 200, {}),
    ]
    for url, path, status, headers in cases:
        r = client.get(url, headers=headers)
        assert r.status_code == status, (url, r.json)
        validate(doc, path, "get", status, r.json)


@pytest.mark.parametrize("url", ["/nope", "/api/v1/nope"])
def test_unknown_routes_answer_json(client: FlaskClient, url: str) -> None:
    r = client.get(url, headers={"Authorization": "Bearer x"})
    assert r.status_code in (401, 404)
    assert "code" in r.json["error"]


def test_healthz_and_readyz(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz").json
    assert ready["status"] == "ready"
    assert ready["checks"]["database"] == "ok"
