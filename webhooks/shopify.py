"""Shopify webhooks: topic handlers that turn REST-shaped payloads into domain events.

Amounts come from `*_set.shop_money` so points are earned in the shop's currency even when
the buyer paid in another one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from plugin_server.domain.errors import MalformedPayload
from plugin_server.domain.orders import (
    Customer,
    CustomerEvent,
    NormalizedEvent,
    OrderEvent,
    OrderLine,
    OrderTotals,
    Platform,
    PrivacyEvent,
    Refund,
    RefundLine,
    ShopEvent,
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
    shop_money,
    text,
    timestamp,
)
from webhooks.base import dispatch

_SHOP_DOMAIN = re.compile(r"[a-z0-9][a-z0-9-]*\.myshopify\.com")


def normalize_shop_domain(value: str) -> str | None:
    """The shop's `NAME.myshopify.com` in lower case, or None if it is anything else."""
    candidate = (value or "").strip().lower()
    return candidate if _SHOP_DOMAIN.fullmatch(candidate) else None


def _customer(order: Mapping[str, Any]) -> Customer | None:
    buyer = order.get("customer")
    address = email(order.get("email")) or email(order.get("contact_email"))
    if isinstance(buyer, Mapping) and buyer.get("id") is not None:
        return Customer(
            customer_ref=ref(buyer, "id", where="customer"),
            email=address or email(buyer.get("email")),
            first_name=text(buyer.get("first_name")),
            last_name=text(buyer.get("last_name")),
        )
    if address:
        return Customer(customer_ref=None, email=address)
    return None


def _totals(order: Mapping[str, Any]) -> OrderTotals:
    subtotal_set = order.get("subtotal_price_set")
    shop_currency = None
    if isinstance(subtotal_set, Mapping) and isinstance(subtotal_set.get("shop_money"), Mapping):
        shop_currency = subtotal_set["shop_money"].get("currency_code")
    currency = text(shop_currency) or text(order.get("currency"))
    if not currency:
        raise MalformedPayload("order currency is missing")
    if isinstance(order.get("total_shipping_price_set"), Mapping):
        shipping = shop_money(order, "total_shipping_price", field="total_shipping_price")
    else:
        shipping = sum(
            (
                money(line.get("price"), field="shipping_lines.price", default=ZERO)
                for line in items(order, "shipping_lines")
            ),
            ZERO,
        )
    total = shop_money(order, "total_price", field="total_price")
    presentment_currency = presentment_total = None
    total_set = order.get("total_price_set")
    if isinstance(total_set, Mapping) and isinstance(total_set.get("presentment_money"), Mapping):
        pm = total_set["presentment_money"]
        if pm.get("currency_code") and pm.get("currency_code") != currency:
            presentment_currency = text(pm.get("currency_code"))
            presentment_total = money(pm.get("amount"), field="total_price_set.presentment")
    return OrderTotals(
        currency=currency.upper(),
        subtotal=shop_money(order, "subtotal_price", field="subtotal_price"),
        shipping=shipping,
        tax=shop_money(order, "total_tax", field="total_tax", default=ZERO),
        total=total,
        taxes_included=order.get("taxes_included") is True,
        presentment_currency=presentment_currency,
        presentment_total=presentment_total,
    )


def _line(line: Mapping[str, Any]) -> OrderLine:
    quantity = line.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise MalformedPayload("line_items.quantity is not an integer")
    price = shop_money(line, "price", field="line_items.price")
    discount = shop_money(line, "total_discount", field="line_items.total_discount", default=ZERO)
    allocated = sum(
        (
            shop_money(a, "amount", field="discount_allocations.amount")
            for a in items(line, "discount_allocations", where="line_items")
        ),
        ZERO,
    )
    # Shopify reports an order-level discount either in total_discount or as allocations,
    # depending on the API version; never subtract the same discount twice.
    return OrderLine(
        line_ref=ref(line, "id", where="line_items"),
        title=text(line.get("title")) or text(line.get("name")) or "",
        quantity=quantity,
        subtotal=price * quantity - max(discount, allocated),
        product_ref=optional_ref(line.get("product_id")),
        variant_ref=optional_ref(line.get("variant_id")),
        tax=sum(
            (
                shop_money(t, "price", field="line_items.tax_lines.price", default=ZERO)
                for t in items(line, "tax_lines", where="line_items")
            ),
            ZERO,
        ),
    )


def _refund_line(line: Mapping[str, Any]) -> RefundLine | None:
    """A refunded line with the order line it refunds (`line_item_id`, else the embedded
    `line_item.id`); None when neither is there."""
    embedded = line.get("line_item")
    line_ref = optional_ref(line.get("line_item_id"))
    if line_ref is None and isinstance(embedded, Mapping):
        line_ref = optional_ref(embedded.get("id"))
    if line_ref is None:
        return None
    return RefundLine(
        line_ref=line_ref,
        subtotal=shop_money(line, "subtotal", field="refund_line_items.subtotal"),
        tax=shop_money(line, "total_tax", field="refund_line_items.total_tax", default=ZERO),
    )


