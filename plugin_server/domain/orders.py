"""The internal order contract that both platforms' webhooks are normalised into.

Ledger code only ever sees these values, never platform JSON. Money is `Decimal` in the
order's shop currency; times are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal("0")


class Platform(StrEnum):
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"


@dataclass(frozen=True, slots=True)
class OrderLine:
    line_ref: str
    title: str
    quantity: int
    # Line price x quantity after line-level and allocated order discounts, before tax.
    subtotal: Decimal
    product_ref: str | None = None
    # The line's tax (shop currency); inside `subtotal` when the shop's prices include tax.
    tax: Decimal = ZERO
    variant_ref: str | None = None  # the product variant (WooCommerce: variation), if any


@dataclass(frozen=True, slots=True)
class RefundLine:
    """One refunded line: which order line, and its refunded subtotal and tax."""

    line_ref: str
    subtotal: Decimal
    tax: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Refund:
    """One refund as the platform reported it, kept as facts until the order is known."""

    refund_ref: str
    # Subtotal of the refunded line items (after discounts, before tax). Zero if none.
    lines_subtotal: Decimal = ZERO
    shipping: Decimal = ZERO
    tax: Decimal = ZERO
    # Money actually returned, in `amount_currency`; used for refunds without line items.
    amount: Decimal = ZERO
    amount_currency: str | None = None
    has_line_items: bool = False
    occurred_at: datetime | None = None
    # The refunded lines one by one, when the platform names them (empty otherwise, or when
    # any refunded line lacks its order line's id): exclusions and campaigns use them.
    lines: tuple[RefundLine, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderTotals:
    """What the order was worth when the platform last described it (shop currency)."""

    currency: str
    subtotal: Decimal  # after discounts, excluding shipping and tax
    shipping: Decimal
    tax: Decimal
    total: Decimal
    taxes_included: bool = False
    # The buyer's currency and total, when it differs from the shop's (multi-currency).
    presentment_currency: str | None = None
    presentment_total: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Customer:
    customer_ref: str | None  # platform customer id; None for a guest checkout
    email: str | None
    first_name: str | None = None
    last_name: str | None = None


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """Everything one webhook told us about one order.

    `status` is the platform's own order state (Shopify: `paid` for an `orders/paid`
    delivery, otherwise `financial_status`; WooCommerce: the order `status`); the shop's
    earning rules decide which states award points. `totals` is None when the delivery
    carries no order amounts (Shopify `refunds/create`, WooCommerce `order.deleted`).
    """

    platform: Platform
    order_ref: str
    status: str | None
    customer: Customer | None = None
    totals: OrderTotals | None = None
    lines: tuple[OrderLine, ...] = ()
    discount_codes: tuple[str, ...] = ()
    refunds: tuple[Refund, ...] = ()
    cancelled: bool = False
    fully_refunded: bool = False
    occurred_at: datetime | None = None
    name: str | None = None  # the order number a merchant recognises, e.g. "#1001"
    # Cart/order attributes (Shopify note_attributes, WooCommerce meta_data): name -> value.
    attributes: tuple[tuple[str, str], ...] = ()
    # Street lines, city, postcode, country of the shipping address (compared, not kept).
    shipping_address: tuple[str | None, ...] | None = None


@dataclass(frozen=True, slots=True)
class CustomerEvent:
    """A customer created or updated at the platform."""

    platform: Platform
    customer: Customer


@dataclass(frozen=True, slots=True)
class ShopEvent:
    """A shop-level lifecycle event (for now only `app/uninstalled`)."""

    platform: Platform
    kind: str


@dataclass(frozen=True, slots=True)
class PrivacyEvent:
    """A privacy-law duty: export a customer's data, erase it, or erase the whole shop."""

    platform: Platform
    kind: str  # "data_request" | "customer_redact" | "shop_redact"
    customer: Customer | None = None
    order_refs: tuple[str, ...] = ()
    request_ref: str | None = None


@dataclass(frozen=True, slots=True)
class IgnoredEvent:
    """A delivery we understood but that changes nothing (e.g. a draft order)."""

    reason: str
    details: dict[str, str] = field(default_factory=dict)


NormalizedEvent = OrderEvent | CustomerEvent | ShopEvent | PrivacyEvent | IgnoredEvent
