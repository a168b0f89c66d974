"""WooCommerce webhooks: the payload is the order's current state at delivery time.

There is no refund topic and no "previous status": refunds arrive as `order.updated` with a
grown `refunds` array, so every delivery is merged as facts (see services.order_points).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from plugin_server.domain.errors import MalformedPayload
from plugin_server.domain.orders import (
    Customer,
    CustomerEvent,
    IgnoredEvent,
    NormalizedEvent,
    OrderEvent,
    OrderLine,
    OrderTotals,
    Platform,
    Refund,
    RefundLine,
)
from webhooks._values import (
    ZERO,
    address_parts,
    attributes,
    email,
    items,
    money,
    optional_ref,
    ref,
    text,
    timestamp,
)
from webhooks.base import dispatch

# Orders WooCommerce has not really placed yet (block checkout keeps a checkout-draft).
DRAFT_STATUSES = frozenset({"draft", "auto-draft", "new", "checkout-draft"})
VOID_STATUSES = frozenset({"cancelled", "failed", "trash"})
_PING = re.compile(rb"webhook_id=\d+")


def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    """WooCommerce's unsigned 'webhook created' ping: form body `webhook_id=N`, no signature."""
    return headers.get("X-WC-Webhook-Signature") is None and bool(_PING.fullmatch(body.strip()))


def normalize_source(value: str) -> str | None:
    """The store's base URL as we key shops by it: scheme://host[:port][/path], no slash."""
    try:
        parts = urlsplit((value or "").strip())
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        return None
    if not re.fullmatch(r"[a-z0-9.-]+|\[[0-9a-f:]+\]", host):
        return None
    default_port = {"http": 80, "https": 443}[parts.scheme]
    netloc = host if port in (None, default_port) else f"{host}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def _customer(order: Mapping[str, Any]) -> Customer | None:
    billing = order.get("billing")
    billing = billing if isinstance(billing, Mapping) else {}
    customer_ref = optional_ref(order.get("customer_id"))
    address = email(billing.get("email"))
    if customer_ref is None and address is None:
        return None
    return Customer(
        customer_ref=customer_ref,
        email=address,
        first_name=text(billing.get("first_name")),
        last_name=text(billing.get("last_name")),
    )


def _order(payload: Mapping[str, Any]) -> NormalizedEvent:
    status = text(payload.get("status"), 40)
    if status is None:
        raise MalformedPayload("order.status is missing")
    order_ref = ref(payload, "id", where="order")
    if status in DRAFT_STATUSES:
        return IgnoredEvent(reason=f"{status} order", details={"order": order_ref})
    currency = text(payload.get("currency"))
    if not currency:
        raise MalformedPayload("order.currency is missing")
    lines = tuple(
        OrderLine(
            line_ref=ref(line, "id", where="line_items"),
            title=text(line.get("name")) or "",
            quantity=int(money(line.get("quantity"), field="line_items.quantity")),
            # `total` is after coupons and before tax (WooCommerce keeps tax apart).
            subtotal=money(line.get("total"), field="line_items.total"),
            product_ref=optional_ref(line.get("product_id")),
            tax=money(line.get("total_tax"), field="line_items.total_tax", default=ZERO),
            variant_ref=optional_ref(line.get("variation_id")),
        )
        for line in items(payload, "line_items", where="order")
    )
    refunds = tuple(_refund(r, currency.upper()) for r in items(payload, "refunds", where="order"))
    codes = tuple(c for c in (text(c.get("code")) for c in items(payload, "coupon_lines")) if c)
    number = text(payload.get("number"), 60)
    return OrderEvent(
        platform=Platform.WOOCOMMERCE,
        order_ref=order_ref,
        status=status,
        customer=_customer(payload),
        totals=OrderTotals(
            currency=currency.upper(),
            subtotal=sum((line.subtotal for line in lines), ZERO),
            shipping=money(payload.get("shipping_total"), field="shipping_total", default=ZERO),
            tax=money(payload.get("total_tax"), field="total_tax", default=ZERO),
            total=money(payload.get("total"), field="total"),
            taxes_included=False,
        ),
        lines=lines,
        discount_codes=codes,
        refunds=refunds,
        cancelled=status in VOID_STATUSES,
        fully_refunded=status == "refunded",
        occurred_at=(
            timestamp(payload.get("date_paid_gmt"))
            or timestamp(payload.get("date_modified_gmt"))
            or timestamp(payload.get("date_created_gmt"))
        ),
        name=f"#{number}" if number else None,
        attributes=attributes(items(payload, "meta_data"), "key"),
        shipping_address=address_parts(
            payload.get("shipping"), "address_1", "address_2", "city", "postcode", "country"
        ),
    )


