"""Shopify Admin GraphQL client: discount codes, the products of a collection, orders (read
page by page for reconciliation and history backfills) and the shop's webhook subscriptions.

Requests go through Shopify's own `shopifyapp` package (`admin_graphql_request`: it honours
`Retry-After` on 429 and retries 5xx); this module adds what it leaves to the app: an HTTP
client with our timeouts (pointed at a local sandbox when the shop has an `api_base_url`),
waiting out GraphQL `THROTTLED` from the cost extensions, and mapping `userErrors` to
exceptions the services understand.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from shopify_app import admin_graphql_request

from plugin_server import metrics
from plugin_server.domain.collections import MAX_COLLECTION_PRODUCTS, product_ref_from_gid
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

API_VERSION = "2026-07"  # pinned: the schema the sandbox validates against

CREATE_BASIC = """
mutation LoyaltyCreateCode($input: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $input) {
    codeDiscountNode { id }
    userErrors { field code message }
  }
}
"""
CREATE_FREE_SHIPPING = """
mutation LoyaltyCreateFreeShipping($input: DiscountCodeFreeShippingInput!) {
  discountCodeFreeShippingCreate(freeShippingCodeDiscount: $input) {
    codeDiscountNode { id }
    userErrors { field code message }
  }
}
"""
FIND_BY_CODE = """
query LoyaltyFindCode($code: String!) {
  codeDiscountNodeByCode(code: $code) {
    id
    codeDiscount {
      ... on DiscountCodeBasic { status }
      ... on DiscountCodeFreeShipping { status }
    }
  }
}
"""
DEACTIVATE = """
mutation LoyaltyDeactivate($id: ID!) {
  discountCodeDeactivate(id: $id) { userErrors { field code message } }
}
"""

# 250 is the most a connection page may hold; a page of ids costs ~252 points of the bucket.
COLLECTION_PAGE = 250
COLLECTION_PRODUCTS = """
query LoyaltyCollectionProducts($id: ID!, $first: Int!, $after: String) {
  collection(id: $id) {
    id
    title
    products(first: $first, after: $after, sortKey: ID) {
      pageInfo { hasNextPage endCursor }
      nodes { id }
    }
  }
}
"""


class _SandboxTransport(httpx.BaseTransport):
    """Sends requests meant for NAME.myshopify.com to a local sandbox instead."""

    def __init__(self, base_url: str, shop_domain: str) -> None:
        parts = urlsplit(base_url)
        self._scheme, self._host = parts.scheme, parts.hostname or "127.0.0.1"
        self._port = parts.port
        self._shop = shop_domain
        self._inner = httpx.HTTPTransport(verify=False)  # plain http on 127.0.0.1

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(
            scheme=self._scheme,
            host=self._host,
            port=self._port,
            params=request.url.params.set("shop", self._shop),
        )
        request.headers["Host"] = request.url.netloc.decode()
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def _gid(kind: str, ref: str) -> str:
    return ref if ref.startswith("gid://") else f"gid://shopify/{kind}/{ref}"


class ShopifyClient:
    def __init__(
        self,
        *,
        api_version: str = API_VERSION,
        timeout_s: float = 10.0,
        max_retries: int = 2,
        max_throttle_waits: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_version = api_version
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.max_throttle_waits = max_throttle_waits
        self._sleep = sleep
        self.log = CallLog()
        self._clients: dict[tuple[str | None, str | None], httpx.Client] = {}
        self._clients_lock = threading.Lock()

    def _http(self, creds: ShopCredentials) -> httpx.Client:
        """A pooled client, kept for reuse: building one loads the CA bundle (~20 ms) and
        a kept one reuses its connections to the shop."""
        key = (creds.api_base_url, creds.domain if creds.api_base_url else None)
        with self._clients_lock:
            client = self._clients.get(key)
            if client is None:
                transport = (
                    _SandboxTransport(creds.api_base_url, creds.domain)
                    if creds.api_base_url
                    else None
                )
                client = httpx.Client(timeout=self.timeout_s, transport=transport)
                self._clients[key] = client
            return client

    def _call(
        self, creds: ShopCredentials, query: str, variables: dict[str, Any]
    ) -> dict[str, Any]:
        return self._call_with_cost(creds, query, variables)[0]

    def _call_with_cost(
        self, creds: ShopCredentials, query: str, variables: dict[str, Any]
    ) -> tuple[dict[str, Any], Any]:
        """The data and the `extensions` (query cost, throttle status) of one call."""
        if not creds.access_token:
            raise PlatformRejected("the shop has no access token", code="unauthorized")
        shop_name = creds.domain.removesuffix(".myshopify.com")
        for throttle_wait in range(self.max_throttle_waits + 1):
            self.log.attempts += 1
            with metrics.platform_call("shopify"):
                result = admin_graphql_request(
                    query,
                    shop=shop_name,
                    access_token=creds.access_token,
                    api_version=self.api_version,
                    variables=variables,
                    max_retries=self.max_retries,
                    http_client=self._http(creds),
                )
            if result.ok:
                return result.data or {}, result.extensions
            code, status = result.log.code, result.response.status
            if code == "graphql_errors":
                body = json.loads(result.response.body or "{}")
                errors = body.get("errors") or []
                if any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors):
                    wait = self._throttle_wait(body.get("extensions"))
                    self.log.throttled += 1
                    metrics.PLATFORM_API_THROTTLED.labels("shopify").inc()
                    if throttle_wait < self.max_throttle_waits:
                        self.log.sleeps.append(wait)
                        self._sleep(wait)
                        continue
                    raise PlatformRateLimited("Shopify kept throttling", retry_after_s=wait)
                messages = "; ".join(str(e.get("message")) for e in errors)
                raise PlatformRejected(
                    f"Shopify refused the query: {messages}", code="graphql_errors"
                )
            if code == "rate_limited":
                metrics.PLATFORM_API_THROTTLED.labels("shopify").inc()
                retry_after = float(result.response.headers.get("retry-after", 1) or 1)
                raise PlatformRateLimited("Shopify rate limit", retry_after_s=retry_after)
            if code == "network_error" or status >= 500:
                raise PlatformUnavailable(f"Shopify unavailable ({code})", code=code)
            if status == 401:
                raise PlatformRejected("Shopify refused the access token", code="unauthorized")
            raise PlatformRejected(f"Shopify answered HTTP {status}", code=f"http_{status}")
        raise AssertionError("unreachable")

    @staticmethod
    def _pace(extensions: Any) -> float:
        """Seconds to wait before asking for another page as costly as the last, so long
        pagination drains the bucket no further than Shopify refills it (0: go on)."""
        try:
            cost = extensions["cost"]
            status = cost["throttleStatus"]
            needed = float(cost["requestedQueryCost"])
            missing = needed - float(status["currentlyAvailable"])
            if missing <= 0:
                return 0.0
            return min(missing / float(status["restoreRate"]), 10.0)
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            return 0.0

    @staticmethod
    def _throttle_wait(extensions: Any) -> float:
        """Seconds until the bucket holds enough for the request again."""
        try:
            cost = extensions["cost"]
            status = cost["throttleStatus"]
            missing = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
            return min(max(missing / float(status["restoreRate"]), 0.05), 10.0)
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            return 1.0

    @staticmethod
    def _input(spec: DiscountSpec) -> dict[str, Any]:
        data: dict[str, Any] = {
            "title": spec.title,
            "code": spec.code,
            "startsAt": spec.starts_at.isoformat(),
            "endsAt": spec.ends_at.isoformat(),
            "usageLimit": 1,
            "appliesOncePerCustomer": True,
            "context": (
                {"customers": {"add": [_gid("Customer", spec.customer_ref)]}}
                if spec.customer_ref
                else {"all": "ALL"}
            ),
        }
        if spec.min_subtotal is not None:
            data["minimumRequirement"] = {
                "subtotal": {"greaterThanOrEqualToSubtotal": str(spec.min_subtotal)}
            }
        if spec.kind == "free_shipping":
            data["destination"] = {"all": True}
            return data
        if spec.product_ids:
            items: dict[str, Any] = {
                "products": {"productsToAdd": [_gid("Product", p) for p in spec.product_ids]}
            }
        elif spec.collection_ids:
            items = {"collections": {"add": [_gid("Collection", c) for c in spec.collection_ids]}}
        else:
            items = {"all": True}
        if spec.kind == "percentage":
            assert spec.percent is not None
            value: dict[str, Any] = {"percentage": float(spec.percent / 100)}
        else:
            value = {"discountAmount": {"amount": str(spec.amount), "appliesOnEachItem": False}}
        data["customerGets"] = {"value": value, "items": items}
        return data

    def graphql(
        self, creds: ShopCredentials, query: str, variables: dict[str, Any]
    ) -> dict[str, Any]:
        """Any Admin GraphQL call, with the same retries, throttling and error mapping."""
        return self._call(creds, query, variables)

    def create_discount_code(self, creds: ShopCredentials, spec: DiscountSpec) -> IssuedDiscount:
        """Create a single-use code for one customer; CodeTaken if the code exists already."""
        free = spec.kind == "free_shipping"
        data = self._call(
            creds, CREATE_FREE_SHIPPING if free else CREATE_BASIC, {"input": self._input(spec)}
        )
        payload = data["discountCodeFreeShippingCreate" if free else "discountCodeBasicCreate"]
        errors = payload.get("userErrors") or []
        if errors:
            first = errors[0]
            error_class = (
                CodeTaken if any(e.get("code") == "TAKEN" for e in errors) else (PlatformRejected)
            )
            raise error_class(
                "; ".join(e.get("message", "") for e in errors),
                code=(first.get("code") or "invalid").lower(),
                field_path=tuple(first.get("field") or ()),
            )
        return IssuedDiscount(code=spec.code, platform_ref=payload["codeDiscountNode"]["id"])

    def find_discount_code(self, creds: ShopCredentials, code: str) -> IssuedDiscount | None:
        """The code's discount if it exists (used before creating again after a crash)."""
        node = self._call(creds, FIND_BY_CODE, {"code": code}).get("codeDiscountNodeByCode")
        if not node:
            return None
        status = ((node.get("codeDiscount") or {}).get("status") or "ACTIVE").lower()
        return IssuedDiscount(code=code, platform_ref=node["id"], status=status)

    def deactivate_discount(self, creds: ShopCredentials, platform_ref: str) -> None:
        data = self._call(creds, DEACTIVATE, {"id": platform_ref})
        errors = data["discountCodeDeactivate"].get("userErrors") or []
        if errors:
            raise PlatformRejected(
                errors[0].get("message", "refused"),
                code=(errors[0].get("code") or "invalid").lower(),
            )

    def collection_products(
        self, creds: ShopCredentials, collection_ref: str, *, max_pages: int | None = None
    ) -> CollectionMembers:
        """Every product of a collection, page by page (cursor pagination), pacing the
        pages on the cost Shopify reports. CollectionNotFound if the shop has no such
        collection; PlatformUnavailable(code="more_pages") when `max_pages` (a quick
        attempt's budget) ends before the collection does."""
        gid = _gid("Collection", collection_ref)
        products: list[str] = []
        title: str | None = None
        after: str | None = None
        pages = 0
        while True:
            data, extensions = self._call_with_cost(
                creds, COLLECTION_PRODUCTS, {"id": gid, "first": COLLECTION_PAGE, "after": after}
            )
            collection = data.get("collection")
            if collection is None:
                raise CollectionNotFound(f"Shopify has no collection {collection_ref}")
            title = collection.get("title")
            page = collection["products"]
            products.extend(product_ref_from_gid(node["id"]) for node in page["nodes"])
            pages += 1
            if len(products) > MAX_COLLECTION_PRODUCTS:
                raise PlatformRejected(
                    f"the collection holds more than {MAX_COLLECTION_PRODUCTS} products",
                    code="collection_too_large",
                )
            info = page["pageInfo"]
            if not info["hasNextPage"]:
                return CollectionMembers(title=title, product_ids=tuple(dict.fromkeys(products)))
            if max_pages is not None and pages >= max_pages:
                raise PlatformUnavailable(
                    "the collection has more pages than a quick attempt reads", code="more_pages"
                )
            after = info["endCursor"]
            wait = self._pace(extensions)
            if wait > 0:
                self.log.sleeps.append(wait)
                self._sleep(wait)

    # --- orders and webhooks -------------------------------------------------------

    def orders_page(
        self,
        creds: ShopCredentials,
        *,
        cursor: str | None,
        updated_since: datetime | None = None,
    ) -> OrderPage:
        """One page of the shop's orders by id (`updated_since`: changed since then), paced on
        the cost Shopify reports so a long backfill never drains the bucket; THROTTLED is waited
        out and an HTTP 429 raises PlatformRateLimited with its Retry-After."""
        query = f"updated_at:>='{_search_time(updated_since)}'" if updated_since else None
        data, extensions = self._call_with_cost(
            creds, ORDERS, {"first": ORDERS_PAGE, "after": cursor, "query": query}
        )
        connection = data["orders"]
        orders = []
        for node in connection["nodes"]:
            if (node.get("lineItems") or {}).get("pageInfo", {}).get("hasNextPage"):
                logger.warning(
                    "order has more lines than one page; the rest are not read",
                    extra={"order_ref": node.get("legacyResourceId")},
                )
            status = node.get("displayFinancialStatus")
            orders.append(
                PlatformOrder(
                    order_ref=str(node["legacyResourceId"]),
                    topic="orders/paid" if status in _PAID_STATES else "orders/create",
                    payload=json.dumps(rest_order(node)).encode(),
                    created_at=_time(node["createdAt"]),
                    updated_at=_time(node["updatedAt"]),
                )
            )
        info = connection["pageInfo"]
        next_cursor = info["endCursor"] if info["hasNextPage"] else None
        if next_cursor is not None:
            wait = self._pace(extensions)
            if wait > 0:
                self.log.sleeps.append(wait)
                self._sleep(wait)
        return OrderPage(orders=tuple(orders), next_cursor=next_cursor)

    def repair_webhooks(
        self, creds: ShopCredentials, *, delivery_url: str, secret: str | None
    ) -> WebhookRepair:
        """Subscribe again to every topic of ours Shopify no longer has a subscription for (it
        deletes API-created ones after 8 failed deliveries). `secret` is unused: Shopify signs
        with the app's secret."""
        from plugin_server.platforms.shopify_auth import WEBHOOK_TOPICS, subscribe_topic

        topics: set[str] = set()
        after: str | None = None
        while True:
            page = self._call(creds, WEBHOOK_SUBSCRIPTIONS, {"after": after})[
                "webhookSubscriptions"
            ]
            topics.update(n["topic"] for n in page["nodes"] if n.get("uri") == delivery_url)
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        missing = tuple(t for t in WEBHOOK_TOPICS if t not in topics)
        for topic in missing:
            subscribe_topic(self, creds, delivery_url, topic)
        if missing:
            logger.warning(
                "re-created missing webhook subscriptions",
                extra={"shop": creds.domain, "topics": ",".join(missing)},
            )
        return WebhookRepair(checked=len(WEBHOOK_TOPICS), recreated=missing)


