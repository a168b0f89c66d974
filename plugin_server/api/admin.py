"""Merchant admin API, authenticated by the shop's API key and scoped to that shop."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from plugin_server import jobs, redemption_flow
from plugin_server.api.context import current_container
from plugin_server.api.errors import ApiError
from plugin_server.crypto import hash_api_key
from plugin_server.db import repositories
from plugin_server.services import (
    adjustments,
    customers,
    privacy,
    program,
    redemptions,
    rewards,
    storefront,
)

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


def _json_body() -> dict[str, Any]:
    """The request's JSON object, numbers with fractions as Decimal (never float)."""
    try:
        body = json.loads(request.get_data() or b"null", parse_float=Decimal)
    except ValueError:
        raise ApiError(400, "invalid_json", "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    return body


@bp.get("/program")
def get_program() -> Response:
    return jsonify(program.get_program(current_container().uow(), g.shop_id))


@bp.patch("/program")
def update_program() -> Response:
    c = current_container()
    return jsonify(program.update_program(c.uow(), g.shop_id, _json_body()))


@bp.get("/rewards")
def list_rewards() -> Response:
    status = request.args.get("status", "active")
    c = current_container()
    return jsonify(rewards=rewards.list_rewards(c.uow(), g.shop_id, status=status))


@bp.post("/rewards")
def create_reward() -> tuple[Response, int]:
    c = current_container()
    return jsonify(rewards.create_reward(c.uow(), g.shop_id, _json_body(), now=c.clock())), 201


@bp.get("/rewards/<int:reward_id>")
def get_reward(reward_id: int) -> Response:
    return jsonify(rewards.get_reward(current_container().uow(), g.shop_id, reward_id))


@bp.patch("/rewards/<int:reward_id>")
def update_reward(reward_id: int) -> Response:
    c = current_container()
    return jsonify(
        rewards.update_reward(c.uow(), g.shop_id, reward_id, _json_body(), now=c.clock())
    )


@bp.post("/rewards/<int:reward_id>/archive")
def archive_reward(reward_id: int) -> Response:
    c = current_container()
    return jsonify(rewards.archive_reward(c.uow(), g.shop_id, reward_id, now=c.clock()))


@bp.post("/customers/<customer_id>/adjustments")
def adjust_points(customer_id: str) -> tuple[Response, int]:
    body = _json_body()
    unknown = sorted(set(body) - {"points", "reason"})
    if unknown:
        raise ApiError(400, "validation_failed", f"unknown fields: {', '.join(unknown)}")
    c = current_container()
    entry, created = adjustments.adjust_points(
        c.uow(),
        g.shop_id,
        customer_id,
        points=body.get("points"),
        reason=body.get("reason"),
        idempotency_key=request.headers.get("Idempotency-Key"),
        now=c.clock(),
    )
    return jsonify(entry), 201 if created else 200


@bp.get("/data-exports")
def list_data_exports() -> Response:
    with current_container().session_factory() as session:
        return jsonify(data_exports=privacy.list_exports(session, g.shop_id))


@bp.get("/data-exports/<int:export_id>")
def get_data_export(export_id: int) -> Response:
    with current_container().session_factory() as session:
        export = privacy.get_export(session, g.shop_id, export_id)
    if export is None:
        raise ApiError(404, "data_export_not_found", f"no data export {export_id} in this shop")
    return jsonify(export)


@bp.post("/customers/<customer_id>/redemptions")
def redeem_points(customer_id: str) -> tuple[Response, int]:
    body = _json_body()
    unknown = sorted(set(body) - {"reward_id", "points"})
    if unknown:
        raise ApiError(400, "validation_failed", f"unknown fields: {', '.join(unknown)}")
    c = current_container()
    out, created = redemption_flow.redeem_and_issue(
        c,
        g.shop_id,
        customer_id,
        reward_id=body.get("reward_id"),
        points=body.get("points"),
        idempotency_key=request.headers.get("Idempotency-Key"),
    )
    return jsonify(out), 201 if created else 200


@bp.get("/redemptions/<int:redemption_id>")
def get_redemption(redemption_id: int) -> Response:
    return jsonify(redemptions.get_redemption(current_container().uow(), g.shop_id, redemption_id))


@bp.post("/redemptions/<int:redemption_id>/cancel")
def cancel_redemption(redemption_id: int) -> Response:
    c = current_container()
    return jsonify(
        redemptions.cancel(
            c.uow,
            c.platforms,
            g.shop_id,
            redemption_id,
            credentials=lambda shop_id: jobs.shop_credentials(c, shop_id),
            now=c.clock,
        )
    )


@bp.get("/customers/<customer_id>/redemptions")
def list_customer_redemptions(customer_id: str) -> Response:
    limit = _int_arg("limit", 25, low=1, high=MAX_PAGE)
    assert limit is not None
    return jsonify(
        redemptions=redemptions.list_redemptions(
            current_container().uow(), g.shop_id, customer_id, limit=limit
        )
    )


@bp.get("/widget")
def get_widget() -> Response:
    return jsonify(storefront.get_widget(current_container().uow(), g.shop_id))


@bp.patch("/widget")
def update_widget() -> Response:
    c = current_container()
    return jsonify(storefront.update_widget(c.uow(), g.shop_id, _json_body()))