def _refunded_item(line: Mapping[str, Any]) -> str | None:
    # WooCommerce keeps the refunded order line's id as the refund line's
    # `_refunded_item_id` meta; the refund line's own `id` is a new item id.
    for meta in items(line, "meta_data", where="refunds.line_items"):
        if meta.get("key") in ("_refunded_item_id", "refunded_item_id"):
            return optional_ref(meta.get("value"))
    return optional_ref(line.get("refunded_item_id"))


def _refund(refund: Mapping[str, Any], currency: str) -> Refund:
    """An order's refund. The order payload lists refunds by id and total only; a refund
    shaped like the refunds endpoint's (with `line_items`) also says which lines it gave
    back, and then counts by line (amounts are negative there)."""
    amount = abs(money(refund.get("total", refund.get("amount")), field="refunds.total"))
    lines = items(refund, "line_items", where="refunds")
    if not lines:
        return Refund(
            refund_ref=ref(refund, "id", where="refunds"),
            amount=amount,
            amount_currency=currency,
        )
    refs = [_refunded_item(line) for line in lines]
    subtotals = [abs(money(line.get("total"), field="refunds.line_items.total")) for line in lines]
    taxes = [
        abs(money(line.get("total_tax"), field="refunds.line_items.total_tax", default=ZERO))
        for line in lines
    ]
    return Refund(
        refund_ref=ref(refund, "id", where="refunds"),
        lines_subtotal=sum(subtotals, ZERO),
        tax=sum(taxes, ZERO),
        amount=amount,
        amount_currency=currency,
        has_line_items=True,
        occurred_at=timestamp(refund.get("date_created_gmt")),
        lines=(
            tuple(
                RefundLine(line_ref=r, subtotal=s, tax=t)
                for r, s, t in zip(refs, subtotals, taxes, strict=True)
                if r is not None
            )
            if all(r is not None for r in refs)
            else ()
        ),
    )


def _order_deleted(payload: Mapping[str, Any]) -> NormalizedEvent:
    # Deleted (trashed) orders carry only {"id": N}; treat them as cancelled.
    return OrderEvent(
        platform=Platform.WOOCOMMERCE,
        order_ref=ref(payload, "id", where="order"),
        status=None,
        cancelled=True,
    )


def _customer_created(payload: Mapping[str, Any]) -> NormalizedEvent:
    return CustomerEvent(
        platform=Platform.WOOCOMMERCE,
        customer=Customer(
            customer_ref=ref(payload, "id", where="customer"),
            email=email(payload.get("email")),
            first_name=text(payload.get("first_name")),
            last_name=text(payload.get("last_name")),
        ),
    )


TOPIC_HANDLERS: dict[str, Callable[[Mapping[str, Any]], NormalizedEvent]] = {
    "order.created": _order,
    "order.updated": _order,
    "order.deleted": _order_deleted,
    "customer.created": _customer_created,
}
HANDLED_TOPICS = frozenset(TOPIC_HANDLERS)


def normalize(topic: str, payload: Mapping[str, Any]) -> NormalizedEvent:
    """The domain event for a handled topic; MalformedPayload if the payload does not fit."""
    return dispatch(TOPIC_HANDLERS, topic, payload)
