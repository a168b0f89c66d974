"""Liveness and readiness probes for the process manager and load balancer."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import text

from plugin_server import metrics
from plugin_server.api import rate_limits, schemas
from plugin_server.api.context import current_container
from plugin_server.api.contract import RATE_LIMITED, endpoint
from plugin_server.api.errors import ApiError

bp = Blueprint("health", __name__)
PROBE_RATE = "600/minute"


@bp.get("/healthz")
@endpoint(tags=["operations"], responses={"HTTP_200": (schemas.Health, "Alive.")})
def healthz() -> Response:
    """The process is alive"""
    return jsonify(status="ok")


@bp.get("/readyz")
@endpoint(
    tags=["operations"],
    responses={
        "HTTP_200": (schemas.Readiness, "Ready."),
        "HTTP_503": (schemas.Readiness, "A dependency is down."),
        **RATE_LIMITED,
    },
)
def readyz() -> tuple[Response, int]:
    """The database and Redis are reachable"""
    # Each call asks the database and Redis: generous for probes, not an open tap.
    rate_limits.enforce("readyz", PROBE_RATE)
    checks = readiness_checks(current_container())
    ready = all(v in ("ok", "not_configured") for v in checks.values())
    return jsonify(status="ready" if ready else "unavailable", checks=checks), 200 if ready else 503


@bp.get("/metrics")
@endpoint(
    tags=["operations"],
    security={"metricsToken": []},
    text_responses=["HTTP_200"],
    responses={
        "HTTP_200": (
            schemas.MetricsText,
            "Prometheus metrics: webhooks received by outcome, the webhook backlog and its "
            "lag, RQ queue depth and failed jobs, receipt failures, redemption outcomes, "
            "outbox sizes, store API latency and throttling, and the process's own figures.",
        ),
        "HTTP_401": (schemas.Error, "Missing or wrong metrics token."),
        "HTTP_404": (schemas.Error, "Metrics are off: LOYALTY_METRICS_TOKEN is not set."),
    },
)
def metrics_page() -> Response:
    """Metrics for Prometheus"""
    c = current_container()
    allowed = metrics.access(c.settings, request.headers.get("Authorization", ""))
    if allowed == "off":
        raise ApiError(404, "not_found", "Metrics are off: set LOYALTY_METRICS_TOKEN.")
    if allowed == "unauthorized":
        raise ApiError(
            401,
            "unauthorized",
            "Send the metrics token as 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Response(metrics.exposition(c), mimetype=metrics.CONTENT_TYPE)


def readiness_checks(container: Any) -> dict[str, str]:
    """Whether the database and Redis answer (every process's readiness)."""
    checks: dict[str, str] = {}
    try:
        with container.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
    if container.redis is None:
        checks["redis"] = "not_configured"
    else:
        try:
            container.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"unavailable: {type(exc).__name__}"
    return checks
