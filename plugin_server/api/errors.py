"""Every error leaves as JSON: {"error": {"code": "...", "message": "..."}}."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from plugin_server.domain import errors
from plugin_server.platforms.base import PlatformError

logger = logging.getLogger(__name__)

STATUS_FOR: dict[type[errors.LoyaltyError], int] = {
    errors.ValidationFailed: 400,
    errors.UnknownSegment: 400,
    errors.InvalidDate: 400,
    errors.DateRangeReversed: 400,
    errors.DateRangeTooLong: 400,
    errors.DateInFuture: 400,
    errors.MalformedPayload: 400,
    errors.CustomerNotFound: 404,
    errors.ShopNotFound: 404,
    errors.ReceiptNotFound: 404,
    errors.ShopAlreadyExists: 409,
    errors.RewardNotFound: 404,
    errors.RewardArchived: 409,
    errors.IdempotencyKeyReused: 409,
    errors.InsufficientPoints: 409,
    errors.RedemptionNotFound: 404,
    errors.PlatformNotSupported: 422,
    errors.ShopInactive: 409,
    errors.InstallRejected: 403,
    errors.RedemptionNotCancellable: 409,
    errors.StoreUrlNotAllowed: 400,
    errors.EarningRuleNotFound: 404,
    errors.CollectionNotFound: 404,
    errors.ActivityLimitReached: 409,
    errors.TierNotFound: 404,
    errors.TierRequired: 409,
    errors.ReferralCampaignNotFound: 404,
    errors.ReferralCodeNotFound: 404,
    errors.NoReferralCampaign: 404,
    errors.OwnReferralCode: 409,
    errors.AlreadyReferred: 409,
    errors.NotNewCustomer: 409,
    errors.ReferralNotFound: 404,
    errors.ReferralNotReviewable: 409,
    errors.UnknownLayout: 400,
    errors.MissingColumns: 400,
    errors.InvalidCsv: 400,
    errors.EmptyFile: 400,
    errors.ImportHasProblems: 422,
    errors.ImportNotFound: 404,
    errors.InvalidWebhookUrl: 400,
    errors.WebhookUrlNotAllowed: 400,
    errors.UnknownTopic: 400,
    errors.WebhookEndpointNotFound: 404,
    errors.WebhookEndpointInactive: 409,
    errors.WebhookDeliveryNotFound: 404,
    errors.WebhookDeliveryInProgress: 409,
    errors.WebhookEndpointLimit: 409,
    errors.InvalidTemplate: 400,
    errors.UnknownEmailType: 404,
    errors.EmailNotFound: 404,
    errors.SuggestionNotFound: 404,
    errors.SuggestionNotApplicable: 409,
}


class ApiError(Exception):
    """An HTTP-level refusal raised by a handler (auth, signatures, size)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        fields: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.fields = fields


VALIDATION_STATUS = 400


def validation_failed(fields: Mapping[str, str]) -> ApiError:
    """400 validation_failed naming each bad field and what is wrong with it."""
    summary = "; ".join(f"{name}: {problem}" for name, problem in fields.items())
    return ApiError(VALIDATION_STATUS, "validation_failed", summary, fields=dict(fields))


def error_response(
    status: int, code: str, message: str, fields: dict[str, str] | None = None
) -> tuple[Response, int]:
    g.error_code = code  # for the request's metrics (webhook outcomes)
    error: dict[str, object] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return jsonify(error=error), status


def register_error_handlers(app: Flask) -> None:
    # PostgreSQL text cannot hold NUL, so nothing we store has one. Refused for every route
    # (API, widget and admin pages) before a handler passes it to a query that would fail at
    # the database as a 500. JSON bodies are checked by schemas.RequestModel.
    @app.url_value_preprocessor
    def refuse_nul_in_path(endpoint: str | None, values: dict[str, Any] | None) -> None:
        # A path value with NUL names nothing.
        if values and any(isinstance(v, str) and "\x00" in v for v in values.values()):
            raise NotFound("Nothing here: a path value cannot contain NUL characters.")

    @app.before_request
    def refuse_nul_in_query() -> None:
        if b"%00" not in request.query_string:
            return  # the common case, without parsing the query
        fields = {
            f"query.{name}": "must not contain NUL characters"
            for name, value in request.args.items(multi=True)
            if "\x00" in name or "\x00" in value
        }
        if fields:
            raise validation_failed(fields)

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> tuple[Response, int]:
        response, status = error_response(exc.status, exc.code, exc.message, exc.fields)
        response.headers.update(exc.headers)
        return response, status

    @app.errorhandler(errors.LoyaltyError)
    def _domain_error(exc: errors.LoyaltyError) -> tuple[Response, int]:
        fields = {exc.field: exc.message} if isinstance(exc, errors.ValidationFailed) else None
        if isinstance(exc, errors.ImportHasProblems):
            # Each problem row as "line N": "code: what is wrong" (the first 100).
            fields = {f"line {p['line']}": f"{p['code']}: {p['message']}" for p in exc.problems}
        return error_response(STATUS_FOR.get(type(exc), 422), exc.code, exc.message, fields)

    @app.errorhandler(PlatformError)
    def _platform_error(exc: PlatformError) -> tuple[Response, int]:
        # The store's own API failed us: 503 (try again) or 502 (it refused).
        if exc.retryable:
            response, status = error_response(503, "platform_unavailable", str(exc))
            response.headers["Retry-After"] = "5"
            return response, status
        return error_response(502, "platform_rejected", f"{exc.code}: {exc}")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        if isinstance(exc, MethodNotAllowed) and not _matches_for_another_method(exc):
            # werkzeug reports 405 when a route's pattern matched but its converter refused
            # the value (an id beyond BIGINT): no method would find anything there.
            exc = NotFound()
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.code or 500, (exc.name or "error").lower().replace(" ", "_")
        )
        return error_response(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    def _database_down(exc: Exception) -> tuple[Response, int]:
        # Never acknowledge what could not be stored: 503 makes the platform retry later.
        logger.error("database unavailable: %s", type(exc).__name__)
        response, status = error_response(
            503, "service_unavailable", "The database is unavailable; try again shortly."
        )
        response.headers["Retry-After"] = "5"
        return response, status

    @app.errorhandler(DBAPIError)
    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return _database_down(exc)
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "Something went wrong on our side.")


def _matches_for_another_method(exc: MethodNotAllowed) -> bool:
    """Whether one of the methods the 405 offers really has a route for this path."""
    adapter = request.url_rule is None and current_app.url_map.bind_to_environ(request.environ)
    if not adapter:
        return True
    for method in exc.valid_methods or ():
        if method in ("HEAD", "OPTIONS"):
            continue
        try:
            adapter.match(method=method)
        except HTTPException:
            continue
        return True
    return False
