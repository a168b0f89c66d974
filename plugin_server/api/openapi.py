"""The OpenAPI 3.1 document for every JSON endpoint; tests check it against the routes and
validate real responses against its schemas."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

bp = Blueprint("openapi", __name__)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


NULLABLE_STRING = {"type": ["string", "null"]}
DATE_TIME = {"type": "string", "format": "date-time"}
NULLABLE_DATE_TIME = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": "Stable, machine-readable."},
                    "message": {"type": "string"},
                },
            }
        },
    },
    "Customer": {
        "type": "object",
        "required": [
            "customer_id",
            "email",
            "balance",
            "pending",
            "lifetime_earned",
            "can_redeem",
            "next_pending_available_at",
            "member_since",
        ],
        "properties": {
            "customer_id": {
                "type": "string",
                "description": "The platform's customer id, or guest:<email>.",
            },
            "email": NULLABLE_STRING,
            "first_name": NULLABLE_STRING,
            "last_name": NULLABLE_STRING,
            "balance": {
                "type": "integer",
                "description": "Spendable points now; negative after a refund of "
                "points already spent.",
            },
            "pending": {"type": "integer", "description": "Earned, not yet spendable."},
            "lifetime_earned": {"type": "integer"},
            "next_pending_available_at": NULLABLE_DATE_TIME,
            "can_redeem": {"type": "boolean"},
            "member_since": DATE_TIME,
        },
    },
    "Transaction": {
        "type": "object",
        "required": [
            "id",
            "points",
            "kind",
            "reason",
            "source",
            "status",
            "created_at",
            "available_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "points": {"type": "integer", "description": "Signed."},
            "kind": {
                "type": "string",
                "enum": [
                    "earn_order",
                    "reverse_order",
                    "adjustment",
                    "redeem",
                    "redeem_refund",
                    "referral_bonus",
                    "expiry",
                ],
            },
            "reason": {"type": "string"},
            "source": {
                "type": "object",
                "required": ["type", "ref"],
                "properties": {"type": {"type": "string"}, "ref": {"type": "string"}},
            },
            "status": {"type": "string", "enum": ["available", "pending"]},
            "created_at": DATE_TIME,
            "available_at": DATE_TIME,
        },
    },
    "TransactionPage": {
        "type": "object",
        "required": ["customer_id", "transactions", "next_cursor"],
        "properties": {
            "customer_id": {"type": "string"},
            "transactions": {"type": "array", "items": _ref("Transaction")},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass as ?cursor= for the next (older) page.",
            },
        },
    },
    "WebhookAck": {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"type": "string", "enum": ["accepted", "duplicate", "ignored", "ping"]},
            "receipt_id": {"type": "integer"},
            "reason": {"type": "string"},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["ok"]}},
    },
    "Program": {
        "type": "object",
        "required": [
            "platform",
            "points_per_unit",
            "include_shipping",
            "include_tax",
            "pending_days",
            "award_statuses",
            "guests_earn",
            "return_points_on_expiry",
        ],
        "properties": {
            "platform": {"type": "string", "enum": ["shopify", "woocommerce"]},
            "points_per_unit": {
                "type": "string",
                "description": "Points per 1.00 of shop "
                "currency, a decimal string; earnings round down.",
            },
            "include_shipping": {"type": "boolean"},
            "include_tax": {"type": "boolean"},
            "pending_days": {"type": "integer", "minimum": 0, "maximum": 365},
            "award_statuses": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Order states that award points.",
            },
            "guests_earn": {"type": "boolean"},
            "return_points_on_expiry": {
                "type": "boolean",
                "description": "A redeemed code that expires unused gives its points back.",
            },
        },
    },
    "ProgramChanges": {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": {
            "points_per_unit": {"type": ["string", "number"]},
            "include_shipping": {"type": "boolean"},
            "include_tax": {"type": "boolean"},
            "pending_days": {"type": "integer", "minimum": 0, "maximum": 365},
            "award_statuses": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "enum": ["paid", "processing", "completed", "on-hold"]},
            },
            "guests_earn": {"type": "boolean"},
            "return_points_on_expiry": {"type": "boolean"},
        },
    },
    "RewardInput": {
        "type": "object",
        "additionalProperties": False,
        "description": "fixed_amount: points_cost, amount, currency. percentage: points_cost, "
        "percent. free_shipping: points_cost. points_for_money: "
        "points_per_step, amount (per step), currency, min_points, max_points.",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "kind": {
                "type": "string",
                "enum": ["fixed_amount", "percentage", "free_shipping", "points_for_money"],
            },
            "points_cost": {"type": "integer", "minimum": 1},
            "amount": {"type": ["string", "number"]},
            "percent": {"type": ["string", "number"]},
            "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
            "points_per_step": {"type": "integer", "minimum": 1},
            "min_points": {"type": "integer", "minimum": 1},
            "max_points": {"type": "integer", "minimum": 1},
            "min_order_subtotal": {"type": ["string", "number", "null"]},
            "product_ids": {"type": "array", "items": {"type": ["string", "integer"]}},
            "collection_ids": {"type": "array", "items": {"type": ["string", "integer"]}},
            "code_valid_days": {"type": "integer", "minimum": 1, "maximum": 365},
        },
    },
    "Reward": {
        "type": "object",
        "required": [
            "id",
            "name",
            "kind",
            "points_cost",
            "amount",
            "percent",
            "currency",
            "points_per_step",
            "min_points",
            "max_points",
            "min_order_subtotal",
            "product_ids",
            "collection_ids",
            "code_valid_days",
            "status",
            "created_at",
            "updated_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "kind": {
                "type": "string",
                "enum": ["fixed_amount", "percentage", "free_shipping", "points_for_money"],
            },
            "points_cost": {"type": ["integer", "null"]},
            "amount": {"type": ["string", "null"], "description": "Money as a string."},
            "percent": {"type": ["string", "null"]},
            "currency": {"type": ["string", "null"]},
            "points_per_step": {"type": ["integer", "null"]},
            "min_points": {"type": ["integer", "null"]},
            "max_points": {"type": ["integer", "null"]},
            "min_order_subtotal": {"type": ["string", "null"]},
            "product_ids": {"type": "array", "items": {"type": "string"}},
            "collection_ids": {"type": "array", "items": {"type": "string"}},
            "code_valid_days": {"type": "integer"},
            "status": {"type": "string", "enum": ["active", "archived"]},
            "created_at": DATE_TIME,
            "updated_at": DATE_TIME,
        },
    },
    "AdjustmentInput": {
        "type": "object",
        "required": ["points", "reason"],
        "additionalProperties": False,
        "properties": {
            "points": {
                "type": "integer",
                "minimum": -1000000,
                "maximum": 1000000,
                "not": {"const": 0},
            },
            "reason": {"type": "string", "minLength": 1, "maxLength": 255},
        },
    },
    "Adjustment": {
        "allOf": [
            {"$ref": "#/components/schemas/Transaction"},
            {
                "type": "object",
                "required": ["balance"],
                "properties": {
                    "balance": {"type": "integer", "description": "Spendable points afterwards."}
                },
            },
        ]
    },
    "RedemptionInput": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "description": "reward_id, or points alone for the shop's points-for-money reward "
        "(a multiple of its step, within its minimum and maximum).",
        "properties": {
            "reward_id": {"type": "integer"},
            "points": {"type": "integer", "minimum": 1},
        },
    },
    "Redemption": {
        "type": "object",
        "required": [
            "id",
            "customer_id",
            "reward_id",
            "points",
            "status",
            "code",
            "discount",
            "expires_at",
            "failure_reason",
            "created_at",
            "issued_at",
            "used_at",
            "used_order_id",
        ],
        "properties": {
            "id": {"type": "integer"},
            "customer_id": {"type": "string"},
            "reward_id": {"type": ["integer", "null"]},
            "points": {"type": "integer", "description": "Points taken."},
            "status": {
                "type": "string",
                "enum": ["pending", "issued", "used", "expired", "failed", "cancelled"],
                "description": "pending: points taken, the store has not confirmed the code "
                "yet (poll this resource). failed: the store refused; the points came back.",
            },
            "code": {
                "type": ["string", "null"],
                "description": "The discount code, once the store has created it (hidden "
                "again once failed or cancelled).",
            },
            "discount": {
                "type": "object",
                "required": ["kind", "title", "amount", "currency", "percent", "min_subtotal"],
                "properties": {
                    "kind": {
                        "type": "string",
                        "enum": ["fixed_amount", "percentage", "free_shipping"],
                    },
                    "title": {"type": "string"},
                    "amount": {"type": ["string", "null"], "description": "Money as a string."},
                    "currency": {"type": ["string", "null"]},
                    "percent": {"type": ["string", "null"]},
                    "min_subtotal": {"type": ["string", "null"]},
                    "product_ids": {"type": "array", "items": {"type": "string"}},
                    "collection_ids": {"type": "array", "items": {"type": "string"}},
                },
            },
            "expires_at": DATE_TIME,
            "failure_reason": {"type": ["string", "null"]},
            "created_at": DATE_TIME,
            "issued_at": {"type": ["string", "null"], "format": "date-time"},
            "used_at": {"type": ["string", "null"], "format": "date-time"},
            "used_order_id": {
                "type": ["string", "null"],
                "description": "The platform's id of the order that used the code.",
            },
        },
    },
    "Installed": {
        "type": "object",
        "required": [
            "status",
            "platform",
            "shop",
            "shop_id",
            "api_key",
            "token_expires_at",
            "webhooks_subscribed",
            "webhook_error",
        ],
        "properties": {
            "status": {"type": "string", "enum": ["installed"]},
            "platform": {"type": "string", "enum": ["shopify"]},
            "shop": {"type": "string"},
            "shop_id": {"type": "integer"},
            "api_key": {
                "type": ["string", "null"],
                "description": "The admin API key, shown once when the shop is new; null on "
                "a reinstall (the existing key stays valid).",
            },
            "token_expires_at": {"type": ["string", "null"], "format": "date-time"},
            "webhooks_subscribed": {"type": "integer"},
            "webhook_error": {"type": ["string", "null"]},
        },
    },
    "WooKeys": {
        "type": "object",
        "required": ["user_id", "consumer_key", "consumer_secret", "key_permissions"],
        "description": "What WooCommerce POSTs after the merchant approves (unsigned).",
        "properties": {
            "key_id": {"type": "integer"},
            "user_id": {"type": "string", "description": "Our single-use nonce."},
            "consumer_key": {"type": "string"},
            "consumer_secret": {"type": "string"},
            "key_permissions": {"type": "string", "enum": ["read_write"]},
        },
    },
    "WooConnected": {
        "type": "object",
        "required": ["status", "shop_id", "webhooks_created"],
        "properties": {
            "status": {"type": "string", "enum": ["connected"]},
            "shop_id": {"type": "integer"},
            "webhooks_created": {"type": "integer"},
        },
    },
    "WooReturn": {
        "type": "object",
        "required": ["status", "next"],
        "properties": {
            "status": {"type": "string", "enum": ["connected", "not_connected"]},
            "next": {"type": "string"},
        },
    },
    "StorefrontReward": {
        "type": "object",
        "required": ["id", "name", "kind", "cost"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string", "description": "Merchant text: render as text."},
            "kind": {
                "type": "string",
                "enum": ["fixed_amount", "percentage", "free_shipping", "points_for_money"],
            },
            "cost": {
                "type": "integer",
                "description": "Points (the minimum for points_for_money).",
            },
            "points_cost": {"type": ["integer", "null"]},
            "amount": {"type": ["string", "null"]},
            "currency": {"type": ["string", "null"]},
            "percent": {"type": ["string", "null"]},
            "points_per_step": {"type": ["integer", "null"]},
            "min_points": {"type": ["integer", "null"]},
            "max_points": {"type": ["integer", "null"]},
            "min_order_subtotal": {"type": ["string", "null"]},
            "progress": {"type": "number", "minimum": 0, "maximum": 1},
            "can_redeem": {"type": "boolean"},
        },
    },
    "StorefrontSummary": {
        "type": "object",
        "required": ["member", "program", "settings"],
        "properties": {
            "member": {
                "type": ["object", "null"],
                "description": "null for a guest.",
                "required": [
                    "customer_id",
                    "balance",
                    "pending",
                    "next_pending_available_at",
                    "codes",
                    "history",
                    "tier",
                    "referral",
                ],
                "properties": {
                    "customer_id": {"type": "string"},
                    "first_name": {"type": ["string", "null"]},
                    "balance": {"type": "integer"},
                    "pending": {"type": "integer"},
                    "next_pending_available_at": {
                        "type": ["string", "null"],
                        "format": "date-time",
                    },
                    "codes": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["redemption_id", "status", "code", "title", "expires_at"],
                            "properties": {
                                "redemption_id": {"type": "integer"},
                                "status": {"type": "string"},
                                "code": {"type": ["string", "null"]},
                                "title": {"type": "string"},
                                "expires_at": DATE_TIME,
                            },
                        },
                    },
                    "history": {"type": "array", "items": {"type": "object"}},
                    "tier": {"type": ["object", "null"], "description": "Filled by tiers."},
                    "referral": {"type": ["object", "null"], "description": "Filled by referrals."},
                },
            },
            "program": {
                "type": "object",
                "required": ["platform", "points_per_unit", "pending_days", "rewards"],
                "properties": {
                    "platform": {"type": "string"},
                    "points_per_unit": {"type": "string"},
                    "pending_days": {"type": "integer"},
                    "guests_earn": {"type": "boolean"},
                    "rewards": {"type": "array", "items": _ref("StorefrontReward")},
                },
            },
            "settings": {
                "type": "object",
                "required": ["theme", "texts", "position"],
                "properties": {
                    "theme": {"type": "object", "additionalProperties": {"type": "string"}},
                    "texts": {"type": "object"},
                    "position": {"type": "string", "enum": ["left", "right"]},
                },
            },
        },
    },
    "WidgetSettings": {
        "type": "object",
        "required": ["theme", "texts", "origins", "position", "token_public_key"],
        "properties": {
            "theme": {
                "type": "object",
                "description": "accent, accent-text, background, text (#rgb/#rrggbb), radius (px).",
                "additionalProperties": {"type": "string"},
            },
            "texts": {
                "type": "object",
                "description": "Overrides per locale (en, vi, th) of the widget's texts.",
            },
            "origins": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Extra https origins (custom domains) allowed by CORS.",
            },
            "position": {"type": "string", "enum": ["left", "right"]},
            "token_public_key": {
                "type": ["string", "null"],
                "description": "Ed25519 public key (base64url) that checks store-signed "
                "shopper tokens.",
            },
        },
    },
    "WidgetChanges": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "theme": {"type": "object"},
            "texts": {"type": "object"},
            "origins": {"type": "array", "items": {"type": "string"}},
            "position": {"type": "string", "enum": ["left", "right"]},
            "token_public_key": {"type": ["string", "null"]},
        },
    },
    "DataExportSummary": {
        "type": "object",
        "required": ["id", "request_id", "customer_id", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "request_id": {"type": "string", "description": "Shopify's data_request id."},
            "customer_id": {"type": "string"},
            "created_at": DATE_TIME,
        },
    },
    "DataExport": {
        "allOf": [
            {"$ref": "#/components/schemas/DataExportSummary"},
            {
                "type": "object",
                "required": ["data"],
                "properties": {
                    "data": {
                        "type": "object",
                        "required": [
                            "shop",
                            "generated_at",
                            "customers",
                            "orders",
                            "ledger",
                            "redemptions",
                        ],
                        "description": "Everything held on the customer when the request came.",
                    }
                },
            },
        ]
    },
    "Readiness": {
        "type": "object",
        "required": ["status", "checks"],
        "properties": {
            "status": {"type": "string", "enum": ["ready", "unavailable"]},
            "checks": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
}

CUSTOMER_ID = {
    "name": "customer_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "The platform's customer id (or guest:<email>).",
}
REWARD_ID = {"name": "reward_id", "in": "path", "required": True, "schema": {"type": "integer"}}
AUTH_ERRORS = {"401": _error("Missing or invalid API key.")}

WEBHOOK_HEADERS = [
    {
        "name": "X-Shopify-Hmac-Sha256",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "Shopify: base64 HMAC-SHA256 of the raw body with the app secret.",
    },
    {
        "name": "X-Shopify-Shop-Domain",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
    },
    {"name": "X-Shopify-Topic", "in": "header", "required": False, "schema": {"type": "string"}},
    {
        "name": "X-Shopify-Webhook-Id",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "Deduplication key.",
    },
    {
        "name": "X-WC-Webhook-Signature",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "WooCommerce: base64 HMAC-SHA256 of the raw body with the webhook secret.",
    },
    {
        "name": "X-WC-Webhook-Source",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
    },
    {"name": "X-WC-Webhook-Topic", "in": "header", "required": False, "schema": {"type": "string"}},
    {
        "name": "X-WC-Webhook-Delivery-ID",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "Deduplication key.",
    },
]

STOREFRONT_AUTH: list[dict[str, list[str]]] = [{"appProxy": []}, {"shopperToken": []}]
STOREFRONT_PARAMS: list[dict[str, Any]] = [
    {
        "name": "shop",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "App proxy: set by Shopify. Token calls: the store URL (for CORS).",
    },
    {
        "name": "signature",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "App proxy signature, with logged_in_customer_id, path_prefix and "
        "timestamp (at most 90 s old).",
    },
]
STOREFRONT_ERRORS: dict[str, Any] = {
    "401": _error(
        "unauthorized, invalid_signature, stale_request, invalid_token, token_expired, "
        "unknown_shop, or sign_in_required."
    ),
    "429": _error("rate_limited (per shopper and per address); see Retry-After."),
}


PATHS: dict[str, Any] = {
    "/webhooks/{platform}": {
        "post": {
            "summary": "Receive a platform webhook",
            "description": "Verifies the signature over the raw body, stores the delivery once "
            "and queues it; points are applied by a background job.",
            "tags": ["webhooks"],
            "parameters": [
                {
                    "name": "platform",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": ["shopify", "woocommerce"]},
                },
                *WEBHOOK_HEADERS,
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "responses": {
                "200": _json(_ref("WebhookAck"), "Stored (or a duplicate, ignored topic, ping)."),
                "400": _error(
                    "Signed, but headers missing or the body is not a JSON object "
                    "(kept as a failed receipt)."
                ),
                "401": _error("Bad or missing signature, or unknown shop. Nothing stored."),
                "404": _error("Unknown platform."),
                "413": _error("Body too large."),
                "503": _error("Database unavailable; retry later. Nothing acknowledged."),
            },
        }
    },
    "/api/v1/customers/{customer_id}": {
        "get": {
            "summary": "A customer's points",
            "tags": ["customers"],
            "security": [{"apiKey": []}],
            "parameters": [CUSTOMER_ID],
            "responses": {
                "200": _json(_ref("Customer"), "The customer."),
                "404": _error("No such customer in this shop."),
                **AUTH_ERRORS,
            },
        }
    },
    "/api/v1/customers": {
        "get": {
            "summary": "Find customers by email",
            "tags": ["customers"],
            "security": [{"apiKey": []}],
            "parameters": [
                {
                    "name": "email",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string", "format": "email"},
                }
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["customers"],
                        "properties": {"customers": {"type": "array", "items": _ref("Customer")}},
                    },
                    "Matching customers (possibly none).",
                ),
                "400": _error("No or invalid email."),
                **AUTH_ERRORS,
            },
        }
    },
    "/api/v1/customers/{customer_id}/transactions": {
        "get": {
            "summary": "A customer's ledger entries, newest first",
            "tags": ["customers"],
            "security": [{"apiKey": []}],
            "parameters": [
                CUSTOMER_ID,
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 25},
                },
                {
                    "name": "cursor",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "next_cursor of the last page.",
                },
            ],
            "responses": {
                "200": _json(_ref("TransactionPage"), "A page of entries."),
                "400": _error("Bad limit or cursor."),
                "404": _error("No such customer in this shop."),
                **AUTH_ERRORS,
            },
        }
    },
    "/api/v1/customers/{customer_id}/adjustments": {
        "post": {
            "summary": "Add or deduct points by hand, with a reason",
            "tags": ["customers"],
            "security": [{"apiKey": []}],
            "parameters": [
                CUSTOMER_ID,
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "maxLength": 100},
                    "description": "Repeating a request with the same key returns the first "
                    "result instead of adjusting twice.",
                },
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("AdjustmentInput")}},
            },
            "responses": {
                "201": _json(_ref("Adjustment"), "Recorded."),
                "200": _json(_ref("Adjustment"), "Already recorded under this Idempotency-Key."),
                "400": _error("Invalid points, reason or key."),
                "404": _error("No such customer in this shop."),
                "409": _error("The Idempotency-Key was used for a different adjustment."),
                **AUTH_ERRORS,
            },
        }
    },
    "/api/v1/customers/{customer_id}/redemptions": {
        "post": {
            "summary": "Spend points on a reward: a single-use discount code for this customer",
            "description": "Takes the points at once, then asks the store for the code. "
            "If the store answers within about two seconds the code is in the response "
            "(status issued); otherwise the status is pending and a job finishes it.",
            "tags": ["redemptions"],
            "security": [{"apiKey": []}],
            "parameters": [
                CUSTOMER_ID,
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "maxLength": 100},
                    "description": "Repeating a request with the same key returns the same "
                    "redemption instead of spending twice.",
                },
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("RedemptionInput")}},
            },
            "responses": {
                "201": _json(_ref("Redemption"), "Points taken; the code or pending."),
                "200": _json(_ref("Redemption"), "Already redeemed under this Idempotency-Key."),
                "400": _error("Invalid reward_id, points or key."),
                "404": _error("No such customer or active reward in this shop."),
                "409": _error("insufficient_points, idempotency_key_reused, or shop_inactive."),
                "422": _error("Redemptions are not available for this shop's platform."),
                **AUTH_ERRORS,
            },
        },
        "get": {
            "summary": "A customer's redemptions, newest first",
            "tags": ["redemptions"],
            "security": [{"apiKey": []}],
            "parameters": [
                CUSTOMER_ID,
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 25},
                },
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["redemptions"],
                        "properties": {
                            "redemptions": {"type": "array", "items": _ref("Redemption")}
                        },
                    },
                    "Redemptions.",
                ),
                "400": _error("Bad limit."),
                "404": _error("No such customer in this shop."),
                **AUTH_ERRORS,
            },
        },
    },
    "/api/v1/redemptions/{redemption_id}": {
        "get": {
            "summary": "One redemption: poll it until the code is issued",
            "tags": ["redemptions"],
            "security": [{"apiKey": []}],
            "parameters": [
                {
                    "name": "redemption_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer"},
                }
            ],
            "responses": {
                "200": _json(_ref("Redemption"), "The redemption."),
                "404": _error("No such redemption in this shop."),
                **AUTH_ERRORS,
            },
        }
    },
    "/api/v1/redemptions/{redemption_id}/cancel": {
        "post": {
            "summary": "Withdraw an issued, unused code at the store and give the points back",
            "tags": ["redemptions"],
            "security": [{"apiKey": []}],
            "parameters": [
                {
                    "name": "redemption_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer"},
                }
            ],
            "responses": {
                "200": _json(
                    _ref("Redemption"),
                    "Cancelled (or used, if an order used the code at the same moment).",
                ),
                "404": _error("No such redemption in this shop."),
                "409": _error("redemption_not_cancellable: not an issued code."),
                "502": _error("The store refused to deactivate the code."),
                "503": _error("The store is unreachable; nothing changed."),
                **AUTH_ERRORS,
            },
        }
    },
    "/api/v1/program": {
        "get": {
            "summary": "The shop's program settings",
            "tags": ["program"],
            "security": [{"apiKey": []}],
            "responses": {"200": _json(_ref("Program"), "Settings."), **AUTH_ERRORS},
        },
        "patch": {
            "summary": "Change program settings (orders already paid keep their terms)",
            "tags": ["program"],
            "security": [{"apiKey": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("ProgramChanges")}},
            },
            "responses": {
                "200": _json(_ref("Program"), "Settings after the change."),
                "400": _error("Invalid or unknown setting."),
                **AUTH_ERRORS,
            },
        },
    },
    "/api/v1/rewards": {
        "get": {
            "summary": "The rewards catalog",
            "tags": ["rewards"],
            "security": [{"apiKey": []}],
            "parameters": [
                {
                    "name": "status",
                    "in": "query",
                    "required": False,
                    "schema": {
                        "type": "string",
                        "enum": ["active", "archived", "all"],
                        "default": "active",
                    },
                }
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["rewards"],
                        "properties": {"rewards": {"type": "array", "items": _ref("Reward")}},
                    },
                    "Rewards.",
                ),
                "400": _error("Unknown status."),
                **AUTH_ERRORS,
            },
        },
        "post": {
            "summary": "Add a reward",
            "tags": ["rewards"],
            "security": [{"apiKey": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("RewardInput")}},
            },
            "responses": {
                "201": _json(_ref("Reward"), "Created."),
                "400": _error("Invalid reward."),
                **AUTH_ERRORS,
            },
        },
    },
    "/api/v1/rewards/{reward_id}": {
        "get": {
            "summary": "One reward",
            "tags": ["rewards"],
            "security": [{"apiKey": []}],
            "parameters": [REWARD_ID],
            "responses": {
                "200": _json(_ref("Reward"), "The reward."),
                "404": _error("No such reward in this shop."),
                **AUTH_ERRORS,
            },
        },
        "patch": {
            "summary": "Change an active reward (its kind cannot change)",
            "tags": ["rewards"],
            "security": [{"apiKey": []}],
            "parameters": [REWARD_ID],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("RewardInput")}},
            },
            "responses": {
                "200": _json(_ref("Reward"), "The reward after the change."),
                "400": _error("Invalid change."),
                "404": _error("No such reward in this shop."),
                "409": _error("The reward is archived."),
                **AUTH_ERRORS,
            },
        },
    },
    "/api/v1/rewards/{reward_id}/archive": {
        "post": {
            "summary": "Archive a reward (idempotent); it leaves the catalog, history stays",
            "tags": ["rewards"],
            "security": [{"apiKey": []}],
            "parameters": [REWARD_ID],
            "responses": {
                "200": _json(_ref("Reward"), "The archived reward."),
                "404": _error("No such reward in this shop."),
                **AUTH_ERRORS,
            },
        }
    },
    "/api/v1/data-exports": {
        "get": {
            "summary": "Customer data exports made for customers/data_request",
            "tags": ["privacy"],
            "security": [{"apiKey": []}],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["data_exports"],
                        "properties": {
                            "data_exports": {"type": "array", "items": _ref("DataExportSummary")}
                        },
                    },
                    "Newest first.",
                ),
                **AUTH_ERRORS,
            },
        }
    },
    "/api/v1/data-exports/{export_id}": {
        "get": {
            "summary": "One data export, to hand to the customer",
            "tags": ["privacy"],
            "security": [{"apiKey": []}],
            "parameters": [
                {"name": "export_id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "responses": {
                "200": _json(_ref("DataExport"), "The export."),
                "404": _error("No such export in this shop."),
                **AUTH_ERRORS,
            },
        }
    },
    "/auth/shopify": {
        "get": {
            "summary": "Shopify install link (the app URL): redirects to the grant screen",
            "tags": ["install"],
            "parameters": [
                {
                    "name": "shop",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "NAME.myshopify.com",
                },
                {
                    "name": "timestamp",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "Unix seconds; refused when over an hour old.",
                },
                {
                    "name": "hmac",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "Shopify's HMAC of the query.",
                },
            ],
            "responses": {
                "302": {"description": "To Shopify's grant screen, with a single-use state."},
                "400": _error("invalid_shop or invalid_timestamp."),
                "401": _error("invalid_hmac or stale_request."),
                "503": _error("The app's Shopify credentials are not configured."),
            },
        }
    },
    "/auth/shopify/callback": {
        "get": {
            "summary": "Shopify OAuth callback: checks, code exchange, webhook subscriptions",
            "tags": ["install"],
            "parameters": [
                {
                    "name": "shop",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "NAME.myshopify.com",
                },
                {
                    "name": "code",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "Authorization code.",
                },
                {
                    "name": "state",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "Our nonce; must match the browser's cookie.",
                },
                {
                    "name": "timestamp",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "Unix seconds.",
                },
                {
                    "name": "hmac",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "Shopify's HMAC of the query.",
                },
                {
                    "name": "host",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "Base64 admin host.",
                },
            ],
            "responses": {
                "200": _json(_ref("Installed"), "Installed; an expiring offline token stored."),
                "400": _error("invalid_shop, invalid_timestamp or missing_code."),
                "401": _error("invalid_hmac or stale_request."),
                "403": _error("invalid_state: unknown, used, expired, other shop or browser."),
                "502": _error("Shopify refused the code."),
                "503": _error("Shopify unreachable, or the app is not configured."),
            },
        }
    },
    "/auth/shopify/token-exchange": {
        "post": {
            "summary": "Embedded app: exchange a session token for an expiring offline token",
            "tags": ["install"],
            "parameters": [
                {
                    "name": "Authorization",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "Bearer <session token from App Bridge>.",
                }
            ],
            "responses": {
                "200": _json(_ref("Installed"), "Token stored."),
                "401": _error("The session token is invalid, expired or for another app."),
                "503": _error("Shopify unreachable, or the app is not configured."),
            },
        }
    },
    "/auth/woocommerce": {
        "get": {
            "summary": "Connect a WooCommerce store: redirects to its /wc-auth approval screen",
            "tags": ["install"],
            "parameters": [
                {
                    "name": "store_url",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "https store URL; private addresses refused in production.",
                },
            ],
            "responses": {
                "302": {"description": "To the store's approval screen, with a single-use nonce."},
                "400": _error("store_url_not_allowed."),
            },
        }
    },
    "/auth/woocommerce/callback": {
        "post": {
            "summary": "WooCommerce key callback (unsigned): nonce checked, keys tested, "
            "webhooks created",
            "tags": ["install"],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("WooKeys")}},
            },
            "responses": {
                "200": _json(_ref("WooConnected"), "Keys stored encrypted; webhooks created."),
                "400": _error("Malformed body, wrong permissions, or keys_rejected by the store."),
                "403": _error("invalid_state: the nonce is unknown, used or expired."),
            },
        }
    },
    "/auth/woocommerce/return": {
        "get": {
            "summary": "Where WooCommerce sends the merchant back",
            "tags": ["install"],
            "parameters": [
                {
                    "name": "success",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "1 if approved.",
                },
                {
                    "name": "user_id",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "Our nonce.",
                },
            ],
            "responses": {"200": _json(_ref("WooReturn"), "Whether the store is connected.")},
        }
    },
    "/api/v1/widget": {
        "get": {
            "summary": "The storefront widget's settings",
            "tags": ["widget"],
            "security": [{"apiKey": []}],
            "responses": {"200": _json(_ref("WidgetSettings"), "Settings."), **AUTH_ERRORS},
        },
        "patch": {
            "summary": "Theme, texts per locale, allowed origins, position, token key",
            "tags": ["widget"],
            "security": [{"apiKey": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("WidgetChanges")}},
            },
            "responses": {
                "200": _json(_ref("WidgetSettings"), "Settings after the change."),
                "400": _error("Invalid or unknown settings."),
                **AUTH_ERRORS,
            },
        },
    },
    "/storefront/v1/summary": {
        "get": {
            "summary": "The shopper's points, rewards within reach, codes and history "
            "(the program alone for guests)",
            "tags": ["storefront"],
            "security": STOREFRONT_AUTH,
            "parameters": STOREFRONT_PARAMS,
            "responses": {
                "200": _json(_ref("StorefrontSummary"), "member is null for guests."),
                **STOREFRONT_ERRORS,
            },
        }
    },
    "/storefront/v1/program": {
        "get": {
            "summary": "The program: ways to earn and rewards",
            "tags": ["storefront"],
            "security": STOREFRONT_AUTH,
            "parameters": STOREFRONT_PARAMS,
            "responses": {
                "200": _json(_ref("StorefrontSummary"), "member is null."),
                **STOREFRONT_ERRORS,
            },
        }
    },
    "/storefront/v1/redemptions": {
        "post": {
            "summary": "Redeem (same service and guarantees as the admin API)",
            "tags": ["storefront"],
            "security": STOREFRONT_AUTH,
            "parameters": [
                *STOREFRONT_PARAMS,
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "maxLength": 100},
                },
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("RedemptionInput")}},
            },
            "responses": {
                "201": _json(_ref("Redemption"), "Points taken; the code or pending."),
                "200": _json(_ref("Redemption"), "Already redeemed under this key."),
                "400": _error("Invalid body."),
                "404": _error("No such reward."),
                "409": _error("insufficient_points or idempotency_key_reused."),
                **STOREFRONT_ERRORS,
            },
        }
    },
    "/storefront/v1/redemptions/{redemption_id}": {
        "get": {
            "summary": "One of the shopper's own redemptions (poll while pending)",
            "tags": ["storefront"],
            "security": STOREFRONT_AUTH,
            "parameters": [
                *STOREFRONT_PARAMS,
                {
                    "name": "redemption_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer"},
                },
            ],
            "responses": {
                "200": _json(_ref("Redemption"), "The redemption."),
                "404": _error("Not this shopper's redemption."),
                **STOREFRONT_ERRORS,
            },
        }
    },
    "/storefront/v1/assets/{name}": {
        "get": {
            "summary": "The widget's files: loader.js, panel.js, panel.css",
            "tags": ["storefront"],
            "parameters": [
                {
                    "name": "name",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": ["loader.js", "panel.js", "panel.css"]},
                }
            ],
            "responses": {
                "200": {
                    "description": "The file.",
                    "content": {
                        "text/javascript": {"schema": {"type": "string"}},
                        "text/css": {"schema": {"type": "string"}},
                    },
                },
                "404": _error("No such file."),
            },
        }
    },
    "/healthz": {
        "get": {
            "summary": "Process is alive",
            "tags": ["operations"],
            "responses": {"200": _json(_ref("Health"), "Alive.")},
        }
    },
    "/readyz": {
        "get": {
            "summary": "Database and Redis reachable",
            "tags": ["operations"],
            "responses": {
                "200": _json(_ref("Readiness"), "Ready."),
                "503": _json(_ref("Readiness"), "A dependency is down."),
            },
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "tags": ["operations"],
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1.")},
        }
    },
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Loyalty API",
            "version": "1",
            "description": "Points, refunds and balances for Shopify and WooCommerce stores.",
        },
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The shop's API key.",
                },
                "appProxy": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "signature",
                    "description": "Shopify App Proxy: HMAC of the forwarded query; the shopper "
                    "is logged_in_customer_id.",
                },
                "shopperToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT (EdDSA), signed by the store: iss = store URL, "
                    "sub = customer id, aud = loyalty-storefront, at most 1 hour.",
                },
            },
        },
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(document())