# --- orders ---------------------------------------------------------------------------------

# Orders per page, and the nested pages inside each: Shopify prices a query at about `first`
# times its children, and refuses one above 1,000 points, so this stays near 900.
ORDERS_PAGE = 5
ORDER_LINES = 20
ORDER_REFUNDS = 3
ORDERS = """
query LoyaltyOrders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: ID) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id legacyResourceId name email createdAt updatedAt processedAt cancelledAt
      displayFinancialStatus currencyCode taxesIncluded discountCodes
      customer { id legacyResourceId firstName lastName }
      subtotalPriceSet { ...Money }
      totalShippingPriceSet { ...Money }
      totalPriceSet { ...Money }
      totalTaxSet { ...Money }
      customAttributes { key value }
      shippingAddress { address1 address2 city zip countryCodeV2 }
      lineItems(first: LINES) {
        pageInfo { hasNextPage }
        nodes {
          id title quantity
          originalUnitPriceSet { ...Money }
          totalDiscountSet { ...Money }
          discountAllocations { allocatedAmountSet { ...Money } }
          taxLines { priceSet { ...Money } }
          product { id }
        }
      }
      refunds(first: REFUNDS) {
        id legacyResourceId createdAt
        refundLineItems(first: LINES) {
          nodes { lineItem { id } quantity subtotalSet { ...Money } totalTaxSet { ...Money } }
        }
        transactions(first: 5) { nodes { kind status amountSet { ...Money } } }
        refundShippingLines(first: 3) { nodes { subtotalAmountSet { ...Money } } }
      }
    }
  }
}
fragment Money on MoneyBag {
  shopMoney { amount currencyCode }
  presentmentMoney { amount currencyCode }
}
""".replace("LINES", str(ORDER_LINES)).replace("REFUNDS", str(ORDER_REFUNDS))

