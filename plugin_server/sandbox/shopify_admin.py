"""Shopify Admin GraphQL, in memory: discount codes, webhook subscriptions, collections
(whose products are read page by page with cursors), and orders (paged by id with cursors,
filtered by `updated_at` search terms).

Requests are parsed, validated and executed by graphql-core against the real schema subset;
resolvers apply the business rules Shopify applies (unique codes, required fields, value
ranges) and answer with `userErrors` the way Shopify does.
"""

from __future__ import annotations

import base64
import itertools
import re
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from graphql import GraphQLError, GraphQLSchema, build_schema, graphql_sync

SCHEMA_FILE = Path(__file__).with_name("shopify-admin-2026-07-subset.graphql")
BUCKET_SIZE = 2000.0
RESTORE_RATE = 100.0
QUERY_COST = 10
MAX_PAGE = 250  # Shopify's largest connection page


@cache
def schema() -> GraphQLSchema:
    return build_schema(SCHEMA_FILE.read_text())


@dataclass
class Fault:
    """One scripted failure: the next matching request gets it instead of an answer."""

    kind: str  # "http_429", "http_500", "http_503", "throttled", "slow"
    retry_after_s: float = 1.0
    delay_s: float = 0.0


def _user_error(field: list[str], code: str, message: str) -> dict[str, Any]:
    return {"field": field, "code": code, "message": message, "extraInfo": None}


def _cursor(position: int) -> str:
    return base64.b64encode(f'{{"last_id":{position}}}'.encode()).decode()


def _position(cursor: str) -> int:
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
        return int(text.split(":", 1)[1].rstrip("}"))
    except (ValueError, IndexError, UnicodeDecodeError):
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor!r}") from None


