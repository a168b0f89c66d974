"""Realistic signed webhook deliveries for the demo, the benchmark and the tests.

The bodies follow the shape of Shopify's and WooCommerce's own samples (see
tests/fixtures/), trimmed to the fields a real order always carries.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from webhooks.signing import hmac_sha256_base64


@dataclass(frozen=True, slots=True)
class SignedDelivery:
    path: str
    headers: dict[str, str]
    body: bytes


def customer_id_for(email: str) -> int:
    """A stable fake platform customer id for an email (the demo has no real store)."""
    return int(hashlib.sha256(email.lower().encode()).hexdigest()[:12], 16)


def _money(value: Decimal, currency: str) -> dict[str, Any]:
    amount = {"amount": f"{value:.2f}", "currency_code": currency}
    return {"shop_money": amount, "presentment_money": amount}


def shopify_order(
    *,
    order_id: int,
    email: str | None,
    subtotal: Decimal,
    currency: str = "USD",
    shipping: Decimal = Decimal("0"),
    tax: Decimal = Decimal("0"),
    customer_id: int | None = None,
    financial_status: str = "paid",
    cancelled: bool = False,
    discount_codes: tuple[str, ...] = (),
    refunds: list[dict[str, Any]] | None = None,
    note_attributes: dict[str, str] | None = None,
    shipping_address: dict[str, str] | None = None,
) -> dict[str, Any]:
    total = subtotal + shipping + tax
    now = datetime.now(UTC).isoformat(timespec="seconds")
    customer = None
    if customer_id is not None:
        customer = {
            "id": customer_id,
            "email": email,
            "first_name": "Demo",
            "last_name": "Shopper",
            "state": "enabled",
            "currency": currency,
        }
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{order_id % 100000}",
        "email": email,
        "contact_email": email,
        "created_at": now,
        "processed_at": now,
        "updated_at": now,
        "cancelled_at": now if cancelled else None,
        "currency": currency,
        "presentment_currency": currency,
        "financial_status": financial_status,
        "taxes_included": False,
        "subtotal_price": f"{subtotal:.2f}",
        "subtotal_price_set": _money(subtotal, currency),
        "total_price": f"{total:.2f}",
        "total_price_set": _money(total, currency),
        "total_tax": f"{tax:.2f}",
        "total_tax_set": _money(tax, currency),
        "total_shipping_price_set": _money(shipping, currency),
        "total_discounts": "0.00",
        "discount_codes": [
            {"code": c, "amount": "0.00", "type": "fixed_amount"} for c in discount_codes
        ],
        "customer": customer,
        "line_items": [
            {
                "id": order_id * 10 + 1,
                "title": "Demo product",
                "name": "Demo product",
                "quantity": 1,
                "price": f"{subtotal:.2f}",
                "price_set": _money(subtotal, currency),
                "total_discount": "0.00",
                "total_discount_set": _money(Decimal(0), currency),
                "discount_allocations": [],
                "product_id": 1,
                "sku": "DEMO-1",
                "taxable": True,
            }
        ],
        "refunds": refunds or [],
        "note_attributes": [{"name": k, "value": v} for k, v in (note_attributes or {}).items()],
        "shipping_address": shipping_address,
    }


def shopify_refund(
    *,
    refund_id: int,
    order_id: int,
    line_item_id: int | None,
    subtotal: Decimal,
    currency: str = "USD",
) -> dict[str, Any]:
    """A refunds/create body: one refunded line, or money only when `line_item_id` is None."""
    lines = []
    if line_item_id is not None:
        lines = [
            {
                "id": refund_id * 10,
                "line_item_id": line_item_id,
                "quantity": 1,
                "subtotal": str(subtotal),
                "subtotal_set": _money(subtotal, currency),
                "total_tax": "0.00",
                "total_tax_set": _money(Decimal(0), currency),
            }
        ]
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return {
        "id": refund_id,
        "order_id": order_id,
        "created_at": now,
        "processed_at": now,
        "refund_line_items": lines,
        "refund_shipping_lines": [],
        "order_adjustments": [],
        "transactions": [
            {
                "id": refund_id + 1,
                "order_id": order_id,
                "kind": "refund",
                "status": "success",
                "amount": f"{subtotal:.2f}",
                "currency": currency,
            }
        ],
    }


def sign_shopify(
    payload: dict[str, Any] | bytes,
    *,
    topic: str,
    shop_domain: str,
    secret: str,
    delivery_id: str | None = None,
) -> SignedDelivery:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return SignedDelivery(
        path="/webhooks/shopify",
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": hmac_sha256_base64(secret, body),
            "X-Shopify-Shop-Domain": shop_domain,
            "X-Shopify-API-Version": "2026-07",
            "X-Shopify-Webhook-Id": delivery_id or str(uuid.uuid4()),
            "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
        },
        body=body,
    )


def sign_woocommerce(
    payload: dict[str, Any] | bytes,
    *,
    topic: str,
    source: str,
    secret: str,
    delivery_id: str | None = None,
) -> SignedDelivery:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    resource, _, event = topic.partition(".")
    return SignedDelivery(
        path="/webhooks/woocommerce",
        headers={
            "Content-Type": "application/json",
            "X-WC-Webhook-Source": source.rstrip("/") + "/",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": hmac_sha256_base64(secret, body),
            "X-WC-Webhook-ID": "1",
            "X-WC-Webhook-Delivery-ID": delivery_id or uuid.uuid4().hex,
        },
        body=body,
    )
