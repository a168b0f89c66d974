"""The Shopify sandbox behaves like the Admin GraphQL API the app will call."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from plugin_server.sandbox.server import RunningSandbox, Sandbox

SHOP = "sandbox-shop.myshopify.com"
TOKEN = "shpat_sandbox_token"
CREATE = """
mutation CreateCode($input: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $input) {
    codeDiscountNode {
      id
      codeDiscount {
        ... on DiscountCodeBasic { title status usageLimit appliesOncePerCustomer
                                   codes(first: 1) { nodes { code } } }
      }
    }
    userErrors { field code message }
  }
}
"""
LOOKUP = """
query Find($code: String!) {
  codeDiscountNodeByCode(code: $code) { id codeDiscount { ... on DiscountCodeBasic { status } } }
}
"""


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    state = Sandbox()
    state.shopify_shop(SHOP, access_token=TOKEN)
    with RunningSandbox(state) as running:
        yield running


def call(
    sandbox: RunningSandbox, query: str, variables: dict[str, Any] | None = None, token: str = TOKEN
) -> requests.Response:
    return requests.post(
        f"{sandbox.url}/admin/api/2026-07/graphql.json?shop={SHOP}",
        json={"query": query, "variables": variables or {}},
        headers={"X-Shopify-Access-Token": token},
        timeout=5,
    )


def code_input(code: str = "LOYAL-7F3K9Q", **overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    spec = {
        "title": "Loyalty reward: $5 off",
        "code": code,
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(days=30)).isoformat(),
        "context": {"customers": {"add": ["gid://shopify/Customer/115310627314723954"]}},
        "customerGets": {
            "value": {"discountAmount": {"amount": "5.00", "appliesOnEachItem": False}},
            "items": {"all": True},
        },
        "minimumRequirement": {"subtotal": {"greaterThanOrEqualToSubtotal": "20.00"}},
        "usageLimit": 1,
        "appliesOncePerCustomer": True,
    }
    spec.update(overrides)
    return spec


def test_creates_a_single_use_code_restricted_to_a_customer(sandbox: RunningSandbox) -> None:
    r = call(sandbox, CREATE, {"input": code_input()})
    assert r.status_code == 200
    body = r.json()
    result = body["data"]["discountCodeBasicCreate"]
    assert result["userErrors"] == []
    node = result["codeDiscountNode"]
    assert node["codeDiscount"]["codes"]["nodes"] == [{"code": "LOYAL-7F3K9Q"}]
    assert (node["codeDiscount"]["usageLimit"], node["codeDiscount"]["status"]) == (1, "ACTIVE")
    assert body["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 2000.0
    found = call(sandbox, LOOKUP, {"code": "loyal-7f3k9q"}).json()["data"]
    assert found["codeDiscountNodeByCode"]["id"] == node["id"]


def test_a_code_already_taken_is_a_user_error(sandbox: RunningSandbox) -> None:
    call(sandbox, CREATE, {"input": code_input()})
    again = call(sandbox, CREATE, {"input": code_input()}).json()["data"]
    [error] = again["discountCodeBasicCreate"]["userErrors"]
    assert (error["code"], error["field"]) == ("TAKEN", ["basicCodeDiscount", "code"])
    assert again["discountCodeBasicCreate"]["codeDiscountNode"] is None


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"code": ""}, "BLANK"),
        ({"startsAt": None}, "BLANK"),
        ({"endsAt": "2020-01-01T00:00:00Z"}, "END_DATE_BEFORE_START_DATE"),
        ({"usageLimit": 0}, "GREATER_THAN"),
        (
            {"customerGets": {"value": {"percentage": 1.5}, "items": {"all": True}}},
            "VALUE_OUTSIDE_RANGE",
        ),
    ],
)
def test_inputs_shopify_refuses_get_user_errors(
    sandbox: RunningSandbox, overrides: dict, code: str
) -> None:
    body = call(sandbox, CREATE, {"input": code_input(**overrides)}).json()
    assert code in [e["code"] for e in body["data"]["discountCodeBasicCreate"]["userErrors"]]


@pytest.mark.parametrize(
    "query",
    [
        'mutation { discountCodeBasicCreate(basicCodeDiscount: {code: "X", nope: 1}) '
        "{ userErrors { code } } }",
        '{ codeDiscountNodeByCode(code: "X") { id notAField } }',
        "mutation { priceRuleCreate(priceRule: {}) { userErrors { message } } }",
        "{ shop { name",
    ],
)
def test_documents_outside_the_schema_are_rejected(sandbox: RunningSandbox, query: str) -> None:
    body = call(sandbox, query).json()
    assert body["errors"]
    assert "data" not in body or body["data"] is None


def test_a_wrong_token_gets_401(sandbox: RunningSandbox) -> None:
    assert call(sandbox, LOOKUP, {"code": "X"}, token="shpat_wrong").status_code == 401


def test_scripted_failures_then_recovery(sandbox: RunningSandbox) -> None:
    requests.post(
        f"{sandbox.url}/_sandbox/shopify/{SHOP}/faults",
        timeout=5,
        json={
            "faults": [
                {"kind": "http_429", "retry_after_s": 2},
                {"kind": "http_500"},
                {"kind": "throttled"},
            ]
        },
    )
    first = call(sandbox, LOOKUP, {"code": "X"})
    assert (first.status_code, first.headers["Retry-After"]) == (429, "2")
    assert call(sandbox, LOOKUP, {"code": "X"}).status_code == 500
    throttled = call(sandbox, LOOKUP, {"code": "X"}).json()
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert throttled["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 0
    assert call(sandbox, LOOKUP, {"code": "X"}).json()["data"] == {"codeDiscountNodeByCode": None}


def test_outage_window_answers_503_until_ended(sandbox: RunningSandbox) -> None:
    outage = f"{sandbox.url}/_sandbox/shopify/{SHOP}/outage"
    assert requests.post(outage, timeout=5, json={"seconds": 3600}).status_code == 200
    for _ in range(3):  # not one request, every request: the platform is down
        assert call(sandbox, CREATE, {"input": code_input("DOWN1")}).status_code == 503
    assert call(sandbox, LOOKUP, {"code": "DOWN1"}).status_code == 503
    requests.post(outage, timeout=5, json={"seconds": 0})
    created = call(sandbox, CREATE, {"input": code_input("DOWN1")}).json()
    assert created["data"]["discountCodeBasicCreate"]["userErrors"] == []


def test_free_shipping_and_deactivation(sandbox: RunningSandbox) -> None:
    mutation = """
    mutation Free($input: DiscountCodeFreeShippingInput!) {
      discountCodeFreeShippingCreate(freeShippingCodeDiscount: $input) {
        codeDiscountNode { id } userErrors { code field }
      }
    }"""
    spec = {
        k: v
        for k, v in code_input("SHIPFREE1").items()
        if k not in ("customerGets", "minimumRequirement")
    }
    spec["destination"] = {"all": True}
    node_id = call(sandbox, mutation, {"input": spec}).json()["data"][
        "discountCodeFreeShippingCreate"
    ]["codeDiscountNode"]["id"]
    deactivate = """mutation Off($id: ID!) { discountCodeDeactivate(id: $id) {
        codeDiscountNode { codeDiscount { ... on DiscountCodeFreeShipping { status } } }
        userErrors { code } } }"""
    result = call(sandbox, deactivate, {"id": node_id}).json()["data"]["discountCodeDeactivate"]
    assert result["codeDiscountNode"]["codeDiscount"]["status"] == "EXPIRED"
    listed = requests.get(f"{sandbox.url}/_sandbox/shopify/{SHOP}/discounts", timeout=5).json()
    assert [d["type"] for d in listed["discounts"]] == ["DiscountCodeFreeShipping"]
