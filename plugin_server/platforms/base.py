"""What every platform client offers, and the errors it raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ShopCredentials:
    domain: str  # NAME.myshopify.com, or the WooCommerce store URL
    access_token: str | None = None
    consumer_key: str | None = None
    consumer_secret: str | None = None
    api_base_url: str | None = None  # a local sandbox instead of the shop's real address

    def __repr__(self) -> str:  # never print secrets in logs or tracebacks
        return f"ShopCredentials(domain={self.domain!r}, api_base_url={self.api_base_url!r})"


@dataclass(frozen=True, slots=True)
class DiscountSpec:
    """A single-use code for one customer, as the redemption asks the platform to create."""

    code: str
    title: str
    kind: str  # "fixed_amount" | "percentage" | "free_shipping"
    starts_at: datetime
    ends_at: datetime
    amount: Decimal | None = None
    currency: str | None = None
    percent: Decimal | None = None
    min_subtotal: Decimal | None = None
    customer_ref: str | None = None
    customer_email: str | None = None
    product_ids: tuple[str, ...] = ()
    collection_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IssuedDiscount:
    code: str
    platform_ref: str
    status: str = "active"


class PlatformError(Exception):
    """A platform call failed; `retryable` says whether trying again later can help."""

    retryable: bool = True

    def __init__(self, message: str, *, code: str = "platform_error") -> None:
        super().__init__(message)
        self.code = code


class PlatformUnavailable(PlatformError):
    """Timeouts, network errors and 5xx answers."""


class PlatformRateLimited(PlatformError):
    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message, code="rate_limited")
        self.retry_after_s = retry_after_s


class PlatformRejected(PlatformError):
    """The platform refused the request itself: retrying the same request cannot help."""

    retryable = False

    def __init__(self, message: str, *, code: str, field_path: tuple[str, ...] = ()) -> None:
        super().__init__(message, code=code)
        self.field_path = field_path


class CodeTaken(PlatformRejected):
    """The discount code already exists at the platform."""


@dataclass(frozen=True, slots=True)
class CollectionMembers:
    """A collection (Shopify) or product category (WooCommerce) and all its products' ids,
    as order lines name them."""

    title: str | None
    product_ids: tuple[str, ...]


class CollectionNotFound(PlatformRejected):
    """The store has no collection (or category) with that id."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="collection_not_found")


@dataclass
class CallLog:
    """Counts of what a client did, for tests and benchmarks (never holds secrets)."""

    attempts: int = 0
    throttled: int = 0
    sleeps: list[float] = field(default_factory=list)


class ShopPlatform(Protocol):
    def create_discount_code(
        self, creds: ShopCredentials, spec: DiscountSpec
    ) -> IssuedDiscount: ...

    def find_discount_code(self, creds: ShopCredentials, code: str) -> IssuedDiscount | None: ...

    def deactivate_discount(self, creds: ShopCredentials, platform_ref: str) -> None: ...

    def collection_products(
        self, creds: ShopCredentials, collection_ref: str, *, max_pages: int | None = None
    ) -> CollectionMembers: ...


# --- order reader: reconciliation polls and history backfills -------------------------------


@dataclass(frozen=True, slots=True)
class PlatformOrder:
    """One order as the platform describes it now, shaped as that platform's order webhook
    body (`payload`, JSON bytes) so it is normalised and applied by the webhook path.

    `topic` is the webhook topic whose handler reads the payload (Shopify: `orders/paid` once
    the order was paid, else `orders/create`; WooCommerce: `order.updated`)."""

    order_ref: str
    topic: str
    payload: bytes
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class OrderPage:
    """A page of orders and where the next one starts (None: this was the last page).

    The cursor is opaque to callers: Shopify's `endCursor`, WooCommerce's next page number."""

    orders: tuple[PlatformOrder, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class WebhookRepair:
    """What a subscription check found and did: topics re-created, webhooks re-activated."""

    checked: int
    recreated: tuple[str, ...] = ()
    reactivated: tuple[str, ...] = ()


class OrderReader(Protocol):
    """Reads a shop's orders page by page and keeps its order webhooks subscribed."""

    def orders_page(
        self,
        creds: ShopCredentials,
        *,
        cursor: str | None,
        updated_since: datetime | None = None,
    ) -> OrderPage:
        """One page of orders, oldest id first (`updated_since`: only orders changed since
        then). Paging is stable while new orders arrive: they land on later pages."""
        ...

    def repair_webhooks(
        self, creds: ShopCredentials, *, delivery_url: str, secret: str | None
    ) -> WebhookRepair:
        """Re-create our order webhooks the platform removed and re-activate disabled ones."""
        ...
