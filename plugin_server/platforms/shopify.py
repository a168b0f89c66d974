"""Shopify Admin GraphQL client: discount codes, and the products of a collection.

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
from collections.abc import Callable
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
    PlatformRateLimited,
    PlatformRejected,
    PlatformUnavailable,
    ShopCredentials,
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
