"""Requests are validated from the same declarations the OpenAPI document is built from:
malformed bodies, queries and paths get a 400/404/415 naming what is wrong, never a 500,
and change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ShopHandle
from tests.contract import document

# Every admin route that takes a JSON body, with a body it accepts.
BODY_ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("PATCH", "/api/v1/program", {"pending_days": 3}),
    (
        "POST",
        "/api/v1/rewards",
        {
            "name": "Five off",
            "kind": "fixed_amount",
            "points_cost": 5,
            "amount": "5",
            "currency": "USD",
        },
    ),
    ("POST", "/api/v1/customers/42/adjustments", {"points": 5, "reason": "welcome"}),
    ("PATCH", "/api/v1/widget", {"position": "left"}),
    ("POST", "/api/v1/customers/42/redemptions", {"points": 5}),
]
ROUTE_IDS = [f"{m} {p}" for m, p, _ in BODY_ROUTES]


def send(
    client: FlaskClient, shop: ShopHandle, method: str, path: str, data: bytes, ctype: str
) -> Any:
    return client.open(path, method=method, data=data, content_type=ctype, headers=shop.auth)


def program_of(client: FlaskClient, shop: ShopHandle) -> Any:
    return (
        client.get("/api/v1/program", headers=shop.auth).json,
        client.get("/api/v1/widget", headers=shop.auth).json,
        client.get("/api/v1/rewards?status=all", headers=shop.auth).json,
        client.get("/api/v1/customers/42/transactions", headers=shop.auth).status_code,
    )


@pytest.mark.parametrize(("method", "path", "good"), BODY_ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize(
    ("data", "ctype", "status", "code"),
    [
        (b'{"a": 1}', "text/plain", 415, "unsupported_media_type"),
        (b'{"a": 1}', "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b"not json", "application/json", 400, "invalid_json"),
        (b"", "application/json", 400, "invalid_json"),
        (b"[1, 2]", "application/json", 400, "invalid_json"),
        (b'"text"', "application/json", 400, "invalid_json"),
        (b"\xff\xfe{\x00}", "application/json", 400, "invalid_json"),
        (b'{"points": NaN}', "application/json", 400, "invalid_json"),
        (b'{"points": 1' + b"0" * 5000 + b"}", "application/json", 400, "invalid_json"),
        (b'{"surprise": 1}', "application/json", 400, "validation_failed"),
    ],
    ids=[
        "text",
        "form",
        "not-json",
        "empty",
        "array",
        "string",
        "not-utf8",
        "nan",
        "5000-digits",
        "unknown-field",
    ],
)
def test_malformed_bodies_are_refused_and_change_nothing(
    client: FlaskClient,
    shopify_shop: ShopHandle,
    method: str,
    path: str,
    good: dict[str, Any],
    data: bytes,
    ctype: str,
    status: int,
    code: str,
) -> None:
    before = program_of(client, shopify_shop)
    r = send(client, shopify_shop, method, path, data, ctype)
    assert (r.status_code, r.json["error"]["code"]) == (status, code), r.json
    if code == "validation_failed":
        assert r.json["error"]["fields"]["surprise"] == "unknown field"
    assert program_of(client, shopify_shop) == before


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PATCH", "/api/v1/program", {"pending_days": "3"}, "pending_days"),
        ("PATCH", "/api/v1/program", {"pending_days": 10**30}, "pending_days"),
        ("PATCH", "/api/v1/program", {"include_tax": None}, "include_tax"),
        ("PATCH", "/api/v1/program", {"points_per_unit": "1e999"}, "points_per_unit"),
        ("PATCH", "/api/v1/program", {"award_statuses": ["paid", 7]}, "award_statuses.1"),
        ("POST", "/api/v1/customers/42/adjustments", {"points": 10**30, "reason": "x"}, "points"),
        ("POST", "/api/v1/customers/42/adjustments", {"points": 1.5, "reason": "x"}, "points"),
        ("POST", "/api/v1/customers/42/adjustments", {"points": True, "reason": "x"}, "points"),
        ("POST", "/api/v1/customers/42/adjustments", {"points": 5}, "reason"),
        ("POST", "/api/v1/customers/42/redemptions", {"reward_id": 2**64}, "reward_id"),
        ("PATCH", "/api/v1/widget", {"texts": {"en": {"title": 5}}}, "texts.en.title"),
        ("POST", "/api/v1/rewards", {"kind": "percentage"}, "name"),
    ],
)
def test_each_bad_field_is_named(
    client: FlaskClient,
    shopify_shop: ShopHandle,
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    r = client.open(path, method=method, json=body, headers=shopify_shop.auth)
    assert r.status_code == 400, r.json
    error = r.json["error"]
    assert error["code"] == "validation_failed"
    assert field in error["fields"], error
    assert field in error["message"]


def test_domain_rules_name_their_field_too(client: FlaskClient, shopify_shop: ShopHandle) -> None:
    r = client.patch(
        "/api/v1/program", json={"award_statuses": ["completed"]}, headers=shopify_shop.auth
    )
    assert r.status_code == 400
    assert list(r.json["error"]["fields"]) == ["award_statuses"]


def test_decimals_stay_exact_both_ways(client: FlaskClient, shopify_shop: ShopHandle) -> None:
    r = client.patch(
        "/api/v1/program",
        data=b'{"points_per_unit": 0.1}',
        content_type="application/json",
        headers=shopify_shop.auth,
    )
    # 0.1 as a binary float would be 0.1000000000000000055511151231257827...
    assert r.json["points_per_unit"] == "0.1"
    r = client.patch(
        "/api/v1/program",
        data=b'{"points_per_unit": 2.25}',
        content_type="application/json; charset=utf-8",
        headers=shopify_shop.auth,
    )
    assert r.json["points_per_unit"] == "2.25"


@pytest.mark.parametrize(
    ("url", "status", "field"),
    [
        ("/api/v1/customers/42/transactions?limit=abc", 400, "limit"),
        ("/api/v1/customers/42/transactions?limit=0", 400, "limit"),
        ("/api/v1/customers/42/transactions?cursor=-1", 400, "cursor"),
        ("/api/v1/customers/42/transactions?cursor=" + "9" * 40, 400, "cursor"),
        ("/api/v1/customers?email=nope", 400, "email"),
        ("/api/v1/rewards?status=deleted", 400, "status"),
        ("/api/v1/customers/42/redemptions?limit=1000", 400, "limit"),
    ],
)
def test_bad_queries_name_the_parameter(
    client: FlaskClient, shopify_shop: ShopHandle, url: str, status: int, field: str
) -> None:
    r = client.get(url, headers=shopify_shop.auth)
    assert r.status_code == status, r.json
    assert field in r.json["error"]["fields"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/rewards/99999999999999999999999999",
        "/api/v1/rewards/-1",
        "/api/v1/redemptions/9223372036854775808",
        "/api/v1/data-exports/1e3",
    ],
)
def test_ids_out_of_range_are_not_found(
    client: FlaskClient, shopify_shop: ShopHandle, url: str
) -> None:
    r = client.get(url, headers=shopify_shop.auth)
    assert (r.status_code, r.json["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize("method", ["PATCH", "POST", "DELETE"])
def test_ids_out_of_range_are_not_found_whatever_the_method(
    client: FlaskClient, shopify_shop: ShopHandle, method: str
) -> None:
    # werkzeug answers 405 when only a converter refused the id; no method has a route.
    url = "/api/v1/tiers/173235785490058205505801907299669770240"
    r = client.open(url, method=method, json={"name": "x"}, headers=shopify_shop.auth)
    assert (r.status_code, r.json["error"]["code"]) == (404, "not_found")
    # A path that has a route for another method is still a 405.
    r = client.open("/api/v1/tiers", method="DELETE", headers=shopify_shop.auth)
    assert (r.status_code, r.json["error"]["code"]) == (405, "method_not_allowed")


def test_the_largest_id_is_looked_up(client: FlaskClient, shopify_shop: ShopHandle) -> None:
    r = client.get("/api/v1/redemptions/9223372036854775807", headers=shopify_shop.auth)
    assert (r.status_code, r.json["error"]["code"]) == (404, "redemption_not_found")


def test_unauthenticated_requests_are_refused_before_the_body_is_read(
    client: FlaskClient,
) -> None:
    r = client.patch("/api/v1/program", data=b"not json", content_type="text/plain")
    assert (r.status_code, r.json["error"]["code"]) == (401, "unauthorized")


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.decimals(allow_nan=False, allow_infinity=False).map(str)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def _fields(client: FlaskClient, method: str, path: str) -> list[str]:
    doc = document(client.application)
    body = doc["paths"][path][method.lower()]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    return list(doc["components"]["schemas"][ref]["properties"])


@pytest.mark.parametrize(("method", "path", "good"), BODY_ROUTES, ids=ROUTE_IDS)
def test_any_json_body_gets_a_documented_answer_never_a_500(
    client: FlaskClient, shopify_shop: ShopHandle, method: str, path: str, good: dict[str, Any]
) -> None:
    names = _fields(client, method, path.replace("/42/", "/{customer_id}/"))
    bodies = st.dictionaries(st.sampled_from(names), JSON, max_size=4) | st.fixed_dictionaries(
        {k: JSON for k in good}
    )

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(body=bodies)
    def check(body: dict[str, Any]) -> None:
        # The contract client fails the test on an undocumented status or a body that
        # does not match the documented schema.
        r = client.open(path, method=method, json=body, headers=shopify_shop.auth)
        assert r.status_code < 500, (body, r.json)

    check()


def test_hot_routes_are_served_by_their_plain_views(app: Flask) -> None:
    """Platform payloads and the storefront's reads are only documented: no schema
    machinery runs on those requests (the intake and storefront benchmarks rely on it)."""
    from plugin_server.api import webhooks
    from storefront_widget import api as storefront

    assert app.view_functions["webhooks.receive"] is webhooks.receive
    assert app.view_functions["storefront.summary"] is storefront.summary
    assert app.view_functions["storefront.program"] is storefront.program
    # ...while a route with a body is served through spectree's validating wrapper.
    validated = app.view_functions["admin.update_program"]
    assert validated.__wrapped__.__name__ == "update_program"
    assert getattr(validated.__wrapped__, "__wrapped__", None) is not validated


def test_nul_characters_are_bad_input_not_a_server_error(
    client: FlaskClient, shopify_shop: ShopHandle
) -> None:
    """PostgreSQL text cannot hold NUL: refused at the door (found by the fuzzer)."""
    r = client.get("/api/v1/customers?email=a%00b@example.com", headers=shopify_shop.auth)
    assert r.status_code == 400
    assert r.json["error"]["code"] == "validation_failed"
    r = client.post(
        "/api/v1/rewards",
        json={"name": "Free\u0000tote", "kind": "free_shipping", "points_cost": 10},
        headers=shopify_shop.auth,
    )
    assert r.status_code == 400
    assert r.json["error"]["code"] == "validation_failed"
    assert "NUL" in r.json["error"]["message"] + str(r.json["error"].get("fields"))
    rewards = client.get("/api/v1/rewards", headers=shopify_shop.auth).json["rewards"]
    assert rewards == []


def test_nul_in_a_query_value_is_bad_input_before_the_handler(
    client: FlaskClient, shopify_shop: ShopHandle
) -> None:
    # Found by the fuzzer on PostgreSQL: the referrals list answered 500.
    r = client.get("/api/v1/referrals?status=pending&advocate=%01a%00b", headers=shopify_shop.auth)
    assert r.status_code == 400, r.json
    assert r.json["error"]["code"] == "validation_failed"
    assert r.json["error"]["fields"] == {"query.advocate": "must not contain NUL characters"}


def test_nul_in_the_admin_apps_customer_search_is_bad_input(signed_in: FlaskClient) -> None:
    # It reached PostgreSQL as a 500 before every route refused NUL in the query.
    r = signed_in.get("/admin/customers?q=a%00b")
    assert r.status_code == 400
    assert r.mimetype == "text/html"  # the admin app's own error page, with the reason
    assert "query.q: must not contain NUL characters" in r.get_data(as_text=True)
    assert signed_in.get("/admin/customers?q=ab").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/customers/10%0001",
        "/api/v1/customers/10%0001/transactions",
        "/api/v1/segments/champ%00ions/members",
        "/storefront/v1/referrals/AB%00CD",
    ],
)
def test_nul_in_a_path_value_names_nothing(
    client: FlaskClient, shopify_shop: ShopHandle, url: str
) -> None:
    r = client.get(url, headers=shopify_shop.auth)
    assert r.status_code == 404, r.json
    assert r.json["error"]["code"] == "not_found"
    assert "NUL" in r.json["error"]["message"]
