"""The platforms' own sample payloads, and realistic variants, normalise exactly."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

import webhooks
from plugin_server.domain.errors import MalformedPayload
from plugin_server.domain.orders import (
    CustomerEvent,
    IgnoredEvent,
    OrderEvent,
    Platform,
    ShopEvent,
)
from webhooks import shopify, woocommerce
from webhooks.base import parse_json_object

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def load(name: str) -> dict[str, Any]:
    return parse_json_object((FIXTURES / name).read_bytes())


def shopify_event(topic: str, payload: dict[str, Any]) -> Any:
    return webhooks.normalize(Platform.SHOPIFY, topic, json.dumps(payload, default=str).encode())


# --- Shopify samples -----------------------------------------------------------------


def test_shopify_orders_paid_sample() -> None:
    event = shopify.normalize("orders/paid", load("shopify/orders_paid.json"))
    assert isinstance(event, OrderEvent)
    assert event.order_ref == "820982911946154500"  # 64-bit id kept exact, never via float
    assert event.status == "paid"
    assert event.cancelled is True  # the generic sample carries cancelled_at
    assert event.totals is not None
    assert event.totals.currency == "USD"
    assert event.totals.subtotal == D("404.95")
    assert event.totals.shipping == D("10.00")
    assert event.totals.tax == D("0.00")
    assert event.totals.total == D("404.95")
    assert event.customer is not None
    assert event.customer.customer_ref == "115310627314723950"
    assert event.customer.email == "jon@example.com"
    assert event.name == "#9999"
    assert event.occurred_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)
    assert len(event.lines) == len(load("shopify/orders_paid.json")["line_items"])
    assert event.lines[0].subtotal == D("89.99")


def test_shopify_orders_cancelled_sample() -> None:
    event = shopify.normalize("orders/cancelled", load("shopify/orders_cancelled.json"))
    assert isinstance(event, OrderEvent)
    assert event.cancelled is True
    assert event.status == "voided"


def test_shopify_refunds_create_sample_sums_every_refunded_line_exactly() -> None:
    event = shopify.normalize("refunds/create", load("shopify/refunds_create.json"))
    assert isinstance(event, OrderEvent)
    assert event.order_ref == "820982911946154500"
    assert event.totals is None
    [refund] = event.refunds
    assert refund.refund_ref == "890088186047892400"
    assert refund.has_line_items is True
    assert refund.lines_subtotal == D("89.99") + D("19.99") + D("24.99") + D("159.99") + D("119.99")
    assert refund.tax == D("0")
    assert isinstance(refund.lines_subtotal, D)


@pytest.mark.parametrize("name", ["customers_create", "customers_update"])
def test_shopify_customer_samples(name: str) -> None:
    event = shopify.normalize(name.replace("_", "/"), load(f"shopify/{name}.json"))
    assert isinstance(event, CustomerEvent)
    assert event.customer.customer_ref == "706405506930370000"
    assert event.customer.email == "bob@biller.com"


def test_shopify_app_uninstalled_sample() -> None:
    event = shopify.normalize("app/uninstalled", load("shopify/app_uninstalled.json"))
    assert event == ShopEvent(platform=Platform.SHOPIFY, kind="app_uninstalled")


# --- Shopify variants ----------------------------------------------------------------


@pytest.fixture
def order() -> dict[str, Any]:
    o = copy.deepcopy(load("shopify/orders_paid.json"))
    o["cancelled_at"] = None
    o["cancel_reason"] = None
    o["financial_status"] = "paid"
    return o


def test_paid_order_variant_is_not_cancelled(order: dict[str, Any]) -> None:
    event = shopify_event("orders/paid", order)
    assert event.cancelled is False
    assert event.totals.subtotal == D("404.95")


def test_guest_checkout_has_an_email_but_no_customer_id(order: dict[str, Any]) -> None:
    order["customer"] = None
    order["email"] = "Guest@Example.COM"
    event = shopify_event("orders/paid", order)
    assert event.customer.customer_ref is None
    assert event.customer.email == "guest@example.com"


def test_discount_codes_are_kept(order: dict[str, Any]) -> None:
    order["discount_codes"] = [{"code": "LOYAL-7F3K9Q", "amount": "5.00", "type": "fixed_amount"}]
    assert shopify_event("orders/paid", order).discount_codes == ("LOYAL-7F3K9Q",)


def test_foreign_currency_earns_in_shop_money(order: dict[str, Any]) -> None:
    order["currency"] = "USD"
    order["presentment_currency"] = "EUR"
    order["subtotal_price_set"] = {
        "shop_money": {"amount": "100.00", "currency_code": "USD"},
        "presentment_money": {"amount": "92.00", "currency_code": "EUR"},
    }
    order["total_price_set"] = {
        "shop_money": {"amount": "110.00", "currency_code": "USD"},
        "presentment_money": {"amount": "101.20", "currency_code": "EUR"},
    }
    order["subtotal_price"] = "92.00"  # the plain field is in the buyer's currency
    totals = shopify_event("orders/paid", order).totals
    assert (totals.currency, totals.subtotal, totals.total) == ("USD", D("100.00"), D("110.00"))
    assert (totals.presentment_currency, totals.presentment_total) == ("EUR", D("101.20"))


def test_zero_total_order(order: dict[str, Any]) -> None:
    for key in ("subtotal_price", "total_price"):
        order[key] = "0.00"
        order[f"{key}_set"] = {"shop_money": {"amount": "0.00", "currency_code": "USD"}}
    totals = shopify_event("orders/paid", order).totals
    assert totals.subtotal == D("0.00")
    assert totals.total == D("0.00")


def test_tax_inclusive_prices_are_flagged(order: dict[str, Any]) -> None:
    order["taxes_included"] = True
    assert shopify_event("orders/paid", order).totals.taxes_included is True


def test_partial_refund_of_one_line_out_of_several() -> None:
    r = copy.deepcopy(load("shopify/refunds_create.json"))
    r["refund_line_items"] = r["refund_line_items"][1:2]
    [refund] = shopify_event("refunds/create", r).refunds
    assert refund.lines_subtotal == D("19.99")


def test_money_only_refund_uses_successful_refund_transactions() -> None:
    r = copy.deepcopy(load("shopify/refunds_create.json"))
    r["refund_line_items"] = []
    r["transactions"] = [
        {"id": 1, "kind": "refund", "status": "success", "amount": "75.00", "currency": "USD"},
        {"id": 2, "kind": "refund", "status": "failure", "amount": "10.00", "currency": "USD"},
        {"id": 3, "kind": "sale", "status": "success", "amount": "99.00", "currency": "USD"},
    ]
    [refund] = shopify_event("refunds/create", r).refunds
    assert refund.has_line_items is False
    assert (refund.amount, refund.amount_currency) == (D("75.00"), "USD")


def test_refunds_already_on_an_order_are_carried(order: dict[str, Any]) -> None:
    order["refunds"] = [load("shopify/refunds_create.json")]
    assert [r.refund_ref for r in shopify_event("orders/paid", order).refunds] == [
        "890088186047892400"
    ]


@pytest.mark.parametrize(
    ("topic", "mutate"),
    [
        ("orders/paid", lambda o: o.pop("id")),
        ("orders/paid", lambda o: o.update(subtotal_price_set=None, subtotal_price="abc")),
        ("orders/paid", lambda o: o.update(total_price_set=None, total_price=True)),
        ("orders/paid", lambda o: o.update(line_items="not a list")),
        ("orders/paid", lambda o: o.update(id=12.5)),
        ("customers/create", lambda o: o.clear()),
        ("refunds/create", lambda o: o.clear()),
    ],
)
def test_payloads_that_do_not_fit_raise_malformed(
    order: dict[str, Any], topic: str, mutate: Any
) -> None:
    mutate(order)
    with pytest.raises(MalformedPayload):
        shopify_event(topic, order)


@pytest.mark.parametrize("body", [b"", b"[]", b"not json", b'{"a": 1', b"\xff\xfe"])
def test_bodies_that_are_not_json_objects_raise_malformed(body: bytes) -> None:
    with pytest.raises(MalformedPayload):
        webhooks.normalize(Platform.SHOPIFY, "orders/paid", body)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("My-Shop.myshopify.com", "my-shop.myshopify.com"),
        (" shop1.myshopify.com ", "shop1.myshopify.com"),
        ("evil.com", None),
        ("x.myshopify.com.evil.com", None),
        ("https://shop.myshopify.com", None),
        ("-shop.myshopify.com", None),
        ("", None),
    ],
)
def test_shop_domain_validation(value: str, expected: str | None) -> None:
    assert shopify.normalize_shop_domain(value) == expected


# --- WooCommerce ---------------------------------------------------------------------


def test_woocommerce_order_sample() -> None:
    event = woocommerce.normalize("order.updated", load("woocommerce/order.json"))
    assert isinstance(event, OrderEvent)
    assert event.order_ref == "727"
    assert event.status == "processing"
    assert event.totals.subtotal == D("18.00")  # 6.00 + 12.00 line totals, before tax
    assert (event.totals.shipping, event.totals.tax, event.totals.total) == (
        D("10.00"),
        D("1.35"),
        D("29.35"),
    )
    assert event.customer.customer_ref is None  # customer_id 0: a guest
    assert event.customer.email == "john.doe@example.com"
    assert event.occurred_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert event.name == "#727"


@pytest.fixture
def woo() -> dict[str, Any]:
    return copy.deepcopy(load("woocommerce/order.json"))


def test_woocommerce_completed_registered_customer(woo: dict[str, Any]) -> None:
    woo.update(status="completed", customer_id=25)
    event = woocommerce.normalize("order.updated", woo)
    assert event.customer.customer_ref == "25"
    assert event.status == "completed"


def test_woocommerce_refunds_array_and_refunded_status(woo: dict[str, Any]) -> None:
    woo.update(status="refunded", refunds=[{"id": 726, "reason": "", "total": "-10.00"}])
    event = woocommerce.normalize("order.updated", woo)
    assert event.fully_refunded is True
    [refund] = event.refunds
    assert (refund.refund_ref, refund.amount, refund.has_line_items) == ("726", D("10.00"), False)


@pytest.mark.parametrize("status", ["cancelled", "failed", "trash"])
def test_woocommerce_void_statuses_cancel(woo: dict[str, Any], status: str) -> None:
    woo["status"] = status
    assert woocommerce.normalize("order.updated", woo).cancelled is True


@pytest.mark.parametrize("status", ["checkout-draft", "draft", "auto-draft"])
def test_woocommerce_drafts_are_ignored(woo: dict[str, Any], status: str) -> None:
    woo["status"] = status
    assert isinstance(woocommerce.normalize("order.created", woo), IgnoredEvent)


def test_woocommerce_order_deleted_cancels() -> None:
    event = woocommerce.normalize("order.deleted", {"id": 727})
    assert (event.order_ref, event.cancelled, event.totals) == ("727", True, None)


def test_woocommerce_coupon_lines_are_discount_codes(woo: dict[str, Any]) -> None:
    woo["coupon_lines"] = [{"id": 1, "code": "loyal-7f3k9q", "discount": "5.00"}]
    assert woocommerce.normalize("order.updated", woo).discount_codes == ("loyal-7f3k9q",)


def test_woocommerce_customer_created_sample() -> None:
    event = woocommerce.normalize("customer.created", load("woocommerce/customer_created.json"))
    assert isinstance(event, CustomerEvent)
    assert (event.customer.customer_ref, event.customer.email) == ("25", "john.doe@example.com")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda o: o.pop("id"),
        lambda o: o.pop("status"),
        lambda o: o.update(total="12,50"),
        lambda o: o.update(refunds=[{"id": 1, "total": False}]),
    ],
)
def test_woocommerce_malformed(woo: dict[str, Any], mutate: Any) -> None:
    mutate(woo)
    with pytest.raises(MalformedPayload):
        woocommerce.normalize("order.updated", woo)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://store.example.com/", "https://store.example.com"),
        ("https://Store.Example.com:443/shop/", "https://store.example.com/shop"),
        ("http://localhost:8080/", "http://localhost:8080"),
        ("javascript:alert(1)", None),
        ("ftp://store.example.com", None),
        ("https://user:pw@store.example.com", None),
        ("not a url", None),
    ],
)
def test_woocommerce_source_normalisation(value: str, expected: str | None) -> None:
    assert woocommerce.normalize_source(value) == expected


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({}, b"webhook_id=12", True),
        ({}, b"webhook_id=12\n", True),
        ({"X-WC-Webhook-Signature": "x"}, b"webhook_id=12", False),
        ({}, b"webhook_id=12&x=1", False),
        ({}, b'{"id": 1}', False),
    ],
)
def test_woocommerce_ping_detection(headers: dict[str, str], body: bytes, expected: bool) -> None:
    assert woocommerce.is_ping(headers, body) is expected
