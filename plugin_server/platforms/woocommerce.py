"""WooCommerce REST (wc/v3) client for coupons, webhooks, key checks, the products of a
category, and orders (read page by page for reconciliation and history backfills).

Requests go through WooCommerce's own `woocommerce` package, which signs them the way the
store expects (Basic auth over HTTPS, OAuth 1.0a over plain HTTP). It returns raw
`requests` responses and never raises on status, so this module adds the rest: timeouts,
retries with backoff for 5xx and network errors, `Retry-After` on 429, and WooCommerce's
error codes mapped to the exceptions the services understand.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import requests
from woocommerce import API

from plugin_server import metrics
from plugin_server.domain.collections import MAX_COLLECTION_PRODUCTS
from plugin_server.platforms.base import (
    CallLog,
    CodeTaken,
    CollectionMembers,
    CollectionNotFound,
    DiscountSpec,
    IssuedDiscount,
    OrderPage,
    PlatformOrder,
    PlatformRateLimited,
    PlatformRejected,
    PlatformUnavailable,
    ShopCredentials,
    WebhookRepair,
)

logger = logging.getLogger(__name__)

API_VERSION = "wc/v3"
USER_AGENT = "loyalty-app/1 (+https://github.com/)"
DUPLICATE_CODE = "woocommerce_rest_coupon_code_already_exists"
NO_SUCH_TERM = "woocommerce_rest_term_invalid"
PAGE_SIZE = 100  # WordPress REST caps per_page at 100
# Order bodies are large (lines, meta data, refunds): half a page keeps each answer quick.
ORDERS_PAGE = 50
# The webhooks every store gets at install, and that a subscription check keeps active.
WEBHOOK_TOPICS = ("order.created", "order.updated", "order.deleted", "customer.created")


def _money(value: Decimal | None) -> str:
    return "0" if value is None else f"{value:.2f}"


def _ids(values: tuple[str, ...], what: str) -> list[int]:
    try:
        return [int(v) for v in values]
    except ValueError:
        raise PlatformRejected(
            f"WooCommerce {what} must be numeric ids", code="invalid_ids"
        ) from None


class WooCommerceClient:
    def __init__(
        self,
        *,
        timeout_s: float = 10.0,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        max_retry_after_s: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_retry_after_s = max_retry_after_s
        self._sleep = sleep
        self.log = CallLog()

    def _api(self, creds: ShopCredentials) -> API:
        if not creds.consumer_key or not creds.consumer_secret:
            raise PlatformRejected("the store has no REST API keys", code="unauthorized")
        return API(
            url=creds.api_base_url or creds.domain,
            consumer_key=creds.consumer_key,
            consumer_secret=creds.consumer_secret,
            version=API_VERSION,
            timeout=self.timeout_s,
            user_agent=USER_AGENT,
        )

    def _call(
        self,
        creds: ShopCredentials,
        method: str,
        endpoint: str,
        data: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        return self._request(creds, method, endpoint, data, params).json()

    def _request(
        self,
        creds: ShopCredentials,
        method: str,
        endpoint: str,
        data: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> requests.Response:
        """One call with retries; the successful response (its headers carry the totals)."""
        api = self._api(creds)
        for attempt in range(self.max_retries + 1):
            self.log.attempts += 1
            last_try = attempt == self.max_retries
            try:
                # Never followed: a store could send us on to an address inside our network.
                kwargs: dict[str, Any] = {"params": dict(params or {}), "allow_redirects": False}
                with metrics.platform_call("woocommerce"):
                    if method in ("post", "put"):
                        response = getattr(api, method)(endpoint, data, **kwargs)
                    else:
                        response = getattr(api, method)(endpoint, **kwargs)
            except requests.Timeout:
                error: Exception = PlatformUnavailable("WooCommerce timed out", code="timeout")
            except requests.RequestException as exc:
                error = PlatformUnavailable(
                    f"WooCommerce unreachable ({type(exc).__name__})", code="network_error"
                )
            else:
                status = response.status_code
                if 300 <= status < 400:
                    raise PlatformRejected(
                        f"WooCommerce redirected the API call (HTTP {status}); set the store "
                        "URL to the address the REST API answers on",
                        code="redirected",
                    )
                if status < 400:
                    return response
                body = _json_or_empty(response)
                code = str(body.get("code") or f"http_{status}")
                message = str(body.get("message") or f"HTTP {status}")
                if status == 429:
                    metrics.PLATFORM_API_THROTTLED.labels("woocommerce").inc()
                    wait = _retry_after(response, default=self.backoff_s * 2**attempt)
                    if last_try or wait > self.max_retry_after_s:
                        raise PlatformRateLimited("WooCommerce rate limit", retry_after_s=wait)
                    self.log.sleeps.append(wait)
                    self._sleep(wait)
                    continue
                if status >= 500:
                    error = PlatformUnavailable(
                        f"WooCommerce answered {status}: {message}", code=code
                    )
                elif code == DUPLICATE_CODE:
                    raise CodeTaken(message, code="TAKEN")
                elif code == NO_SUCH_TERM:
                    raise CollectionNotFound(f"WooCommerce: {message}")
                elif status in (401, 403):
                    raise PlatformRejected(
                        f"WooCommerce refused the keys: {message}", code="unauthorized"
                    )
                else:
                    raise PlatformRejected(f"WooCommerce refused the request: {message}", code=code)
            if last_try:
                raise error
            wait = self.backoff_s * 2**attempt
            self.log.sleeps.append(wait)
            self._sleep(wait)
        raise AssertionError("unreachable")

    # --- discounts ---------------------------------------------------------------------

    @staticmethod
    def coupon(spec: DiscountSpec) -> dict[str, Any]:
        """The coupon body for one single-use code restricted to one shopper's email."""
        if not spec.customer_email:
            # Without an email WooCommerce cannot tie the coupon to the shopper.
            raise PlatformRejected("the customer has no email address", code="no_email")
        body: dict[str, Any] = {
            "code": spec.code,
            "description": spec.title,
            "usage_limit": 1,
            "usage_limit_per_user": 1,
            "individual_use": False,
            "email_restrictions": [spec.customer_email],
            # WooCommerce reads *_gmt in UTC, without an offset.
            "date_expires_gmt": spec.ends_at.astimezone(UTC)
            .replace(tzinfo=None)
            .isoformat(timespec="seconds"),
            "meta_data": [{"key": "_loyalty_redemption_code", "value": spec.code}],
        }
        if spec.kind == "percentage":
            body["discount_type"], body["amount"] = "percent", _money(spec.percent)
        elif spec.kind == "free_shipping":
            body["discount_type"], body["amount"], body["free_shipping"] = "fixed_cart", "0", True
        else:
            body["discount_type"], body["amount"] = "fixed_cart", _money(spec.amount)
        if spec.min_subtotal is not None:
            body["minimum_amount"] = _money(spec.min_subtotal)
        if spec.product_ids:
            body["product_ids"] = _ids(spec.product_ids, "product ids")
        if spec.collection_ids:
            body["product_categories"] = _ids(spec.collection_ids, "category ids")
        return body

    def create_discount_code(self, creds: ShopCredentials, spec: DiscountSpec) -> IssuedDiscount:
        created = self._call(creds, "post", "coupons", data=self.coupon(spec))
        return IssuedDiscount(code=spec.code, platform_ref=str(created["id"]))

    def find_discount_code(self, creds: ShopCredentials, code: str) -> IssuedDiscount | None:
        found = self._call(creds, "get", "coupons", params={"code": code, "per_page": 10})
        for coupon in found if isinstance(found, list) else []:
            # WooCommerce stores codes lower-cased and compares them case-insensitively.
            if str(coupon.get("code", "")).lower() == code.lower():
                return IssuedDiscount(
                    code=code, platform_ref=str(coupon["id"]), status=str(coupon.get("status"))
                )
        return None

    def deactivate_discount(self, creds: ShopCredentials, platform_ref: str) -> None:
        self._call(creds, "put", f"coupons/{int(platform_ref)}", data={"status": "draft"})

    # --- categories ----------------------------------------------------------------------

    def collection_products(
        self, creds: ShopCredentials, collection_ref: str, *, max_pages: int | None = None
    ) -> CollectionMembers:
        """Every product of a category (WooCommerce includes its subcategories' products),
        page by page until X-WP-TotalPages. CollectionNotFound if the store has no such
        category; PlatformUnavailable(code="more_pages") when `max_pages` (a quick
        attempt's budget) ends before the category does."""
        category = _ids((collection_ref,), "category ids")[0]
        found = self._call(creds, "get", f"products/categories/{category}")
        title = found.get("name") if isinstance(found, dict) else None
        products: list[str] = []
        page = 1
        while True:
            response = self._request(
                creds,
                "get",
                "products",
                params={"category": category, "per_page": PAGE_SIZE, "page": page, "_fields": "id"},
            )
            items = response.json()
            products.extend(str(p["id"]) for p in items if isinstance(p, dict) and "id" in p)
            if len(products) > MAX_COLLECTION_PRODUCTS:
                raise PlatformRejected(
                    f"the category holds more than {MAX_COLLECTION_PRODUCTS} products",
                    code="collection_too_large",
                )
            try:
                total_pages = int(response.headers.get("X-WP-TotalPages", "1"))
            except ValueError:
                total_pages = 1
            if page >= total_pages or not items:
                return CollectionMembers(title=title, product_ids=tuple(dict.fromkeys(products)))
            if max_pages is not None and page >= max_pages:
                raise PlatformUnavailable(
                    "the category has more pages than a quick attempt reads", code="more_pages"
                )
            page += 1

    # --- install -------------------------------------------------------------------------

    def verify_keys(self, creds: ShopCredentials) -> None:
        """One authenticated read: raises unless the keys work against this store."""
        self._call(creds, "get", "system_status")

    def plugin_public_key(self, creds: ShopCredentials) -> str | None:
        """The Loyalty Rewards plugin's token key, if the plugin is on this store."""
        base = (creds.api_base_url or creds.domain).rstrip("/")
        try:
            response = requests.get(
                f"{base}/wp-json/loyalty/v1/public-key",
                timeout=self.timeout_s,
                headers={"user-agent": USER_AGENT, "accept": "application/json"},
            )
        except requests.RequestException:
            return None
        if response.status_code != 200:
            return None
        key = _json_or_empty(response).get("public_key")
        return key if isinstance(key, str) else None

    def create_webhook(
        self, creds: ShopCredentials, *, topic: str, delivery_url: str, secret: str
    ) -> str:
        created = self._call(
            creds,
            "post",
            "webhooks",
            data={
                "name": f"Loyalty: {topic}",
                "topic": topic,
                "delivery_url": delivery_url,
                "secret": secret,
                "status": "active",
            },
        )
        return str(created["id"])

    # --- orders and webhooks ---------------------------------------------------------------

    def orders_page(
        self,
        creds: ShopCredentials,
        *,
        cursor: str | None,
        updated_since: datetime | None = None,
    ) -> OrderPage:
        """One page of the store's orders by ascending id (`updated_since`: modified since
        then, in GMT), each exactly the body an `order.updated` webhook delivers. The cursor
        is the page number; X-WP-TotalPages says whether another follows. A 429 or 503 is
        retried after Retry-After (PlatformRateLimited when it keeps asking us to wait)."""
        page = int(cursor or 1)
        params: dict[str, Any] = {
            "per_page": ORDERS_PAGE,
            "page": page,
            "orderby": "id",
            "order": "asc",
        }
        if updated_since is not None:
            params["modified_after"] = (
                updated_since.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
            )
            params["dates_are_gmt"] = "true"
        response = self._request(creds, "get", "orders", params=params)
        items = response.json()
        orders = []
        for order in items if isinstance(items, list) else []:
            created = _gmt(order.get("date_created_gmt"))
            updated = _gmt(order.get("date_modified_gmt")) or created
            if created is None or updated is None:
                logger.warning("order without dates skipped", extra={"order_ref": order.get("id")})
                continue
            orders.append(
                PlatformOrder(
                    order_ref=str(order["id"]),
                    topic="order.updated",
                    payload=json.dumps(order).encode(),
                    created_at=created,
                    updated_at=updated,
                )
            )
        try:
            total_pages = int(response.headers.get("X-WP-TotalPages", "1"))
        except ValueError:
            total_pages = 1
        more = page < total_pages and bool(items)
        return OrderPage(orders=tuple(orders), next_cursor=str(page + 1) if more else None)

    def repair_webhooks(
        self, creds: ShopCredentials, *, delivery_url: str, secret: str | None
    ) -> WebhookRepair:
        """Re-activate our webhooks WooCommerce disabled (after 5 failed deliveries it sets
        them `disabled` and never retries) and create those that are gone."""
        found = self._call(creds, "get", "webhooks", params={"per_page": PAGE_SIZE})
        ours: dict[str, dict[str, Any]] = {}
        for hook in found if isinstance(found, list) else []:
            if hook.get("delivery_url") != delivery_url or hook.get("topic") not in WEBHOOK_TOPICS:
                continue
            # Prefer an active one when a topic has several.
            if hook.get("status") == "active" or hook["topic"] not in ours:
                ours[hook["topic"]] = hook
        reactivated, recreated = [], []
        for topic in WEBHOOK_TOPICS:
            hook = ours.get(topic)
            if hook is None:
                if not secret:
                    raise PlatformRejected(
                        "the store has no webhook secret to sign with", code="no_webhook_secret"
                    )
                self.create_webhook(creds, topic=topic, delivery_url=delivery_url, secret=secret)
                recreated.append(topic)
            elif hook.get("status") != "active":
                self._call(creds, "put", f"webhooks/{int(hook['id'])}", data={"status": "active"})
                reactivated.append(topic)
        if reactivated or recreated:
            logger.warning(
                "repaired webhooks",
                extra={
                    "shop": creds.domain,
                    "reactivated": ",".join(reactivated),
                    "recreated": ",".join(recreated),
                },
            )
        return WebhookRepair(
            checked=len(WEBHOOK_TOPICS), recreated=tuple(recreated), reactivated=tuple(reactivated)
        )


def _gmt(value: object) -> datetime | None:
    """A WooCommerce `*_gmt` time (no offset, UTC) as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _json_or_empty(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(response: requests.Response, *, default: float) -> float:
    try:
        return max(float(response.headers.get("Retry-After", "")), 0.0)
    except ValueError:
        return default
