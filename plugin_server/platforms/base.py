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