def _refund(refund: Mapping[str, Any]) -> Refund:
    lines = items(refund, "refund_line_items", where="refund")
    transactions = [
        t
        for t in items(refund, "transactions", where="refund")
        if t.get("kind") == "refund" and t.get("status") == "success"
    ]
    currencies = {text(t.get("currency")) for t in transactions} - {None}
    refund_lines = [_refund_line(line) for line in lines]
    return Refund(
        refund_ref=ref(refund, "id", where="refund"),
        lines_subtotal=sum(
            (shop_money(line, "subtotal", field="refund_line_items.subtotal") for line in lines),
            ZERO,
        ),
        tax=sum(
            (
                shop_money(line, "total_tax", field="refund_line_items.total_tax", default=ZERO)
                for line in lines
            ),
            ZERO,
        ),
        shipping=sum(
            (
                shop_money(s, "subtotal_amount", field="refund_shipping_lines", default=ZERO)
                for s in items(refund, "refund_shipping_lines")
            ),
            ZERO,
        ),
        amount=sum(
            (money(t.get("amount"), field="transactions.amount") for t in transactions), ZERO
        ),
        amount_currency=currencies.pop() if len(currencies) == 1 else None,
        has_line_items=bool(lines),
        occurred_at=timestamp(refund.get("processed_at")) or timestamp(refund.get("created_at")),
        lines=(
            tuple(r for r in refund_lines if r is not None)
            if all(r is not None for r in refund_lines)
            else ()
        ),
    )


def _order_event(order: Mapping[str, Any], *, status: str | None, cancelled: bool) -> OrderEvent:
    codes = tuple(c for c in (text(d.get("code")) for d in items(order, "discount_codes")) if c)
    return OrderEvent(
        platform=Platform.SHOPIFY,
        order_ref=ref(order, "id", where="order"),
        status=status,
        customer=_customer(order),
        totals=_totals(order),
        lines=tuple(_line(line) for line in items(order, "line_items", where="order")),
        discount_codes=codes,
        refunds=tuple(_refund(r) for r in items(order, "refunds", where="order")),
        cancelled=cancelled,
        occurred_at=(
            timestamp(order.get("processed_at"))
            or timestamp(order.get("updated_at"))
            or timestamp(order.get("created_at"))
        ),
        name=text(order.get("name"), 64),
        attributes=attributes(items(order, "note_attributes"), "name"),
        shipping_address=address_parts(
            order.get("shipping_address"), "address1", "address2", "city", "zip", "country_code"
        ),
    )


def _orders_paid(payload: Mapping[str, Any]) -> NormalizedEvent:
    # The delivery itself is the payment; financial_status may already have moved on
    # (e.g. partially_refunded) by the time Shopify serialised the order.
    return _order_event(payload, status="paid", cancelled=payload.get("cancelled_at") is not None)


def _orders_create(payload: Mapping[str, Any]) -> NormalizedEvent:
    # Subscribed for the discount codes an order carries (a redeemed code is used the
    # moment the order is placed); it earns only if the order is already paid.
    return _order_event(
        payload,
        status=text(payload.get("financial_status"), 40),
        cancelled=payload.get("cancelled_at") is not None,
    )


def _orders_cancelled(payload: Mapping[str, Any]) -> NormalizedEvent:
    return _order_event(payload, status=text(payload.get("financial_status"), 40), cancelled=True)


def _refunds_create(payload: Mapping[str, Any]) -> NormalizedEvent:
    refund = _refund(payload)
    return OrderEvent(
        platform=Platform.SHOPIFY,
        order_ref=ref(payload, "order_id", where="refund"),
        status=None,
        refunds=(refund,),
        occurred_at=refund.occurred_at,
    )


def _customer_event(payload: Mapping[str, Any]) -> NormalizedEvent:
    return CustomerEvent(
        platform=Platform.SHOPIFY,
        customer=Customer(
            customer_ref=ref(payload, "id", where="customer"),
            email=email(payload.get("email")),
            first_name=text(payload.get("first_name")),
            last_name=text(payload.get("last_name")),
        ),
    )


def _app_uninstalled(payload: Mapping[str, Any]) -> NormalizedEvent:
    return ShopEvent(platform=Platform.SHOPIFY, kind="app_uninstalled")


def _privacy(kind: str, orders_key: str | None) -> Callable[[Mapping[str, Any]], NormalizedEvent]:
    def handler(payload: Mapping[str, Any]) -> NormalizedEvent:
        customer = None
        buyer = payload.get("customer")
        if isinstance(buyer, Mapping):
            customer = Customer(
                customer_ref=optional_ref(buyer.get("id")), email=email(buyer.get("email"))
            )
            if customer.customer_ref is None and customer.email is None:
                raise MalformedPayload("customer has neither id nor email")
        elif kind != "shop_redact":
            raise MalformedPayload("customer is missing")
        orders = payload.get(orders_key) if orders_key else None
        if orders is not None and not isinstance(orders, list):
            raise MalformedPayload(f"{orders_key} is not a list")
        request = payload.get("data_request")
        return PrivacyEvent(
            platform=Platform.SHOPIFY,
            kind=kind,
            customer=customer,
            order_refs=tuple(r for r in (optional_ref(o) for o in orders or []) if r),
            request_ref=optional_ref(request.get("id")) if isinstance(request, Mapping) else None,
        )

    return handler


# Shopify's mandatory privacy topics: accepted even from a shop that uninstalled the app.
COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})

TOPIC_HANDLERS: dict[str, Callable[[Mapping[str, Any]], NormalizedEvent]] = {
    "customers/data_request": _privacy("data_request", "orders_requested"),
    "customers/redact": _privacy("customer_redact", "orders_to_redact"),
    "shop/redact": _privacy("shop_redact", None),
    "orders/create": _orders_create,
    "orders/paid": _orders_paid,
    "orders/cancelled": _orders_cancelled,
    "refunds/create": _refunds_create,
    "customers/create": _customer_event,
    "customers/update": _customer_event,
    "app/uninstalled": _app_uninstalled,
}
HANDLED_TOPICS = frozenset(TOPIC_HANDLERS)


def normalize(topic: str, payload: Mapping[str, Any]) -> NormalizedEvent:
    """The domain event for a handled topic; MalformedPayload if the payload does not fit."""
    return dispatch(TOPIC_HANDLERS, topic, payload)