WEBHOOK_SUBSCRIPTIONS = """
query LoyaltyWebhooks($after: String) {
  webhookSubscriptions(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id topic uri }
  }
}
"""
# Financial states in which the order has been paid (in part or in full) at some point.
_PAID_STATES = frozenset({"PAID", "PARTIALLY_REFUNDED", "REFUNDED", "PARTIALLY_PAID"})


def _numeric(gid: str | None) -> str | None:
    """The numeric id REST payloads carry, from a GraphQL global id."""
    return gid.rsplit("/", 1)[-1] if gid else None


def _money_set(bag: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not bag:
        return None

    def money(m: Mapping[str, Any] | None) -> dict[str, Any] | None:
        return {"amount": m["amount"], "currency_code": m["currencyCode"]} if m else None

    return {
        "shop_money": money(bag.get("shopMoney")),
        "presentment_money": money(bag.get("presentmentMoney")),
    }


def _amount(bag: Mapping[str, Any] | None) -> str | None:
    return (bag or {}).get("shopMoney", {}).get("amount") if bag else None


def _time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def rest_order(node: Mapping[str, Any]) -> dict[str, Any]:
    """A GraphQL `Order` as the REST-shaped body Shopify's order webhooks deliver (the fields
    `webhooks.shopify` reads), so a polled order is normalised exactly like a delivered one."""
    customer = node.get("customer")
    address = node.get("shippingAddress")
    status = node.get("displayFinancialStatus")
    return {
        "id": int(node["legacyResourceId"]),
        "admin_graphql_api_id": node["id"],
        "name": node.get("name"),
        "email": node.get("email"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "processed_at": node.get("processedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "financial_status": status.lower() if status else None,
        "currency": node.get("currencyCode"),
        "taxes_included": bool(node.get("taxesIncluded")),
        "customer": (
            {
                "id": int(customer["legacyResourceId"]),
                "first_name": customer.get("firstName"),
                "last_name": customer.get("lastName"),
            }
            if customer
            else None
        ),
        "subtotal_price": _amount(node.get("subtotalPriceSet")),
        "subtotal_price_set": _money_set(node.get("subtotalPriceSet")),
        "total_shipping_price_set": _money_set(node.get("totalShippingPriceSet")),
        "total_price": _amount(node.get("totalPriceSet")),
        "total_price_set": _money_set(node.get("totalPriceSet")),
        "total_tax": _amount(node.get("totalTaxSet")),
        "total_tax_set": _money_set(node.get("totalTaxSet")),
        "discount_codes": [{"code": code} for code in node.get("discountCodes") or []],
        "note_attributes": [
            {"name": a["key"], "value": a.get("value")} for a in node.get("customAttributes") or []
        ],
        "shipping_address": (
            {
                "address1": address.get("address1"),
                "address2": address.get("address2"),
                "city": address.get("city"),
                "zip": address.get("zip"),
                "country_code": address.get("countryCodeV2"),
            }
            if address
            else None
        ),
        "line_items": [
            {
                "id": int(_numeric(line["id"]) or 0),
                "title": line.get("title"),
                "quantity": line.get("quantity"),
                "price": _amount(line.get("originalUnitPriceSet")),
                "price_set": _money_set(line.get("originalUnitPriceSet")),
                "total_discount_set": _money_set(line.get("totalDiscountSet")),
                "discount_allocations": [
                    {"amount_set": _money_set(a.get("allocatedAmountSet"))}
                    for a in line.get("discountAllocations") or []
                ],
                "tax_lines": [
                    {"price_set": _money_set(t.get("priceSet"))} for t in line.get("taxLines") or []
                ],
                "product_id": (
                    int(_numeric(line["product"]["id"]) or 0) if line.get("product") else None
                ),
            }
            for line in (node.get("lineItems") or {}).get("nodes") or []
        ],
        "refunds": [_rest_refund(node, refund) for refund in node.get("refunds") or []],
    }


def _rest_refund(order: Mapping[str, Any], refund: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": int(refund["legacyResourceId"]),
        "order_id": int(order["legacyResourceId"]),
        "created_at": refund.get("createdAt"),
        "processed_at": refund.get("createdAt"),
        "refund_line_items": [
            {
                "line_item_id": int(_numeric(r["lineItem"]["id"]) or 0),
                "quantity": r.get("quantity"),
                "subtotal_set": _money_set(r.get("subtotalSet")),
                "total_tax_set": _money_set(r.get("totalTaxSet")),
            }
            for r in (refund.get("refundLineItems") or {}).get("nodes") or []
        ],
        "transactions": [
            {
                "kind": str(t.get("kind", "")).lower(),
                "status": str(t.get("status", "")).lower(),
                "amount": _amount(t.get("amountSet")),
                "currency": ((t.get("amountSet") or {}).get("shopMoney") or {}).get("currencyCode"),
            }
            for t in (refund.get("transactions") or {}).get("nodes") or []
        ],
        "refund_shipping_lines": [
            {"subtotal_amount_set": _money_set(s.get("subtotalAmountSet"))}
            for s in (refund.get("refundShippingLines") or {}).get("nodes") or []
        ],
    }


def _search_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
