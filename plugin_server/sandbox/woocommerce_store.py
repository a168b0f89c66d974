"""A WooCommerce store's REST API (wc/v3), in memory: coupons, webhooks (listed, created,
re-activated), key checks, products by category and orders (both paged, with X-WP-Total /
X-WP-TotalPages; orders filtered by `modified_after`).

Authenticates the way WooCommerce does: HTTP Basic or query-string keys over HTTPS, and
OAuth 1.0a one-legged signatures over plain HTTP (HMAC-SHA256 over the method, URL and
sorted, percent-encoded query; timestamps older than 15 minutes and reused nonces are
refused). Answers errors with WooCommerce's own `{"code", "message", "data": {"status"}}`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, unquote

from plugin_server.sandbox.shopify_admin import Fault

OAUTH_WINDOW_S = 15 * 60
DISCOUNT_TYPES = ("percent", "fixed_cart", "fixed_product")
WEBHOOK_TOPICS = re.compile(r"(coupon|customer|order|product)\.(created|updated|deleted|restored)")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

Answer = tuple[int, Any, dict[str, str]]


def _error(status: int, code: str, message: str) -> Answer:
    return status, {"code": code, "message": message, "data": {"status": status}}, {}


def _rawurlencode(value: str) -> str:
    # PHP's rawurlencode: everything but unreserved characters is escaped.
    return quote(value, safe="-_.~")


def oauth_signature(method: str, base_url: str, params: dict[str, str], secret: str) -> str:
    """The signature WooCommerce expects for a request (as the server recomputes it)."""
    pairs = sorted(
        (
            _rawurlencode(unquote(k)).replace("%", "%25"),
            _rawurlencode(unquote(v)).replace("%", "%25"),
        )
        for k, v in params.items()
        if k != "oauth_signature"
    )
    query = "%26".join(f"{k}%3D{v}" for k, v in pairs)
    to_sign = f"{method.upper()}&{_rawurlencode(base_url)}&{query}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass
class WooStore:
    """The state of one sandbox WooCommerce store."""

    keys: dict[str, str] = field(default_factory=dict)  # consumer_key -> consumer_secret
    plugin_public_key: str | None = None  # set when the Loyalty Rewards plugin is "installed"
    coupons: dict[int, dict[str, Any]] = field(default_factory=dict)
    webhooks: dict[int, dict[str, Any]] = field(default_factory=dict)
    # Product categories by id: {"name": str, "products": [product ids]}.
    categories: dict[int, dict[str, Any]] = field(default_factory=dict)
    # Orders by id, as GET /orders/<id> answers them (see `sample_order`).
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    faults: deque[Fault] = field(default_factory=deque)
    requests: int = 0
    _seen_nonces: dict[str, float] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(701))
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def add_key(
        self, consumer_key: str | None = None, consumer_secret: str | None = None
    ) -> tuple[str, str]:
        key = consumer_key or "ck_" + secrets.token_hex(20)
        secret = consumer_secret or "cs_" + secrets.token_hex(20)
        self.keys[key] = secret
        return key, secret

    # --- authentication -----------------------------------------------------------------

    def authenticate(
        self,
        *,
        method: str,
        base_url: str,
        is_https: bool,
        query: dict[str, str],
        basic: tuple[str, str] | None,
    ) -> Answer | None:
        """None when the request carries valid keys, else WooCommerce's 401."""
        if is_https:
            key, secret = basic or (query.get("consumer_key", ""), query.get("consumer_secret", ""))
            known = self.keys.get(key)
            if not key:
                return _error(
                    401, "woocommerce_rest_authentication_error", "Consumer key is missing."
                )
            if known is None or not hmac.compare_digest(known, secret):
                return _error(
                    401, "woocommerce_rest_authentication_error", "Consumer secret is invalid."
                )
            return None
        key = query.get("oauth_consumer_key", "")
        known = self.keys.get(key)
        if known is None:
            return _error(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
        for required in (
            "oauth_signature",
            "oauth_signature_method",
            "oauth_nonce",
            "oauth_timestamp",
        ):
            if required not in query:
                return _error(
                    401,
                    "woocommerce_rest_authentication_error",
                    f"{required} parameter is missing.",
                )
        if query["oauth_signature_method"] not in ("HMAC-SHA1", "HMAC-SHA256"):
            return _error(401, "woocommerce_rest_authentication_error", "Invalid signature method.")
        if query["oauth_signature_method"] != "HMAC-SHA256":
            return _error(
                401,
                "woocommerce_rest_authentication_error",
                "Invalid signature - provided signature does not match.",
            )
        expected = oauth_signature(method, base_url, query, known)
        if not hmac.compare_digest(expected, query["oauth_signature"]):
            return _error(
                401,
                "woocommerce_rest_authentication_error",
                "Invalid signature - provided signature does not match.",
            )
        try:
            stamp = int(query["oauth_timestamp"])
        except ValueError:
            return _error(401, "woocommerce_rest_authentication_error", "Invalid timestamp.")
        now = time.time()
        if abs(now - stamp) > OAUTH_WINDOW_S:
            return _error(401, "woocommerce_rest_authentication_error", "Invalid timestamp.")
        with self._lock:
            for nonce, seen in list(self._seen_nonces.items()):
                if now - seen > OAUTH_WINDOW_S:
                    del self._seen_nonces[nonce]
            nonce_key = f"{key}:{query['oauth_nonce']}"
            if nonce_key in self._seen_nonces:
                return _error(
                    401,
                    "woocommerce_rest_authentication_error",
                    "Invalid nonce - nonce has already been used.",
                )
            self._seen_nonces[nonce_key] = now
        return None

    def take_fault(self) -> Answer | None:
        with self._lock:
            self.requests += 1
            fault = self.faults.popleft() if self.faults else None
        if fault is None:
            return None
        if fault.kind == "http_429":
            status, body, _ = _error(429, "too_many_requests", "Too many requests.")
            return status, body, {"Retry-After": f"{fault.retry_after_s:g}"}
        if fault.kind in ("http_500", "http_503"):
            status = int(fault.kind[-3:])
            return _error(
                status, "internal_server_error", "There has been a critical error on this website."
            )
        if fault.kind == "slow":
            time.sleep(fault.delay_s)
        return None

    # --- coupons ---------------------------------------------------------------------------

    def create_coupon(self, body: Any) -> Answer:
        if not isinstance(body, dict):
            return _error(400, "rest_invalid_json", "Invalid JSON body passed.")
        code = str(body.get("code") or "").strip().lower()
        if not code:
            return _error(
                400, "woocommerce_rest_empty_coupon_code", "The coupon code cannot be empty."
            )
        problem = self._invalid_fields(body)
        if problem:
            return problem
        with self._lock:
            if any(c["code"] == code for c in self.coupons.values()):
                return _error(
                    400,
                    "woocommerce_rest_coupon_code_already_exists",
                    "The coupon code already exists",
                )
            coupon_id = next(self._ids)
            now = datetime.now(UTC).replace(tzinfo=None, microsecond=0).isoformat()
            coupon = {
                "id": coupon_id,
                "code": code,
                "amount": f"{Decimal(str(body.get('amount') or '0')):.2f}",
                "status": body.get("status", "publish"),
                "date_created": now,
                "date_created_gmt": now,
                "discount_type": body.get("discount_type", "fixed_cart"),
                "description": body.get("description", ""),
                "date_expires": body.get("date_expires") or body.get("date_expires_gmt"),
                "date_expires_gmt": body.get("date_expires_gmt") or body.get("date_expires"),
                "usage_count": 0,
                "individual_use": bool(body.get("individual_use", False)),
                "product_ids": list(body.get("product_ids") or []),
                "usage_limit": body.get("usage_limit"),
                "usage_limit_per_user": body.get("usage_limit_per_user"),
                "free_shipping": bool(body.get("free_shipping", False)),
                "product_categories": list(body.get("product_categories") or []),
                "minimum_amount": f"{Decimal(str(body.get('minimum_amount') or '0')):.2f}",
                "email_restrictions": list(body.get("email_restrictions") or []),
                "used_by": [],
                "meta_data": list(body.get("meta_data") or []),
            }
            self.coupons[coupon_id] = coupon
        return 201, coupon, {}

    @staticmethod
    def _invalid_fields(body: dict[str, Any]) -> Answer | None:
        def invalid(name: str, why: str) -> Answer:
            status, out, headers = _error(
                400, "rest_invalid_param", f"Invalid parameter(s): {name}"
            )
            out["data"]["params"] = {name: why}
            return status, out, headers

        if body.get("discount_type", "fixed_cart") not in DISCOUNT_TYPES:
            return invalid(
                "discount_type", f"discount_type is not one of {', '.join(DISCOUNT_TYPES)}."
            )
        for money in ("amount", "minimum_amount", "maximum_amount"):
            if money in body:
                if not isinstance(body[money], str):
                    return invalid(money, f"{money} is not of type string.")
                try:
                    Decimal(body[money] or "0")
                except InvalidOperation:
                    return invalid(money, f"{money} is not numeric.")
        for number in ("usage_limit", "usage_limit_per_user"):
            value = body.get(number)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                return invalid(number, f"{number} is not of type integer,null.")
        emails = body.get("email_restrictions", [])
        if not isinstance(emails, list) or not all(
            isinstance(e, str) and _EMAIL.fullmatch(e) for e in emails
        ):
            return invalid("email_restrictions", "email_restrictions must be a list of emails.")
        for ids in ("product_ids", "product_categories"):
            value = body.get(ids, [])
            if not isinstance(value, list) or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in value
            ):
                return invalid(ids, f"{ids}[0] is not of type integer.")
        for when in ("date_expires", "date_expires_gmt"):
            if body.get(when) is not None:
                try:
                    datetime.fromisoformat(str(body[when]))
                except ValueError:
                    return invalid(when, "Invalid date.")
        return None

    def list_coupons(self, query: dict[str, str]) -> Answer:
        code = query.get("code", "").strip().lower()
        with self._lock:
            found = [c for c in self.coupons.values() if not code or c["code"] == code]
        total = len(found)
        per_page = min(int(query.get("per_page", "10") or 10), 100)
        return 200, found[:per_page], {"X-WP-Total": str(total), "X-WP-TotalPages": "1"}

    def update_coupon(self, coupon_id: int, body: Any) -> Answer:
        with self._lock:
            coupon = self.coupons.get(coupon_id)
            if coupon is None:
                return _error(404, "woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.")
            if not isinstance(body, dict):
                return _error(400, "rest_invalid_json", "Invalid JSON body passed.")
            for key in ("status", "date_expires", "date_expires_gmt", "usage_count"):
                if key in body:
                    coupon[key] = body[key]
            return 200, coupon, {}

    def delete_coupon(self, coupon_id: int, force: bool) -> Answer:
        with self._lock:
            coupon = self.coupons.get(coupon_id)
            if coupon is None:
                return _error(404, "woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.")
            if not force:
                return _error(
                    501, "woocommerce_rest_trash_not_supported", "Coupons do not support trashing."
                )
            del self.coupons[coupon_id]
            return 200, coupon, {}

    def use_coupon(self, code: str, email: str) -> dict[str, Any]:
        """Sandbox hook: a checkout applied the code (as WooCommerce counts usage)."""
        with self._lock:
            [coupon] = [c for c in self.coupons.values() if c["code"] == code.lower()]
            coupon["usage_count"] += 1
            coupon["used_by"].append(email)
            return coupon

    # --- products and categories -----------------------------------------------------------

    def set_category(self, category_id: int, name: str, product_ids: list[Any]) -> None:
        """Sandbox hook: create or replace a category and the products assigned to it."""
        with self._lock:
            self.categories[category_id] = {"name": name, "products": [int(p) for p in product_ids]}

    def get_category(self, raw_id: str) -> Answer:
        found = self.categories.get(int(raw_id)) if raw_id.isdigit() else None
        if found is None:
            return _error(404, "woocommerce_rest_term_invalid", "Resource does not exist.")
        return (
            200,
            {
                "id": int(raw_id),
                "name": found["name"],
                "slug": found["name"].lower().replace(" ", "-"),
                "parent": 0,
                "count": len(found["products"]),
            },
            {},
        )

    def list_products(self, query: dict[str, str]) -> Answer:
        """GET products: `category` filters, `per_page` (at most 100) and `page` page, and
        `_fields=id` trims each product to its id, as WordPress does."""
        try:
            per_page = int(query.get("per_page", "10") or 10)
            page = int(query.get("page", "1") or 1)
        except ValueError:
            return _error(400, "rest_invalid_param", "Invalid parameter(s): per_page")
        if not 1 <= per_page <= 100:
            return _error(
                400,
                "rest_invalid_param",
                "Invalid parameter(s): per_page (must be between 1 and 100)",
            )
        with self._lock:
            if "category" in query:
                found = self.categories.get(
                    int(query["category"]) if query["category"].isdigit() else -1
                )
                ids = sorted(found["products"]) if found else []
            else:
                ids = sorted({p for c in self.categories.values() for p in c["products"]})
        total = len(ids)
        pages = -(-total // per_page)  # 0 when nothing matches, as WordPress says
        if page > pages and total:
            return _error(
                400,
                "rest_post_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
            )
        chunk = ids[(page - 1) * per_page : page * per_page]
        fields = query.get("_fields")
        items = [
            {"id": p} if fields == "id" else {"id": p, "name": f"Product {p}", "type": "simple"}
            for p in chunk
        ]
        return 200, items, {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}

    # --- orders ---------------------------------------------------------------------------

    def put_order(self, order: dict[str, Any]) -> None:
        """Sandbox hook: create or replace an order (a wc/v3 order body)."""
        with self._lock:
            self.orders[int(order["id"])] = order

    def list_orders(self, query: dict[str, str]) -> Answer:
        """GET orders: `modified_after` (read as GMT with `dates_are_gmt=true`, else as the
        store's local time, which is UTC here), `orderby=id|date` with `order=asc|desc`,
        `per_page` (at most 100) and `page`, as WooCommerce pages them."""
        try:
            per_page = int(query.get("per_page", "10") or 10)
            page = int(query.get("page", "1") or 1)
        except ValueError:
            return _error(400, "rest_invalid_param", "Invalid parameter(s): per_page")
        if not 1 <= per_page <= 100:
            return _error(
                400,
                "rest_invalid_param",
                "Invalid parameter(s): per_page (must be between 1 and 100)",
            )
        if query.get("orderby", "date") not in ("date", "id", "modified"):
            return _error(400, "rest_invalid_param", "Invalid parameter(s): orderby")
        with self._lock:
            found = list(self.orders.values())
        since = query.get("modified_after")
        if since:
            try:
                bound = datetime.fromisoformat(since).replace(tzinfo=None)
            except ValueError:
                return _error(400, "rest_invalid_param", "Invalid parameter(s): modified_after")
            found = [o for o in found if datetime.fromisoformat(o["date_modified_gmt"]) > bound]
        key = {"id": "id", "date": "date_created_gmt", "modified": "date_modified_gmt"}[
            query.get("orderby", "date")
        ]
        found.sort(key=lambda o: (o[key], o["id"]), reverse=query.get("order", "desc") == "desc")
        total = len(found)
        pages = -(-total // per_page)
        if page > pages and total:
            return _error(
                400,
                "rest_post_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
            )
        chunk = found[(page - 1) * per_page : page * per_page]
        return 200, chunk, {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}

    # --- webhooks --------------------------------------------------------------------------

    def create_webhook(self, body: Any) -> Answer:
        if not isinstance(body, dict):
            return _error(400, "rest_invalid_json", "Invalid JSON body passed.")
        topic = str(body.get("topic") or "")
        if not WEBHOOK_TOPICS.fullmatch(topic):
            return _error(400, "rest_invalid_param", "Invalid parameter(s): topic")
        url = str(body.get("delivery_url") or "")
        if not url.startswith(("http://", "https://")):
            return _error(400, "rest_invalid_param", "Invalid parameter(s): delivery_url")
        with self._lock:
            webhook_id = next(self._ids)
            webhook = {
                "id": webhook_id,
                "name": body.get("name") or topic,
                "status": body.get("status", "active"),
                "topic": topic,
                "delivery_url": url,
                "secret": body.get("secret") or "",
            }
            self.webhooks[webhook_id] = webhook
        public = {k: v for k, v in webhook.items() if k != "secret"}
        return 201, public, {}

    def list_webhooks(self) -> Answer:
        with self._lock:
            hooks = [{k: v for k, v in w.items() if k != "secret"} for w in self.webhooks.values()]
        return 200, hooks, {"X-WP-Total": str(len(hooks)), "X-WP-TotalPages": "1"}

    def update_webhook(self, webhook_id: int, body: Any) -> Answer:
        with self._lock:
            webhook = self.webhooks.get(webhook_id)
            if webhook is None:
                return _error(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID.")
            if not isinstance(body, dict):
                return _error(400, "rest_invalid_json", "Invalid JSON body passed.")
            status = body.get("status", webhook["status"])
            if status not in ("active", "paused", "disabled"):
                return _error(400, "rest_invalid_param", "Invalid parameter(s): status")
            webhook["status"] = status
            if status == "active":
                webhook["failure_count"] = 0
            public = {k: v for k, v in webhook.items() if k != "secret"}
        return 200, public, {}

    def disable_webhook(self, topic: str) -> None:
        """Sandbox hook: deliveries failed more than 5 times, so WooCommerce disabled it."""
        with self._lock:
            for webhook in self.webhooks.values():
                if webhook["topic"] == topic:
                    webhook["status"], webhook["failure_count"] = "disabled", 6


def sample_order(
    order_id: int,
    *,
    total: Decimal | str,
    created_at: datetime,
    modified_at: datetime | None = None,
    customer_id: int = 0,
    email: str | None = None,
    status: str = "completed",
    currency: str = "USD",
    refunds: Sequence[tuple[int, Decimal | str]] = (),
) -> dict[str, Any]:
    """A one-line order as GET /wp-json/wc/v3/orders/<id> answers it (times in GMT);
    `refunds` are (refund id, amount) pairs, listed the way the order body lists them."""

    def gmt(when: datetime) -> str:
        return when.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat()

    amount = f"{Decimal(str(total)):.2f}"
    return {
        "id": order_id,
        "parent_id": 0,
        "number": str(order_id),
        "status": status,
        "currency": currency,
        "date_created_gmt": gmt(created_at),
        "date_modified_gmt": gmt(modified_at or created_at),
        "date_paid_gmt": gmt(created_at),
        "discount_total": "0.00",
        "shipping_total": "0.00",
        "total": amount,
        "total_tax": "0.00",
        "customer_id": customer_id,
        "billing": {"first_name": "Sam", "last_name": "Buyer", "email": email or ""},
        "shipping": {},
        "meta_data": [],
        "line_items": [
            {
                "id": order_id * 10 + 1,
                "name": "Sample product",
                "product_id": 93,
                "quantity": 1,
                "subtotal": amount,
                "total": amount,
                "total_tax": "0.00",
            }
        ],
        "coupon_lines": [],
        "refunds": [
            {"id": refund_id, "reason": "", "total": f"-{Decimal(str(value)):.2f}"}
            for refund_id, value in refunds
        ],
    }


@dataclass
class PendingAuthorization:
    """A merchant's visit to /wc-auth/v1/authorize, waiting for Approve."""

    app_name: str
    scope: str
    user_id: str
    return_url: str
    callback_url: str