def _product_page(products: list[str], args: dict[str, Any]) -> dict[str, Any]:
    """One forward page of a collection's products (by id when asked), as Shopify pages."""
    first = args.get("first")
    if first is None:
        raise GraphQLError("you must provide one of first or last")
    if not 0 <= first <= MAX_PAGE:
        raise GraphQLError(f"The first argument must be between 0 and {MAX_PAGE}")
    ordered = sorted(products, key=int) if args.get("sortKey") == "ID" else list(products)
    if args.get("reverse"):
        ordered.reverse()
    start = _position(args["after"]) + 1 if args.get("after") else 0
    chunk = ordered[start : start + first]
    nodes = [{"id": f"gid://shopify/Product/{p}", "title": f"Product {p}"} for p in chunk]
    edges = [{"cursor": _cursor(start + i), "node": n} for i, n in enumerate(nodes)]
    return {
        "nodes": nodes,
        "edges": edges,
        "pageInfo": {
            "hasNextPage": start + len(chunk) < len(ordered),
            "hasPreviousPage": start > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def _parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class ShopifyAdmin:
    """The state of one sandbox shop's Admin API."""

    access_tokens: set[str] = field(default_factory=set)
    token_expiry: dict[str, float] = field(default_factory=dict)  # expiring tokens only
    oauth_codes: dict[str, str] = field(default_factory=dict)  # code -> client_id
    refresh_tokens: dict[str, float] = field(default_factory=dict)  # token -> expires (epoch)
    discounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # by lower-cased code
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Collections by numeric id: {"title": str, "products": [numeric product ids]}.
    collections: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Orders by numeric id, as GraphQL `Order` objects (see `sample_order`).
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    faults: deque[Fault] = field(default_factory=deque)
    # An outage: every request until this time (epoch seconds) gets 503, as when the
    # platform is down for a spell (`set_outage`).
    down_until: float = 0.0
    requests: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def set_collection(self, collection_id: str | int, title: str, product_ids: list[Any]) -> None:
        """Sandbox hook: create or replace a collection and its products."""
        with self._lock:
            self.collections[str(collection_id)] = {
                "title": title,
                "products": [str(p) for p in product_ids],
            }

    def put_order(self, order: dict[str, Any]) -> None:
        """Sandbox hook: create or replace an order (a GraphQL `Order`, see `sample_order`)."""
        with self._lock:
            self.orders[int(order["legacyResourceId"])] = order

    def drop_webhook(self, topic: str) -> None:
        """Sandbox hook: Shopify deleted the subscriptions to a topic (8 failed deliveries)."""
        with self._lock:
            for key in [k for k, w in self.webhooks.items() if w["topic"] == topic]:
                del self.webhooks[key]

    def set_outage(self, seconds: float) -> None:
        """Sandbox hook: answer every request with 503 for `seconds` from now (0 ends it)."""
        with self._lock:
            self.down_until = time.time() + seconds if seconds > 0 else 0.0

    # --- HTTP-level behaviour ---------------------------------------------------------

    def handle(self, token: str | None, body: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        """(status, JSON body, headers) for one POST to graphql.json."""
        with self._lock:
            self.requests += 1
            fault = self.faults.popleft() if self.faults else None
            down = time.time() < self.down_until
        if down:
            return 503, {"errors": "Service Unavailable"}, {}
        expired = token in self.token_expiry and self.token_expiry[token] < time.time()
        if (self.access_tokens and token not in self.access_tokens) or expired:
            return (
                401,
                {
                    "errors": "[API] Invalid API key or access token (unrecognized login "
                    "or wrong password)"
                },
                {},
            )
        if fault is not None:
            if fault.kind == "http_429":
                return (
                    429,
                    {
                        "errors": "Exceeded 2 calls per second for api client. Reduce "
                        "request rates to resume uninterrupted service."
                    },
                    {"Retry-After": f"{fault.retry_after_s:g}"},
                )
            if fault.kind == "http_500":
                return 500, {"errors": "Internal Server Error"}, {}
            if fault.kind == "http_503":
                return 503, {"errors": "Service Unavailable"}, {}
            if fault.kind == "throttled":
                return (
                    200,
                    {
                        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                        "extensions": self._cost(available=0.0),
                    },
                    {},
                )
            if fault.kind == "slow":
                time.sleep(fault.delay_s)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return 400, {"errors": {"query": "Required parameter missing or invalid"}}, {}
        variables = body.get("variables")
        if variables is not None and not isinstance(variables, dict):
            return 400, {"errors": {"variables": "must be an object"}}, {}
        result = graphql_sync(
            schema(),
            body["query"],
            root_value=self._root(),
            variable_values=variables,
            operation_name=body.get("operationName"),
        )
        out: dict[str, Any] = {}
        if result.errors:
            out["errors"] = [e.formatted for e in result.errors]
        if result.data is not None:
            out["data"] = result.data
        out["extensions"] = self._cost(available=BUCKET_SIZE - QUERY_COST)
        return 200, out, {}

    @staticmethod
    def _cost(*, available: float) -> dict[str, Any]:
        return {
            "cost": {
                "requestedQueryCost": QUERY_COST,
                "actualQueryCost": QUERY_COST,
                "throttleStatus": {
                    "maximumAvailable": BUCKET_SIZE,
                    "currentlyAvailable": available,
                    "restoreRate": RESTORE_RATE,
                },
            }
        }

    # --- resolvers ----------------------------------------------------------------------

    def _root(self) -> dict[str, Any]:
        return {
            "discountCodeBasicCreate": self._basic_create,
            "discountCodeFreeShippingCreate": self._free_shipping_create,
            "discountCodeDeactivate": self._deactivate,
            "discountCodeDelete": self._delete,
            "codeDiscountNodeByCode": self._by_code,
            "collection": self._collection,
            "webhookSubscriptionCreate": self._webhook_create,
            "webhookSubscriptions": self._webhook_list,
            "orders": self._orders,
        }

    def _orders(self, info: Any, **args: Any) -> dict[str, Any]:
        """Orders by id (the only sort key the app uses), after the cursor's order id, with
        `updated_at:>=` / `updated_at:>` / `created_at:...` terms of the search syntax."""
        first = args.get("first")
        if first is None or not 0 <= first <= MAX_PAGE:
            raise GraphQLError(f"The first argument must be between 0 and {MAX_PAGE}")
        if args.get("sortKey") not in (None, "ID"):
            raise GraphQLError("the sandbox sorts orders by ID only")
        with self._lock:
            found = [self.orders[k] for k in sorted(self.orders)]
        for name, op, value in re.findall(
            r"(updated_at|created_at):(>=|<=|>|<)'?([0-9T:.Z+-]+)'?", args.get("query") or ""
        ):
            bound = _parse_time(value)
            key = "updatedAt" if name == "updated_at" else "createdAt"
            compare = {
                ">=": lambda a, b: a >= b,
                ">": lambda a, b: a > b,
                "<=": lambda a, b: a <= b,
                "<": lambda a, b: a < b,
            }[op]
            found = [o for o in found if compare(_parse_time(o[key]), bound)]
        after = _position(args["after"]) if args.get("after") else -1
        rest = [o for o in found if int(o["legacyResourceId"]) > after]
        chunk = rest[:first]
        edges = [{"cursor": _cursor(int(o["legacyResourceId"])), "node": o} for o in chunk]
        return {
            "nodes": chunk,
            "edges": edges,
            "pageInfo": {
                "hasNextPage": len(rest) > len(chunk),
                "hasPreviousPage": after >= 0,
                "startCursor": edges[0]["cursor"] if edges else None,
                "endCursor": edges[-1]["cursor"] if edges else None,
            },
        }

    def _webhook_list(self, info: Any, **args: Any) -> dict[str, Any]:
        with self._lock:
            nodes = list(self.webhooks.values())
        return {
            "nodes": nodes,
            "edges": [{"cursor": _cursor(i), "node": n} for i, n in enumerate(nodes)],
            "pageInfo": {
                "hasNextPage": False,
                "hasPreviousPage": False,
                "startCursor": None,
                "endCursor": None,
            },
        }

    def _collection(self, info: Any, id: str) -> dict[str, Any] | None:
        number = id.rsplit("/", 1)[-1] if id.startswith("gid://shopify/Collection/") else None
        with self._lock:
            found = self.collections.get(number or "")
            products = list(found["products"]) if found else []
        if found is None:
            return None
        return {
            "id": id,
            "title": found["title"],
            "handle": found["title"].lower().replace(" ", "-"),
            "products": lambda info, **args: _product_page(products, args),
        }

    def _node(self, discount: dict[str, Any]) -> dict[str, Any]:
        return {"id": discount["node_id"], "codeDiscount": discount, "metafield": None}

    def _by_code(self, info: Any, code: str) -> dict[str, Any] | None:
        discount = self.discounts.get(code.strip().lower())
        return self._node(discount) if discount else None

    def _validate_common(self, arg: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
        errors = []
        code = (spec.get("code") or "").strip()
        if not code:
            errors.append(_user_error([arg, "code"], "BLANK", "Code can't be blank"))
        elif len(code) > 255:
            errors.append(_user_error([arg, "code"], "TOO_LONG", "Code is too long"))
        elif code.lower() in self.discounts:
            errors.append(
                _user_error(
                    [arg, "code"], "TAKEN", "Code must be unique. Please try a different code."
                )
            )
        if not (spec.get("title") or "").strip():
            errors.append(_user_error([arg, "title"], "BLANK", "Title can't be blank"))
        starts = _parse_time(spec.get("startsAt"))
        ends = _parse_time(spec.get("endsAt"))
        if starts is None:
            errors.append(_user_error([arg, "startsAt"], "BLANK", "Starts at can't be blank"))
        elif ends is not None and ends <= starts:
            errors.append(
                _user_error(
                    [arg, "endsAt"],
                    "END_DATE_BEFORE_START_DATE",
                    "Ends at needs to be after starts_at",
                )
            )
        limit = spec.get("usageLimit")
        if limit is not None and limit < 1:
            errors.append(
                _user_error(
                    [arg, "usageLimit"], "GREATER_THAN", "Usage limit must be greater than 0"
                )
            )
        subtotal = ((spec.get("minimumRequirement") or {}).get("subtotal") or {}).get(
            "greaterThanOrEqualToSubtotal"
        )
        if subtotal is not None and Decimal(str(subtotal)) < 0:
            errors.append(
                _user_error(
                    [arg, "minimumRequirement", "subtotal"],
                    "GREATER_THAN_OR_EQUAL_TO",
                    "Minimum subtotal must be greater than or equal to 0",
                )
            )
        return errors

    def _value_errors(self, arg: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
        gets = spec.get("customerGets")
        value = (gets or {}).get("value") or {}
        path = [arg, "customerGets", "value"]
        if not gets or not value:
            return [_user_error([arg, "customerGets"], "BLANK", "Customer gets can't be blank")]
        if not gets.get("items"):
            return [_user_error([arg, "customerGets", "items"], "BLANK", "Items can't be blank")]
        if "percentage" in value and value["percentage"] is not None:
            if not 0 < float(value["percentage"]) <= 1:
                return [
                    _user_error(
                        [*path, "percentage"],
                        "VALUE_OUTSIDE_RANGE",
                        "Value must be between 0.0 and 1.0",
                    )
                ]
        elif value.get("discountAmount"):
            try:
                amount = Decimal(str(value["discountAmount"].get("amount")))
            except InvalidOperation:
                amount = Decimal(-1)
            if amount <= 0:
                return [
                    _user_error(
                        [*path, "discountAmount", "amount"],
                        "GREATER_THAN",
                        "Value must be greater than 0",
                    )
                ]
        else:
            return [_user_error(path, "BLANK", "Value can't be blank")]
        return []

    def _store(self, typename: str, spec: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            number = next(self._ids)
        now = datetime.now(UTC).isoformat()
        starts = _parse_time(spec.get("startsAt"))
        ends = _parse_time(spec.get("endsAt"))
        status = "SCHEDULED" if starts and starts > datetime.now(UTC) else "ACTIVE"
        code = spec["code"].strip()
        discount = {
            "__typename": typename,
            "node_id": f"gid://shopify/DiscountCodeNode/{number}",
            "title": spec["title"],
            "status": status,
            "startsAt": starts.isoformat() if starts else now,
            "endsAt": ends.isoformat() if ends else None,
            "usageLimit": spec.get("usageLimit"),
            "appliesOncePerCustomer": bool(spec.get("appliesOncePerCustomer")),
            "asyncUsageCount": 0,
            "createdAt": now,
            "updatedAt": now,
            "summary": spec["title"],
            "shortSummary": spec["title"],
            "tags": [],
            "discountClasses": ["ORDER"] if typename == "DiscountCodeBasic" else ["SHIPPING"],
            "hasTimelineComment": False,
            "recurringCycleLimit": None,
            "combinesWith": {
                "orderDiscounts": False,
                "productDiscounts": False,
                "shippingDiscounts": False,
                "productDiscountsWithTagsOnSameCartLine": None,
            },
            "codes": {
                "nodes": [
                    {
                        "id": f"gid://shopify/DiscountRedeemCode/{number}",
                        "code": code,
                        "asyncUsageCount": 0,
                        "createdBy": None,
                    }
                ],
                "edges": [],
                "pageInfo": {
                    "hasNextPage": False,
                    "hasPreviousPage": False,
                    "startCursor": None,
                    "endCursor": None,
                },
            },
            "codesCount": {"count": 1, "precision": "EXACT"},
            "input": spec,  # what the app sent, for tests to inspect
        }
        self.discounts[code.lower()] = discount
        return discount

    def _basic_create(self, info: Any, basicCodeDiscount: dict[str, Any]) -> dict[str, Any]:
        arg = "basicCodeDiscount"
        with self._lock:
            errors = self._validate_common(arg, basicCodeDiscount) or self._value_errors(
                arg, basicCodeDiscount
            )
            if errors:
                return {"codeDiscountNode": None, "userErrors": errors}
            discount = self._store("DiscountCodeBasic", basicCodeDiscount)
        return {"codeDiscountNode": self._node(discount), "userErrors": []}

    def _free_shipping_create(
        self, info: Any, freeShippingCodeDiscount: dict[str, Any]
    ) -> dict[str, Any]:
        arg = "freeShippingCodeDiscount"
        with self._lock:
            errors = self._validate_common(arg, freeShippingCodeDiscount)
            if errors:
                return {"codeDiscountNode": None, "userErrors": errors}
            discount = self._store("DiscountCodeFreeShipping", freeShippingCodeDiscount)
        return {"codeDiscountNode": self._node(discount), "userErrors": []}

    def _find(self, node_id: str) -> dict[str, Any] | None:
        return next((d for d in self.discounts.values() if d["node_id"] == node_id), None)

    def _deactivate(self, info: Any, id: str) -> dict[str, Any]:
        discount = self._find(id)
        if discount is None:
            return {
                "codeDiscountNode": None,
                "userErrors": [_user_error(["id"], "INVALID", "Discount does not exist")],
            }
        discount["status"] = "EXPIRED"
        discount["endsAt"] = datetime.now(UTC).isoformat()
        return {"codeDiscountNode": self._node(discount), "userErrors": []}

    def _delete(self, info: Any, id: str) -> dict[str, Any]:
        discount = self._find(id)
        if discount is None:
            return {
                "deletedCodeDiscountId": None,
                "userErrors": [_user_error(["id"], "INVALID", "Discount does not exist")],
            }
        with self._lock:
            del self.discounts[discount["codes"]["nodes"][0]["code"].lower()]
        return {"deletedCodeDiscountId": id, "userErrors": []}

    def _webhook_create(
        self, info: Any, topic: str, webhookSubscription: dict[str, Any]
    ) -> dict[str, Any]:
        uri = webhookSubscription.get("uri") or webhookSubscription.get("callbackUrl")
        if not uri:
            return {
                "webhookSubscription": None,
                "userErrors": [
                    {
                        "field": ["webhookSubscription", "callbackUrl"],
                        "message": "Address can't be blank",
                    }
                ],
            }
        with self._lock:
            number = next(self._ids)
        subscription = {
            "id": f"gid://shopify/WebhookSubscription/{number}",
            "topic": topic,
            "uri": uri,
            "callbackUrl": uri,
            "format": "JSON",
            "createdAt": datetime.now(UTC).isoformat(),
            "updatedAt": datetime.now(UTC).isoformat(),
        }
        self.webhooks[subscription["id"]] = subscription
        return {"webhookSubscription": subscription, "userErrors": []}


def _bag(amount: Decimal | str, currency: str) -> dict[str, Any]:
    money = {"amount": str(amount), "currencyCode": currency}
    return {"shopMoney": money, "presentmentMoney": dict(money)}


def sample_order(
    order_id: int,
    *,
    subtotal: Decimal | str,
    created_at: datetime,
    updated_at: datetime | None = None,
    customer_id: int | None = None,
    email: str | None = None,
    currency: str = "USD",
    financial_status: str = "PAID",
    cancelled_at: datetime | None = None,
    refunds: Sequence[tuple[int, Decimal | str]] = (),
) -> dict[str, Any]:
    """A paid one-line order as Shopify's GraphQL `Order` describes it; `refunds` are
    (refund id, amount) pairs refunding that much of the line."""
    amount = Decimal(str(subtotal))
    line_gid = f"gid://shopify/LineItem/{order_id}01"
    return {
        "id": f"gid://shopify/Order/{order_id}",
        "legacyResourceId": str(order_id),
        "name": f"#{order_id}",
        "email": email,
        "createdAt": created_at.isoformat(),
        "updatedAt": (updated_at or created_at).isoformat(),
        "processedAt": created_at.isoformat(),
        "cancelledAt": cancelled_at.isoformat() if cancelled_at else None,
        "displayFinancialStatus": financial_status,
        "currencyCode": currency,
        "presentmentCurrencyCode": currency,
        "taxesIncluded": False,
        "discountCodes": [],
        "customer": (
            {
                "id": f"gid://shopify/Customer/{customer_id}",
                "legacyResourceId": str(customer_id),
                "firstName": "Sam",
                "lastName": "Buyer",
            }
            if customer_id
            else None
        ),
        "subtotalPriceSet": _bag(amount, currency),
        "totalShippingPriceSet": _bag("0.00", currency),
        "totalPriceSet": _bag(amount, currency),
        "totalTaxSet": _bag("0.00", currency),
        "customAttributes": [],
        "shippingAddress": None,
        "lineItems": {
            "pageInfo": {"hasNextPage": False},
            "nodes": [
                {
                    "id": line_gid,
                    "title": "Sample product",
                    "quantity": 1,
                    "originalUnitPriceSet": _bag(amount, currency),
                    "totalDiscountSet": _bag("0.00", currency),
                    "discountAllocations": [],
                    "taxLines": [],
                    "product": {"id": f"gid://shopify/Product/{order_id}9"},
                }
            ],
        },
        "refunds": [
            {
                "id": f"gid://shopify/Refund/{refund_id}",
                "legacyResourceId": str(refund_id),
                "createdAt": (updated_at or created_at).isoformat(),
                "refundLineItems": {
                    "nodes": [
                        {
                            "lineItem": {"id": line_gid},
                            "quantity": 1,
                            "subtotalSet": _bag(refunded, currency),
                            "totalTaxSet": _bag("0.00", currency),
                        }
                    ]
                },
                "transactions": {
                    "nodes": [
                        {
                            "kind": "REFUND",
                            "status": "SUCCESS",
                            "amountSet": _bag(refunded, currency),
                        }
                    ]
                },
                "refundShippingLines": {"nodes": []},
            }
            for refund_id, refunded in refunds
        ],
    }
