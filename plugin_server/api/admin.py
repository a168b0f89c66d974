"""Merchant admin API, authenticated by the shop's API key and scoped to that shop."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from plugin_server.api.context import current_container
from plugin_server.api.errors import ApiError
from plugin_server.crypto import hash_api_key
from plugin_server.db import repositories
from plugin_server.services import customers

bp = Blueprint("admin", __name__, url_prefix="/api/v1")

MAX_PAGE = 100


@bp.before_request
def authenticate() -> None:
    auth = request.headers.get("Authorization", "")
    scheme, _, key = auth.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(
            401, "unauthorized", "Send the shop's API key as 'Authorization: Bearer <key>'."
        )
    container = current_container()
    # Looked up by the key's SHA-256: the database never holds the key itself, and the
    # comparison happens on a digest the caller cannot steer byte by byte.
    with container.session_factory() as session:
        shop = repositories.shop_by_api_key_hash(session, hash_api_key(key.strip()))
        if shop is None:
            raise ApiError(401, "unauthorized", "The API key is not valid.")
        g.shop_id = shop.id


def _int_arg(name: str, default: int | None, *, low: int, high: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "validation_failed", f"{name} must be an integer") from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ApiError(400, "validation_failed", f"{name} must be {bound}")
    return value


@bp.get("/customers/<customer_id>")
def get_customer(customer_id: str) -> Response:
    c = current_container()
    return jsonify(customers.customer_summary(c.uow(), g.shop_id, customer_id, now=c.clock()))


@bp.get("/customers")
def find_customers() -> Response:
    email = (request.args.get("email") or "").strip()
    if not email or "@" not in email:
        raise ApiError(400, "validation_failed", "give ?email=<address> to find customers")
    c = current_container()
    return jsonify(customers=customers.customers_by_email(c.uow(), g.shop_id, email, now=c.clock()))


@bp.get("/customers/<customer_id>/transactions")
def list_transactions(customer_id: str) -> Response:
    limit = _int_arg("limit", 25, low=1, high=MAX_PAGE)
    cursor = _int_arg("cursor", None, low=1)
    assert limit is not None
    c = current_container()
    return jsonify(
        customers.transactions(
            c.uow(), g.shop_id, customer_id, now=c.clock(), limit=limit, before_id=cursor
        )
    )
