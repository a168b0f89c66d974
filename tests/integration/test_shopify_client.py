"""The Shopify client (through Shopify's own `shopifyapp`) against the sandbox, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
import requests

from plugin_server.platforms.base import (
    CodeTaken,
    DiscountSpec,
    PlatformRateLimited,
    PlatformRejected,
    PlatformUnavailable,
    ShopCredentials,
)
from plugin_server.platforms.shopify import ShopifyClient
from plugin_server.sandbox.server import RunningSandbox, Sandbox

SHOP = "client-shop.myshopify.com"
TOKEN = "shpat_client_token"


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    state = Sandbox()
    state.shopify_shop(SHOP, access_token=TOKEN)
    with RunningSandbox(state) as running:
        yield running


@pytest.fixture
def creds(sandbox: RunningSandbox) -> ShopCredentials:
    return ShopCredentials(domain=SHOP, access_token=TOKEN, api_base_url=sandbox.url)


def spec(code: str = "LOYAL-AB12CD", **kw: object) -> DiscountSpec:
    now = datetime.now(UTC)
    values: dict = {
        "code": code,
        "title": "Loyalty reward: $5 off",
        "kind": "fixed_amount",
        "starts_at": now,
        "ends_at": now + timedelta(days=30),
        "amount": D("5.00"),
        "currency": "USD",
        "min_subtotal": D("20.00"),
        "customer_ref": "115310627314723954",
    }
    values.update(kw)
    return DiscountSpec(**values)


def discounts(sandbox: RunningSandbox) -> list[dict]:
    return requests.get(f"{sandbox.url}/_sandbox/shopify/{SHOP}/discounts", timeout=5).json()[
        "discounts"
    ]


def faults(sandbox: RunningSandbox, *items: dict) -> None:
    requests.post(
        f"{sandbox.url}/_sandbox/shopify/{SHOP}/faults", json={"faults": list(items)}, timeout=5
    )


def test_creates_a_single_use_code_for_one_customer(
    sandbox: RunningSandbox, creds: ShopCredentials
) -> None:
    issued = ShopifyClient().create_discount_code(creds, spec())
    assert issued.code == "LOYAL-AB12CD"
    assert issued.platform_ref.startswith("gid://shopify/DiscountCodeNode/")
    [made] = discounts(sandbox)
    sent = made["input"]
    assert sent["usageLimit"] == 1
    assert sent["appliesOncePerCustomer"] is True
    assert sent["context"] == {"customers": {"add": ["gid://shopify/Customer/115310627314723954"]}}
    assert sent["minimumRequirement"]["subtotal"]["greaterThanOrEqualToSubtotal"] == "20.00"
    assert sent["customerGets"]["value"]["discountAmount"]["amount"] == "5.00"


@pytest.mark.parametrize(
    ("kind", "extra", "expected_type"),
    [
        ("percentage", {"percent": D("15"), "amount": None}, "DiscountCodeBasic"),
        ("free_shipping", {"amount": None}, "DiscountCodeFreeShipping"),
        ("fixed_amount", {"product_ids": ("788032119674292900",)}, "DiscountCodeBasic"),
    ],
)
def test_other_kinds(
    sandbox: RunningSandbox, creds: ShopCredentials, kind: str, extra: dict, expected_type: str
) -> None:
    ShopifyClient().create_discount_code(creds, spec(kind=kind, **extra))
    [made] = discounts(sandbox)
    assert made["type"] == expected_type
    if kind == "percentage":
        assert made["input"]["customerGets"]["value"]["percentage"] == 0.15
    if "product_ids" in extra:
        assert made["input"]["customerGets"]["items"] == {
            "products": {"productsToAdd": ["gid://shopify/Product/788032119674292900"]}
        }


def test_a_taken_code_raises_code_taken_and_lookup_finds_it(creds: ShopCredentials) -> None:
    client = ShopifyClient()
    first = client.create_discount_code(creds, spec())
    with pytest.raises(CodeTaken) as taken:
        client.create_discount_code(creds, spec())
    assert taken.value.retryable is False
    assert taken.value.field_path == ("basicCodeDiscount", "code")
    found = client.find_discount_code(creds, "loyal-ab12cd")
    assert found is not None
    assert (found.platform_ref, found.status) == (first.platform_ref, "active")
    assert client.find_discount_code(creds, "NOPE") is None
    client.deactivate_discount(creds, first.platform_ref)
    assert client.find_discount_code(creds, first.code).status == "expired"


def test_429_honours_retry_after_then_succeeds(
    sandbox: RunningSandbox, creds: ShopCredentials
) -> None:
    faults(sandbox, {"kind": "http_429", "retry_after_s": 1})
    started = datetime.now(UTC)
    ShopifyClient().create_discount_code(creds, spec())
    assert (datetime.now(UTC) - started).total_seconds() >= 1
    assert len(discounts(sandbox)) == 1


def test_persistent_429_is_rate_limited_with_retry_after(
    sandbox: RunningSandbox, creds: ShopCredentials
) -> None:
    faults(sandbox, *[{"kind": "http_429", "retry_after_s": 0}] * 3)
    with pytest.raises(PlatformRateLimited):
        ShopifyClient(max_retries=2).create_discount_code(creds, spec())
    assert discounts(sandbox) == []


def test_5xx_is_retried_then_unavailable(sandbox: RunningSandbox, creds: ShopCredentials) -> None:
    faults(sandbox, {"kind": "http_503"})
    ShopifyClient(max_retries=1).find_discount_code(creds, "X")  # one 503, retried, then fine
    faults(sandbox, {"kind": "http_500"})
    with pytest.raises(PlatformUnavailable) as down:
        ShopifyClient(max_retries=1).find_discount_code(creds, "X")
    # Retryable: the job that asked tries again later (the code is looked up first).
    assert down.value.retryable is True


def test_graphql_throttling_waits_for_the_bucket(
    sandbox: RunningSandbox, creds: ShopCredentials
) -> None:
    faults(sandbox, {"kind": "throttled"}, {"kind": "throttled"})
    slept: list[float] = []
    client = ShopifyClient(sleep=slept.append)
    client.create_discount_code(creds, spec())
    # 10 points requested, 0 available, 100 restored per second: 0.1 s each time.
    assert slept == [0.1, 0.1]
    assert client.log.throttled == 2
    faults(sandbox, *[{"kind": "throttled"}] * 5)
    with pytest.raises(PlatformRateLimited):
        ShopifyClient(sleep=slept.append, max_throttle_waits=2).find_discount_code(creds, "X")


def test_a_slow_answer_times_out_as_unavailable(
    sandbox: RunningSandbox, creds: ShopCredentials
) -> None:
    faults(sandbox, {"kind": "slow", "delay_s": 1.5})
    with pytest.raises(PlatformUnavailable):
        ShopifyClient(timeout_s=0.3).find_discount_code(creds, "X")


def test_a_bad_token_is_rejected_not_retried(sandbox: RunningSandbox) -> None:
    creds = ShopCredentials(domain=SHOP, access_token="shpat_revoked", api_base_url=sandbox.url)
    with pytest.raises(PlatformRejected) as refused:
        ShopifyClient().find_discount_code(creds, "X")
    assert refused.value.code == "unauthorized"
    assert "shpat" not in repr(creds)
